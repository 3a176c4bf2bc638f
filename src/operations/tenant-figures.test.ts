import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ControlledClock } from '../clock.ts';
import type { GaugeReading } from '../queue/tenant-admission.ts';
import { openStore } from '../store/open-store.ts';
import type { Store } from '../store/types.ts';
import { taskJob } from '../sync/tasks.ts';
import type { AdminContext } from './context.ts';
import { PauseControl } from './pause.ts';
import { tenantFigures, WAITING_LONG_MS } from './tenant-figures.ts';

const NOW = 1_800_000_000_000;
const patient = (patientId: number) => taskJob('spry.patient', { patientId }, { organisationId: 74 });

let dir: string;
let store: Store;
let clock: ControlledClock;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'spruce-sync-figures-'));
  store = await openStore(`sqlite:${join(dir, 'sync.db')}`, { synchronous: 'NORMAL' });
  clock = new ControlledClock({ start: NOW, flowing: false });
});
afterEach(async () => {
  await store.close();
  await rm(dir, { recursive: true, force: true });
});

async function addTenant(id: string, status: 'enabled' | 'disabled' = 'enabled', source: 'config' | 'api' = 'api') {
  expect(await store.insertTenant({ id, source, status, settings: {}, secrets: {} }, NOW)).toBe(true);
}

function context(tenantIds: string[], limits?: GaugeReading[]): AdminContext {
  return { store, clock, tenantIds, pauses: new PauseControl({ store, clock, tenantIds }), tenantLimits: limits && (() => limits) };
}

describe('tenantFigures', () => {
  it('gives each tenant its backlog, dead letters, oldest due job, limits and reasons, the urgent first', async () => {
    const ids = ['t-quiet', 't-backlog', 't-dead', 't-failing', 't-budget', 't-paused', 't-off'];
    for (const id of ids) await addTenant(id, id === 't-off' ? 'disabled' : 'enabled', id === 't-quiet' ? 'config' : 'api');

    // t-backlog: one job running, one due for 6 minutes, one retry due later.
    await store.enqueueJob('t-backlog', { ...patient(1), runAt: NOW - 10 * 60_000 }, NOW - 10 * 60_000);
    await store.enqueueJob('t-backlog', { ...patient(2), runAt: NOW + 60_000 }, NOW);
    await store.enqueueJob('t-backlog', { ...patient(3), runAt: NOW - 6 * 60_000 }, NOW - 6 * 60_000);
    const [running] = await store.claimJobs({ workerId: 'w1', now: NOW, leaseMs: 60_000, limit: 1, tenantIds: ['t-backlog'] });
    expect(running?.key).toBe(patient(1).key);
    // t-dead: one job out of attempts.
    await store.enqueueJob('t-dead', patient(4), NOW - 5_000);
    const [dying] = await store.claimJobs({ workerId: 'w1', now: NOW, leaseMs: 60_000, limit: 1, tenantIds: ['t-dead'] });
    await store.failJob(dying!, { jobId: dying!.id, workerId: 'w1', now: NOW, error: { code: 'SPRY_AUTH_FAILED', message: 'refused' } });

    const limits: GaugeReading[] = [
      { tenantId: 't-failing', gauge: 'spruce_circuit', readyInMs: 20_000, circuit: 'open' },
      { tenantId: 't-failing', gauge: 'spruce_budget', readyInMs: 0, window: null },
      { tenantId: 't-budget', gauge: 'spruce_budget', readyInMs: 30_000, window: { limit: 30, remaining: 0, endsAt: NOW + 30_000 } },
      { tenantId: 't-budget', gauge: 'spruce_circuit', readyInMs: 0, circuit: 'closed' },
      { tenantId: 't-quiet', gauge: 'spry_budget', readyInMs: 200 },
    ];
    const ctx = context(ids, limits);
    await ctx.pauses.pause('t-paused', 'spruce-to-spry', 'test');

    const page = await tenantFigures(ctx);
    expect(page).toMatchObject({ at: NOW, total: 7, needAttention: 6, matched: 7, offset: 0, limit: 50 });
    expect(page.tenants.map((t) => [t.tenantId, t.attention])).toEqual([
      ['t-failing', ['vendor_failing']],
      ['t-dead', ['dead_letters']],
      ['t-backlog', ['waiting_long']],
      ['t-budget', ['budget_exhausted']],
      ['t-paused', ['paused']],
      ['t-off', ['disabled']],
      ['t-quiet', []],
    ]);
    const byId = new Map(page.tenants.map((t) => [t.tenantId, t]));
    // The retry due later is waiting, but not late: the age is that of the job due longest (patient 3's).
    expect(byId.get('t-backlog')).toMatchObject({ waitingJobs: 2, runningJobs: 1, deadJobs: 0, oldestWaitingAgeMs: 6 * 60_000, source: 'api', status: 'enabled' });
    expect(byId.get('t-dead')).toMatchObject({ waitingJobs: 0, runningJobs: 0, deadJobs: 1, oldestWaitingAgeMs: null });
    expect(byId.get('t-budget')!.limits).toEqual([
      { limit: 'spruce_budget', readyInMs: 30_000, circuit: null, window: { limit: 30, used: 30, remaining: 0, endsInMs: 30_000 } },
      { limit: 'spruce_circuit', readyInMs: 0, circuit: 'closed', window: null },
    ]);
    expect(byId.get('t-budget')!.readyInMs).toBe(30_000);
    expect(byId.get('t-paused')!.paused).toEqual({ all: false, directions: ['spruce-to-spry'] });
    expect(byId.get('t-quiet')).toMatchObject({ source: 'config', limits: [{ limit: 'spry_budget', readyInMs: 200 }], readyInMs: 200 });
    // No limits known for a tenant the gauges do not cover: an empty list, not "unknown".
    expect(byId.get('t-off')!.limits).toEqual([]);
  });

  it('counts a due job waiting longer than the threshold as late', async () => {
    await addTenant('late');
    await store.enqueueJob('late', { ...patient(1), runAt: NOW - WAITING_LONG_MS - 1 }, NOW - WAITING_LONG_MS - 1);
    const [late] = (await tenantFigures(context(['late']))).tenants;
    expect(late).toMatchObject({ oldestWaitingAgeMs: WAITING_LONG_MS + 1, attention: ['waiting_long'] });
    // Without workers in this process (the CLI), the limits are not known.
    expect(late).toMatchObject({ limits: null, readyInMs: null });
  });

  it('filters by id and by attention, and pages, over 1,000 tenants with one queue query', async () => {
    const ids = Array.from({ length: 1000 }, (_, i) => `clinic-${String(i).padStart(4, '0')}`);
    for (const id of ids) await addTenant(id);
    // Three clinics have dead letters; clinic-0500 also a long wait.
    for (const [n, id] of ['clinic-0007', 'clinic-0500', 'clinic-0999'].entries()) {
      await store.enqueueJob(id, patient(n), NOW - 1_000);
      const [job] = await store.claimJobs({ workerId: 'w', now: NOW, leaseMs: 60_000, limit: 1, tenantIds: [id] });
      await store.failJob(job!, { jobId: job!.id, workerId: 'w', now: NOW, error: { code: 'SPRY_AUTH_FAILED', message: 'refused' } });
    }
    await store.enqueueJob('clinic-0500', { ...patient(9), runAt: NOW - WAITING_LONG_MS * 2 }, NOW - WAITING_LONG_MS * 2);
    // An API-added tenant this instance has not loaded yet is counted too.
    const ctx = context(ids.slice(0, 999));
    const queueStats = vi.spyOn(store, 'queueStats');
    const listTenants = vi.spyOn(store, 'listTenantSummaries');
    // The figures need no tenant's secrets: none is unsealed for them.
    const listDefinitions = vi.spyOn(store, 'listTenants');

    const first = await tenantFigures(ctx, { limit: 20 });
    expect(first).toMatchObject({ total: 1000, needAttention: 3, matched: 1000, limit: 20 });
    expect(first.tenants).toHaveLength(20);
    expect(first.tenants.slice(0, 4).map((t) => t.tenantId)).toEqual(['clinic-0500', 'clinic-0007', 'clinic-0999', 'clinic-0000']);
    // One grouped query of the queue and one read of the directory, whatever the number of tenants.
    expect(queueStats).toHaveBeenCalledTimes(1);
    expect(queueStats).toHaveBeenCalledWith();
    expect(listTenants).toHaveBeenCalledTimes(1);
    expect(listDefinitions).not.toHaveBeenCalled();

    const attention = await tenantFigures(ctx, { attention: true });
    expect(attention.tenants.map((t) => t.tenantId)).toEqual(['clinic-0500', 'clinic-0007', 'clinic-0999']);
    expect(attention.matched).toBe(3);

    const search = await tenantFigures(ctx, { search: ' CLINIC-09 ', limit: 10, offset: 90 });
    expect(search).toMatchObject({ matched: 100, offset: 90 });
    // clinic-0999 (dead letters) first, then clinic-0900… by id: places 90–99 are clinic-0989 to clinic-0998.
    expect(search.tenants.map((t) => t.tenantId)).toEqual(ids.slice(989, 999));
  });
});
