import { afterEach, describe, expect, it } from 'vitest';
import { ControlledClock } from '../clock.ts';
import { SyncError } from '../errors.ts';
import { SqliteStore } from '../store/sqlite/sqlite-store.ts';
import type { EnqueueJob, Job, JobAttempt, NewInboundEvent } from '../store/types.ts';
import { LEASE_LOST, WorkerPool, type JobContext, type JobHandler, type WorkerPoolOptions } from './worker-pool.ts';

const T0 = 1_700_000_000_000;
const LEASE = 30_000;
// random 0.5 pins the jitter: waits of 1.5 s, 2.5 s, 4.5 s after tries 1, 2, 3.
const BACKOFF = { baseMs: 1000, capMs: 60_000, random: () => 0.5 };

const cleanups: (() => Promise<void>)[] = [];
const gates: (() => void)[] = [];
afterEach(async () => {
  for (const release of gates.splice(0)) release();
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function setup(handlers: Record<string, JobHandler>, options: Partial<WorkerPoolOptions> = {}) {
  const store = new SqliteStore(':memory:');
  await store.migrate();
  const clock = new ControlledClock({ start: T0, flowing: false });
  const attempts: JobAttempt[] = [];
  const makePool = (extra: Partial<WorkerPoolOptions> = {}) => {
    const pool = new WorkerPool({
      store,
      clock,
      workerId: 'w1',
      concurrency: 4,
      leaseMs: LEASE,
      pollIntervalMs: 1000,
      handlers,
      backoff: BACKOFF,
      onAttempt: (attempt) => attempts.push(attempt),
      ...options,
      ...extra,
    });
    cleanups.push(() => pool.stop());
    return pool;
  };
  cleanups.push(() => store.close());
  return { store, clock, pool: makePool(), makePool, attempts };
}

function job(patientId: number, extra: Partial<EnqueueJob> = {}): EnqueueJob {
  return { key: `spry-patient:t1:${patientId}`, task: 'spry.patient', params: { patientId }, ...extra };
}

function event(patientId: number, eventKey: string, at: number, extra: Partial<NewInboundEvent> = {}): NewInboundEvent {
  return {
    tenantId: 't1',
    source: 'spry',
    eventKey,
    type: 'patient.updated',
    occurredAt: at,
    receivedAt: at,
    payload: Buffer.from(eventKey),
    subject: { patientId },
    status: 'queued',
    job: job(patientId),
    ...extra,
  };
}

/** A gate a handler waits on; opened before cleanup too, so a failed test cannot hang stop(). */
function deferred() {
  let release!: () => void;
  const promise = new Promise<void>((resolve) => (release = resolve));
  gates.push(release);
  return { promise, release };
}

async function waitFor(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 1000 && !condition(); i++) await new Promise((resolve) => setImmediate(resolve));
  expect(condition()).toBe(true);
}

describe('WorkerPool', () => {
  it('retries a retryable failure at the backoff times, then dead-letters it after maxAttempts', async () => {
    const runs: number[] = [];
    const { store, clock, pool, attempts } = await setup({
      'spry.patient': async () => {
        runs.push(clock.now() - T0);
        throw new SyncError('SPRY_UNAVAILABLE', 'Spry answered 503', { retryable: true, requestId: 'spry-req-1' });
      },
    });
    const { id } = await store.insertEvent(event(1, 'e1', T0, { job: job(1, { maxAttempts: 4 }) }));

    await pool.runUntilIdle();
    expect(runs).toEqual([0]);
    await clock.advance(1499);
    await pool.runUntilIdle();
    expect(runs).toEqual([0]);
    await clock.advance(1);
    await pool.runUntilIdle();
    expect(runs).toEqual([0, 1500]);
    for (const wait of [2500, 4500]) {
      await clock.advance(wait);
      await pool.runUntilIdle();
    }
    expect(runs).toEqual([0, 1500, 4000, 8500]);

    await clock.advance(3_600_000);
    await pool.runUntilIdle();
    expect(runs).toHaveLength(4);
    expect(await store.getEvent(id)).toMatchObject({ status: 'dead', reason: 'SPRY_UNAVAILABLE: Spry answered 503' });
    expect(attempts.map((a) => a.outcome)).toEqual(['retrying', 'retrying', 'retrying', 'dead']);
    expect((await store.listAttempts('spry-patient:t1:1', 't1')).map((a) => [a.startedAt - T0, a.errorCode, a.requestId])).toEqual([
      [0, 'SPRY_UNAVAILABLE', 'spry-req-1'],
      [1500, 'SPRY_UNAVAILABLE', 'spry-req-1'],
      [4000, 'SPRY_UNAVAILABLE', 'spry-req-1'],
      [8500, 'SPRY_UNAVAILABLE', 'spry-req-1'],
    ]);
  });

  it('waits as long as Retry-After asks', async () => {
    const runs: number[] = [];
    const { store, clock, pool } = await setup({
      'spry.patient': async () => {
        runs.push(clock.now() - T0);
        if (runs.length === 1) {
          throw new SyncError('SPRUCE_RATE_LIMITED', 'rate limited', { retryable: true, retryAfterSeconds: 30 });
        }
      },
    });
    await store.insertEvent(event(1, 'e1', T0));
    await pool.runUntilIdle();
    await clock.advance(29_999);
    await pool.runUntilIdle();
    expect(runs).toEqual([0]);
    await clock.advance(1);
    await pool.runUntilIdle();
    expect(runs).toEqual([0, 30_000]);
  });

  it('dead-letters a permanent failure at once, keeping its code and request id', async () => {
    let calls = 0;
    const { store, pool, attempts } = await setup({
      'spry.patient': async () => {
        calls++;
        throw new SyncError('SPRUCE_REJECTED', 'Spruce answered 422', { retryable: false, requestId: 'req-9' });
      },
    });
    const { id } = await store.insertEvent(event(1, 'e1', T0));
    await pool.runUntilIdle();
    expect(calls).toBe(1);
    expect(await store.getEvent(id)).toMatchObject({ status: 'dead', reason: 'SPRUCE_REJECTED: Spruce answered 422' });
    expect(attempts).toEqual([
      { jobId: expect.any(Number), tenantId: 't1', jobKey: 'spry-patient:t1:1', startedAt: T0, finishedAt: T0, outcome: 'dead', errorCode: 'SPRUCE_REJECTED', requestId: 'req-9' },
    ]);
  });

  it('dead-letters a job whose task has no handler as UNEXPECTED', async () => {
    const { store, pool } = await setup({});
    await store.enqueueJob('t1', job(1, { task: 'no.such.task' }), T0);
    await pool.runUntilIdle();
    expect(await store.queueStats('t1')).toEqual([{ tenantId: 't1', waiting: 0, running: 0, dead: 1, oldestRunAt: null }]);
    expect((await store.listAttempts('spry-patient:t1:1', 't1'))[0]).toMatchObject({ outcome: 'dead', errorCode: 'UNEXPECTED' });
  });

  it('retries an unknown error but never stores its message, which may quote PHI', async () => {
    const { store, clock, pool } = await setup({
      'spry.patient': async () => {
        throw new SyntaxError('"Jane Doe 555-0100" is not valid JSON');
      },
    });
    await store.insertEvent(event(1, 'e1', T0));
    await pool.runUntilIdle();
    await clock.advance(1500);
    const [retry] = await store.claimJobs({ workerId: 'inspector', now: clock.now(), leaseMs: LEASE, limit: 1 });
    expect(retry!.attempts).toBe(2);
    expect(retry!.lastError).toMatch(/^UNEXPECTED: SyntaxError/);
    expect(retry!.lastError).not.toContain('Jane');
  });

  it('runs different keys concurrently but never one key twice at once, re-running for events that arrive mid-run', async () => {
    const running = new Map<string, number>();
    let maxPerKey = 0;
    let maxTotal = 0;
    const seen: Record<string, string[][]> = {};
    const { store, clock, pool } = await setup({
      'spry.patient': async (j: Job) => {
        running.set(j.key, (running.get(j.key) ?? 0) + 1);
        maxPerKey = Math.max(maxPerKey, ...running.values());
        maxTotal = Math.max(maxTotal, [...running.values()].reduce((a, b) => a + b, 0));
        const events = await store.listQueuedEvents(j.tenantId, j.key, j.lastEventId);
        (seen[j.key] ??= []).push(events.map((e) => e.eventKey));
        if (seen[j.key]!.length === 1) {
          // More news for this patient while its job runs.
          await store.insertEvent(event(Number(j.params.patientId), `${j.key}-late`, clock.now()));
        }
        for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
        running.set(j.key, running.get(j.key)! - 1);
      },
    });
    for (const p of [1, 2, 3]) for (const n of [1, 2, 3]) await store.insertEvent(event(p, `p${p}-e${n}`, T0));

    await pool.runUntilIdle();
    expect(maxPerKey).toBe(1);
    expect(maxTotal).toBe(3);
    for (const p of [1, 2, 3]) {
      const key = `spry-patient:t1:${p}`;
      expect(seen[key]).toEqual([[`p${p}-e1`, `p${p}-e2`, `p${p}-e3`], [`${key}-late`]]);
    }
    expect(await store.searchEvents({ status: 'queued', limit: 100 })).toEqual([]);
  });

  it('keeps renewing the lease of a long job, so no other worker takes it', async () => {
    const gate = deferred();
    let calls = 0;
    const { store, clock, pool, makePool } = await setup({
      'spry.patient': async () => {
        calls++;
        if (calls === 1) await gate.promise;
      },
    });
    const { id } = await store.insertEvent(event(1, 'e1', T0));
    const first = pool.runUntilIdle();
    await waitFor(() => calls === 1);

    const other = makePool({ workerId: 'w2' });
    for (let t = 0; t < 5; t++) {
      await clock.advance(LEASE / 2);
      await other.runUntilIdle();
    }
    expect(calls).toBe(1);
    gate.release();
    await first;
    expect((await store.getEvent(id))!.status).toBe('processed');
  });

  it('signals a handler whose lease was taken over, and lets the new holder settle the job', async () => {
    const gate = deferred();
    const contexts: JobContext[] = [];
    // Renewing slower than the lease lasts lets it lapse.
    const { store, clock, pool, makePool, attempts } = await setup(
      {
        'spry.patient': async (_job, ctx) => {
          contexts.push(ctx);
          if (contexts.length === 1) await gate.promise;
        },
      },
      { renewEveryMs: LEASE + 10_000 },
    );
    const { id } = await store.insertEvent(event(1, 'e1', T0));
    const first = pool.runUntilIdle();
    await waitFor(() => contexts.length === 1);

    await clock.advance(LEASE);
    await makePool({ workerId: 'w2' }).runUntilIdle();
    expect(contexts.map((c) => c.workerId)).toEqual(['w1', 'w2']);
    expect((await store.getEvent(id))!.status).toBe('processed');

    await clock.advance(10_000);
    await waitFor(() => contexts[0]!.signal.aborted);
    gate.release();
    await first;
    expect(attempts.map((a) => [a.outcome, a.errorCode])).toEqual([
      ['succeeded', null],
      ['retrying', LEASE_LOST],
    ]);
  });

  it('claims only for the tenants the filter names', async () => {
    const ran: string[] = [];
    const { store, pool } = await setup(
      { 'spry.patient': async (j) => void ran.push(j.tenantId) },
      { tenantFilter: () => ['t2'] },
    );
    await store.insertEvent(event(1, 'e1', T0));
    await store.insertEvent({ ...event(1, 'e2', T0), tenantId: 't2' });
    await pool.runUntilIdle();
    expect(ran).toEqual(['t2']);
  });

  it('leaves a held-back tenant waiting and wakes for it when its admission says it is ready', async () => {
    const ran: string[] = [];
    let heldUntil = T0 + 5_000;
    const { store, clock, pool } = await setup(
      { 'spry.patient': async (j) => void ran.push(j.tenantId) },
      {
        pollIntervalMs: 60_000,
        admission: { held: () => (clock.now() < heldUntil ? { tenants: ['t1'], readyIn: heldUntil - clock.now() } : { tenants: [] }) },
      },
    );
    await store.insertEvent(event(1, 'e1', T0));
    await store.insertEvent({ ...event(1, 'e2', T0), tenantId: 't2' });
    pool.start();
    pool.notify();
    await waitFor(() => ran.length === 1);
    expect(ran).toEqual(['t2']);
    // Woken by the admission's readyIn, long before the next poll.
    await clock.advance(5_000);
    await waitFor(() => ran.length === 2);
    expect(ran).toEqual(['t2', 't1']);
    expect((await store.listAttempts('spry-patient:t1:1', 't1')).map((a) => a.outcome)).toEqual(['succeeded']);
    heldUntil = 0;
  });

  it('holds one tenant to its share of the workers while others have work', async () => {
    const gate = deferred();
    const running: string[] = [];
    const { store, pool } = await setup(
      {
        'spry.patient': async (j) => {
          running.push(j.tenantId);
          await gate.promise;
        },
      },
      { perTenantLimit: 2 },
    );
    for (let p = 0; p < 6; p++) await store.insertEvent(event(p, `busy-${p}`, T0));
    await store.insertEvent({ ...event(1, 'quiet', T0), tenantId: 't2' });
    pool.start();
    pool.notify();
    await waitFor(() => running.length === 3);
    expect(running.sort()).toEqual(['t1', 't1', 't2']);
    expect(pool.activeCount).toBe(3);
    gate.release();
  });

  it('wakes at once on notify, polls on the clock, and stops only after running handlers finish', async () => {
    const gate = deferred();
    const ran: number[] = [];
    const { store, clock, pool } = await setup(
      {
        'spry.patient': async (j) => {
          ran.push(Number(j.params.patientId));
          if (j.params.patientId === 1) await gate.promise;
        },
      },
      { pollIntervalMs: 60_000 },
    );
    pool.start();
    await store.insertEvent(event(1, 'e1', T0));
    pool.notify();
    await waitFor(() => ran.length === 1);

    // Not notified: found by the next poll, when the clock gets there.
    await store.insertEvent(event(2, 'e2', T0));
    await clock.advance(59_999);
    expect(ran).toEqual([1]);
    await clock.advance(1);
    await waitFor(() => ran.length === 2);

    let stopped = false;
    const stopping = pool.stop().then(() => (stopped = true));
    for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
    expect(stopped).toBe(false);
    gate.release();
    await stopping;
    expect(await store.searchEvents({ status: 'processed', limit: 10 })).toHaveLength(2);
    expect(pool.activeCount).toBe(0);
  });
});

describe('WorkerPool stopping', () => {
  it('releases a run that stopped waiting for its turn: its events queued, its attempt given back, first in line at the next start', async () => {
    const stoppedWaits: string[] = [];
    const { store, pool, makePool, attempts } = await setup({
      // A call waiting out a rate window, as the HTTP client's stopWaiting ends it.
      'spry.patient': (_job, ctx) =>
        new Promise<void>((_resolve, reject) => {
          ctx.stopping.addEventListener('abort', () => {
            stoppedWaits.push('stopped');
            reject(new SyncError('WORK_STOPPED', 'Spruce GET /contacts was not sent', { retryable: true }));
          });
        }),
    });
    const { id } = await store.insertEvent(event(1, 'e1', T0));
    pool.start();
    await waitFor(() => pool.activeCount === 1);
    await pool.stop();
    expect(stoppedWaits).toEqual(['stopped']);
    expect(attempts.map((a) => [a.outcome, a.errorCode])).toEqual([['retrying', 'WORK_STOPPED']]);
    expect(await store.getEvent(id)).toMatchObject({ status: 'queued' });

    // Not backed off: the next pool runs it at once, as its first attempt.
    const runs: number[] = [];
    const next = makePool({ handlers: { 'spry.patient': async (j) => void runs.push(j.attempts) } });
    await next.runUntilIdle();
    expect(runs).toEqual([1]);
    expect(await store.getEvent(id)).toMatchObject({ status: 'processed' });
  });

  it('settles an ordinary failure as a failure even while stopping', async () => {
    const { store, pool, attempts } = await setup(
      {
        'spry.patient': (_job, ctx) =>
          new Promise<void>((_resolve, reject) => {
            ctx.stopping.addEventListener('abort', () => reject(new SyncError('SPRY_UNAVAILABLE', 'Spry answered 503', { retryable: true })));
          }),
      },
      { pollIntervalMs: 60_000 },
    );
    await store.insertEvent(event(2, 'e2', T0));
    pool.start();
    await waitFor(() => pool.activeCount === 1);
    await pool.stop();
    expect(attempts.map((a) => [a.outcome, a.errorCode])).toEqual([['retrying', 'SPRY_UNAVAILABLE']]);
    // Backed off: not due at once.
    expect(await store.claimJobs({ workerId: 'w9', now: T0, leaseMs: LEASE, limit: 1 })).toEqual([]);
  });
});

describe('WorkerPool during a burst of webhooks', () => {
  it('claims nothing new while holdClaims says so, and claims as soon as it no longer does', async () => {
    let bursting = true;
    const ran: number[] = [];
    const { store, clock, pool } = await setup(
      { 'spry.patient': async (j) => void ran.push(Number(j.params.patientId)) },
      { holdClaims: () => bursting },
    );
    await store.enqueueJob('t1', job(1), clock.now());
    await pool.runUntilIdle();
    expect(ran).toEqual([]);
    bursting = false;
    await pool.runUntilIdle();
    expect(ran).toEqual([1]);
  });
});
