// The fair claim's contract (store/sql/queue.ts `claim`), run against both stores by
// store.contract.test.ts: claims rotate across tenants with work, one tenant holds at most its
// cap under live leases (counted across instances), held-back tenants keep their attempts, and
// a tenant's live work goes before its bulk work.
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
  });
}
