// The staged acknowledgement path of the SQLite store (staged-events.ts), on a real file: what
// is staged, when it is filed, and that filing leaves the queue as enqueuing each event would.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import type { EnqueueJob, NewInboundEvent } from '../types.ts';
import { SqliteStore } from './sqlite-store.ts';

const T0 = 1_700_000_000_000;
const dirs: string[] = [];
const stores: SqliteStore[] = [];
afterEach(async () => {
  for (const store of stores.splice(0)) await store.close().catch(() => {});
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function file(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'spruce-sync-staged-'));
  dirs.push(dir);
  return path.join(dir, 'sync.db');
}

async function open(filename: string): Promise<SqliteStore> {
  const store = new SqliteStore(filename, { synchronous: 'FULL' });
  stores.push(store);
  await store.migrate();
  // What an earlier process left staged is filed at the start.
  await store.settleInbox();
  return store;
}

/** Straight from the file, as another connection sees it. */
function count(filename: string, table: 'events' | 'staged_events' | 'jobs'): number {
  const db = new Database(filename, { readonly: true });
  try {
    return (db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n;
  } finally {
    db.close();
  }
}

function event(key: string, patientId: number, at: number, job: Partial<EnqueueJob> | null = {}): NewInboundEvent {
  return {
    tenantId: 't1',
    source: 'spry',
    eventKey: key,
    type: 'patient.updated',
    occurredAt: at - 5,
    receivedAt: at,
    payload: Buffer.from(JSON.stringify({ event_id: key, patient_id: patientId })),
    subject: { patientId },
    status: job ? 'queued' : 'ignored',
    ...(job ? { job: { key: `p:${patientId}`, task: 'spry.patient', params: { patientId }, runAt: at + 100, ...job } } : {}),
  };
}

const claim = (store: SqliteStore, now: number) => store.claimJobs({ workerId: 'w', now, leaseMs: 60_000, limit: 10 });

describe('SQLite staged acknowledgements', () => {
  it('stages the event durably and files it with its job no later than its runAt', async () => {
    const f = file();
    const store = await open(f);
    const { id, inserted } = await store.insertEvent(event('e1', 1, T0));
    expect(inserted).toBe(true);
    expect([count(f, 'staged_events'), count(f, 'events'), count(f, 'jobs')]).toEqual([1, 0, 0]);

    // Not due yet: a claim leaves it staged (filing waits to share its pages with later events).
    expect(await claim(store, T0 + 99)).toEqual([]);
    expect(count(f, 'staged_events')).toBe(1);

    const [job] = await claim(store, T0 + 100);
    expect(job).toMatchObject({ key: 'p:1', lastEventId: id });
    expect([count(f, 'staged_events'), count(f, 'events'), count(f, 'jobs')]).toEqual([0, 1, 1]);
    expect(await store.listQueuedEvents('t1', 'p:1', job!.lastEventId)).toMatchObject([{ id, eventKey: 'e1' }]);
  });

  it('files an event for a job already filed and waiting before the claim that takes the job: it joins that run', async () => {
    const f = file();
    const store = await open(f);
    const first = await store.insertEvent(event('e1', 1, T0));
    await store.settleInbox(); // an earlier filing took the first event of the burst: its job waits, due at T0 + 100
    const second = await store.insertEvent(event('e2', 1, T0 + 50));
    expect([count(f, 'staged_events'), count(f, 'jobs')]).toEqual([1, 1]);

    // The second event's own runAt (T0 + 150) has not come, but its job is due.
    const [job] = await claim(store, T0 + 100);
    expect(count(f, 'staged_events')).toBe(0);
    expect(job).toMatchObject({ key: 'p:1', lastEventId: second.id });
    expect((await store.listQueuedEvents('t1', 'p:1', job!.lastEventId)).map((e) => e.id)).toEqual([first.id, second.id]);
  });

  it('files unprompted when the runAt comes in real time, and shows staged events to every read', async () => {
    const f = file();
    const store = await open(f);
    const now = Date.now();
    await store.insertEvent(event('soon', 1, now, { runAt: now + 30 }));
    const deadline = Date.now() + 5_000;
    while (count(f, 'staged_events') > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect([count(f, 'staged_events'), count(f, 'jobs')]).toEqual([0, 1]);

    // A read that shows events files what is staged first.
    await store.insertEvent(event('later', 2, now, { runAt: now + 3_600_000 }));
    await store.insertEvent(event('shown-only', 3, now, null));
    expect(count(f, 'staged_events')).toBe(2);
    expect((await store.searchEvents({ tenantId: 't1', limit: 10 })).map((e) => e.eventKey)).toEqual(['shown-only', 'later', 'soon']);
    expect(await store.queueStats('t1')).toMatchObject([{ waiting: 2 }]);
  });

  it('keeps ids in acknowledgement order across staging and filing, and never reuses one', async () => {
    const f = file();
    const store = await open(f);
    const a = await store.insertEvent(event('a', 1, T0));
    const b = await store.insertEvent(event('b', 2, T0));
    await store.settleInbox();
    const c = await store.insertEvent(event('c', 3, T0));
    expect(b.id).toBe(a.id + 1);
    expect(c.id).toBe(b.id + 1);
    await store.settleInbox();
    expect((await store.getEvent(c.id))!.eventKey).toBe('c');

    // Filed events deleted (retention, a removed tenant): their ids stay spent.
    const db = new Database(f);
    db.exec('DELETE FROM events');
    db.close();
    const d = await store.insertEvent(event('d', 4, T0));
    expect(d.id).toBe(c.id + 1);
  });

  it('dedupes a repeat whether the first is still staged or already filed', async () => {
    const f = file();
    const store = await open(f);
    const first = await store.insertEvent(event('e1', 1, T0));
    expect(await store.insertEvent(event('e1', 1, T0 + 1))).toEqual({ id: first.id, inserted: false });
    await store.settleInbox();
    expect(await store.insertEvent(event('e1', 1, T0 + 2))).toEqual({ id: first.id, inserted: false });
    expect([count(f, 'staged_events'), count(f, 'events')]).toEqual([0, 1]);
  });

  it('leaves the job rows as enqueuing each event in turn would, dead keys revived with their dead events', async () => {
    // The same story on two files: one files after every event, one files the batch at once.
    const story = async (fileEach: boolean) => {
      const f = file();
      const store = await open(f);
      // Key p:1 dies first: one attempt, failed for good.
      const dead = await store.insertEvent(event('d1', 1, T0, { maxAttempts: 1, runAt: T0 }));
      await store.settleInbox();
      const [job] = await claim(store, T0);
      await store.failJob(job!, { jobId: job!.id, workerId: 'w', now: T0 + 1, error: { code: 'SPRY_REJECTED', message: 'no' } });
      const batch = [
        event('k1', 1, T0 + 10, { priority: 'bulk', runAt: T0 + 500 }),
        event('k2', 1, T0 + 11, { runAt: T0 + 200, params: { patientId: 1, round: 2 } }),
        event('k3', 1, T0 + 12, { priority: 'bulk', runAt: T0 + 300, params: { patientId: 1, round: 3 }, maxAttempts: 7 }),
        event('l1', 2, T0 + 13, { priority: 'bulk', runAt: T0 + 400 }),
        event('x1', 3, T0 + 14, null),
      ];
      for (const e of batch) {
        await store.insertEvent(e);
        if (fileEach) await store.settleInbox();
      }
      await store.settleInbox();
      const db = new Database(f, { readonly: true });
      const jobs = db
        .prepare('SELECT key, task, params, state, attempts, max_attempts, run_at, bulk, last_event_id FROM jobs ORDER BY key')
        .all();
      db.close();
      return { jobs, deadEvent: (await store.getEvent(dead.id))!.status };
    };
    const eachInTurn = await story(true);
    const batched = await story(false);
    expect(batched).toEqual(eachInTurn);
    expect(batched.deadEvent).toBe('queued');
    expect(batched.jobs).toMatchObject([
      { key: 'p:1', state: 'waiting', attempts: 0, max_attempts: 7, run_at: T0 + 200, bulk: 0, params: '{"patientId":1,"round":3}' },
      { key: 'p:2', bulk: 1, run_at: T0 + 400 },
    ]);
  });

  it('files what a stopped process staged: at the next start, and at a claim of a process beside it', async () => {
    const f = file();
    const gone = await open(f);
    const beside = await open(f);
    await gone.insertEvent(event('left', 1, T0, { runAt: T0 + 3_600_000 }));
    // Another process on the file (a command run beside the service): its claims look for rows
    // it did not stage once a second.
    await new Promise((r) => setTimeout(r, 1_100));
    const [job] = await claim(beside, T0 + 3_600_000);
    expect(job).toMatchObject({ key: 'p:1' });
    expect(count(f, 'staged_events')).toBe(0);

    await gone.insertEvent(event('left-too', 2, T0, { runAt: T0 + 3_600_000 }));
    // Killed: its connection closed without filing (its close would file).
    (gone as unknown as { sqlite: { close(): void } }).sqlite.close();
    stores.splice(stores.indexOf(gone), 1);
    expect(count(f, 'staged_events')).toBe(1);
    // At the next start it is filed unasked: its deadline went with the process, so it is due now.
    const restarted = new SqliteStore(f, { synchronous: 'FULL' });
    stores.push(restarted);
    await restarted.migrate();
    const deadline = Date.now() + 5_000;
    while (count(f, 'staged_events') > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect([count(f, 'staged_events'), count(f, 'jobs')]).toEqual([0, 2]);
    expect(await restarted.queueStats('t1')).toMatchObject([{ waiting: 1, running: 1 }]);
  });
});
