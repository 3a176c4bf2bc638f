// Issue 15's two-tenant case, as a new user would try it: clinic A registers 150 new patients
// while its Spruce organization allows 30 calls a minute (minutes of work); five seconds later
// clinic B registers one patient. B's patient must be in B's Spruce within 10 s, long before A's
// backlog is done, and A's backlog must drain under its limit without a storm of 429s.
//
// Each clinic is its own Spry organisation and its own Spruce organization in the simulators, and
// its own tenant of spruce-sync: one instance on SQLite, two instances sharing PostgreSQL (the
// webhooks reach the first; both claim). Time is the sandbox's clock, moved forward in steps;
// the assertions compare progress (B synced before half of A's backlog), not machine speed.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ControlledClock } from '../../src/clock.ts';
import { parseConfig } from '../../src/config/load-config.ts';
import { freePort } from '../../src/sandbox/environment.ts';
import { createSpruceSimulator, type SpruceSimulator } from '../../src/sandbox/spruce/index.ts';
import { createSprySimulator, defaultCredentials, type SprySimulator } from '../../src/sandbox/spry/index.ts';
import { startService, type RunningService } from '../../src/service.ts';
import { SpruceClient } from '../../src/spruce/client.ts';
import { SpryClient } from '../../src/spry/client.ts';
import { ensureWebhookRegistrations } from '../../src/sync/webhook-registration.ts';
import { dropSchema, findPostgres, skipNotice, uniqueSchema } from '../support/postgres.ts';

interface Clinic {
  tenantId: string;
  spryOrg: number;
  spruceOrg: string;
  accessId: string;
  secretKey: string;
  spruceLimitPerMinute: number;
}

const A: Clinic = { tenantId: 'clinic-a', spryOrg: 74, spruceOrg: 'entity_0CL1N1CA0000', accessId: 'aid_clinic_a', secretKey: 'sk_clinic_a', spruceLimitPerMinute: 30 };
const B: Clinic = { tenantId: 'clinic-b', spryOrg: 75, spruceOrg: 'entity_0CL1N1CB0000', accessId: 'aid_clinic_b', secretKey: 'sk_clinic_b', spruceLimitPerMinute: 100 };
const WINDOW_MS = 60_000;

interface TwoClinics {
  clock: ControlledClock;
  spry: SprySimulator;
  spruce: SpruceSimulator;
  /** The instances; webhooks reach the first. */
  services: RunningService[];
  close(): Promise<void>;
}

interface Deployment {
  /** Default: a fresh SQLite file. */
  database?: { url: string; schema: string; encryptionKey: string };
  instances?: number;
}

const pgUrl = await findPostgres();
if (!pgUrl) console.warn(skipNotice('tenant fairness on PostgreSQL'));

let world: TwoClinics | undefined;

afterEach(async () => {
  await world?.close();
  world = undefined;
});

/** Both simulators with one organisation per clinic, our webhooks registered, the service started. */
async function startTwoClinics(deployment: Deployment = {}): Promise<TwoClinics> {
  const clock = new ControlledClock();
  const spry = await createSprySimulator({
    clock,
    organisations: [A, B].map((c) => ({ ...defaultCredentials(c.spryOrg), patients: 0, name: c.tenantId })),
  });
  const spruce = await createSpruceSimulator({
    clock,
    organizations: [A, B].map((c) => ({ id: c.spruceOrg, accessId: c.accessId, secretKey: c.secretKey, name: c.tenantId, rateLimitPerMinute: c.spruceLimitPerMinute })),
  });
  const spryUrl = await spry.listen();
  const spruceUrl = await spruce.listen();
  const port = await freePort();
  const publicUrl = `http://127.0.0.1:${port}`;
  const dir = await mkdtemp(path.join(tmpdir(), 'spruce-sync-fairness-'));

  const tenants = [];
  for (const clinic of [A, B]) {
    const spryCredentials = defaultCredentials(clinic.spryOrg);
    const spryClient = new SpryClient({ baseUrl: spryUrl, ...spryCredentials, clock });
    const spruceClient = new SpruceClient({ baseUrl: spruceUrl, accessId: clinic.accessId, secretKey: clinic.secretKey, clock });
    try {
      const registered = await ensureWebhookRegistrations({ spry: spryClient, spruce: spruceClient, publicUrl, tenantId: clinic.tenantId });
      tenants.push({
        id: clinic.tenantId,
        spry: {
          baseUrl: spryUrl,
          ...spryCredentials,
          webhookSecrets: [registered.spry.signatureKey!],
          chartUrl: `${spryUrl}/patients/{patientId}`,
          requestsPerSecond: 20,
        },
        spruce: { baseUrl: spruceUrl, accessId: clinic.accessId, secretKey: clinic.secretKey, webhookSecrets: [registered.spruce.signingSecret!] },
      });
    } finally {
      await Promise.allSettled([spryClient.close(), spruceClient.close()]);
    }
  }
  const services: RunningService[] = [];
  for (let i = 0; i < (deployment.instances ?? 1); i++) {
    const config = parseConfig({
      server: { host: '127.0.0.1', port: i === 0 ? port : await freePort() },
      database: deployment.database ?? { url: `sqlite:${path.join(dir, 'sync.db')}` },
      log: { level: 'silent' },
      tenants,
    });
    services.push(await startService(config, { clock, workerId: `instance-${i}` }));
  }
  return {
    clock,
    spry,
    spruce,
    services,
    async close() {
      // Jobs still waiting on A's budget finish on the sandbox clock: keep it moving meanwhile.
      let closed = false;
      const closing = Promise.all(services.map((service) => service.close())).finally(() => (closed = true));
      while (!closed) {
        await clock.advance(1_000);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      await closing;
      await Promise.allSettled([spry.close(), spruce.close()]);
      await rm(dir, { recursive: true, force: true });
      if (deployment.database) await dropSchema(deployment.database.url, deployment.database.schema);
    },
  };
}

function register(w: TwoClinics, clinic: Clinic, n: number): number {
  return w.spry.staff.registerPatient(clinic.spryOrg, {
    first_name: `Fair${n}`,
    last_name: clinic === A ? 'Busy' : 'Quiet',
    date_of_birth: '1980-01-01',
    sex: 'FEMALE',
  }).patient_id;
}

/** How many of the clinic's patients have their linked contact in the clinic's Spruce. */
function synced(w: TwoClinics, clinic: Clinic, patientIds: number[]): number {
  const linked = new Set(
    w.spruce.contacts(clinic.spruceOrg).flatMap((c) => (c.integrationLinks ?? []).map((l) => l.externalId)),
  );
  return patientIds.filter((id) => linked.has(`spry:${clinic.spryOrg}:${id}`)).length;
}

/** One step of simulated time, with real time for the HTTP work it sets off. */
async function step(w: TwoClinics, ms: number): Promise<void> {
  await w.spry.settle();
  await w.spruce.settle();
  await w.clock.advance(ms);
  await new Promise((resolve) => setTimeout(resolve, 20));
}

async function twoClinicCase(deployment: Deployment): Promise<void> {
  world = await startTwoClinics(deployment);
  const w = world;
  const busyPatients = Array.from({ length: 150 }, (_, i) => register(w, A, i));
  const started = w.clock.now();
  while (w.clock.now() - started < 5_000) await step(w, 500);
  expect(synced(w, A, busyPatients)).toBeLessThan(75);

  const quietPatient = register(w, B, 1);
  const registeredAt = w.clock.now();
  while (synced(w, B, [quietPatient]) === 0 && w.clock.now() - registeredAt <= 10_000) await step(w, 250);
  const quietSyncedIn = w.clock.now() - registeredAt;
  const busyDoneThen = synced(w, A, busyPatients);

  // A still has minutes of work, and keeps draining within its budget.
  let previous = busyDoneThen;
  for (let minute = 0; minute < 2; minute++) {
    const until = w.clock.now() + WINDOW_MS;
    while (w.clock.now() < until) await step(w, 3_000);
    const now = synced(w, A, busyPatients);
    expect(now, `clinic A synced more in minute ${minute + 1}`).toBeGreaterThan(previous);
    previous = now;
  }

  const busyCalls = w.spruce.requestLog.filter((r) => r.organizationId === A.spruceOrg);
  const busy429s = busyCalls.filter((r) => r.status === 429).length;
  const answered = busyCalls.filter((r) => r.status !== 429);
  // Spruce counts in windows of 60 s: over the run, no more than the limit per window begun.
  const windowsBegun = Math.ceil((w.clock.now() - answered[0]!.at) / WINDOW_MS);
  const quietCalls = w.spruce.requestLog.filter((r) => r.organizationId === B.spruceOrg);

  expect(synced(w, B, [quietPatient]), "clinic B's patient is in B's Spruce").toBe(1);
  expect(quietSyncedIn, "simulated ms until B's patient was in B's Spruce").toBeLessThanOrEqual(10_000);
  expect(busyDoneThen, "A's backlog was far from half done when B's patient arrived").toBeLessThan(75);
  expect(busy429s, 'A saw no storm of 429s (at most a couple of probes)').toBeLessThanOrEqual(2);
  expect(answered.length, "A's Spruce calls answered").toBeLessThanOrEqual(windowsBegun * A.spruceLimitPerMinute);
  expect(quietCalls.filter((r) => r.status === 429)).toHaveLength(0);
}

const CASE = "syncs a quiet clinic's new patient within 10 s while a busy clinic's backlog drains under its own limit";

describe('one instance on SQLite', () => {
  it(CASE, { timeout: 240_000 }, () => twoClinicCase({}));
});

describe.skipIf(!pgUrl)('two instances on PostgreSQL', () => {
  it(CASE, { timeout: 240_000 }, () => twoClinicCase({ database: { url: pgUrl!, schema: uniqueSchema('fairness'), encryptionKey: randomBytes(32).toString('hex') }, instances: 2 }));
});
