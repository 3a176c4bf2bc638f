// Per-clinic figures (GET /tenant-figures): backlog, dead letters, oldest waiting job, what limits
// its calls now (API budgets, circuit breakers) and why it needs attention. The server sorts
// (those needing attention first), filters and pages, so the table stays quick at 1,000 clinics.
import { h } from './dom.js';
import { duration, number } from './format.js';

export const ATTENTION = {
  vendor_failing: ['vendor failing', 'bad', 'a circuit breaker is open: its Spry or Spruce keeps failing; its jobs are held back'],
  dead_letters: ['dead letters', 'bad', 'jobs ran out of attempts; replay them from Dead letters'],
  waiting_long: ['behind', 'warn', 'its oldest due job has waited more than 5 minutes'],
  budget_exhausted: ['budget spent', 'warn', 'an API budget has no slot within a second: its jobs wait for it'],
  paused: ['paused', 'info', 'paused by an operator'],
  disabled: ['disabled', 'info', 'disabled: nothing is sent out'],
};

const SYSTEMS = { spruce: 'Spruce', spry: 'Spry' };
const when = (ms) => (ms === 0 ? 'now' : `in ${duration(ms)}`);

/** "Spruce 18/30 used, next now · Spry next now"; "—" where the limits are not known. */
export function budgetText(limits) {
  if (!limits) return '—';
  return (
    limits
      .filter((l) => l.limit.endsWith('_budget'))
      .map((l) => {
        const system = SYSTEMS[l.limit.split('_')[0]] ?? l.limit;
        const used = l.window ? ` ${number(l.window.used)}/${number(l.window.limit)} used,` : '';
        return `${system}${used} next ${when(l.readyInMs)}`;
      })
      .join(' · ') || '—'
  );
}

/** Breakers that are not closed, e.g. "Spruce open (8 s)"; "closed" when none is; "—" when not known. */
export function breakerText(limits) {
  if (!limits) return ['—', ''];
  const circuits = limits.filter((l) => l.circuit !== null);
  if (circuits.length === 0) return ['—', ''];
  const tripped = circuits.filter((l) => l.circuit !== 'closed');
  if (tripped.length === 0) return ['closed', 'ok'];
  return [
    tripped
      .map((l) => `${SYSTEMS[l.limit.split('_')[0]] ?? l.limit} ${l.circuit === 'open' ? `open (${duration(l.readyInMs)})` : 'half-open'}`)
      .join(' · '),
    'bad',
  ];
}

export function attentionBadges(reasons) {
  if (reasons.length === 0) return h('span', { class: 'badge ok' }, 'ok');
  return reasons.map((reason) => {
    const [label, tone, title] = ATTENTION[reason] ?? [reason, 'warn', reason];
    return h('span', { class: `badge ${tone}`, title }, label);
  });
}

/** One row of the table; `actions` are the row's buttons. */
export function figuresRow(t, actions) {
  const [breakers, breakerTone] = breakerText(t.limits);
  const id = encodeURIComponent(t.tenantId);
  return h(
    'tr',
    { dataset: { tenant: t.tenantId } },
    h('td', {}, h('div', { class: 'mono' }, t.tenantId), h('div', { class: 'muted small' }, t.source === 'api' ? 'added here' : t.source === 'config' ? 'config file' : '')),
    h('td', {}, h('span', { class: `badge ${t.status === 'disabled' ? 'info' : 'ok'}` }, t.status)),
    h('td', { class: 'num' }, number(t.waitingJobs), h('div', { class: 'muted small' }, `${number(t.runningJobs)} running`)),
    h('td', { class: 'num' }, t.deadJobs > 0 ? h('a', { href: `#dead-letters?tenantId=${id}` }, number(t.deadJobs)) : '0'),
    h('td', { class: 'num' }, t.oldestWaitingAgeMs === null ? '—' : duration(t.oldestWaitingAgeMs)),
    h('td', { class: 'small', title: t.limits ? null : 'known only to a running service' }, budgetText(t.limits)),
    h('td', { class: 'small' }, breakerTone ? h('span', { class: `badge ${breakerTone}` }, breakers) : breakers),
    h('td', { class: 'attention' }, attentionBadges(t.attention)),
    h('td', {}, h('div', { class: 'row-actions' }, actions)),
  );
}

export const FIGURE_HEADERS = ['clinic', 'status', 'waiting', 'dead letters', 'oldest waiting', 'API budget', 'breakers', 'attention', 'actions'];
