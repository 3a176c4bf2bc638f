// Overview: one card per tenant (at most a dozen: those needing attention first) — health, the last hour's throughput and lag, pause/resume,
// starting a backfill or a reconcile (they run in the service; progress shows on the card), and
// running the doctor's checks against the live Spry and Spruce.
import { api } from './api.js';
import { sparkline } from './charts.js';
import { clear, h } from './dom.js';
import { doctorPanel } from './doctor.js';
import { eventTable } from './events.js';
import { ago, DIRECTION_LABELS, duration, number, percent } from './format.js';

function pauseLabel(paused) {
  if (paused.all) return ['Paused', 'bad'];
  if (paused.directions.length > 0) return [`Paused: ${paused.directions.map((d) => DIRECTION_LABELS[d]).join(', ')}`, 'warn'];
  return ['Running', 'ok'];
}

function stat(label, value, hint, tone) {
  return h('div', { class: `stat ${tone ?? ''}` }, h('div', { class: 'stat-value' }, value), h('div', { class: 'stat-label' }, label), hint ? h('div', { class: 'stat-hint muted' }, hint) : null);
}

function lastRun(name, state) {
  if (!state) return h('div', { class: 'muted' }, `${name}: never`);
  const parts = Object.entries(state)
    .filter(([, v]) => ['string', 'number', 'boolean'].includes(typeof v))
    .slice(0, 6)
    .map(([k, v]) => `${k} ${typeof v === 'number' && v > 1e12 ? ago(v) : v}`);
  return h('div', {}, h('strong', {}, `${name}: `), parts.join(' · '));
}

function pauseButtons(tenant, ctx) {
  const { paused } = tenant;
  const act = async (action, direction) => {
    await api(`/tenants/${encodeURIComponent(tenant.tenantId)}/${action}`, { method: 'POST', body: direction ? { direction } : {} });
    ctx.flash(`${tenant.tenantId}: ${action === 'pause' ? 'paused' : 'resumed'}${direction ? ` (${DIRECTION_LABELS[direction]})` : ''}`);
    await ctx.refresh();
  };
  const buttons = [
    paused.all
      ? h('button', { type: 'button', onclick: () => act('resume') }, 'Resume tenant')
      : h('button', { type: 'button', class: 'secondary', onclick: () => act('pause') }, 'Pause tenant'),
  ];
  if (!paused.all) {
    for (const direction of Object.keys(DIRECTION_LABELS)) {
      const isPaused = paused.directions.includes(direction);
      buttons.push(
        h(
          'button',
          { type: 'button', class: isPaused ? '' : 'secondary', onclick: () => act(isPaused ? 'resume' : 'pause', direction) },
          `${isPaused ? 'Resume' : 'Pause'} ${DIRECTION_LABELS[direction]}`,
        ),
      );
    }
  }
  return h('div', { class: 'actions' }, buttons);
}

function operationButtons(tenant, ctx) {
  const start = async (operation, body, done) => {
    try {
      await api(`/tenants/${encodeURIComponent(tenant.tenantId)}/${operation}`, { method: 'POST', body });
      ctx.flash(`${tenant.tenantId}: ${done}; progress shows on this card`);
      await ctx.refresh();
    } catch (error) {
      ctx.fail(error);
    }
  };
  return h(
    'div',
    { class: 'actions' },
    h('button', { type: 'button', class: 'secondary', onclick: () => start('backfill', {}, 'backfill started') }, 'Start backfill'),
    h('button', { type: 'button', class: 'secondary', onclick: () => start('reconcile', { all: true }, 'reconcile started (report only)') }, 'Reconcile'),
    h('button', { type: 'button', class: 'secondary', onclick: () => start('reconcile', { all: true, fix: true }, 'reconcile with repair started') }, 'Reconcile and fix'),
  );
}

function tenantCard(tenant, ctx) {
  const [label, tone] = pauseLabel(tenant.paused);
  const { queue, window: w } = tenant;
  const minutes = tenant.activity.length > 0 ? (tenant.activity[1]?.start - tenant.activity[0].start) / 60000 || 1 : 1;
  return h(
    'article',
    { class: 'card tenant', dataset: { tenant: tenant.tenantId } },
    h('header', { class: 'card-head' }, h('h2', {}, tenant.tenantId), h('span', { class: `badge ${tone}` }, label)),
    h(
      'div',
      { class: 'stats' },
      stat('waiting jobs', number(queue.waitingJobs), `${number(queue.queuedEvents)} events queued · ${number(queue.runningJobs)} running`),
      stat('oldest waiting', queue.oldestQueuedAgeMs === null ? '—' : duration(queue.oldestQueuedAgeMs), null, queue.oldestQueuedAgeMs > 300000 ? 'warn' : ''),
      stat('processed / min', number(w.throughputPerMinute), `${number(w.processed)} in ${w.minutes} min`),
      stat('error rate', percent(w.errorRate), `${number(w.failedAttempts)} of ${number(w.attempts)} attempts`, w.errorRate > 0.1 ? 'warn' : ''),
      stat('dead letters', number(queue.deadJobs), `${number(queue.deadEvents)} events`, queue.deadJobs > 0 ? 'bad' : ''),
      stat('lag', duration(w.lagMsAvg), `max ${duration(w.lagMsMax)}`),
    ),
    h(
      'div',
      { class: 'charts' },
      sparkline(tenant.activity.map((b) => b.processed / minutes), { title: 'processed / min, last hour', format: (v) => number(Math.round(v)) }),
      sparkline(tenant.activity.map((b) => b.lagMsAvg), { title: 'lag (receipt → synced)', format: duration, kind: 'lag' }),
    ),
    h('div', { class: 'runs' }, lastRun('Backfill', tenant.backfill), lastRun('Reconcile', tenant.reconcile), operationButtons(tenant, ctx)),
    doctorPanel(tenant.tenantId, ctx),
    h(
      'footer',
      { class: 'card-foot' },
      pauseButtons(tenant, ctx),
      h('a', { href: `#dead-letters?tenantId=${encodeURIComponent(tenant.tenantId)}` }, 'dead letters →'),
      h('a', { href: `#events?tenantId=${encodeURIComponent(tenant.tenantId)}` }, 'events →'),
    ),
  );
}

/** Cards drawn at most: with many clinics, those needing attention (the Clinics page has them all). */
const CARDS = 12;

export async function renderOverview(root, ctx) {
  const render = async () => {
    const [page, recent] = await Promise.all([api(`/tenant-figures?limit=${CARDS}`), api('/events?limit=12')]);
    const tenants = await Promise.all(page.tenants.map((t) => api(`/tenants/${encodeURIComponent(t.tenantId)}`)));
    clear(root).append(
      h('div', { class: 'view-head' }, h('h1', {}, 'Overview'), h('span', { class: 'muted' }, `updated ${new Date().toLocaleTimeString()}`)),
      // (Element.append writes null as text: only what is there.)
      ...(page.total > page.tenants.length
        ? [
            h(
              'p',
              { class: 'muted' },
              `${page.tenants.length} of ${number(page.total)} clinics shown, those needing attention first (${number(page.needAttention)} do). `,
              h('a', { href: '#tenants' }, 'All clinics →'),
            ),
          ]
        : []),
      h('div', { class: 'tenants' }, tenants.map((t) => tenantCard(t, { ...ctx, refresh: render }))),
      h(
        'section',
        { class: 'recent' },
        h('h2', {}, 'Latest events ', h('a', { href: '#events', class: 'small' }, 'all events →')),
        eventTable(recent.events),
      ),
    );
  };
  await render();
  // Refresh while the view is open.
  const timer = setInterval(() => render().catch(() => {}), 10_000);
  return () => clearInterval(timer);
}
