// Clinics: every tenant with its figures (backlog, dead letters, oldest waiting job, API budgets,
// breakers; those needing attention first, filtered and paged by the server), its actions, and a
// form to add one — the fields of a config tenant, sent to POST /admin/api/tenants. Secrets typed
// here are sent once and never shown again. After adding, the onboarding steps: the doctor,
// setup, a backfill dry run, the backfill, with progress.
import { api, query } from './api.js';
import { FIGURE_HEADERS, figuresRow } from './clinic-figures.js';
import { clear, field, formValues, h } from './dom.js';
import { number, time } from './format.js';
import { onboardingPanel } from './onboarding.js';

const PAGE_SIZE = 50;
const REFRESH_MS = 10_000;

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

export async function renderTenants(root, ctx, params = {}) {
  const tbody = h('tbody');
  const summary = h('span', { class: 'muted', role: 'status' });
  const pageInfo = h('span', { class: 'muted' });
  const previous = h('button', { type: 'button', class: 'secondary' }, 'Previous');
  const next = h('button', { type: 'button', class: 'secondary' }, 'Next');
  const onboarding = h('section', { class: 'card onboarding', hidden: true, 'aria-label': 'Onboarding' });
  const filter = h(
    'form',
    { class: 'filters', role: 'search' },
    field('Find a clinic', h('input', { name: 'search', type: 'search', value: params.search ?? '', placeholder: 'part of its id', autocomplete: 'off' })),
    h('label', { class: 'check' }, h('input', { name: 'attention', type: 'checkbox', value: 'true', checked: params.attention === 'true' }), 'Only those needing attention'),
    h('button', { type: 'submit' }, 'Filter'),
  );
  const form = h(
    'form',
    { class: 'filters' },
    FIELDS.map(([name, label, type]) => field(label, h('input', { name, type, autocomplete: 'off', required: name !== 'spry.chartUrl' || undefined }))),
    field('More settings (JSON, optional)', h('textarea', { name: 'advanced', rows: 3, placeholder: '{"sync": {"tag": "Spry"}}' })),
    h('button', { type: 'submit' }, 'Add clinic'),
  );
  clear(root).append(
    h('div', { class: 'view-head' }, h('h1', {}, 'Clinics'), summary),
    filter,
    h('table', { class: 'list figures' }, h('thead', {}, h('tr', {}, FIGURE_HEADERS.map((t) => h('th', { scope: 'col' }, t)))), tbody),
    h('div', { class: 'pager' }, previous, next, pageInfo),
    onboarding,
    h('h2', {}, 'Add a clinic'),
    h('p', { class: 'muted' }, 'The same fields as a tenant in the config file. It starts on every instance within seconds; secrets are never shown again.'),
    form,
  );

  let state = { search: params.search ?? '', attention: params.attention === 'true', offset: Number(params.offset) || 0 };
  let stopOnboarding = null;
  const openOnboarding = (tenantId, options) => {
    stopOnboarding?.();
    stopOnboarding = onboardingPanel(onboarding, tenantId, ctx, options);
    onboarding.hidden = false;
    onboarding.scrollIntoView?.({ block: 'nearest' });
  };

  const act = async (id, path, method, message) => {
    await api(`/tenants/${encodeURIComponent(id)}${path}`, { method });
    ctx.flash(`${id}: ${message}`);
    await load();
  };
  const actions = (t) => [
    h('button', { type: 'button', class: 'secondary', onclick: () => openOnboarding(t.tenantId) }, 'Onboarding'),
    t.status === 'disabled'
      ? h('button', { type: 'button', onclick: () => act(t.tenantId, '/enable', 'POST', 'enabled').catch(ctx.fail) }, 'Enable')
      : h('button', { type: 'button', class: 'secondary', onclick: () => act(t.tenantId, '/disable', 'POST', 'disabled: nothing is sent out').catch(ctx.fail) }, 'Disable'),
    t.source === 'api'
      ? h('button', { type: 'button', class: 'secondary', onclick: () => globalThis.confirm(`Remove ${t.tenantId}? Its webhooks will get 404.`) && act(t.tenantId, '', 'DELETE', 'removed').catch(ctx.fail) }, 'Remove')
      : null,
  ];

  const load = async () => {
    const page = await api(`/tenant-figures${query({ search: state.search, attention: state.attention || undefined, limit: PAGE_SIZE, offset: state.offset })}`);
    // Keep the other views' tenant lists current (a clinic added or removed here).
    if (!state.search && !state.attention && page.total <= PAGE_SIZE) {
      ctx.tenants.splice(0, ctx.tenants.length, ...page.tenants.map((t) => t.tenantId).sort());
    }
    summary.textContent = `${number(page.total)} clinic${page.total === 1 ? '' : 's'} · ${number(page.needAttention)} need${page.needAttention === 1 ? 's' : ''} attention · updated ${new Date(page.at).toLocaleTimeString()}`;
    clear(tbody);
    for (const t of page.tenants) tbody.append(figuresRow(t, actions(t)));
    if (page.tenants.length === 0) {
      const empty = page.total === 0 ? 'No clinics yet: add one below.' : 'No clinic matches the filter.';
      tbody.append(h('tr', {}, h('td', { colspan: FIGURE_HEADERS.length, class: 'muted' }, empty)));
    }
    const last = Math.min(page.offset + page.tenants.length, page.matched);
    pageInfo.textContent = page.matched === 0 ? '' : `${number(page.offset + 1)}–${number(last)} of ${number(page.matched)}`;
    previous.disabled = page.offset === 0;
    next.disabled = last >= page.matched;
  };
  const reload = (change) => {
    state = { ...state, ...change };
    ctx.setParams?.({ ...(state.search ? { search: state.search } : {}), ...(state.attention ? { attention: 'true' } : {}), ...(state.offset ? { offset: state.offset } : {}) });
    return load().catch(ctx.fail);
  };
  previous.addEventListener('click', () => reload({ offset: Math.max(0, state.offset - PAGE_SIZE) }));
  next.addEventListener('click', () => reload({ offset: state.offset + PAGE_SIZE }));
  filter.addEventListener('submit', (e) => {
    e.preventDefault();
    const values = formValues(filter);
    reload({ search: values.search ?? '', attention: values.attention === 'true', offset: 0 });
  });

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
      if (!ctx.tenants.includes(id)) ctx.tenants.push(id);
      openOnboarding(id, { heading: `${id} added ${time(added.tenant.createdAt)}: next steps`, warnings: added.warnings });
      await load();
    } catch (error) {
      ctx.fail(error);
    }
  });
  await load();
  const timer = setInterval(() => load().catch(() => {}), REFRESH_MS);
  return () => {
    clearInterval(timer);
    stopOnboarding?.();
  };
}
