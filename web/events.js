// The event log: search by business keys, server-side keyset paging ("Older"), each event's
// attempts on demand. No payloads ever reach the browser.
import { api, query } from './api.js';
import { clear, field, formValues, h, select } from './dom.js';
import { duration, fromLocalInput, time } from './format.js';

const STATUSES = ['', 'queued', 'processed', 'dead', 'ignored', 'test'];

export function statusBadge(status) {
  const tone = { processed: 'ok', queued: 'info', dead: 'bad', ignored: 'muted', test: 'muted' }[status] ?? '';
  return h('span', { class: `badge ${tone}` }, status);
}

export function attemptsTable(attempts) {
  if (attempts.length === 0) return h('p', { class: 'muted' }, 'No attempts yet.');
  return h(
    'table',
    { class: 'inner' },
    h('thead', {}, h('tr', {}, ['started', 'took', 'outcome', 'error code', 's-request-id'].map((t) => h('th', {}, t)))),
    h(
      'tbody',
      {},
      attempts.map((a) =>
        h(
          'tr',
          {},
          h('td', {}, time(a.startedAt)),
          h('td', {}, duration(a.finishedAt - a.startedAt)),
          h('td', {}, statusBadge(a.outcome === 'succeeded' ? 'processed' : a.outcome === 'dead' ? 'dead' : 'queued'), ' ', a.outcome),
          h('td', {}, a.errorCode ?? '—'),
          h('td', { class: 'mono' }, a.requestId ?? '—'),
        ),
      ),
    ),
  );
}

export function patientLink(tenantId, patientId, contactId) {
  if (patientId !== null && patientId !== undefined) {
    return h('a', { href: `#patient?tenantId=${encodeURIComponent(tenantId)}&patientId=${patientId}` }, `patient ${patientId}`);
  }
  if (contactId) return h('a', { href: `#patient?tenantId=${encodeURIComponent(tenantId)}&contactId=${encodeURIComponent(contactId)}` }, contactId);
  return '—';
}

export function attemptsSummary(attempts) {
  const last = attempts[attempts.length - 1];
  return last ? `${attempts.length} · last ${last.outcome}${last.errorCode ? ` (${last.errorCode})` : ''}` : '—';
}

const COLUMNS = ['#', 'received', 'tenant', 'source', 'type', 'status', 'patient / contact', 'attempts', 'reason'];

/** A table of events; a row click shows its attempts. */
export function eventTable(events, tbody = h('tbody')) {
  for (const event of events) tbody.append(...eventRows(event));
  return h('table', { class: 'list' }, h('thead', {}, h('tr', {}, COLUMNS.map((t) => h('th', {}, t)))), tbody);
}

function eventRows(event) {
  const detail = h('tr', { class: 'detail', hidden: true }, h('td', { colspan: 9 }, attemptsTable(event.attempts), event.reason ? h('p', { class: 'error' }, event.reason) : null));
  const row = h(
    'tr',
    { class: 'clickable', dataset: { eventId: event.id }, onclick: (e) => { if (e.target.tagName !== 'A') detail.hidden = !detail.hidden; } },
    h('td', { class: 'num' }, event.id),
    h('td', {}, time(event.receivedAt)),
    h('td', {}, event.tenantId),
    h('td', {}, event.source),
    h('td', {}, event.type),
    h('td', {}, statusBadge(event.status)),
    h('td', {}, patientLink(event.tenantId, event.patientId, event.contactId)),
    h('td', {}, attemptsSummary(event.attempts)),
    h('td', { class: 'reason' }, event.reason ?? ''),
  );
  return [row, detail];
}

export async function renderEvents(root, ctx, params) {
  const form = h(
    'form',
    { class: 'filters' },
    field('Tenant', select('tenantId', [['', 'all'], ...ctx.tenants.map((t) => [t, t])], params.tenantId)),
    field('Source', select('source', [['', 'any'], ['spry', 'Spry'], ['spruce', 'Spruce']], params.source)),
    field('Type', h('input', { name: 'type', placeholder: 'patient.updated', value: params.type ?? '' })),
    field('Status', select('status', STATUSES.map((s) => [s, s || 'any']), params.status)),
    field('Spry patient id', h('input', { name: 'patientId', inputmode: 'numeric', value: params.patientId ?? '' })),
    field('Spruce contact id', h('input', { name: 'contactId', value: params.contactId ?? '' })),
    field('Received since', h('input', { name: 'since', type: 'datetime-local', value: params.since ?? '' })),
    field('until', h('input', { name: 'until', type: 'datetime-local', value: params.until ?? '' })),
    h('button', { type: 'submit' }, 'Search'),
  );
  const tbody = h('tbody');
  const more = h('button', { type: 'button', class: 'secondary', hidden: true }, 'Older events');
  const summary = h('span', { class: 'muted' });
  clear(root).append(
    h('div', { class: 'view-head' }, h('h1', {}, 'Events'), summary),
    form,
    eventTable([], tbody),
    h('div', { class: 'pager' }, more),
  );

  let filters = {};
  let shown = 0;
  const load = async (before) => {
    const page = await api(`/events${query({ ...filters, before, limit: 50 })}`);
    if (!before) {
      clear(tbody);
      shown = 0;
    }
    for (const event of page.events) tbody.append(...eventRows(event));
    shown += page.events.length;
    summary.textContent = `${shown} shown${page.nextBefore ? ', more older' : ''}`;
    if (shown === 0) tbody.append(h('tr', {}, h('td', { colspan: 9, class: 'muted' }, 'No events match.')));
    more.hidden = !page.nextBefore;
    more.onclick = () => load(page.nextBefore).catch(ctx.fail);
  };
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const values = formValues(form);
    ctx.setParams(values);
    filters = { ...values, since: fromLocalInput(values.since), until: fromLocalInput(values.until) };
    load().catch(ctx.fail);
  });
  filters = { ...params, since: fromLocalInput(params.since), until: fromLocalInput(params.until) };
  await load();
}
