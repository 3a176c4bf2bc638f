// The audit trail: who touched which record in which system, and why (ids and field names only).
import { api, query } from './api.js';
import { clear, field, formValues, h, select } from './dom.js';
import { detailPairs, fromLocalInput, time } from './format.js';

export async function renderAudit(root, ctx, params) {
  const form = h(
    'form',
    { class: 'filters' },
    field('Tenant', select('tenantId', [['', 'all'], ...ctx.tenants.map((t) => [t, t])], params.tenantId)),
    field('System', select('system', [['', 'all'], ['spry', 'Spry'], ['spruce', 'Spruce'], ['spruce-sync', 'spruce-sync (tenant changes)']], params.system)),
    field('Record type', h('input', { name: 'recordType', placeholder: 'contact', value: params.recordType ?? '' })),
    field('Record id', h('input', { name: 'recordId', value: params.recordId ?? '' })),
    field('Action', h('input', { name: 'action', placeholder: 'update', value: params.action ?? '' })),
    field('Event #', h('input', { name: 'eventId', inputmode: 'numeric', value: params.eventId ?? '' })),
    field('Since', h('input', { name: 'since', type: 'datetime-local', value: params.since ?? '' })),
    h('button', { type: 'submit' }, 'Search'),
  );
  const tbody = h('tbody');
  const more = h('button', { type: 'button', class: 'secondary', hidden: true }, 'Older');
  clear(root).append(
    h('div', { class: 'view-head' }, h('h1', {}, 'Audit trail')),
    form,
    h('table', { class: 'list' }, h('thead', {}, h('tr', {}, ['when', 'tenant', 'system', 'record', 'action', 'event', 'detail'].map((t) => h('th', {}, t)))), tbody),
    h('div', { class: 'pager' }, more),
  );
  let filters = {};
  const load = async (before) => {
    const page = await api(`/audit${query({ ...filters, before, limit: 100 })}`);
    if (!before) clear(tbody);
    for (const a of page.entries) {
      tbody.append(
        h(
          'tr',
          {},
          h('td', { class: 'nowrap' }, time(a.at)),
          h('td', {}, a.tenantId),
          h('td', {}, a.system),
          h('td', {}, `${a.recordType} `, h('span', { class: 'mono' }, a.recordId)),
          h('td', {}, a.action),
          h('td', { class: 'num' }, a.eventId ?? '—'),
          h('td', { class: 'small' }, detailPairs(a.detail).map(([key, value]) => h('span', { class: 'kv' }, h('span', { class: 'k' }, `${key}: `), value))),
        ),
      );
    }
    if (!before && page.entries.length === 0) tbody.append(h('tr', {}, h('td', { colspan: 7, class: 'muted' }, 'No entries match.')));
    more.hidden = !page.nextBefore;
    more.onclick = () => load(page.nextBefore).catch(ctx.fail);
  };
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const values = formValues(form);
    ctx.setParams(values);
    filters = { ...values, since: fromLocalInput(values.since) };
    load().catch(ctx.fail);
  });
  filters = { ...params, since: fromLocalInput(params.since) };
  await load();
}
