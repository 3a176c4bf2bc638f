// Onboarding a clinic, step by step, right after it is added (or later, from its row): the
// doctor, the webhook setup (a CLI step: it registers with Spry and Spruce and stores the signing
// secrets they hand back), a backfill dry run, the backfill — with the runs' progress read from
// the clinic's health every few seconds while the panel is open.
/* global location */
import { api } from './api.js';
import { append, clear, h } from './dom.js';
import { doctorPanel } from './doctor.js';
import { ago, number } from './format.js';

const POLL_MS = 3000;

/** "running: 120/400 · created 80 · linked 40 …" from a backfill summary (ids and counts only). */
export function backfillLine(summary) {
  if (!summary) return 'not run yet';
  const counts = summary.counts && typeof summary.counts === 'object' ? summary.counts : {};
  const parts = [`${summary.status ?? 'unknown'}: ${number(summary.done ?? 0)}/${number(summary.total ?? 0)} patients`];
  for (const key of ['created', 'linked', 'matched', 'updated', 'unchanged', 'ambiguous', 'failed']) {
    if (counts[key]) parts.push(`${key} ${number(counts[key])}`);
  }
  const at = summary.finishedAt ?? summary.updatedAt;
  if (typeof at === 'number') parts.push(ago(at));
  return parts.join(' · ');
}

/**
 * The steps for `tenantId`, drawn into `root`; `warnings` are the add's. Returns a function that
 * stops the polling (call it when the panel goes away).
 */
export function onboardingPanel(root, tenantId, ctx, { heading, warnings = [] } = {}) {
  const id = encodeURIComponent(tenantId);
  const dryRunLine = h('div', { class: 'progress', role: 'status', dataset: { step: 'dry-run' } }, '…');
  const backfillProgress = h('div', { class: 'progress', role: 'status', dataset: { step: 'backfill' } }, '…');
  const start = (dryRun) => async () => {
    try {
      await api(`/tenants/${id}/backfill`, { method: 'POST', body: { dryRun } });
      ctx.flash(`${tenantId}: backfill${dryRun ? ' dry run' : ''} started; its progress shows below`);
      (dryRun ? dryRunLine : backfillProgress).textContent = 'started…';
    } catch (error) {
      ctx.fail(error);
    }
  };
  const command = (text) => h('pre', { class: 'command' }, h('code', {}, text));
  // dom.js's append: it flattens the warnings' list (Element.append would write it as text).
  append(clear(root), [
    h('h2', {}, heading ?? `Onboarding ${tenantId}`),
    warnings.map((w) => h('p', { class: 'warn' }, `Warning: ${w}`)),
    h(
      'ol',
      { class: 'steps' },
      h('li', {}, h('strong', {}, 'Doctor'), ': checks, read-only, that its Spry and Spruce answer as the sync assumes.', doctorPanel(tenantId, ctx)),
      h(
        'li',
        {},
        h('strong', {}, 'Setup'),
        ': registers our webhooks with its Spry and Spruce, from the command line where the config is, and puts the signing secrets they return in place of the ones given at add (the service picks them up within seconds):',
        command(`spruce-sync setup -c config.yaml --tenant ${tenantId} --public-url ${location.origin}`),
        h('span', { class: 'muted' }, 'Already registered (the secrets given at add are theirs)? It finds the registrations and changes nothing.'),
      ),
      h(
        'li',
        {},
        h('strong', {}, 'Backfill dry run'),
        ': what the backfill would create, link and update; changes nothing. ',
        h('button', { type: 'button', class: 'secondary', onclick: start(true) }, 'Backfill dry run'),
        dryRunLine,
      ),
      h(
        'li',
        {},
        h('strong', {}, 'Backfill'),
        ': gives every Spry patient one linked Spruce contact (resumable; live changes go first). ',
        h('button', { type: 'button', onclick: start(false) }, 'Backfill'),
        backfillProgress,
      ),
    ),
  ]);
  const poll = async () => {
    try {
      const health = await api(`/tenants/${id}?minutes=5`);
      dryRunLine.textContent = `Dry run: ${backfillLine(health.backfillDryRun)}`;
      backfillProgress.textContent = `Backfill: ${backfillLine(health.backfill)}`;
    } catch (error) {
      if (error?.status === 404) stop();
    }
  };
  const timer = setInterval(poll, POLL_MS);
  const stop = () => clearInterval(timer);
  poll();
  return stop;
}
