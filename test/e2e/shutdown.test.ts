// A clean stop does not wait out a vendor's rate window: syncs waiting for their turn are put
// back as they were (not failed, no attempt spent) and the next start does them.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { startSandbox, startServiceOnSandbox, type Sandbox } from '../../src/sandbox/environment.ts';
import { advanceUntil, agreesWithSpry, contactsOfPatient, eventually, SANDBOX_SPRY_ORG } from './support.ts';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

it("stops at once while syncs wait for Spruce's rate window, and the next start does them", async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'spruce-sync-shutdown-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const sandbox: Sandbox = await startSandbox({ patients: 20 });
  cleanups.push(() => sandbox.close());
  const world = { sandbox };
  const options = {
    databaseUrl: `sqlite:${path.join(dir, 'sync.db')}`,
    tenant: { schedules: { catchUpOnStart: false, catchUpEveryMinutes: 0, reconcileEveryMinutes: 0 } },
  };
  const first = await startServiceOnSandbox(sandbox, options);
  let firstClosed = false;
  cleanups.push(() => (firstClosed ? undefined : first.close()));

  const ids = sandbox.spry.patientIds(SANDBOX_SPRY_ORG);
  // Spruce's first answer is a 429 asking us to wait an hour: that run is rescheduled, and every
  // other run's next Spruce call waits for the hour to pass.
  sandbox.spruce.faults.setRouteFaults([{ match: '* /v1/**', rateLimitBurst: 1, retryAfterSeconds: 3600 }]);
  for (const id of ids) sandbox.spry.staff.editPatient(SANDBOX_SPRY_ORG, id, { last_name: `Window-${id}` });
  const waiting = async () => {
    const before = sandbox.spruce.requestLog.length;
    await new Promise((resolve) => setTimeout(resolve, 300));
    return before > 0 && first.service.pool.activeCount > 0 && sandbox.spruce.requestLog.length === before;
  };
  await eventually(waiting, 20_000, 'runs to wait out the hour');
  const syncedBefore = ids.filter((id) => contactsOfPatient(world, id).length > 0).length;
  expect(syncedBefore).toBeLessThan(ids.length);

  // A stop that waited for the hour to pass would not end within the test's time.
  await first.close();
  firstClosed = true;

  // The next start takes them up where they were, and each patient gets one contact.
  sandbox.spruce.faults.clear();
  const second = await startServiceOnSandbox(sandbox, options);
  cleanups.push(() => second.close());
  const tenantId = second.config.tenants[0]!.id;
  const attempts = (await Promise.all(ids.map((id) => second.service.store.listAttempts(`spry-patient:${SANDBOX_SPRY_ORG}:${id}`, tenantId)))).flat();
  expect(attempts.filter((a) => a.errorCode === 'WORK_STOPPED').length).toBeGreaterThan(0);
  expect(attempts.filter((a) => a.outcome === 'dead')).toEqual([]);
  await advanceUntil(world, () => agreesWithSpry(world, ids), { stepMs: 5_000, what: 'agreement after the restart' });
  for (const id of ids) expect(contactsOfPatient(world, id)).toHaveLength(1);
  expect(sandbox.spruce.violations).toEqual([]);
});
