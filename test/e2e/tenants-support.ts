// Two clinics in the simulators (each its own Spry organisation and Spruce organization) and one
// or more spruce-sync instances sharing a database. Clinic A is in the config file; clinic B is
// added at run time through the admin API: the body the test posts is the tenant definition, with
// the webhook secrets the simulators handed back when B's webhooks were registered.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ControlledClock } from '../../src/clock.ts';
import { parseConfig } from '../../src/config/load-config.ts';
import { freePort } from '../../src/sandbox/environment.ts';
import { createSpruceSimulator, type SpruceSimulator } from '../../src/sandbox/spruce/index.ts';
import { createSprySimulator, defaultCredentials, type SprySimulator } from '../../src/sandbox/spry/index.ts';
import { startService, type RunningService } from '../../src/service.ts';
import { SpruceClient } from '../../src/spruce/client.ts';
import { SpryClient } from '../../src/spry/client.ts';
import { ensureWebhookRegistrations } from '../../src/sync/webhook-registration.ts';

export interface Clinic {
  tenantId: string;
  spryOrg: number;
  spruceOrg: string;
  accessId: string;
  secretKey: string;
}

export const A: Clinic = { tenantId: 'clinic-a', spryOrg: 74, spruceOrg: 'entity_0CL1N1CA0000', accessId: 'aid_clinic_a', secretKey: 'sk_clinic_a' };
export const B: Clinic = { tenantId: 'clinic-b', spryOrg: 75, spruceOrg: 'entity_0CL1N1CB0000', accessId: 'aid_clinic_b', secretKey: 'sk_clinic_b' };
const DATABASE_KEY = 'b'.repeat(64);
export const ADMIN_TOKEN = 'tenants-e2e-admin-token-0123456789';

export interface TenantsWorld {
  clock: ControlledClock;
  spry: SprySimulator;
  spruce: SpruceSimulator;
  spryUrl: string;
  spruceUrl: string;
  instances: RunningService[];
  /** The database the instances share. */
  databaseUrl: string;
  /** A folder of this world's, removed on close. */
  dir: string;
  /** The definition of B (as `tenants add` takes it), its webhooks registered at `instances[deliverTo]`. */
  clinicB: Record<string, unknown> & { spry: { webhookSecrets: string[] } };
  close(): Promise<void>;
}

/**
 * `databaseUrl` null: a fresh SQLite file. B's webhooks go to the last instance. `admin` and
 * `retention` add to those config sections (alert checks, retention periods).
 */
export async function startTenantsWorld(
  options: { instances?: number; databaseUrl?: string; schema?: string; admin?: Record<string, unknown>; retention?: Record<string, unknown> } = {},
): Promise<TenantsWorld> {
  const clock = new ControlledClock();
  const spry = await createSprySimulator({ clock, organisations: [A, B].map((c) => ({ ...defaultCredentials(c.spryOrg), patients: 0, name: c.tenantId })) });
  const spruce = await createSpruceSimulator({
    clock,
    organizations: [A, B].map((c) => ({ id: c.spruceOrg, accessId: c.accessId, secretKey: c.secretKey, name: c.tenantId, rateLimitPerMinute: 600 })),
  });
  const spryUrl = await spry.listen();
  const spruceUrl = await spruce.listen();
  const dir = await mkdtemp(path.join(tmpdir(), 'spruce-sync-tenants-'));
  const ports = await Promise.all(Array.from({ length: options.instances ?? 1 }, () => freePort()));
  const instances: RunningService[] = [];
  const close = async () => {
    for (const instance of instances) await instance.close();
    await Promise.allSettled([spry.close(), spruce.close()]);
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const definition = async (clinic: Clinic, port: number) => {
      const spryCredentials = defaultCredentials(clinic.spryOrg);
      const spryClient = new SpryClient({ baseUrl: spryUrl, ...spryCredentials, clock });
      const spruceClient = new SpruceClient({ baseUrl: spruceUrl, accessId: clinic.accessId, secretKey: clinic.secretKey, clock });
      try {
        const registered = await ensureWebhookRegistrations({ spry: spryClient, spruce: spruceClient, publicUrl: `http://127.0.0.1:${port}`, tenantId: clinic.tenantId });
        return {
          id: clinic.tenantId,
          spry: { baseUrl: spryUrl, ...spryCredentials, webhookSecrets: [registered.spry.signatureKey!], chartUrl: `${spryUrl}/patients/{patientId}`, requestsPerSecond: 20 },
          spruce: { baseUrl: spruceUrl, accessId: clinic.accessId, secretKey: clinic.secretKey, webhookSecrets: [registered.spruce.signingSecret!] },
          // Catch-up would read the delivery logs at start: not what these tests are about.
          schedules: { catchUpOnStart: false, catchUpEveryMinutes: 0, reconcileEveryMinutes: 0 },
        };
      } finally {
        await Promise.allSettled([spryClient.close(), spruceClient.close()]);
      }
    };
    const clinicA = await definition(A, ports[0]!);
    const clinicB = await definition(B, ports.at(-1)!);
    const databaseUrl = options.databaseUrl ?? `sqlite:${path.join(dir, 'sync.db')}`;
    for (const [i, port] of ports.entries()) {
      const config = parseConfig({
        server: { host: '127.0.0.1', port },
        // PostgreSQL needs a key (SQLite makes one beside its file).
        database: { url: databaseUrl, ...(databaseUrl.startsWith('postgres') ? { encryptionKey: DATABASE_KEY } : {}), ...(options.schema ? { schema: options.schema } : {}) },
        workers: { workerId: `instance-${i + 1}` },
        admin: { token: ADMIN_TOKEN, ...options.admin },
        ...(options.retention ? { retention: options.retention } : {}),
        log: { level: 'silent' },
        tenants: [clinicA],
      });
      instances.push(await startService(config, { clock }));
    }
    return { clock, spry, spruce, spryUrl, spruceUrl, instances, databaseUrl, dir, clinicB, close };
  } catch (error) {
    await close();
    throw error;
  }
}

export async function admin(instance: RunningService, method: string, route: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${instance.url}/admin/api${route}`, {
    method,
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

export function registerPatient(w: TenantsWorld, clinic: Clinic, n: number): number {
  return w.spry.staff.registerPatient(clinic.spryOrg, { first_name: `Tenant${n}`, last_name: 'Data', date_of_birth: '1980-01-01', sex: 'FEMALE' }).patient_id;
}

/** Whether the patient has its linked contact in the clinic's own Spruce organization. */
export function synced(w: TenantsWorld, clinic: Clinic, patientId: number): boolean {
  return w.spruce.contacts(clinic.spruceOrg).some((c) => (c.integrationLinks ?? []).some((l) => l.externalId === `spry:${clinic.spryOrg}:${patientId}`));
}

/** Moves simulated time in steps (real time for the HTTP work between) until `check` holds. */
export async function stepUntil(w: TenantsWorld, check: () => boolean | Promise<boolean>, what: string, maxSimulatedMs = 60_000): Promise<void> {
  const started = w.clock.now();
  while (!(await check())) {
    if (w.clock.now() - started > maxSimulatedMs) throw new Error(`${what} did not happen within ${maxSimulatedMs} simulated ms`);
    await step(w, 250);
  }
}

export async function step(w: TenantsWorld, ms: number): Promise<void> {
  await w.spry.settle();
  await w.spruce.settle();
  await w.clock.advance(ms);
  await new Promise((resolve) => setTimeout(resolve, 20));
}
