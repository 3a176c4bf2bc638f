// The Store contract: one suite, run against every adapter by store.contract.test.ts. Times are
// plain numbers passed in, so no clock is needed.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SyncError } from '../../src/errors.ts';
import type { EncryptionOptions } from '../../src/store/cipher.ts';
import type { EnqueueJob, Job, NewInboundEvent, Store } from '../../src/store/types.ts';
import type { ContactSnapshot } from '../../src/sync/contact-diff.ts';

export interface StoreHarness {
  store: Store;
  /** Another Store on the same database, as a second instance would open it (migrates too). */
  openAnother(options?: EncryptionOptions): Promise<Store>;
  /** Runs SQL directly on the database (the store's own schema), for at-rest checks. */
  raw(sql: string): Promise<Record<string, unknown>[]>;
  /** An empty blob literal in this database's SQL. */
  emptyBlob: string;
  cleanup(): Promise<void>;
}

export type HarnessFactory = (options: { encryptionKey?: string }) => Promise<StoreHarness>;

const T0 = 1_700_000_000_000;
const LEASE = 30_000;
const KEY_HEX = '8f'.repeat(32);

/** A contact as the ledger keeps it; `givenName` may be PHI (the encryption test). */
function snapshot(givenName: string): ContactSnapshot {
  return {
    givenName,
    middleName: '',
    familyName: 'Lovelace',
    dateOfBirth: '1815-12-10',
    gender: 'female',
    phoneNumbers: [{ label: 'mobile', value: '+15550100' }],
    emailAddresses: [],
    fields: { 'Spry Patient ID': '12' },
    tags: [{ id: 'tag_1', value: 'spry' }],
  };
}

function jobFor(tenantId: string, patientId: number, extra: Partial<EnqueueJob> = {}): EnqueueJob {
  return { key: `spry-patient:${tenantId}:${patientId}`, task: 'spry.patient', params: { patientId }, ...extra };
}

function patientEvent(tenantId: string, patientId: number, eventKey: string, at = T0, extra: Partial<NewInboundEvent> = {}): NewInboundEvent {
  return {
    tenantId,
    source: 'spry',
    eventKey,
    type: 'patient.updated',
    occurredAt: at - 5,
    receivedAt: at,
    payload: Buffer.from(JSON.stringify({ event_id: eventKey, patient_id: patientId })),
    subject: { patientId },
    status: 'queued',
    job: jobFor(tenantId, patientId),
    ...extra,
  };
}

async function claim(store: Store, workerId: string, now: number, limit = 10, tenantIds?: string[]): Promise<Job[]> {
  return store.claimJobs({ workerId, now, leaseMs: LEASE, limit, tenantIds });
}

async function claimOne(store: Store, workerId: string, now: number): Promise<Job> {
  const jobs = await claim(store, workerId, now);
  expect(jobs).toHaveLength(1);
  return jobs[0]!;
}

/** `workerId`'s run of `job` failing at `now` with `code: message`; with `retryAt`, due again then. */
function failRun(store: Store, job: Job, workerId: string, now: number, code: string, message: string, retryAt?: number) {
  return store.failJob(job, { jobId: job.id, workerId, now, error: { code, message }, ...(retryAt === undefined ? {} : { retryAt }) });
}

export function storeContract(name: string, factory: HarnessFactory): void {
  describe(`Store contract: ${name}`, () => {
    let h: StoreHarness;
    let store: Store;
    beforeEach(async () => {
      h = await factory({});
      store = h.store;
    });
    afterEach(async () => {
      await h.cleanup();
    });

    describe('inbox', () => {
      it('stores an event once per (tenant, source, event key) and returns the first id for repeats', async () => {
        const first = await store.insertEvent(patientEvent('t1', 1, 'e-1'));
        expect(first.inserted).toBe(true);
        const again = await store.insertEvent(patientEvent('t1', 1, 'e-1', T0 + 50));
        expect(again).toEqual({ id: first.id, inserted: false });
        const otherSource = await store.insertEvent(patientEvent('t1', 1, 'e-1', T0, { source: 'spruce' }));
        const otherTenant = await store.insertEvent(patientEvent('t2', 1, 'e-1'));
        expect(otherSource.inserted && otherTenant.inserted).toBe(true);
        expect(new Set([first.id, otherSource.id, otherTenant.id]).size).toBe(3);

        // The repeat did not feed the job again.
        const [job] = await claim(store, 'w1', T0, 10, ['t1']);
        expect(job!.lastEventId).toBe(Math.max(first.id, otherSource.id));
        const stored = await store.getEvent(first.id);
        expect(stored).toMatchObject({ tenantId: 't1', eventKey: 'e-1', status: 'queued', jobKey: 'spry-patient:t1:1', receivedAt: T0 });
        expect(stored!.payload.toString()).toContain('"event_id":"e-1"');
        expect(await store.getEvent(999_999)).toBeNull();
      });

      it('dedupes repeats that arrive at the same moment', async () => {
        const results = await Promise.all([1, 2, 3, 4].map(() => store.insertEvent(patientEvent('t1', 1, 'same'))));
        expect(results.filter((r) => r.inserted)).toHaveLength(1);
        expect(new Set(results.map((r) => r.id)).size).toBe(1);
      });

      it('stores events without a job as given and enqueues nothing', async () => {
        const { id } = await store.insertEvent(patientEvent('t1', 1, 'ping', T0, { status: 'test', job: undefined }));
        expect((await store.getEvent(id))!.status).toBe('test');
        expect((await store.getEvent(id))!.jobKey).toBeNull();
        expect(await claim(store, 'w1', T0 + 1)).toEqual([]);
      });

      it('searches newest first with keyset paging and every filter', async () => {
        const ids: number[] = [];
        for (let i = 0; i < 5; i++) ids.push((await store.insertEvent(patientEvent('t1', 7, `p-${i}`, T0 + i))).id);
        const contact = await store.insertEvent({
          ...patientEvent('t1', 0, 'c-1', T0 + 10, { source: 'spruce', type: 'contact.updated', status: 'ignored', job: undefined }),
          subject: { contactId: 'entity_9' },
        });
        await store.insertEvent(patientEvent('t2', 7, 'other-tenant', T0 + 20));

        const page1 = await store.searchEvents({ tenantId: 't1', limit: 4 });
        expect(page1.map((e) => e.id)).toEqual([contact.id, ids[4], ids[3], ids[2]]);
        const page2 = await store.searchEvents({ tenantId: 't1', limit: 4, beforeId: page1.at(-1)!.id });
        expect(page2.map((e) => e.id)).toEqual([ids[1], ids[0]]);

        expect((await store.searchEvents({ tenantId: 't1', patientId: 7, limit: 10 })).length).toBe(5);
        expect((await store.searchEvents({ contactId: 'entity_9', limit: 10 })).map((e) => e.id)).toEqual([contact.id]);
        expect((await store.searchEvents({ type: 'contact.updated', limit: 10 })).map((e) => e.id)).toEqual([contact.id]);
        expect((await store.searchEvents({ status: 'ignored', limit: 10 })).map((e) => e.id)).toEqual([contact.id]);
        expect((await store.searchEvents({ tenantId: 't1', source: 'spry', limit: 10 })).length).toBe(5);
        expect((await store.searchEvents({ tenantId: 't1', since: T0 + 1, until: T0 + 3, limit: 10 })).map((e) => e.id)).toEqual([
          ids[2],
          ids[1],
        ]);
        expect((await store.searchEvents({ limit: 100 })).length).toBe(7);
      });

      it('reports the newest occurredAt per tenant and source, ignoring test deliveries', async () => {
        expect(await store.latestEventTime('t1', 'spry')).toBeNull();
        await store.insertEvent(patientEvent('t1', 1, 'a', T0 + 100));
        await store.insertEvent(patientEvent('t1', 1, 'b', T0 + 50));
        await store.insertEvent(patientEvent('t1', 1, 'test', T0 + 999_999, { status: 'test', job: undefined }));
        await store.insertEvent(patientEvent('t1', 1, 'c', T0 + 500, { source: 'spruce' }));
        expect(await store.latestEventTime('t1', 'spry')).toBe(T0 + 100 - 5);
        expect(await store.latestEventTime('t2', 'spry')).toBeNull();
      });

      it('commits many concurrent inserts durably: all are there after reopening', async () => {
        const events = Array.from({ length: 300 }, (_, i) => patientEvent('t1', i % 40, `burst-${i}`, T0 + i));
        const results = await Promise.all(events.map((e) => store.insertEvent(e)));
        expect(results.every((r) => r.inserted)).toBe(true);
        expect(new Set(results.map((r) => r.id)).size).toBe(300);
        await store.close();

        store = await h.openAnother();
        expect((await store.searchEvents({ tenantId: 't1', limit: 1000 })).length).toBe(300);
        const jobs = await claim(store, 'w1', T0 + 1000, 100);
        expect(jobs).toHaveLength(40);
        const covered = await Promise.all(jobs.map((j) => store.listQueuedEvents('t1', j.key, j.lastEventId)));
        expect(covered.flat()).toHaveLength(300);
      });
    });

    describe('queue', () => {
      it('coalesces a burst for one key into one job whose single run covers every event', async () => {
        const ids: number[] = [];
        for (let i = 0; i < 5; i++) ids.push((await store.insertEvent(patientEvent('t1', 12, `burst-${i}`, T0 + i))).id);
        const job = await claimOne(store, 'w1', T0 + 10);
        expect(job).toMatchObject({ tenantId: 't1', key: 'spry-patient:t1:12', task: 'spry.patient', params: { patientId: 12 } });
        expect(job).toMatchObject({ attempts: 1, lastEventId: ids[4], lockedBy: 'w1', lockedUntil: T0 + 10 + LEASE, state: 'waiting' });
        const queued = await store.listQueuedEvents('t1', job.key, job.lastEventId);
        expect(queued.map((e) => e.id)).toEqual(ids);
        expect(queued[2]!.payload.toString()).toContain('burst-2');

        await store.completeJob(job, 'w1', T0 + 20);
        for (const id of ids) expect((await store.getEvent(id))!.status).toBe('processed');
        expect(await claim(store, 'w1', T0 + 99_999)).toEqual([]);
        expect(await store.queueStats()).toEqual([]);
      });

      it('runs a key exactly once more when an event arrives while its job runs', async () => {
        const e1 = await store.insertEvent(patientEvent('t1', 3, 'e1'));
        const first = await claimOne(store, 'w1', T0);
        const e2 = await store.insertEvent(patientEvent('t1', 3, 'e2', T0 + 5));
        // The key is held: nobody else may run it meanwhile.
        expect(await claim(store, 'w2', T0 + 6)).toEqual([]);

        await store.completeJob(first, 'w1', T0 + 10);
        expect((await store.getEvent(e1.id))!.status).toBe('processed');
        expect((await store.getEvent(e2.id))!.status).toBe('queued');

        const second = await claimOne(store, 'w2', T0 + 10);
        expect(second).toMatchObject({ id: first.id, attempts: 1, lastEventId: e2.id });
        expect((await store.listQueuedEvents('t1', second.key, second.lastEventId)).map((e) => e.id)).toEqual([e2.id]);
        await store.completeJob(second, 'w2', T0 + 11);
        expect((await store.getEvent(e2.id))!.status).toBe('processed');
        expect(await claim(store, 'w1', T0 + 99_999)).toEqual([]);
      });

      it('treats enqueueJob like an event: coalesces, and a repeat during a run causes one re-run', async () => {
        const job = jobFor('t1', 4, { key: 'reconcile:t1', task: 'reconcile', params: { page: 1 } });
        await store.enqueueJob('t1', job, T0);
        await store.enqueueJob('t1', { ...job, params: { page: 2 } }, T0 + 1);
        const run = await claimOne(store, 'w1', T0 + 2);
        expect(run).toMatchObject({ task: 'reconcile', params: { page: 2 }, lastEventId: 0 });
        await store.enqueueJob('t1', job, T0 + 3);
        await store.completeJob(run, 'w1', T0 + 4);
        const rerun = await claimOne(store, 'w1', T0 + 4);
        await store.completeJob(rerun, 'w1', T0 + 5);
        expect(await claim(store, 'w1', T0 + 99_999)).toEqual([]);
      });

      it('honours runAt: a job is not claimed before it is due, and an earlier enqueue pulls it in', async () => {
        await store.enqueueJob('t1', { ...jobFor('t1', 1), runAt: T0 + 1000 }, T0);
        expect(await claim(store, 'w1', T0 + 999)).toEqual([]);
        await store.enqueueJob('t1', { ...jobFor('t1', 1), runAt: T0 + 500 }, T0 + 1);
        expect(await claim(store, 'w1', T0 + 499)).toEqual([]);
        expect((await claimOne(store, 'w1', T0 + 500)).runAt).toBe(T0 + 500);
      });

      it('claims due jobs oldest first, up to the limit, only for the given tenants', async () => {
        await store.enqueueJob('t2', { ...jobFor('t2', 1), runAt: T0 + 1 }, T0);
        await store.enqueueJob('t1', { ...jobFor('t1', 1), runAt: T0 + 3 }, T0);
        await store.enqueueJob('t1', { ...jobFor('t1', 2), runAt: T0 + 2 }, T0);
        expect(await claim(store, 'w1', T0 + 10, 10, [])).toEqual([]);
        expect((await claim(store, 'w1', T0 + 10, 10, ['t1'])).map((j) => j.key)).toEqual(['spry-patient:t1:2', 'spry-patient:t1:1']);
        const rest = await claim(store, 'w1', T0 + 10, 1);
        expect(rest.map((j) => j.key)).toEqual(['spry-patient:t2:1']);
      });

      it('lets another worker claim a job whose lease ran out, and ignores the old holder', async () => {
        const e1 = await store.insertEvent(patientEvent('t1', 5, 'e1'));
        const a = await claimOne(store, 'worker-a', T0);
        expect(await store.renewLease(a.id, 'worker-a', T0 + 2 * LEASE)).toBe(true);
        expect(await store.renewLease(a.id, 'worker-b', T0 + 3 * LEASE)).toBe(false);
        expect(await claim(store, 'worker-b', T0 + 2 * LEASE - 1)).toEqual([]);

        const b = await claimOne(store, 'worker-b', T0 + 2 * LEASE);
        expect(b).toMatchObject({ id: a.id, attempts: 2, lockedBy: 'worker-b' });
        expect(await store.renewLease(a.id, 'worker-a', T0 + 3 * LEASE)).toBe(false);
        await store.completeJob(a, 'worker-a', T0 + 2 * LEASE + 1);
        await failRun(store, a, 'worker-a', T0, 'UNEXPECTED', 'late');
        expect((await store.getEvent(e1.id))!.status).toBe('queued');

        await store.completeJob(b, 'worker-b', T0 + 2 * LEASE + 2);
        expect((await store.getEvent(e1.id))!.status).toBe('processed');
      });

      it('does not let a run whose lease lapsed settle the job its own instance claimed again (no event lost)', async () => {
        // One instance, one worker id: a slow run loses its lease, another slot of the same
        // instance claims the key again after a new event arrived, and the slow run ends first.
        await store.insertEvent(patientEvent('t1', 5, 'first'));
        const slow = await claimOne(store, 'worker-a', T0);
        const later = await store.insertEvent(patientEvent('t1', 5, 'later', T0 + 1));
        const again = await claimOne(store, 'worker-a', T0 + 2 * LEASE);
        expect(again.id).toBe(slow.id);
        await store.completeJob(slow, 'worker-a', T0 + 2 * LEASE + 1);
        await failRun(store, slow, 'worker-a', T0 + 2 * LEASE + 1, 'UNEXPECTED', 'late', T0 + 10 * LEASE);
        expect((await store.getEvent(later.id))!.status).toBe('queued');
        await store.completeJob(again, 'worker-a', T0 + 2 * LEASE + 2);
        expect((await store.getEvent(later.id))!.status).toBe('processed');
      });

      it('never hands one key to two claimers at once', async () => {
        for (let p = 0; p < 40; p++) {
          await store.insertEvent(patientEvent('t1', p, `a-${p}`));
          await store.insertEvent(patientEvent('t1', p, `b-${p}`));
        }
        const other = await h.openAnother();
        const claimed: string[] = [];
        for (;;) {
          const rounds = await Promise.all(
            [store, other, store, other].map((s, i) => s.claimJobs({ workerId: `w${i}`, now: T0 + 1, leaseMs: LEASE, limit: 3 })),
          );
          if (rounds.every((r) => r.length === 0)) break;
          for (const jobs of rounds) claimed.push(...jobs.map((j) => j.key));
        }
        expect(claimed).toHaveLength(40);
        expect(new Set(claimed).size).toBe(40);
      });

      it('marks an event processed only after a run listed it, while inserts race claims', async () => {
        const other = await h.openAnother();
        const seen = new Set<number>();
        const inserted: number[] = [];
        let producing = true;
        const producer = (async () => {
          for (let i = 0; i < 120; i += 6) {
            const batch = await Promise.all(
              [0, 1, 2, 3, 4, 5].map((j) => (j % 2 ? other : store).insertEvent(patientEvent('t1', 77, `race-${i + j}`, T0 + i + j))),
            );
            inserted.push(...batch.map((r) => r.id));
            await new Promise((resolve) => setImmediate(resolve));
          }
          producing = false;
        })();
        let now = T0 + 1000;
        for (;;) {
          const jobs = await claim(store, 'consumer', now++);
          if (jobs.length === 0) {
            if (!producing) break;
            await new Promise((resolve) => setImmediate(resolve));
            continue;
          }
          const job = jobs[0]!;
          for (const e of await store.listQueuedEvents('t1', job.key, job.lastEventId)) seen.add(e.id);
          await store.completeJob(job, 'consumer', now++);
        }
        await producer;
        expect(inserted).toHaveLength(120);
        for (const id of inserted) {
          expect((await store.getEvent(id))!.status).toBe('processed');
          expect(seen.has(id)).toBe(true);
        }
      });

      it('retries at retryAt, then dead-letters the job and the events it covered', async () => {
        const e1 = await store.insertEvent(patientEvent('t1', 8, 'e1', T0, { job: jobFor('t1', 8, { maxAttempts: 3 }) }));
        const first = await claimOne(store, 'w1', T0);
        expect(first.maxAttempts).toBe(3);
        await failRun(store, first, 'w1', T0 + 1, 'SPRY_UNAVAILABLE', 'Spry answered 503', T0 + 1000);
        expect((await store.getEvent(e1.id))!.status).toBe('queued');
        expect(await claim(store, 'w1', T0 + 999)).toEqual([]);

        const second = await claimOne(store, 'w1', T0 + 1000);
        expect(second).toMatchObject({ attempts: 2, lastError: 'SPRY_UNAVAILABLE: Spry answered 503' });
        await failRun(store, second, 'w1', T0 + 1001, 'SPRY_UNAVAILABLE', 'Spry answered 503', T0 + 3000);

        const third = await claimOne(store, 'w1', T0 + 3000);
        expect(third.attempts).toBe(3);
        const outcome = await failRun(store, third, 'w1', T0 + 3002, 'SPRY_REJECTED', 'Spry answered 422 for patient 8');
        expect(outcome).toBe('dead');
        expect(await store.getEvent(e1.id)).toMatchObject({ status: 'dead', reason: 'SPRY_REJECTED: Spry answered 422 for patient 8' });
        expect(await claim(store, 'w1', T0 + 10_000_000)).toEqual([]);
        expect(await store.queueStats('t1')).toEqual([{ tenantId: 't1', waiting: 0, running: 0, dead: 1, oldestRunAt: null }]);
      });

      it('buries nothing when an event arrived while the failing run ran: the key is due at once with fresh attempts', async () => {
        const e1 = await store.insertEvent(patientEvent('t1', 9, 'e1', T0, { job: jobFor('t1', 9, { maxAttempts: 3 }) }));
        const run = await claimOne(store, 'w1', T0);
        const late = await store.insertEvent(patientEvent('t1', 9, 'late', T0 + 1));
        // The late event's job request is fed while the run holds the key (on SQLite by its runAt at the latest).
        await store.settleInbox();
        const outcome = await failRun(store, run, 'w1', T0 + 2, 'SPRY_REJECTED', 'Spry answered 422 for patient 9');
        // The new event may be what makes it succeed (a corrected chart): it gets its run, the old event with it.
        expect(outcome).toBe('retrying');
        expect((await store.getEvent(e1.id))!.status).toBe('queued');
        expect((await store.getEvent(late.id))!.status).toBe('queued');
        expect(await store.queueStats('t1')).toEqual([{ tenantId: 't1', waiting: 1, running: 0, dead: 0, oldestRunAt: T0 + 2 }]);
        const again = await claimOne(store, 'w1', T0 + 2);
        expect(again).toMatchObject({ attempts: 1, lastEventId: late.id, lastError: 'SPRY_REJECTED: Spry answered 422 for patient 9' });
        await store.completeJob(again, 'w1', T0 + 3);
        expect((await store.getEvent(e1.id))!.status).toBe('processed');
        expect((await store.getEvent(late.id))!.status).toBe('processed');
      });

      it('releases a stopped run: due as it was, its attempt given back; a run that lost the job releases nothing', async () => {
        const e1 = await store.insertEvent(patientEvent('t1', 10, 'e1', T0, { job: jobFor('t1', 10, { maxAttempts: 3 }) }));
        const run = await claimOne(store, 'w1', T0);
        expect(run.attempts).toBe(1);
        expect(await store.releaseJob(run, 'w2', T0 + 1)).toBe(false);
        expect(await store.releaseJob({ ...run, attempts: 2 }, 'w1', T0 + 1)).toBe(false);
        expect(await store.releaseJob(run, 'w1', T0 + 1)).toBe(true);
        expect((await store.getEvent(e1.id))!.status).toBe('queued');
        expect(await store.queueStats('t1')).toEqual([{ tenantId: 't1', waiting: 1, running: 0, dead: 0, oldestRunAt: run.runAt }]);
        // Claimable at once by anyone, as the first attempt again; the old claim can settle nothing now.
        const again = await claimOne(store, 'w2', T0 + 2);
        expect(again).toMatchObject({ id: run.id, attempts: 1 });
        expect(await store.releaseJob(run, 'w1', T0 + 3)).toBe(false);
        await store.completeJob(again, 'w2', T0 + 3);
        expect((await store.getEvent(e1.id))!.status).toBe('processed');
      });

      it('keeps a pending retry backoff when a new event arrives for the key', async () => {
        await store.insertEvent(patientEvent('t1', 9, 'e1'));
        const run = await claimOne(store, 'w1', T0);
        await failRun(store, run, 'w1', T0, 'SPRUCE_RATE_LIMITED', '429', T0 + 60_000);
        const e2 = await store.insertEvent(patientEvent('t1', 9, 'e2', T0 + 10));
        expect(await claim(store, 'w1', T0 + 10)).toEqual([]);
        const retry = await claimOne(store, 'w1', T0 + 60_000);
        expect(retry).toMatchObject({ attempts: 2, lastEventId: e2.id });
      });

      it('revives a dead key when a new event arrives, with fresh attempts and its dead events requeued', async () => {
        const e1 = await store.insertEvent(patientEvent('t1', 10, 'e1'));
        const run = await claimOne(store, 'w1', T0);
        await failRun(store, run, 'w1', T0, 'SYNC_FAILED', 'mapping failed');
        expect((await store.getEvent(e1.id))!.status).toBe('dead');

        const e2 = await store.insertEvent(patientEvent('t1', 10, 'e2', T0 + 100));
        expect(await store.getEvent(e1.id)).toMatchObject({ status: 'queued', reason: null });
        const revived = await claimOne(store, 'w1', T0 + 100);
        expect(revived).toMatchObject({ id: run.id, attempts: 1, state: 'waiting', lastEventId: e2.id });
        expect((await store.listQueuedEvents('t1', revived.key, revived.lastEventId)).map((e) => e.id)).toEqual([e1.id, e2.id]);
        await store.completeJob(revived, 'w1', T0 + 101);
        expect((await store.getEvent(e1.id))!.status).toBe('processed');
        expect((await store.getEvent(e2.id))!.status).toBe('processed');
      });

      it('replays a dead job on request', async () => {
        const e1 = await store.insertEvent(patientEvent('t1', 11, 'e1'));
        const key = jobFor('t1', 11).key;
        expect(await store.replayDeadJob('t1', key, T0)).toBe(false);
        const run = await claimOne(store, 'w1', T0);
        await failRun(store, run, 'w1', T0, 'SPRY_NOT_FOUND', 'gone');
        expect(await store.replayDeadJob('t2', key, T0)).toBe(false);

        expect(await store.replayDeadJob('t1', key, T0 + 500)).toBe(true);
        expect(await store.getEvent(e1.id)).toMatchObject({ status: 'queued', reason: null });
        const replayed = await claimOne(store, 'w1', T0 + 500);
        expect(replayed).toMatchObject({ attempts: 1, lastEventId: e1.id });
        await store.completeJob(replayed, 'w1', T0 + 501);
        expect((await store.getEvent(e1.id))!.status).toBe('processed');
        expect(await store.replayDeadJob('t1', key, T0 + 502)).toBe(false);
      });

      it('records attempts and reports queue stats per tenant', async () => {
        await store.insertEvent(patientEvent('t1', 1, 'a', T0 + 5));
        await store.insertEvent(patientEvent('t1', 2, 'b', T0 + 7));
        await store.insertEvent(patientEvent('t2', 1, 'c', T0 + 9));
        const [running] = await claim(store, 'w1', T0 + 5);
        expect(running!.key).toBe('spry-patient:t1:1');
        await store.insertEvent(patientEvent('t2', 2, 'd', T0 + 20, { job: jobFor('t2', 2, { maxAttempts: 1 }) }));
        const [doomed] = await claim(store, 'w1', T0 + 20, 1, ['t2']);
        expect(doomed!.key).toBe('spry-patient:t2:1');
        const [last] = await claim(store, 'w1', T0 + 20, 1, ['t2']);
        await failRun(store, last!, 'w1', T0 + 21, 'SPRY_REJECTED', 'no');

        expect(await store.queueStats()).toEqual([
          { tenantId: 't1', waiting: 1, running: 1, dead: 0, oldestRunAt: T0 + 7 },
          { tenantId: 't2', waiting: 0, running: 1, dead: 1, oldestRunAt: null },
        ]);
        expect(await store.queueStats('t2')).toHaveLength(1);

        const attempt = { jobId: running!.id, tenantId: 't1', jobKey: running!.key, startedAt: T0, finishedAt: T0 + 3 };
        await store.recordAttempt({ ...attempt, outcome: 'retrying', errorCode: 'SPRUCE_UNAVAILABLE', requestId: 'req-1' });
        await store.recordAttempt({ ...attempt, startedAt: T0 + 10, outcome: 'succeeded', errorCode: null, requestId: null });
        expect(await store.listAttempts(running!.key, 't1')).toEqual([
          { ...attempt, outcome: 'retrying', errorCode: 'SPRUCE_UNAVAILABLE', requestId: 'req-1' },
          { ...attempt, startedAt: T0 + 10, outcome: 'succeeded', errorCode: null, requestId: null },
        ]);
        expect(await store.listAttempts(running!.key, 't2')).toEqual([]);
      });
    });

    describe('sync state', () => {
      it('links one contact per patient and one patient per contact, replacing either side', async () => {
        await store.upsertLink('t1', 1, 'entity_a', T0);
        expect(await store.getLinkByPatient('t1', 1)).toEqual({ tenantId: 't1', patientId: 1, contactId: 'entity_a', createdAt: T0, updatedAt: T0 });
        expect((await store.getLinkByContact('t1', 'entity_a'))!.patientId).toBe(1);
        await store.upsertLink('t1', 1, 'entity_a', T0 + 5);
        expect(await store.getLinkByPatient('t1', 1)).toMatchObject({ createdAt: T0, updatedAt: T0 + 5 });

        // The patient moves to another contact: the old contact is unlinked.
        await store.upsertLink('t1', 1, 'entity_b', T0 + 10);
        expect(await store.getLinkByContact('t1', 'entity_a')).toBeNull();
        expect((await store.getLinkByPatient('t1', 1))!.contactId).toBe('entity_b');
        // Another patient takes that contact: the first patient is unlinked.
        await store.upsertLink('t1', 2, 'entity_b', T0 + 20);
        expect(await store.getLinkByPatient('t1', 1)).toBeNull();
        expect((await store.getLinkByContact('t1', 'entity_b'))!.patientId).toBe(2);

        await store.upsertLink('t2', 1, 'entity_b', T0);
        expect((await store.getLinkByContact('t1', 'entity_b'))!.patientId).toBe(2);
        await store.deleteLinkByContact('t1', 'entity_b');
        expect(await store.getLinkByPatient('t1', 2)).toBeNull();
        expect(await store.getLinkByContact('t2', 'entity_b')).not.toBeNull();
      });

      it('keeps one ledger entry per tenant, system and record', async () => {
        const entry = { tenantId: 't1', system: 'spruce' as const, recordId: 'entity_a', fields: snapshot('Ada'), hash: 'h1', writtenAt: T0 };
        expect(await store.getLedger('t1', 'spruce', 'entity_a')).toBeNull();
        await store.putLedger(entry);
        expect(await store.getLedger('t1', 'spruce', 'entity_a')).toEqual(entry);
        await store.putLedger({ ...entry, fields: snapshot('Ada B'), hash: 'h2', writtenAt: T0 + 1 });
        expect(await store.getLedger('t1', 'spruce', 'entity_a')).toEqual({ ...entry, fields: snapshot('Ada B'), hash: 'h2', writtenAt: T0 + 1 });
        await store.putLedger({ tenantId: 't1', system: 'spry', recordId: '12', fields: { first_name: 'Ada' }, hash: '', writtenAt: T0 });
        expect((await store.getLedger('t1', 'spry', '12'))!.fields).toEqual({ first_name: 'Ada' });
        expect(await store.getLedger('t1', 'spry', 'entity_a')).toBeNull();
        expect(await store.getLedger('t2', 'spruce', 'entity_a')).toBeNull();
      });

      it('keeps small per-tenant facts', async () => {
        expect(await store.getState('t1', 'spruce.tag.synced')).toBeNull();
        await store.setState('t1', 'spruce.tag.synced', 'tag_1');
        await store.setState('t1', 'spruce.tag.synced', 'tag_2');
        await store.setState('t2', 'spruce.tag.synced', 'tag_9');
        expect(await store.getState('t1', 'spruce.tag.synced')).toBe('tag_2');
        expect(await store.getState('t2', 'spruce.tag.synced')).toBe('tag_9');
        // One key across tenants, in one read; other keys and tenants without it are not there.
        await store.setState('t3', 'other.key', 'x');
        expect(await store.statesOf('spruce.tag.synced')).toEqual(new Map([['t1', 'tag_2'], ['t2', 'tag_9']]));
        expect(await store.statesOf('no.such.key')).toEqual(new Map());
      });

      it('counts in the database: increments made at once are all kept', async () => {
        expect(await store.getCounter('t1', 'create-generation:7')).toBe(0);
        const values = await Promise.all(Array.from({ length: 5 }, () => store.incrementCounter('t1', 'create-generation:7')));
        expect(values.sort()).toEqual([1, 2, 3, 4, 5]);
        expect(await store.getCounter('t1', 'create-generation:7')).toBe(5);
        expect(await store.getCounter('t2', 'create-generation:7')).toBe(0);
        expect(await store.getCounter('t1', 'create-generation:8')).toBe(0);
      });

      it('keeps named flags per tenant', async () => {
        expect(await store.isFlagSet('t1', 'leave-deleted:7')).toBe(false);
        await store.setFlag('t1', 'leave-deleted:7');
        await store.setFlag('t1', 'leave-deleted:7');
        expect(await store.isFlagSet('t1', 'leave-deleted:7')).toBe(true);
        expect(await store.isFlagSet('t2', 'leave-deleted:7')).toBe(false);
        expect(await store.isFlagSet('t1', 'leave-deleted:8')).toBe(false);
      });

      it('appends audit entries, finds them newest first, and refuses to change them', async () => {
        const base = { tenantId: 't1', system: 'spruce' as const, recordType: 'contact', action: 'update' };
        await store.appendAudit({ ...base, at: T0, recordId: 'entity_a', eventId: 4, detail: { fields: ['phone'] } });
        await store.appendAudit({ ...base, at: T0 + 1, recordId: 'entity_b', action: 'create' });
        await store.appendAudit({ ...base, at: T0 + 2, recordId: 'entity_a', tenantId: 't2' });

        const t1 = await store.searchAudit({ tenantId: 't1', limit: 10 });
        expect(t1.map((e) => e.recordId)).toEqual(['entity_b', 'entity_a']);
        expect(t1[1]).toEqual({ ...base, at: T0, recordId: 'entity_a', eventId: 4, detail: { fields: ['phone'] } });
        expect((await store.searchAudit({ recordId: 'entity_a', limit: 10 })).map((e) => e.tenantId)).toEqual(['t2', 't1']);
        expect((await store.searchAudit({ since: T0 + 1, limit: 10 })).length).toBe(2);
        expect((await store.searchAudit({ limit: 1 })).length).toBe(1);

        await expect(h.raw(`UPDATE audit SET action = 'tampered'`)).rejects.toThrow(/append-only/);
        await expect(h.raw('DELETE FROM audit')).rejects.toThrow(/append-only/);
        expect((await store.searchAudit({ limit: 10 })).length).toBe(3);
      });
    });

    describe('schema', () => {
      it('migrates idempotently, also when several instances start at once', async () => {
        await store.migrate();
        const others = await Promise.all([h.openAnother(), h.openAnother(), h.openAnother()]);
        await others[0]!.insertEvent(patientEvent('t1', 1, 'after-migrate'));
        expect((await store.searchEvents({ limit: 10 })).length).toBe(1);
        await store.ping();
      });
    });
  });

  describe(`Store contract: ${name}, encryption at rest`, () => {
    const phi = 'Jane Q Doe, 555-0100, 1970-01-02';

    it('stores payloads and ledger fields as ciphertext and reads them back', async () => {
      const h = await factory({ encryptionKey: KEY_HEX });
      try {
        const { id } = await h.store.insertEvent(patientEvent('t1', 1, 'e1', T0, { payload: Buffer.from(phi) }));
        await h.store.putLedger({ tenantId: 't1', system: 'spruce', recordId: 'entity_a', fields: snapshot(phi), hash: 'h', writtenAt: T0 });

        const [event] = await h.raw('SELECT payload FROM events');
        const [ledger] = await h.raw('SELECT fields FROM ledger');
        for (const stored of [event!.payload, ledger!.fields]) {
          expect(Buffer.isBuffer(stored)).toBe(true);
          expect((stored as Buffer).includes(Buffer.from('Jane'))).toBe(false);
          expect((stored as Buffer).includes(Buffer.from('555-0100'))).toBe(false);
        }
        expect((await h.store.getEvent(id))!.payload.toString()).toBe(phi);
        expect((await h.store.getLedger('t1', 'spruce', 'entity_a'))!.fields).toEqual(snapshot(phi));

        // The same key given as base64 reads it; no key, or another key, refuses with a clear code.
        const sameKey = await h.openAnother({ encryptionKey: Buffer.from(KEY_HEX, 'hex').toString('base64') });
        expect((await sameKey.getEvent(id))!.payload.toString()).toBe(phi);
        const noKey = await h.openAnother();
        await expect(noKey.getEvent(id)).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
        const wrongKey = await h.openAnother({ encryptionKey: 'ab'.repeat(32) });
        const refused = await wrongKey.getLedger('t1', 'spruce', 'entity_a').catch((error: unknown) => error);
        expect(refused).toBeInstanceOf(SyncError);
        expect(String((refused as Error).message)).not.toContain('Jane');
      } finally {
        await h.cleanup();
      }
    });

    it('binds each value to its row: a payload or ledger value copied onto another row does not open', async () => {
      const h = await factory({ encryptionKey: KEY_HEX });
      try {
        await h.store.insertEvent(patientEvent('t1', 1, 'e1', T0, { payload: Buffer.from(phi) }));
        const { id: second } = await h.store.insertEvent(patientEvent('t1', 2, 'e2', T0, { payload: Buffer.from('{}') }));
        await h.store.putLedger({ tenantId: 't1', system: 'spruce', recordId: 'entity_a', fields: snapshot(phi), hash: 'h', writtenAt: T0 });
        await h.store.putLedger({ tenantId: 't1', system: 'spruce', recordId: 'entity_b', fields: snapshot('Other'), hash: 'h', writtenAt: T0 });
        expect((await h.store.getEvent(second))!.payload.toString()).toBe('{}');

        await h.raw(`UPDATE events SET payload = (SELECT payload FROM events WHERE event_key = 'e1') WHERE event_key = 'e2'`);
        await h.raw(`UPDATE ledger SET fields = (SELECT fields FROM ledger WHERE record_id = 'entity_a') WHERE record_id = 'entity_b'`);
        await expect(h.store.getEvent(second)).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
        await expect(h.store.getLedger('t1', 'spruce', 'entity_b')).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
        // The rows they came from still open.
        expect((await h.store.getLedger('t1', 'spruce', 'entity_a'))!.fields).toEqual(snapshot(phi));
      } finally {
        await h.cleanup();
      }
    });

    it('refuses a value left unsealed once a key is set, with a code and without the value', async () => {
      const h = await factory({});
      try {
        const { id } = await h.store.insertEvent(patientEvent('t1', 1, 'e1', T0, { payload: Buffer.from(phi) }));
        const keyed = await h.openAnother({ encryptionKey: KEY_HEX });
        const refused = await keyed.getEvent(id).catch((error: unknown) => error);
        expect(refused).toMatchObject({ code: 'UNSEALED_VALUE' });
        expect(String((refused as Error).message)).not.toContain('Jane');
      } finally {
        await h.cleanup();
      }
    });

    it('keeps stored secrets sealed in the state table, bound to their tenant and key', async () => {
      const h = await factory({ encryptionKey: KEY_HEX });
      try {
        expect(h.store.encryptsAtRest).toBe(true);
        await h.store.setSecret('t1', 'setup.spry.signatureKey', 'whsec_topsecret');
        const [row] = await h.raw(`SELECT value FROM state WHERE key = 'setup.spry.signatureKey'`);
        expect(String(row!.value)).not.toContain('topsecret');
        expect(Buffer.from(String(row!.value), 'base64').toString('latin1')).not.toContain('topsecret');
        expect(await h.store.getSecret('t1', 'setup.spry.signatureKey')).toBe('whsec_topsecret');
        expect(await h.store.getSecret('t1', 'setup.other')).toBeNull();
        await h.raw(`INSERT INTO state (tenant_id, key, value) SELECT 't2', key, value FROM state WHERE key = 'setup.spry.signatureKey'`);
        await expect(h.store.getSecret('t2', 'setup.spry.signatureKey')).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
      } finally {
        await h.cleanup();
      }
    });

    it('rekey re-seals every value (older key or plaintext) with the new key, in batches, and counts them', async () => {
      const oldKey = 'ab'.repeat(32);
      const newKey = Buffer.from('cd'.repeat(32), 'hex').toString('base64');
      const h = await factory({});
      try {
        // From before there was a key: plaintext.
        const { id: plainId } = await h.store.insertEvent(patientEvent('t1', 1, 'e0', T0, { payload: Buffer.from(phi) }));
        await h.store.setSecret('t1', 'setup.spruce.signingSecret', 'whsec_plain');
        await h.store.setState('t1', 'catalog', '{"not":"a secret"}');
        // Then sealed with the old key; one payload pruned since.
        const old = await h.openAnother({ encryptionKey: oldKey });
        const { id: sealedId } = await old.insertEvent(patientEvent('t1', 2, 'e1', T0, { payload: Buffer.from(phi) }));
        await old.insertEvent(patientEvent('t1', 3, 'e2', T0, { payload: Buffer.from(phi) }));
        await h.raw(`UPDATE events SET payload = ${h.emptyBlob} WHERE event_key = 'e2'`);
        await old.putLedger({ tenantId: 't1', system: 'spruce', recordId: 'entity_a', fields: snapshot(phi), hash: 'h', writtenAt: T0 });
        await old.setSecret('t1', 'setup.spry.signatureKey', 'whsec_sealed');
        await old.insertTenant({ id: 't1', source: 'api', status: 'enabled', settings: {}, secrets: { secretKey: 'sk_sealed' } }, T0);

        // The service, its config already naming the new key, reads both while rekey runs.
        const service = await h.openAnother({ encryptionKey: newKey, decryptionKeys: [oldKey] });
        expect((await service.getEvent(sealedId))!.payload.toString()).toBe(phi);
        const rekey = await h.openAnother({ encryptionKey: newKey, decryptionKeys: [oldKey], acceptUnsealed: true });
        const secretStateKeys = ['setup.spry.signatureKey', 'setup.spruce.signingSecret'];
        const report = await rekey.resealAll({ batchSize: 1, secretStateKeys });
        expect(report).toEqual({
          'events.payload': { resealed: 2, current: 1, changedMeanwhile: 0 },
          'ledger.fields': { resealed: 1, current: 0, changedMeanwhile: 0 },
          'state.value': { resealed: 2, current: 0, changedMeanwhile: 0 },
          'tenants.secrets': { resealed: 1, current: 0, changedMeanwhile: 0 },
        });
        expect(await rekey.resealAll({ secretStateKeys })).toEqual({
          'events.payload': { resealed: 0, current: 3, changedMeanwhile: 0 },
          'ledger.fields': { resealed: 0, current: 1, changedMeanwhile: 0 },
          'state.value': { resealed: 0, current: 2, changedMeanwhile: 0 },
          'tenants.secrets': { resealed: 0, current: 1, changedMeanwhile: 0 },
        });

        // The old key can go: the new one alone reads everything; the old one alone reads nothing.
        const rotated = await h.openAnother({ encryptionKey: newKey });
        expect((await rotated.getEvent(plainId))!.payload.toString()).toBe(phi);
        expect((await rotated.getEvent(sealedId))!.payload.toString()).toBe(phi);
        expect((await rotated.getLedger('t1', 'spruce', 'entity_a'))!.fields).toEqual(snapshot(phi));
        expect(await rotated.getSecret('t1', 'setup.spruce.signingSecret')).toBe('whsec_plain');
        expect(await rotated.getSecret('t1', 'setup.spry.signatureKey')).toBe('whsec_sealed');
        expect(await rotated.getState('t1', 'catalog')).toBe('{"not":"a secret"}');
        expect((await rotated.getTenant('t1'))!.secrets).toEqual({ secretKey: 'sk_sealed' });
        await expect(old.getEvent(sealedId)).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
        for (const [stored] of [await h.raw('SELECT payload AS v FROM events'), await h.raw('SELECT fields AS v FROM ledger')]) {
          expect(Buffer.from(stored!.v as Uint8Array).includes(Buffer.from('Jane'))).toBe(false);
        }
      } finally {
        await h.cleanup();
      }
    });

    it('stores plaintext when no key is configured', async () => {
      const h = await factory({});
      try {
        await h.store.insertEvent(patientEvent('t1', 1, 'e1', T0, { payload: Buffer.from(phi) }));
        const [event] = await h.raw('SELECT payload FROM events');
        expect((event!.payload as Buffer).toString()).toBe(phi);
      } finally {
        await h.cleanup();
      }
    });
  });
}
