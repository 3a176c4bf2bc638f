// Dead letters: jobs that failed for good, with a replay button each (and for all matching).
// After a replay the row follows its events until they are processed or dead again.
import { api, query } from './api.js';
import { clear, field, formValues, h, select } from './dom.js';
import { ago, DIRECTION_LABELS, fromLocalInput, time } from './format.js';
import { patientLink } from './events.js';

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls the job's events until none is queued; answers 'processed', 'dead' or 'waiting'. */
async function follow(tenantId, jobKey, timeoutMs = 120_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    await sleep(500);
    const { events } = await api(`/events${query({ tenantId, jobKey, limit: 20 })}`);
    if (events.length > 0 && !events.some((e) => e.status === 'queued')) return events.some((e) => e.status === 'dead') ? 'dead' : 'processed';
  }
  return 'waiting';
}

function ids(params) {
  return Object.entries(params).map(([k, v]) => `${k} ${v}`).join(', ');
}

export async function renderDeadLetters(root, ctx, params) {
  const form = h(
    'form',
    { class: 'filters' },
    field('Tenant', select('tenantId', [['', 'all'], ...ctx.tenants.map((t) => [t, t])], params.tenantId)),
    field('Direction', select('direction', [['', 'both'], ...Object.entries(DIRECTION_LABELS)], params.direction)),
    field('Error code', h('input', { name: 'errorCode', placeholder: 'SPRUCE_REJECTED', value: params.errorCode ?? '' })),
    field('Died since', h('input', { name: 'since', type: 'datetime-local', value: params.since ?? '' })),
    field('until', h('input', { name: 'until', type: 'datetime-local', value: params.until ?? '' })),
    h('button', { type: 'submit' }, 'Filter'),
  );
  const tbody = h('tbody');
  const replayAll = h('button', { type: 'button', class: 'danger' }, 'Replay all matching');
  const more = h('button', { type: 'button', class: 'secondary', hidden: true }, 'Older');
  clear(root).append(
    h('div', { class: 'view-head' }, h('h1', {}, 'Dead letters'), replayAll),
    form,
    h(
      'table',
      { class: 'list' },
      h('thead', {}, h('tr', {}, ['died', 'tenant', 'direction', 'subject', 'attempts', 'error', 'events', ''].map((t) => h('th', {}, t)))),
      tbody,
    ),
    h('div', { class: 'pager' }, more),
  );

  let filters = {};
  const row = (letter) => {
    const state = h('span', { class: 'replay-state' });
    const button = h('button', { type: 'button', class: 'replay' }, 'Replay');
    button.addEventListener('click', async () => {
      button.disabled = true;
      state.textContent = 'replaying…';
      try {
        const result = await api('/dead-letters/replay', { method: 'POST', body: { tenantId: letter.tenantId, jobKey: letter.key } });
        if (result.replayed === 0) {
          state.textContent = 'already replayed';
          return;
        }
        state.textContent = 'queued — waiting for the worker…';
        const outcome = await follow(letter.tenantId, letter.key);
        state.textContent = outcome === 'processed' ? '✓ processed' : outcome === 'dead' ? '✗ dead again' : 'still waiting (paused?)';
        state.className = `replay-state ${outcome === 'processed' ? 'ok' : 'bad'}`;
      } catch (error) {
        state.textContent = error.message;
        button.disabled = false;
      }
    });
    return h(
      'tr',
      { dataset: { jobKey: letter.key, tenant: letter.tenantId } },
      h('td', { title: time(letter.diedAt) }, ago(letter.diedAt)),
      h('td', {}, letter.tenantId),
      h('td', {}, DIRECTION_LABELS[letter.direction] ?? letter.task),
      h('td', {}, patientLink(letter.tenantId, letter.params.patientId, letter.params.contactId), letter.params.patientId || letter.params.contactId ? '' : ids(letter.params)),
      h('td', { class: 'num' }, `${letter.attempts}/${letter.maxAttempts}`),
      h('td', {}, h('strong', {}, letter.errorCode ?? ''), h('div', { class: 'reason' }, letter.lastError ?? '')),
      h('td', { class: 'num' }, letter.deadEvents),
      h('td', { class: 'nowrap' }, button, ' ', state),
    );
  };
  const load = async (before) => {
    const page = await api(`/dead-letters${query({ ...filters, before, limit: 50 })}`);
    if (!before) clear(tbody);
    for (const letter of page.deadLetters) tbody.append(row(letter));
    if (!before && page.deadLetters.length === 0) tbody.append(h('tr', {}, h('td', { colspan: 8, class: 'muted' }, 'No dead letters. 🎉')));
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
  replayAll.addEventListener('click', async () => {
    const scope = filters.tenantId ? `of ${filters.tenantId}` : 'of every tenant';
    if (!window.confirm(`Replay every dead letter ${scope} matching these filters?`)) return;
    const result = await api('/dead-letters/replay', { method: 'POST', body: filters }).catch(ctx.fail);
    if (result) ctx.flash(`Replayed ${result.replayed} of ${result.matched} dead letters${result.truncated ? ' (more remain: run again)' : ''}.`);
    await load().catch(ctx.fail);
  });
  filters = { ...params, since: fromLocalInput(params.since), until: fromLocalInput(params.until) };
  await load();
}
