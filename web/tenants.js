// Clinics: every tenant with its source and status, and a form to add one — the fields of a
// config tenant, sent to POST /admin/api/tenants. Secrets typed here are sent once and never
// shown again. After adding: run the doctor, then a backfill dry run, then the backfill.
import { api } from './api.js';
import { clear, field, formValues, h } from './dom.js';
import { time } from './format.js';

const FIELDS = [
  ['id', 'Tenant id (a-z, 0-9, -)', 'text'],
  ['spry.baseUrl', 'Spry base URL', 'url'],
  ['spry.clientId', 'Spry client id', 'text'],
  ['spry.clientSecret', 'Spry client secret', 'password'],
  ['spry.organisationId', 'Spry organisation id', 'number'],
  ['spry.webhookSecrets', 'Spry webhook secret', 'password'],
  ['spry.chartUrl', 'Spry chart URL (with {patientId})', 'url'],
  ['spruce.baseUrl', 'Spruce base URL', 'url'],
  ['spruce.accessId', 'Spruce access id', 'text'],
  ['spruce.secretKey', 'Spruce secret key', 'password'],
  ['spruce.webhookSecrets', 'Spruce webhook secret', 'password'],
];

/** The form's values as a tenant definition; the advanced JSON (sync, inbound, schedules…) merged in. */
function definition(values) {
  const tenant = { spry: {}, spruce: {} };
  for (const [path] of FIELDS) {
    const value = values[path];
    if (value === undefined) continue;
    const [head, key] = path.split('.');
    if (!key) tenant[head] = value;
    else tenant[head][key] = key === 'organisationId' ? Number(value) : key === 'webhookSecrets' ? [value] : value;
  }
  if (values.advanced) {
    const extra = JSON.parse(values.advanced);
    for (const [key, value] of Object.entries(extra)) {
      tenant[key] = typeof value === 'object' && !Array.isArray(value) && tenant[key] ? { ...tenant[key], ...value } : value;
    }
  }
  return tenant;
}

export async function renderTenants(root, ctx) {
  const tbody = h('tbody');
  const result = h('div', { class: 'card', hidden: true, role: 'status' });
  const form = h(
    'form',
    { class: 'filters' },
    FIELDS.map(([name, label, type]) => field(label, h('input', { name, type, autocomplete: 'off', required: name !== 'spry.chartUrl' || undefined }))),
    field('More settings (JSON, optional)', h('textarea', { name: 'advanced', rows: 3, placeholder: '{"sync": {"tag": "Spry"}}' })),
    h('button', { type: 'submit' }, 'Add clinic'),
  );
  clear(root).append(
    h('div', { class: 'view-head' }, h('h1', {}, 'Clinics')),
    h('table', { class: 'list' }, h('thead', {}, h('tr', {}, ['tenant', 'source', 'status', 'actions'].map((t) => h('th', {}, t)))), tbody),
    h('h2', {}, 'Add a clinic'),
    h('p', { class: 'muted' }, 'The same fields as a tenant in the config file. It starts on every instance within seconds; secrets are never shown again.'),
    form,
    result,
  );

  const act = async (id, path, method, message) => {
    await api(`/tenants/${encodeURIComponent(id)}${path}`, { method });
    ctx.flash(`${id}: ${message}`);
    await load();
  };
  const load = async () => {
    const { tenants } = await api('/tenants?minutes=5');
    ctx.tenants.splice(0, ctx.tenants.length, ...tenants.map((t) => t.tenantId));
    clear(tbody);
    for (const t of tenants) {
      const own = t.source === 'api';
      tbody.append(
        h(
          'tr',
          {},
          h('td', { class: 'mono' }, t.tenantId),
          h('td', {}, own ? 'added here' : 'config file'),
          h('td', {}, t.status ?? '—'),
          h(
            'td',
            {},
            t.status === 'disabled'
              ? h('button', { type: 'button', onclick: () => act(t.tenantId, '/enable', 'POST', 'enabled').catch(ctx.fail) }, 'Enable')
              : h('button', { type: 'button', class: 'secondary', onclick: () => act(t.tenantId, '/disable', 'POST', 'disabled: nothing is sent out').catch(ctx.fail) }, 'Disable'),
            own
              ? h('button', { type: 'button', class: 'secondary', onclick: () => globalThis.confirm(`Remove ${t.tenantId}? Its webhooks will get 404.`) && act(t.tenantId, '', 'DELETE', 'removed').catch(ctx.fail) }, 'Remove')
              : null,
          ),
        ),
      );
    }
    if (tenants.length === 0) tbody.append(h('tr', {}, h('td', { colspan: 4, class: 'muted' }, 'No clinics yet: add one below.')));
  };

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    let body;
    try {
      body = definition(formValues(form));
    } catch {
      ctx.fail(new Error('More settings: not valid JSON'));
      return;
    }
    try {
      const added = await api('/tenants', { method: 'POST', body });
      form.reset();
      const id = added.tenant.id;
      const backfill = (dryRun) => api(`/tenants/${encodeURIComponent(id)}/backfill`, { method: 'POST', body: { dryRun } }).then(() => ctx.flash(`${id}: backfill${dryRun ? ' dry run' : ''} started; progress on the overview`), ctx.fail);
      clear(result).append(
        h('h2', {}, `${id} added ${time(added.tenant.createdAt)}`),
        added.warnings.map((w) => h('p', { class: 'warn' }, `Warning: ${w}`)),
        h('p', {}, 'Next: run the doctor from its card on the overview, then a backfill dry run, then the backfill.'),
        h('a', { href: '#overview' }, 'Overview (doctor)'),
        ' ',
        h('button', { type: 'button', class: 'secondary', onclick: () => backfill(true) }, 'Backfill dry run'),
        h('button', { type: 'button', onclick: () => backfill(false) }, 'Backfill'),
      );
      result.hidden = false;
      await load();
    } catch (error) {
      ctx.fail(error);
    }
  });
  await load();
}
