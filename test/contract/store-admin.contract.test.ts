// The operator views of the Store (admin API, dashboard, CLI), run against SQLite (a real temp
// file) and PostgreSQL (a fresh schema per test), plus the claim filter behind a paused direction.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openStore } from '../../src/store/open-store.ts';
import type { NewInboundEvent, Store } from '../../src/store/types.ts';
import { dropSchema, findPostgres, skipNotice, uniqueSchema } from '../support/postgres.ts';

interface Harness {
  store: Store;
  cleanup(): Promise<void>;
}

const T0 = 1_700_000_000_000;
const MIN = 60_000;

async function sqliteHarness(): Promise<Harness> {
  const dir = mkdtempSync(join(tmpdir(), 'spruce-sync-admin-store-'));
  const store = await openStore(`sqlite:${join(dir, 'sync.db')}`, { encryptionKey: 'ab'.repeat(32) });
  return {
    store,
    async cleanup() {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const pgUrl = await findPostgres();
if (!pgUrl) console.warn(skipNotice('store admin contract'));

async function postgresHarness(): Promise<Harness> {
  const schema = uniqueSchema('store_admin');
  const store = await openStore(pgUrl!, { schema, encryptionKey: 'ab'.repeat(32) });
  return {
    store,
    async cleanup() {
      await store.close();
      await dropSchema(pgUrl!, schema);
    },
  };
}

function spryEvent(tenantId: string, patientId: number, key: string, at: number): NewInboundEvent {
  return {
    tenantId,
    source: 'spry',
    eventKey: key,
    type: 'patient.updated',
    occurredAt: at - 10,
    receivedAt: at,
    payload: Buffer.from(JSON.stringify({ event_id: key, secret: 'x'.repeat(50) })),
    subject: { patientId },
    status: 'queued',
    job: { key: `spry-patient:74:${patientId}`, task: 'spry.patient', params: { patientId } },
  };
}

function spruceEvent(tenantId: string, contactId: string, key: string, at: number): NewInboundEvent {
  return {
    tenantId,
    source: 'spruce',
    eventKey: key,
    type: 'contact.updated',
    occurredAt: at - 10,
    receivedAt: at,
    payload: Buffer.from('{"object":"event"}'),
    subject: { contactId },
    status: 'queued',
    job: { key: `spruce-contact:${contactId}`, task: 'spruce.contact', params: { contactId } },
  };
}

/** Claims and finishes every due job: succeeding, or dying with `deadCode` for matching keys. */
async function work(store: Store, now: number, deadKeys: Record<string, string> = {}): Promise<void> {
  for (;;) {
    const jobs = await store.claimJobs({ workerId: 'w', now, leaseMs: MIN, limit: 50 });
    if (jobs.length === 0) return;
    for (const job of jobs) {
      const code = deadKeys[job.key];
      const attempt = { jobId: job.id, tenantId: job.tenantId, jobKey: job.key, startedAt: now, finishedAt: now + 5, requestId: 'req-1' };
      if (code) {
        await store.failJob(job, { jobId: job.id, workerId: 'w', now, error: { code, message: 'refused' } });
        await store.recordAttempt({ ...attempt, outcome: 'dead', errorCode: code });
      } else {
        await store.completeJob(job, 'w', now);
        await store.recordAttempt({ ...attempt, outcome: 'succeeded', errorCode: null });
      }
    }
  }
}

function adminContract(name: string, open: () => Promise<Harness>): void {
  describe(`Store operator views: ${name}`, () => {
    let h: Harness;
    let store: Store;
    beforeEach(async () => {
      h = await open();
      store = h.store;
    });
    afterEach(async () => {
      await h.cleanup();
    });

    it('lists event summaries by every key, without payloads, keyset paged', async () => {
      await store.insertEvent(spryEvent('t1', 1, 'a', T0));
      await store.insertEvent(spryEvent('t1', 2, 'b', T0 + MIN));
      await store.insertEvent(spruceEvent('t1', 'entity_1', 'c', T0 + 2 * MIN));
      await store.insertEvent(spryEvent('t2', 1, 'd', T0 + 3 * MIN));

      const all = await store.listEventSummaries({ tenantId: 't1', limit: 10 });
      expect(all.map((e) => e.eventKey)).toEqual(['c', 'b', 'a']);
      expect(all[0]).not.toHaveProperty('payload');
      expect(all[0]).toMatchObject({ source: 'spruce', subject: { contactId: 'entity_1' }, status: 'queued', payloadPruned: false });

      expect((await store.listEventSummaries({ tenantId: 't1', patientId: 1, limit: 10 })).map((e) => e.eventKey)).toEqual(['a']);
      expect((await store.listEventSummaries({ contactId: 'entity_1', limit: 10 })).map((e) => e.eventKey)).toEqual(['c']);
      expect((await store.listEventSummaries({ source: 'spry', limit: 10 })).map((e) => e.eventKey)).toEqual(['d', 'b', 'a']);
      expect((await store.listEventSummaries({ type: 'contact.updated', limit: 10 })).map((e) => e.eventKey)).toEqual(['c']);
      expect((await store.listEventSummaries({ jobKey: 'spry-patient:74:2', limit: 10 })).map((e) => e.eventKey)).toEqual(['b']);
      const window = await store.listEventSummaries({ tenantId: 't1', since: T0 + MIN, until: T0 + 2 * MIN, limit: 10 });
      expect(window.map((e) => e.eventKey)).toEqual(['b']);
      const first = await store.listEventSummaries({ tenantId: 't1', limit: 2 });
      const next = await store.listEventSummaries({ tenantId: 't1', limit: 2, beforeId: first[1]!.id });
      expect(next.map((e) => e.eventKey)).toEqual(['a']);
      expect((await store.listEventSummaries({ eventId: first[0]!.id, limit: 1 }))[0]!.eventKey).toBe('c');

      await work(store, T0 + 10 * MIN, { 'spry-patient:74:2': 'SPRUCE_REJECTED' });
      expect((await store.listEventSummaries({ status: 'dead', limit: 10 })).map((e) => e.eventKey)).toEqual(['b']);
      expect((await store.listEventSummaries({ status: 'processed', tenantId: 't1', limit: 10 })).map((e) => e.eventKey)).toEqual(['c', 'a']);
    });

    it('reports backlog, activity per bucket with lag, and attempt counts', async () => {
      await store.insertEvent(spryEvent('t1', 1, 'a', T0));
      await store.insertEvent(spryEvent('t1', 2, 'b', T0 + 30_000));
      await store.insertEvent(spryEvent('t1', 3, 'c', T0 + MIN + 1));
      expect(await store.inboxBacklog('t1')).toEqual({ queued: 3, dead: 0, oldestQueuedAt: T0 });

      await work(store, T0 + 2 * MIN, { 'spry-patient:74:3': 'SPRY_REJECTED' });
      expect(await store.inboxBacklog('t1')).toEqual({ queued: 0, dead: 1, oldestQueuedAt: null });

      const buckets = await store.eventActivity('t1', T0, T0 + 3 * MIN, MIN);
      expect(buckets).toEqual([
        { start: T0, received: 2, processed: 2, dead: 0, lagMsAvg: 2 * MIN - 15_000, lagMsMax: 2 * MIN },
        { start: T0 + MIN, received: 1, processed: 0, dead: 1, lagMsAvg: null, lagMsMax: null },
        { start: T0 + 2 * MIN, received: 0, processed: 0, dead: 0, lagMsAvg: null, lagMsMax: null },
      ]);
      expect(await store.attemptCounts('t1', T0)).toEqual({ succeeded: 2, retrying: 0, dead: 1 });
      expect(await store.attemptCounts('t1', T0 + 3 * MIN)).toEqual({ succeeded: 0, retrying: 0, dead: 0 });
      expect(await store.attemptCounts('nobody', T0)).toEqual({ succeeded: 0, retrying: 0, dead: 0 });
    });

    it('lists attempts of several job keys', async () => {
      await store.insertEvent(spryEvent('t1', 1, 'a', T0));
      await store.insertEvent(spruceEvent('t1', 'entity_9', 'b', T0));
      await work(store, T0 + 1000);
      const attempts = await store.listAttemptsForKeys({ tenantId: 't1', jobKeys: ['spry-patient:74:1', 'spruce-contact:entity_9'], limit: 10 });
      expect(attempts.map((a) => [a.jobKey, a.outcome, a.requestId])).toEqual(
        expect.arrayContaining([
          ['spry-patient:74:1', 'succeeded', 'req-1'],
          ['spruce-contact:entity_9', 'succeeded', 'req-1'],
        ]),
      );
      expect(await store.listAttemptsForKeys({ tenantId: 't1', jobKeys: [], limit: 10 })).toEqual([]);
      expect(await store.listAttemptsForKeys({ tenantId: 't1', jobKeys: ['spry-patient:74:1'], since: T0 + 10_000, limit: 10 })).toEqual([]);
    });

    it('lists dead jobs by tenant, task, error code and window; replaying is idempotent', async () => {
      await store.insertEvent(spryEvent('t1', 1, 'a', T0));
      await store.insertEvent(spryEvent('t1', 1, 'a2', T0 + 1));
      await store.insertEvent(spruceEvent('t1', 'entity_1', 'b', T0));
      await store.insertEvent(spryEvent('t2', 5, 'c', T0));
      await work(store, T0 + MIN, {
        'spry-patient:74:1': 'SPRUCE_REJECTED',
        'spruce-contact:entity_1': 'SPRY_REJECTED',
        'spry-patient:74:5': 'SPRUCE_REJECTED',
      });
      const dead = await store.listDeadJobs({ tenantId: 't1', limit: 10 });
      expect(dead.map((j) => j.key).sort()).toEqual(['spruce-contact:entity_1', 'spry-patient:74:1']);
      const patient = dead.find((j) => j.key === 'spry-patient:74:1')!;
      expect(patient).toMatchObject({ task: 'spry.patient', params: { patientId: 1 }, deadEvents: 2, diedAt: T0 + MIN });
      expect(patient.lastError).toMatch(/^SPRUCE_REJECTED: /);

      expect((await store.listDeadJobs({ tasks: ['spruce.contact'], limit: 10 })).map((j) => j.key)).toEqual(['spruce-contact:entity_1']);
      expect((await store.listDeadJobs({ errorCode: 'SPRUCE_REJECTED', limit: 10 })).map((j) => j.tenantId).sort()).toEqual(['t1', 't2']);
      expect(await store.listDeadJobs({ errorCode: 'SPRUCE', limit: 10 })).toEqual([]);
      expect(await store.listDeadJobs({ since: T0 + MIN + 1, limit: 10 })).toEqual([]);
      expect(await store.listDeadJobs({ until: T0 + MIN, limit: 10 })).toEqual([]);
      const page = await store.listDeadJobs({ limit: 2 });
      expect(await store.listDeadJobs({ limit: 2, beforeId: page[1]!.id })).toHaveLength(1);

      expect(await store.replayDeadJob('t1', 'spry-patient:74:1', T0 + 2 * MIN)).toBe(true);
      expect(await store.replayDeadJob('t1', 'spry-patient:74:1', T0 + 2 * MIN)).toBe(false);
      expect((await store.listDeadJobs({ tenantId: 't1', limit: 10 })).map((j) => j.key)).toEqual(['spruce-contact:entity_1']);
      expect((await store.inboxBacklog('t1')).queued).toBe(2);
    });

    it('searches audit records by every key, keyset paged', async () => {
      const base = { tenantId: 't1', system: 'spruce' as const, recordType: 'contact', action: 'update' };
      await store.appendAudit({ ...base, at: T0, recordId: 'entity_1', eventId: 1, detail: { fields: ['phoneNumbers'] } });
      await store.appendAudit({ ...base, at: T0 + 1, recordId: 'entity_2', action: 'create' });
      await store.appendAudit({ ...base, at: T0 + 2, system: 'spry', recordType: 'patient', recordId: '7', action: 'read' });
      await store.appendAudit({ ...base, at: T0 + 3, tenantId: 't2', recordId: 'entity_1' });

      const t1 = await store.searchAuditRecords({ tenantId: 't1', limit: 10 });
      expect(t1.map((a) => a.recordId)).toEqual(['7', 'entity_2', 'entity_1']);
      expect(t1[2]).toMatchObject({ eventId: 1, detail: { fields: ['phoneNumbers'] } });
      expect((await store.searchAuditRecords({ system: 'spry', limit: 10 })).map((a) => a.recordId)).toEqual(['7']);
      expect((await store.searchAuditRecords({ recordType: 'patient', limit: 10 })).map((a) => a.recordId)).toEqual(['7']);
      expect((await store.searchAuditRecords({ action: 'create', limit: 10 })).map((a) => a.recordId)).toEqual(['entity_2']);
      expect((await store.searchAuditRecords({ eventId: 1, limit: 10 })).map((a) => a.recordId)).toEqual(['entity_1']);
      expect((await store.searchAuditRecords({ tenantId: 't1', recordIds: ['7', 'entity_1'], limit: 10 })).map((a) => a.recordId)).toEqual(['7', 'entity_1']);
      expect((await store.searchAuditRecords({ since: T0 + 1, until: T0 + 3, limit: 10 })).map((a) => a.recordId)).toEqual(['7', 'entity_2']);
      expect((await store.searchAuditRecords({ tenantId: 't1', beforeId: t1[1]!.id, limit: 10 })).map((a) => a.recordId)).toEqual(['entity_1']);
    });

    it('prunes payloads of finished old events only, and reports what it did', async () => {
      await store.insertEvent(spryEvent('t1', 1, 'old-processed', T0));
      await store.insertEvent(spryEvent('t1', 2, 'old-dead', T0));
      await store.insertEvent({ ...spryEvent('t2', 3, 'old-ignored', T0), status: 'ignored', job: undefined });
      await work(store, T0 + MIN, { 'spry-patient:74:2': 'SPRUCE_REJECTED' });
      await store.insertEvent(spryEvent('t1', 4, 'old-queued', T0));
      await store.insertEvent(spryEvent('t1', 5, 'new', T0 + 10 * MIN));
      await work(store, T0 + 11 * MIN, { 'spry-patient:74:4': 'NEVER' }); // 4 dies too, 5 processed
      await store.insertEvent(spryEvent('t1', 6, 'old-still-queued', T0 + 1));

      const result = await store.prunePayloads({ olderThan: T0 + 5 * MIN, batchSize: 1 });
      expect(result.events).toBe(2);
      expect(result.bytes).toBeGreaterThan(0);
      const pruned = (await store.listEventSummaries({ limit: 20 })).filter((e) => e.payloadPruned).map((e) => e.eventKey);
      expect(pruned.sort()).toEqual(['old-ignored', 'old-processed']);
      // The dead and queued keep theirs and still read back (decrypted) for the handlers.
      const queued = await store.listQueuedEvents('t1', 'spry-patient:74:6', Number.MAX_SAFE_INTEGER);
      expect(JSON.parse(queued[0]!.payload.toString())).toMatchObject({ event_id: 'old-still-queued' });
      // A pruned event still reads back, with an empty payload.
      const [summary] = await store.listEventSummaries({ tenantId: 't1', patientId: 1, limit: 1 });
      expect((await store.getEvent(summary!.id))!.payload.length).toBe(0);
      expect(await store.prunePayloads({ olderThan: T0 + 5 * MIN })).toEqual({ events: 0, bytes: 0 });
      await store.refreshStatistics();
      expect((await store.listEventSummaries({ tenantId: 't1', status: 'dead', limit: 10 })).map((e) => e.eventKey).sort()).toEqual(['old-dead', 'old-queued']);
    });

    it('claims around excluded (tenant, task) pairs: one paused direction', async () => {
      await store.insertEvent(spryEvent('t1', 1, 'a', T0));
      await store.insertEvent(spruceEvent('t1', 'entity_1', 'b', T0));
      await store.insertEvent(spryEvent('t2', 1, 'c', T0));
      const jobs = await store.claimJobs({
        workerId: 'w',
        now: T0 + MIN,
        leaseMs: MIN,
        limit: 10,
        excludeTasks: [{ tenantId: 't1', task: 'spry.patient' }],
      });
      expect(jobs.map((j) => `${j.tenantId} ${j.task}`).sort()).toEqual(['t1 spruce.contact', 't2 spry.patient']);
      const rest = await store.claimJobs({ workerId: 'w', now: T0 + MIN, leaseMs: MIN, limit: 10, excludeTasks: [] });
      expect(rest.map((j) => `${j.tenantId} ${j.task}`)).toEqual(['t1 spry.patient']);
    });
  });
}

adminContract('SQLite', sqliteHarness);
describe.skipIf(!pgUrl)('PostgreSQL', () => {
  adminContract('PostgreSQL', postgresHarness);
});
