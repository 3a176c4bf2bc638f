// The doctor on a tenant's card: a button that runs the read-only checks of our Spry and Spruce
// assumptions against the live systems (POST /tenants/{id}/doctor) and shows one line per
// check. The last result and a run in progress are kept per tenant, so the card's periodic
// refresh neither wipes the lines nor offers a second run meanwhile.
import { api } from './api.js';
import { h } from './dom.js';
import { ago } from './format.js';

const TONES = { ok: 'ok', warn: 'warn', fail: 'bad', skip: 'info' };
const lastReport = new Map();
const running = new Set();
/** Per tenant, how to draw the panel that is on the page now (the card is redrawn every few seconds). */
const drawn = new Map();

function checkRow(check) {
  return h(
    'tr',
    { class: `doctor-${check.status}`, dataset: { check: check.check } },
    h('td', {}, h('span', { class: `badge ${TONES[check.status] ?? ''}` }, check.status)),
    h('td', { class: 'mono' }, check.check),
    h(
      'td',
      {},
      check.message,
      check.assumption ? h('span', { class: 'muted' }, ` [${check.assumption}]`) : null,
      check.action ? h('div', { class: 'doctor-action' }, `→ ${check.action}`) : null,
    ),
  );
}

function results(tenantId) {
  const report = lastReport.get(tenantId);
  if (!report) return h('div', { class: 'muted' }, 'Doctor: not run yet');
  const failed = report.checks.filter((c) => c.status === 'fail').length;
  const warned = report.checks.filter((c) => c.status === 'warn').length;
  const summary = failed > 0 ? `${failed} failed` : warned > 0 ? `nothing failed, ${warned} to look at` : 'all checks ok';
  return h(
    'div',
    { class: 'doctor-results' },
    h('div', {}, h('strong', {}, 'Doctor: '), h('span', { class: `badge ${failed > 0 ? 'bad' : warned > 0 ? 'warn' : 'ok'}` }, summary), h('span', { class: 'muted' }, ` · ${ago(report.startedAt)}`)),
    h('table', { class: 'doctor-table' }, h('tbody', {}, report.checks.map(checkRow))),
  );
}

export function doctorPanel(tenantId, ctx) {
  const panel = h('div', { class: 'doctor', dataset: { tenant: tenantId } });
  const render = () => {
    panel.replaceChildren(
      h(
        'button',
        { type: 'button', class: 'secondary', disabled: running.has(tenantId), onclick: run },
        running.has(tenantId) ? 'Doctor running…' : 'Run doctor',
      ),
      results(tenantId),
    );
  };
  async function run() {
    running.add(tenantId);
    render();
    try {
      lastReport.set(tenantId, await api(`/tenants/${encodeURIComponent(tenantId)}/doctor`, { method: 'POST', body: {} }));
      ctx.flash(`${tenantId}: doctor finished`);
    } catch (error) {
      ctx.fail(error);
    } finally {
      running.delete(tenantId);
      drawn.get(tenantId)?.();
    }
  }
  drawn.set(tenantId, render);
  render();
  return panel;
}
