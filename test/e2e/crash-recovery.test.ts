// A worker killed with SIGKILL mid-run: the restart converges, with no lost event and no
// duplicate contact, and without waiting out the dead process's leases: they are set to 15
// minutes of real time, longer than this test may run, so only their reclaiming (at start on
// SQLite, by heartbeat on PostgreSQL: src/store/lease-recovery.ts) lets it finish. The service
// runs as a real child process (`spruce-sync start`), on the system clock.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort, registerSandboxWebhooks, sandboxConfig, startSandbox, type Sandbox } from '../../src/sandbox/environment.ts';
import { openStore } from '../../src/store/open-store.ts';
import { dropSchema, findPostgres, skipNotice, uniqueSchema } from '../support/postgres.ts';
import { advanceUntil, agreesWithSpry, contactsOfPatient, eventually, SANDBOX_SPRY_ORG } from './support.ts';

const children: ChildProcess[] = [];
const cleanups: (() => Promise<void>)[] = [];

afterAll(async () => {
  for (const child of children) child.kill('SIGKILL');
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
});

/** Longer than the e2e timeout: a job that waited out a dead process's lease would fail the test. */
const LEASE_MS = 15 * 60_000;

function startChild(configFile: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['bin/spruce-sync.js', 'start', '--config', configFile], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  return new Promise((resolve, reject) => {
    let output = '';
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('listening on')) resolve(child);
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('exit', (code) => reject(new Error(`service exited early (${code}): ${output.slice(0, 2000)}`)));
  });
}

const pgUrl = await findPostgres();
if (!pgUrl) console.warn(skipNotice('crash recovery on PostgreSQL'));

describe('crash recovery', () => {
  it('converges after the service is killed with SIGKILL in the middle of syncing (SQLite: leases reclaimed at start)', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'spruce-sync-crash-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    await crashAndRecover(dir, { url: `sqlite:${path.join(dir, 'crash.db')}` });
  });

  it.skipIf(!pgUrl)("converges after an instance is killed with SIGKILL (PostgreSQL: the silent instance's leases reclaimed by the next)", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'spruce-sync-crash-pg-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const schema = uniqueSchema('crash_recovery');
    cleanups.push(() => dropSchema(pgUrl!, schema));
    // PostgreSQL needs a configured key (SQLite makes one beside the file).
    await crashAndRecover(dir, { url: pgUrl!, schema, encryptionKey: randomBytes(32).toString('base64') });
  });
});

async function crashAndRecover(dir: string, database: { url: string; schema?: string; encryptionKey?: string }): Promise<void> {
  const sandbox: Sandbox = await startSandbox({ patients: 30, spruceRateLimitPerMinute: 0 });
  cleanups.push(() => sandbox.close());
  const world = { sandbox };
  const port = await freePort();
  const secrets = await registerSandboxWebhooks(sandbox, `http://127.0.0.1:${port}`);
  const configFile = path.join(dir, 'config.json');
  const config = sandboxConfig(sandbox, {
    port,
    databaseUrl: database.url,
    secrets,
    config: { workers: { concurrency: 4, leaseMs: LEASE_MS, pollIntervalMs: 200 } },
  }) as { database: Record<string, unknown>; tenants: { spry: Record<string, unknown> }[] };
  if (database.schema) config.database.schema = database.schema;
  if (database.encryptionKey) config.database.encryptionKey = database.encryptionKey;
  // Spry's call ceiling lifted: this test is about the crash, not the rate limit.
  config.tenants[0]!.spry.requestsPerSecond = 200;
  await writeFile(configFile, JSON.stringify(config));

  // Every Spruce call is slow, so the kill lands while runs are in flight.
  sandbox.spruce.faults.setRouteFaults([{ match: '* /v1/**', latencyMs: 150 }]);
  const first = await startChild(configFile);
  const ids = sandbox.spry.patientIds(SANDBOX_SPRY_ORG);
  for (const id of ids) sandbox.spry.staff.editPatient(SANDBOX_SPRY_ORG, id, { last_name: `Crash-${id}` });
  // The kill lands while runs hold leases. Spruce answers only as the sandbox clock moves, so
  // once it stops, the runs waiting on Spruce stay in flight; a run that already had its last
  // answer finishes in real time and the pool claims the next job, which then waits too. The
  // workers run in step (the same calls, the same latency): killing the moment the contacts
  // appear could fall between one batch's completion commits and the next claim.
  const left = await openStore(database.url, { ...storeOptions(database), migrate: false });
  try {
    await advanceUntil(world, () => ids.filter((id) => contactsOfPatient(world, id).length > 0).length >= 3, { stepMs: 100, what: 'some contacts created' });
    const inFlight = async () => ((await left.queueStats())[0]?.running ?? 0) > 0;
    const settle = () => new Promise((resolve) => setTimeout(resolve, 300));
    await eventually(
      async () => {
        await settle();
        if (!(await inFlight())) return false;
        await settle();
        return inFlight();
      },
      20_000,
      'runs to stay in flight with the clock stopped',
    );
    first.kill('SIGKILL');
    await new Promise((resolve) => first.once('exit', resolve));
    const doneBeforeCrash = ids.filter((id) => contactsOfPatient(world, id).length > 0).length;
    expect(doneBeforeCrash).toBeLessThan(ids.length);
    // The dead process left leases behind (15 minutes each): this is what recovery must not wait for.
    const [stats] = await left.queueStats();
    expect(stats?.running).toBeGreaterThan(0);
  } finally {
    await left.close();
  }

  // More changes while it is down: their deliveries fail and Spry retries them later.
  for (const id of ids.slice(0, 5)) sandbox.spry.staff.editPatient(SANDBOX_SPRY_ORG, id, { first_name: `After-${id}` });

  sandbox.spruce.faults.clear();
  await startChild(configFile);
  await advanceUntil(world, () => agreesWithSpry(world, ids), { stepMs: 5_000, maxSimulatedMs: 2 * 3_600_000, what: 'agreement after the restart' });
  for (const id of ids) expect(contactsOfPatient(world, id)).toHaveLength(1);
  expect(sandbox.spruce.contacts().length).toBe(ids.length);
  expect(sandbox.spruce.violations).toEqual([]);

  // Nothing lost: every event Spry sent is stored, and none is dead or still waiting.
  const store = await openStore(database.url, storeOptions(database));
  try {
    await advanceUntil(world, async () => (await store.searchEvents({ status: 'queued', limit: 1 })).length === 0, { stepMs: 5_000, what: 'the inbox to drain' });
    const stored = await store.searchEvents({ source: 'spry', limit: 10_000 });
    const sent = new Set(sandbox.spry.events(SANDBOX_SPRY_ORG).map((e) => e.event_id));
    expect(new Set(stored.map((e) => e.eventKey))).toEqual(sent);
    expect(stored.filter((e) => e.status === 'dead')).toEqual([]);
  } finally {
    await store.close();
  }
}

/** How the test opens the service's store: its schema, and its key (configured, or the file SQLite made beside the database). */
function storeOptions(database: { url: string; schema?: string; encryptionKey?: string }) {
  const encryptionKey = database.encryptionKey ?? readFileSync(`${database.url.slice('sqlite:'.length)}.key`, 'utf8');
  return { schema: database.schema, encryptionKey };
}
