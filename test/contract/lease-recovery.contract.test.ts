// No job waits out a lease held by a process that is gone (src/store/lease-recovery.ts), and a
// live instance's leases, however long its job runs, are left alone. SQLite: a real file,
// reopened as a restarted process would. PostgreSQL: two instances on one fresh schema, their
// heartbeats driven beat by beat on a controlled clock.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ControlledClock } from '../../src/clock.ts';
import { startLeaseRecovery } from '../../src/store/lease-recovery.ts';
import { openStore } from '../../src/store/open-store.ts';
import { PostgresStore } from '../../src/store/postgres/postgres-store.ts';
import type { Store } from '../../src/store/types.ts';
import { dropSchema, findPostgres, skipNotice, uniqueSchema } from '../support/postgres.ts';

const HOUR = 3_600_000;
const T0 = 1_000_000;
const job = (n: number) => ({ key: `spry-patient:t1:${n}`, task: 'spry.patient', params: { patientId: n } });
const claimAll = (store: Store, workerId: string, now: number) => store.claimJobs({ workerId, now, leaseMs: HOUR, limit: 10 });

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {});
});

describe('lease recovery on SQLite', () => {
  it("clears the leases a killed process left in the file when the next one starts, and keeps the fence", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'spruce-sync-leases-'));
    cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
    const url = `sqlite:${join(dir, 'sync.db')}`;
    const clock = new ControlledClock({ start: T0, flowing: false });

    // The first process claims with an hour's lease, then dies without settling.
    const first = await openStore(url);
    cleanups.push(() => first.close());
    await first.enqueueJob('t1', job(1), T0);
    const [orphan] = await claimAll(first, 'old-process', T0);
    expect(orphan).toBeDefined();

    // Restarted: the lease has 59 minutes left, yet the job is claimable at once.
    const second = await openStore(url);
    cleanups.push(() => second.close());
    expect(await claimAll(second, 'new-process', T0 + 60_000)).toEqual([]);
    const reclaimed: number[] = [];
    await startLeaseRecovery(second, { instanceId: 'new-process', clock, onReclaimed: (n) => reclaimed.push(n) });
    expect(reclaimed).toEqual([1]);
    const [again] = await claimAll(second, 'new-process', T0 + 60_000);
    expect(again).toMatchObject({ id: orphan!.id, lockedBy: 'new-process', attempts: 2 });

    // The new claim is respected, and the old claim cannot settle the job any more.
    expect(await claimAll(second, 'another', T0 + 120_000)).toEqual([]);
    await first.completeJob(orphan!, 'old-process', T0 + 120_000);
    expect(await second.renewLease(again!.id, 'new-process', T0 + HOUR)).toBe(true);
  });
});

const pgUrl = await findPostgres();
if (!pgUrl) console.warn(skipNotice('lease recovery contract'));

describe.skipIf(!pgUrl)('lease recovery on PostgreSQL', () => {
  async function instance(schema: string, id: string, clock: ControlledClock) {
    // Its own pool for the heartbeat, so the instance can be "killed" (heartbeat gone) while the
    // test still sees what its stale claims can and cannot do through the other pool.
    const store = await openStore(pgUrl!, { schema });
    const heart = (await openStore(pgUrl!, { schema })) as PostgresStore;
    cleanups.push(() => store.close());
    cleanups.push(() => heart.close());
    const liveness = heart.instanceLiveness({ instanceId: id, clock, heartbeatMs: HOUR, deadAfterMs: 10_000 });
    await liveness.start();
    return { store, liveness, kill: () => heart.close() };
  }

  it("reclaims a silent instance's leases within deadAfterMs and never a live slow instance's", async () => {
    const schema = uniqueSchema('lease_recovery');
    cleanups.push(() => dropSchema(pgUrl!, schema));
    const clock = new ControlledClock({ start: T0, flowing: false });
    const slow = await instance(schema, 'slow', clock);
    const dying = await instance(schema, 'dying', clock);
    const survivor = await instance(schema, 'survivor', clock);

    await slow.store.enqueueJob('t1', job(1), T0);
    const [slowJob] = await claimAll(slow.store, 'slow', T0);
    await dying.store.enqueueJob('t1', job(2), T0);
    const [dyingJob] = await claimAll(dying.store, 'dying', T0);
    expect([slowJob?.key, dyingJob?.key]).toEqual([job(1).key, job(2).key]);

    // Thirty seconds on, both jobs still running; everyone beats every 2 s except the one killed.
    await dying.kill();
    let released = 0;
    for (let t = 2_000; t <= 30_000; t += 2_000) {
      await clock.advanceTo(T0 + t);
      // Whichever live instance beats first after the silence clears the leases.
      released += await slow.liveness.beat();
      released += await survivor.liveness.beat();
      // Not before the silence has lasted deadAfterMs.
      if (t < 10_000) expect(released).toBe(0);
    }
    expect(released).toBe(1);

    // The dead instance's job is claimable at once, the slow one's is not.
    const now = T0 + 30_000;
    const taken = await claimAll(survivor.store, 'survivor', now);
    expect(taken.map((j) => [j.key, j.attempts])).toEqual([[job(2).key, 2]]);
    expect(await slow.store.renewLease(slowJob!.id, 'slow', now + HOUR)).toBe(true);

    // Fencing stays: the dead instance's claim can neither renew nor settle the job.
    expect(await dying.store.renewLease(dyingJob!.id, 'dying', now + HOUR)).toBe(false);
    await dying.store.completeJob(dyingJob!, 'dying', now);
    expect(await survivor.store.renewLease(taken[0]!.id, 'survivor', now + HOUR)).toBe(true);
  });

  it('clears leases held under its own id when an instance starts again under the same id', async () => {
    const schema = uniqueSchema('lease_recovery');
    cleanups.push(() => dropSchema(pgUrl!, schema));
    const clock = new ControlledClock({ start: T0, flowing: false });
    const before = await instance(schema, 'host-a:1', clock);
    await before.store.enqueueJob('t1', job(1), T0);
    await claimAll(before.store, 'host-a:1', T0);
    await before.kill();

    const reclaimed: number[] = [];
    const store = (await openStore(pgUrl!, { schema })) as PostgresStore;
    cleanups.push(() => store.close());
    const liveness = store.instanceLiveness({ instanceId: 'host-a:1', clock, heartbeatMs: HOUR, onReclaimed: (n) => reclaimed.push(n) });
    await liveness.start();
    cleanups.push(() => liveness.close());
    expect(reclaimed).toEqual([1]);
    expect((await claimAll(store, 'host-a:1', T0 + 1_000)).map((j) => j.attempts)).toEqual([2]);
  });

  it('judges nobody right after its own beats stopped landing (a database outage), until the others could beat again', async () => {
    const schema = uniqueSchema('lease_recovery');
    cleanups.push(() => dropSchema(pgUrl!, schema));
    const clock = new ControlledClock({ start: T0, flowing: false });
    const other = await instance(schema, 'other', clock);
    const judge = await instance(schema, 'judge', clock);
    await other.store.enqueueJob('t1', job(1), T0);
    await claimAll(other.store, 'other', T0);

    // Both were cut off for a minute; the judge's first beat back finds the other's row stale.
    await clock.advanceTo(T0 + 60_000);
    expect(await judge.liveness.beat()).toBe(0);
    await clock.advanceTo(T0 + 62_000);
    await other.liveness.beat();
    for (let t = 64_000; t <= 80_000; t += 2_000) {
      await clock.advanceTo(T0 + t);
      await other.liveness.beat();
      expect(await judge.liveness.beat()).toBe(0);
    }
  });
});
