// The database goes away under a running service (PostgreSQL): webhooks are refused with 503 so
// the senders retry, /readyz says so, workers keep running and reconnect, and nothing is lost.
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { startSandbox, startServiceOnSandbox, type Sandbox, type SandboxWithService } from '../../src/sandbox/environment.ts';
import { dropSchema, findPostgres, skipNotice, terminateSessions, uniqueSchema } from '../support/postgres.ts';
import { TcpProxy } from '../chaos/tcp-proxy.ts';
import { spruceInboxKey } from '../chaos/verify.ts';
import { advanceUntil, agreesWithSpry, eventually, SANDBOX_SPRY_ORG } from './support.ts';

/** PostgreSQL needs a configured key (or `encryption: off`); every instance shares it. */
const ENCRYPTION_KEY = randomBytes(32).toString('base64');

const pgUrl = await findPostgres();
if (!pgUrl) console.warn(skipNotice('database outage'));

// Names this file's sessions in pg_stat_activity, so the test can cut exactly them.
const appName = `dbcut_${process.pid}_${Math.random().toString(36).slice(2, 6)}`;
process.env.PGAPPNAME = appName;

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const step of cleanup.reverse()) await step().catch(() => {});
  cleanup = [];
});

async function startOnPostgres(databaseUrl: string): Promise<{ sandbox: Sandbox; running: SandboxWithService }> {
  const schema = uniqueSchema('dbcut');
  const sandbox = await startSandbox({ patients: 20, spruceRateLimitPerMinute: 0 });
  cleanup.push(() => sandbox.close());
  const running = await startServiceOnSandbox(sandbox, {
    databaseUrl,
    config: {
      database: { url: databaseUrl, schema, poolSize: 4, encryptionKey: ENCRYPTION_KEY },
      // Short leases: a run whose store calls failed comes back quickly.
      workers: { concurrency: 4, leaseMs: 3_000, pollIntervalMs: 200 },
    },
  });
  cleanup.push(() => dropSchema(pgUrl!, schema));
  cleanup.push(() => running.close());
  return { sandbox, running };
}

/** Every Spry event the simulator sent is in the inbox, none waiting, none dead. */
async function nothingLost(world: { sandbox: Sandbox }, running: SandboxWithService): Promise<void> {
  const store = running.service.store;
  try {
    // A delivery refused while the database was away waits in its sender's retry schedule: it is
    // not lost until the sender has given up, so wait for the senders as well as for the inbox.
    await advanceUntil(
      world,
      async () =>
        world.sandbox.spry.dispatcher.pendingCount() === 0 &&
        world.sandbox.spruce.dispatcher.pendingCount() === 0 &&
        (await store.searchEvents({ status: 'queued', limit: 1 })).length === 0,
      { stepMs: 5_000, what: 'the senders and the inbox to drain' },
    );
  } catch (error) {
    // Say what is stuck: the events still queued and the jobs that should run them.
    const queued = (await store.searchEvents({ status: 'queued', limit: 20 })).map((e) => `${e.id} ${e.source} ${e.type} ${e.jobKey}`);
    throw new Error(`${(error as Error).message}; queued: ${queued.join(', ')}; queue: ${JSON.stringify(await store.queueStats())}`);
  }
  const stored = await store.searchEvents({ source: 'spry', limit: 10_000 });
  const sent = new Set(world.sandbox.spry.events(SANDBOX_SPRY_ORG).map((e) => e.event_id));
  expect(new Set(stored.map((e) => e.eventKey))).toEqual(sent);
  const spruceStored = new Set((await store.searchEvents({ source: 'spruce', limit: 10_000 })).map((e) => e.eventKey));
  for (const event of world.sandbox.spruce.events) expect(spruceStored.has(spruceInboxKey(event))).toBe(true);
  expect((await store.searchEvents({ status: 'dead', limit: 10 })).map((e) => e.reason)).toEqual([]);
}

describe.skipIf(!pgUrl)('database connection cut (PostgreSQL)', () => {
  it('answers 503 while the database is away, keeps running, reconnects and loses nothing', async () => {
    const target = new URL(pgUrl!);
    const proxy = await TcpProxy.start({ host: target.hostname, port: Number(target.port || 5432) });
    cleanup.push(() => proxy.close());
    const viaProxy = new URL(pgUrl!);
    viaProxy.port = String(proxy.port);
    const { sandbox, running } = await startOnPostgres(viaProxy.toString());
    const world = { sandbox };
    const ids = sandbox.spry.patientIds(SANDBOX_SPRY_ORG);
    const first = ids.slice(0, 10);
    for (const id of first) sandbox.spry.staff.editPatient(SANDBOX_SPRY_ORG, id, { last_name: `Before-${id}` });
    await advanceUntil(world, () => agreesWithSpry(world, first), { what: 'the first patients to sync' });

    proxy.cut();
    const base = running.service.url;
    await eventually(async () => (await fetch(`${base}/readyz`)).status === 503, 10_000, '/readyz to report the store down');
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    const attemptsBefore = sandbox.spry.dispatcher.attempts.length;
    for (const id of ids.slice(5, 15)) sandbox.spry.staff.editPatient(SANDBOX_SPRY_ORG, id, { first_name: `During-${id}` });
    const contact = sandbox.spruce.contacts()[0]!;
    sandbox.spruce.staff.editContact(contact.id, { phoneNumbers: [{ label: 'Mobile', value: '(206) 555-0142' }] });
    // Nothing was acknowledged: the senders were told to retry.
    await eventually(() => sandbox.spry.dispatcher.attempts.slice(attemptsBefore).filter((a) => a.status === 503).length >= 10, 15_000, 'Spry deliveries refused with 503');
    expect(sandbox.spry.dispatcher.attempts.slice(attemptsBefore).some((a) => a.status === 200)).toBe(false);
    // The workers keep polling a database that is not there, without dying.
    await new Promise((resolve) => setTimeout(resolve, 1_000));

    proxy.restore();
    await eventually(async () => (await fetch(`${base}/readyz`)).status === 200, 15_000, '/readyz to recover');
    await advanceUntil(world, () => agreesWithSpry(world, ids.slice(0, 15)), { stepMs: 5_000, what: 'agreement after the outage' });
    await advanceUntil(world, () => sandbox.spry.patient(SANDBOX_SPRY_ORG, ids.find((id) => sandbox.spruce.contacts().find((c) => c.id === contact.id)?.integrationLinks?.some((l) => l.externalId === `spry:${SANDBOX_SPRY_ORG}:${id}`))!)?.mobile === '+12065550142', {
      stepMs: 30_000,
      what: 'the Spruce edit made during the outage to reach Spry',
    });
    await nothingLost(world, running);
  });

  it('survives every one of its sessions being terminated mid-burst, and loses nothing', async () => {
    const { sandbox, running } = await startOnPostgres(pgUrl!);
    const world = { sandbox };
    const ids = sandbox.spry.patientIds(SANDBOX_SPRY_ORG);
    for (const id of ids) sandbox.spry.staff.editPatient(SANDBOX_SPRY_ORG, id, { last_name: `Burst-${id}` });
    let cuts = 0;
    for (let round = 0; round < 3; round++) {
      await new Promise((resolve) => setTimeout(resolve, 150));
      cuts += await terminateSessions(pgUrl!, appName);
    }
    expect(cuts).toBeGreaterThan(0);
    await advanceUntil(world, () => agreesWithSpry(world, ids), { stepMs: 5_000, what: 'agreement after the cuts' });
    expect(sandbox.spruce.contacts()).toHaveLength(ids.length);
    await nothingLost(world, running);
  });
});
