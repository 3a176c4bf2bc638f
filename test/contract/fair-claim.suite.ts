// The fair claim's contract (store/sql/queue.ts `claim`), run against both stores by
// store.contract.test.ts: claims rotate across tenants with work, one tenant holds at most its
// cap under live leases (counted across instances), held-back tenants keep their attempts, and
// a tenant's live work goes before its bulk work. The claim ranks only each tenant's first
// `limit` claimable jobs (issue 15): the cases below the first four hold it to the same picks a
// ranking of every due job makes, against a model of the contract written out here.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ClaimOptions, EnqueueJob, Job, Store } from '../../src/store/types.ts';
import type { HarnessFactory, StoreHarness } from './store.suite.ts';

const T0 = 1_700_000_000_000;
const LEASE = 30_000;

function job(patientId: number, extra: Partial<EnqueueJob> = {}): EnqueueJob {
  return { key: `spry-patient:${patientId}`, task: 'spry.patient', params: { patientId }, ...extra };
}

/** `count` jobs for the tenant, one ms apart from `at`. */
async function backlog(store: Store, tenantId: string, count: number, at = T0): Promise<void> {
  for (let i = 0; i < count; i++) await store.enqueueJob(tenantId, job(i), at + i);
}

function tenantsOf(jobs: Job[]): string[] {
  return jobs.map((j) => j.tenantId);
}

/** A job the model knows: enqueued in this order, so ids grow with `order`. */
interface Planted {
  order: number;
  tenantId: string;
  key: string;
  task: string;
  runAt: number;
  bulk: boolean;
}

/**
 * The contract, computed from scratch: each tenant's claimable jobs ranked live before bulk, then
 * oldest first, plus what it holds; the `limit` smallest turns (then oldest, then first enqueued)
 * within the cap. Returns their keys as `tenant/key`.
 */
function modelPicks(planted: Planted[], taken: Set<string>, held: Map<string, number>, options: Omit<ClaimOptions, 'workerId' | 'leaseMs'>): string[] {
  const excludedTask = new Set((options.excludeTasks ?? []).map((e) => `${e.tenantId} ${e.task}`));
  const claimable = planted.filter(
    (p) =>
      !taken.has(`${p.tenantId}/${p.key}`) &&
      p.runAt <= options.now &&
      (options.tenantIds?.includes(p.tenantId) ?? true) &&
      !(options.excludeTenants ?? []).includes(p.tenantId) &&
      !excludedTask.has(`${p.tenantId} ${p.task}`),
  );
  const byTenant = new Map<string, Planted[]>();
  for (const p of claimable) byTenant.set(p.tenantId, [...(byTenant.get(p.tenantId) ?? []), p]);
  const turns: { p: Planted; turn: number }[] = [];
  for (const [tenantId, jobs] of byTenant) {
    jobs.sort((a, b) => Number(a.bulk) - Number(b.bulk) || a.runAt - b.runAt || a.order - b.order);
    jobs.forEach((p, i) => turns.push({ p, turn: i + 1 + (held.get(tenantId) ?? 0) }));
  }
  return turns
    .filter((t) => options.perTenantLimit === undefined || t.turn <= options.perTenantLimit)
    .sort((a, b) => a.turn - b.turn || a.p.runAt - b.p.runAt || a.p.order - b.p.order)
    .slice(0, options.limit)
    .map((t) => `${t.p.tenantId}/${t.p.key}`);
}

/** A small deterministic generator (mulberry32), so a failing case can be replayed. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const keysOf = (jobs: Job[]) => jobs.map((j) => `${j.tenantId}/${j.key}`).sort();

export function fairClaimContract(name: string, factory: HarnessFactory): void {
  describe(`Fair claim: ${name}`, () => {
    let h: StoreHarness;
    let store: Store;
    const claim = (options: Partial<ClaimOptions> & { now: number }, on: Store = store) =>
      on.claimJobs({ workerId: 'w1', leaseMs: LEASE, limit: 10, ...options });
    beforeEach(async () => {
      h = await factory({});
      store = h.store;
    });
    afterEach(async () => {
      await h.cleanup();
    });

    it("gives each tenant with work its next job before any tenant a second one, whatever the other's backlog age", async () => {
      await backlog(store, 'busy', 20);
      await backlog(store, 'quiet', 1, T0 + 5_000);
      const jobs = await claim({ now: T0 + 6_000, limit: 2 });
      expect(tenantsOf(jobs).sort()).toEqual(['busy', 'quiet']);
      // The busy tenant's oldest job is the one it got.
      expect(jobs.find((j) => j.tenantId === 'busy')!.key).toBe('spry-patient:0');
    });

    it('counts what a tenant already holds, on any instance, against its turn and its cap', async () => {
      await backlog(store, 'busy', 20);
      const other = await h.openAnother();
      const first = await claim({ now: T0 + 100, limit: 5, perTenantLimit: 2 });
      expect(tenantsOf(first)).toEqual(['busy', 'busy']);
      // Another instance finds the tenant at its cap, and a newcomer goes first.
      await backlog(store, 'quiet', 2, T0 + 50);
      const second = await claim({ workerId: 'w2', now: T0 + 100, limit: 5, perTenantLimit: 2 }, other);
      expect(tenantsOf(second)).toEqual(['quiet', 'quiet']);
      expect(await claim({ now: T0 + 100, perTenantLimit: 2 })).toEqual([]);

      // A finished job frees one place; a lapsed lease frees its place too (the job taken at
      // T0 + 200 is still held, so the busy tenant gets one more, the quiet one its two back).
      await store.completeJob(first[0]!, 'w1', T0 + 200);
      expect(tenantsOf(await claim({ now: T0 + 200, perTenantLimit: 2 }))).toEqual(['busy']);
      const afterLapse = await claim({ now: T0 + 100 + LEASE, perTenantLimit: 2 });
      expect(tenantsOf(afterLapse).sort()).toEqual(['busy', 'quiet', 'quiet']);
    });

    it('leaves held-back tenants waiting with their attempts untouched', async () => {
      await backlog(store, 'limited', 3);
      await backlog(store, 'free', 1);
      const jobs = await claim({ now: T0 + 10, excludeTenants: ['limited'] });
      expect(tenantsOf(jobs)).toEqual(['free']);
      const later = await claim({ now: T0 + 20 });
      expect(tenantsOf(later)).toEqual(['limited', 'limited', 'limited']);
      expect(later.map((j) => j.attempts)).toEqual([1, 1, 1]);
    });

    it("claims a tenant's live work before its bulk work, and a live change makes a bulk job live", async () => {
      await store.enqueueJob('t1', job(1, { priority: 'bulk' }), T0);
      await store.enqueueJob('t1', job(2, { priority: 'bulk' }), T0 + 1);
      await store.enqueueJob('t1', job(3), T0 + 2);
      expect(await claim({ now: T0 + 10, limit: 1 })).toMatchObject([{ key: 'spry-patient:3', priority: 'live' }]);
      await store.enqueueJob('t1', job(2), T0 + 11);
      expect(await claim({ now: T0 + 12, limit: 1 })).toMatchObject([{ key: 'spry-patient:2', priority: 'live' }]);
      expect(await claim({ now: T0 + 13, limit: 1 })).toMatchObject([{ key: 'spry-patient:1', priority: 'bulk' }]);
    });

    it("picks what ranking every due job would, next to a busy tenant's held, bulk, not-yet-due and paused jobs", async () => {
      const now = T0 + 1_000;
      // The busy tenant: live jobs, two of which another worker holds; older bulk jobs; live
      // jobs not due yet; and the oldest of all, of a task whose direction is paused.
      for (let i = 0; i < 6; i++) await store.enqueueJob('busy', job(i), T0 + i);
      for (let i = 10; i < 13; i++) await store.enqueueJob('busy', job(i, { priority: 'bulk' }), T0 - 500 + i);
      for (let i = 20; i < 22; i++) await store.enqueueJob('busy', job(i, { runAt: now + 10_000 }), T0 + i);
      await store.enqueueJob('busy', { key: 'spruce-contact:c1', task: 'spruce.contact', params: { contactId: 'c1' } }, T0 - 900);
      const other = await h.openAnother();
      const held = await claim({ workerId: 'w2', now, limit: 2, tenantIds: ['busy'], excludeTasks: [{ tenantId: 'busy', task: 'spruce.contact' }] }, other);
      expect(held.map((j) => j.key)).toEqual(['spry-patient:0', 'spry-patient:1']);
      // Two small tenants, newer than all of the busy tenant's work.
      await store.enqueueJob('a', job(0), T0 + 100);
      await store.enqueueJob('b', job(0), T0 + 200);
      await store.enqueueJob('b', job(1), T0 + 201);
      const paused = { excludeTasks: [{ tenantId: 'busy', task: 'spruce.contact' }] };

      // Turns: a 1, b 1 and 2; busy 3 (its 2 held + its first live job) and on, bulk last.
      const capped = await claim({ now, limit: 10, perTenantLimit: 3, ...paused });
      expect(keysOf(capped)).toEqual(['a/spry-patient:0', 'b/spry-patient:0', 'b/spry-patient:1', 'busy/spry-patient:2']);
      // Without the cap, the busy tenant's live jobs, then its bulk ones; never the paused task
      // nor a job not due yet.
      const rest = await claim({ now, limit: 10, ...paused });
      expect(rest.map((j) => j.key)).toEqual(['spry-patient:10', 'spry-patient:11', 'spry-patient:12', 'spry-patient:3', 'spry-patient:4', 'spry-patient:5']);
      expect(await claim({ now, limit: 10, ...paused })).toEqual([]);
      // Unpaused, the oldest job of all is next; the not-yet-due ones when they are due (the
      // leases taken above are still live then).
      expect((await claim({ now, limit: 10 })).map((j) => j.key)).toEqual(['spruce-contact:c1']);
      expect((await claim({ now: now + 10_000, limit: 10 })).map((j) => j.key)).toEqual(['spry-patient:20', 'spry-patient:21']);
    });

    it('takes several turns per tenant in one claim, in turn order, when limit is above 1', async () => {
      await backlog(store, 'big', 5, T0 + 10);
      await backlog(store, 'mid', 3, T0);
      await backlog(store, 'one', 1, T0 + 5);
      // Turn 1 of each, turn 2 of big and mid, then turn 3 by age: mid's before big's.
      const jobs = await claim({ now: T0 + 100, limit: 7 });
      expect(keysOf(jobs)).toEqual(
        ['big/spry-patient:0', 'big/spry-patient:1', 'mid/spry-patient:0', 'mid/spry-patient:1', 'mid/spry-patient:2', 'one/spry-patient:0', 'big/spry-patient:2'].sort(),
      );
    });

    it("ranks a tenant's second job while its turn can still win, against another's held first", async () => {
      await backlog(store, 'c', 2, T0 + 50);
      expect(tenantsOf(await claim({ workerId: 'w2', now: T0 + 100, limit: 1 }))).toEqual(['c']);
      await backlog(store, 'a', 2, T0);
      await backlog(store, 'b', 2, T0 + 10);
      // Turns: a 1 and 2, b 1 and 2, c 2 (it holds one): a's second job is older than c's.
      expect(keysOf(await claim({ now: T0 + 100, limit: 3 }))).toEqual(['a/spry-patient:0', 'a/spry-patient:1', 'b/spry-patient:0']);
    });

    it.each([1, 2, 3, 4, 5, 6, 7, 8])('agrees with the contract written out, claim after claim (mixed backlog, seed %i)', async (seed) => {
      const rand = random(seed);
      const tenants = ['t-a', 't-b', 't-c', 't-d', 't-e'];
      const tasks = ['spry.patient', 'spruce.contact'];
      const planted: Planted[] = [];
      // One tenant with a deep backlog, the others a few jobs each; ages, priorities, tasks and
      // due times mixed.
      for (const [n, tenantId] of tenants.entries()) {
        const count = n === 0 ? 25 : Math.floor(rand() * 5);
        for (let i = 0; i < count; i++) {
          const p: Planted = {
            order: planted.length,
            tenantId,
            key: `k:${i}`,
            task: tasks[Math.floor(rand() * tasks.length)]!,
            runAt: T0 + Math.floor(rand() * 400),
            bulk: rand() < 0.3,
          };
          planted.push(p);
          await store.enqueueJob(tenantId, { key: p.key, task: p.task, params: { i }, runAt: p.runAt, ...(p.bulk ? { priority: 'bulk' } : {}) }, T0);
        }
      }
      const taken = new Set<string>();
      const held = new Map<string, number>();
      const other = await h.openAnother();
      const rounds: Omit<ClaimOptions, 'workerId' | 'leaseMs'>[] = [
        { now: T0 + 200, limit: 3, perTenantLimit: 2 },
        { now: T0 + 250, limit: 1 },
        { now: T0 + 300, limit: 4, excludeTasks: [{ tenantId: 't-a', task: 'spruce.contact' }] },
        { now: T0 + 300, limit: 2, excludeTenants: ['t-b'], perTenantLimit: 4 },
        { now: T0 + 350, limit: 5, tenantIds: ['t-a', 't-c', 't-d'], perTenantLimit: 6 },
        { now: T0 + 400, limit: 3, perTenantLimit: 8 },
        { now: T0 + 400, limit: 6 },
        { now: T0 + 400, limit: 40 },
      ];
      for (const [i, round] of rounds.entries()) {
        const expected = modelPicks(planted, taken, held, round);
        // Every other round on the other instance: held leases count wherever they are.
        const got = await claim({ ...round, workerId: `w${i}` }, i % 2 ? other : store);
        expect(keysOf(got), `round ${i}`).toEqual([...expected].sort());
        for (const j of got) {
          taken.add(`${j.tenantId}/${j.key}`);
          held.set(j.tenantId, (held.get(j.tenantId) ?? 0) + 1);
        }
      }
      // The last round took everything due; nothing is left over or taken twice.
      expect(taken.size).toBe(planted.length);
    });

    it('two instances claiming at once share the work: each job once, a small tenant never starved', async () => {
      await backlog(store, 'busy', 30);
      await backlog(store, 'small', 2, T0 + 1_000);
      const other = await h.openAnother();
      const claimed: Job[] = [];
      const firstRound = await Promise.all(
        [store, other].map((s, i) => s.claimJobs({ workerId: `w${i}`, now: T0 + 2_000, leaseMs: LEASE, limit: 2, perTenantLimit: 40 })),
      );
      // Each instance took its 2 smallest turns as it saw them; the small tenant's first job is
      // among them whichever won a race.
      expect(firstRound.flat().map((j) => j.tenantId)).toContain('small');
      claimed.push(...firstRound.flat());
      for (;;) {
        const rounds = await Promise.all(
          [store, other, store, other].map((s, i) => s.claimJobs({ workerId: `w${i}`, now: T0 + 2_000, leaseMs: LEASE, limit: 3, perTenantLimit: 40 })),
        );
        if (rounds.every((r) => r.length === 0)) break;
        claimed.push(...rounds.flat());
      }
      expect(claimed).toHaveLength(32);
      expect(new Set(claimed.map((j) => j.id)).size).toBe(32);
    });
  });
}
