// A whole world on one machine: both simulators, our webhook endpoints registered with them the
// way a real installation registers them, and spruce-sync running against them. The demo, the
// end-to-end tests and the benchmarks all start from here.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ControlledClock, type Clock } from '../clock.ts';
import { parseConfig } from '../config/load-config.ts';
import type { Config } from '../config/schema.ts';
import type { Logger } from '../observe/logger.ts';
import { startService, type RunningService, type ServiceOptions } from '../service.ts';
import { SpruceClient } from '../spruce/client.ts';
import { SpryClient } from '../spry/client.ts';
import { ensureWebhookRegistrations } from '../sync/webhook-registration.ts';
import { createSpruceSimulator, type SpruceEventOptions, type SpruceSimulator } from './spruce/index.ts';
import { createSprySimulator, type SprySimulator } from './spry/index.ts';

export const SANDBOX_TENANT_ID = 'sandbox-pt';
export const SANDBOX_SPRY_ORG = 74;

export interface SandboxOptions {
  seed?: number;
  patients?: number;
  /** Contacts already in the Spruce org before we start. */
  spruceContacts?: number;
  spruceRateLimitPerMinute?: number;
  host?: string;
  spryPort?: number;
  sprucePort?: number;
  clock?: ControlledClock;
  /** Kinder-than-documented Spruce webhook payloads; default: exactly as documented. */
  spruceEvents?: SpruceEventOptions;
}

export interface Sandbox {
  clock: ControlledClock;
  spry: SprySimulator;
  spruce: SpruceSimulator;
  spryUrl: string;
  spruceUrl: string;
  close(): Promise<void>;
}

export async function startSandbox(options: SandboxOptions = {}): Promise<Sandbox> {
  const clock = options.clock ?? new ControlledClock();
  const host = options.host ?? '127.0.0.1';
  const spry = await createSprySimulator({
    clock,
    seed: options.seed ?? 1,
    organisations: [
      { organisationId: SANDBOX_SPRY_ORG, clientId: 'spry-sandbox-client', clientSecret: 'spry-sandbox-secret', patients: options.patients ?? 200, name: 'Sandbox Physical Therapy' },
    ],
  });
  const spruce = await createSpruceSimulator({
    clock,
    seed: options.seed ?? 1,
    events: options.spruceEvents,
    organizations: [
      {
        id: 'entity_0SANDBOXORG00',
        accessId: 'aid_sandbox',
        secretKey: 'sk_sandbox',
        name: 'Sandbox Physical Therapy',
        rateLimitPerMinute: options.spruceRateLimitPerMinute ?? 100,
        contacts: options.spruceContacts ?? 0,
      },
    ],
  });
  const spryUrl = await spry.listen({ host, port: options.spryPort ?? 0 });
  const spruceUrl = await spruce.listen({ host, port: options.sprucePort ?? 0 });
  return {
    clock,
    spry,
    spruce,
    spryUrl,
    spruceUrl,
    async close() {
      await Promise.allSettled([spry.close(), spruce.close()]);
    },
  };
}

export interface SandboxServiceOptions extends ServiceOptions {
  /** Service port; default: a free one. */
  port?: number;
  /** SQLite file (default: a fresh temp file) or a postgres:// URL. */
  databaseUrl?: string;
  /** Overrides merged into the generated config (shallow per top-level key). */
  config?: Partial<Record<keyof Config, unknown>>;
  /** Extra tenant settings merged into the one sandbox tenant. */
  tenant?: Record<string, unknown>;
  logger?: Logger;
  clock?: Clock;
}

export interface SandboxWithService {
  sandbox: Sandbox;
  service: RunningService;
  config: Config;
  /** Secrets the simulators returned when we registered with them. */
  secrets: SandboxSecrets;
  close(): Promise<void>;
}

export interface SandboxSecrets {
  spryWebhook: string;
  spruceWebhook: string;
}

/**
 * Registers our webhook endpoints with the simulators, as a real installation registers them
 * with Spry and Spruce, and returns the signing secrets they hand back (once).
 */
export async function registerSandboxWebhooks(sandbox: Sandbox, serviceUrl: string): Promise<SandboxSecrets> {
  const spryCredentials = sandbox.spry.credentials()[0]!;
  const spruceCredentials = sandbox.spruce.credentials()[0]!;
  const spryClient = new SpryClient({
    baseUrl: sandbox.spryUrl,
    clientId: spryCredentials.clientId,
    clientSecret: spryCredentials.clientSecret,
    organisationId: spryCredentials.organisationId,
    clock: sandbox.clock,
  });
  const spruceClient = new SpruceClient({
    baseUrl: sandbox.spruceUrl,
    accessId: spruceCredentials.accessId,
    secretKey: spruceCredentials.secretKey,
    clock: sandbox.clock,
  });
  try {
    const registered = await ensureWebhookRegistrations({ spry: spryClient, spruce: spruceClient, publicUrl: serviceUrl, tenantId: SANDBOX_TENANT_ID });
    const spryWebhook = registered.spry.signatureKey;
    const spruceWebhook = registered.spruce.signingSecret;
    // Secrets are shown only when created: what an earlier service left on this URL is no use here.
    if (!spryWebhook || !spruceWebhook) throw new Error(`webhooks for ${serviceUrl} are already registered with this sandbox`);
    return { spryWebhook, spruceWebhook };
  } finally {
    await Promise.allSettled([spryClient.close(), spruceClient.close()]);
  }
}

/** The config (before validation) of a service with the one sandbox tenant. */
export function sandboxConfig(
  sandbox: Sandbox,
  options: { port: number; databaseUrl: string; secrets: SandboxSecrets; config?: SandboxServiceOptions['config']; tenant?: Record<string, unknown> },
): Record<string, unknown> {
  const spryCredentials = sandbox.spry.credentials()[0]!;
  const spruceCredentials = sandbox.spruce.credentials()[0]!;
  return {
    server: { host: '127.0.0.1', port: options.port },
    log: { level: 'silent' },
    ...options.config,
    database: { url: options.databaseUrl, ...(options.config?.database as Record<string, unknown> | undefined) },
    tenants: [
      {
        id: SANDBOX_TENANT_ID,
        spry: {
          baseUrl: sandbox.spryUrl,
          clientId: spryCredentials.clientId,
          clientSecret: spryCredentials.clientSecret,
          organisationId: spryCredentials.organisationId,
          webhookSecrets: [options.secrets.spryWebhook],
          chartUrl: `${sandbox.spryUrl}/patients/{patientId}`,
          // The simulated Spry sets no rate limit; 20/s keeps the demo brisk. Real tenants keep
          // the conservative default of 5/s unless Spry says otherwise.
          requestsPerSecond: 20,
        },
        spruce: {
          baseUrl: sandbox.spruceUrl,
          accessId: spruceCredentials.accessId,
          secretKey: spruceCredentials.secretKey,
          webhookSecrets: [options.secrets.spruceWebhook],
        },
        ...options.tenant,
      },
    ],
  };
}

/**
 * PostgreSQL requires an encryption key (SQLite generates its own key file). A service started
 * here lives only as long as the run, so one is made up for it unless the caller chose a key or
 * `encryption: off`. The config a user is given (sandboxConfig) is left as written.
 */
function withRunKey(raw: Record<string, unknown>): Record<string, unknown> {
  const database = { ...(raw.database as Record<string, unknown>) };
  const onPostgres = /^postgres(ql)?:/.test(String(database.url));
  if (onPostgres && database.encryptionKey === undefined && database.encryption === undefined) {
    database.encryptionKey = randomBytes(32).toString('base64');
  }
  return { ...raw, database };
}

/** Registers our webhooks with the simulators and starts the service in this process. */
export async function startServiceOnSandbox(sandbox: Sandbox, options: SandboxServiceOptions = {}): Promise<SandboxWithService> {
  // 0 means any free port, but webhooks need the real one before the service starts.
  const port = options.port || (await freePort());
  const secrets = await registerSandboxWebhooks(sandbox, `http://127.0.0.1:${port}`);
  let tempDir: string | undefined;
  let databaseUrl = options.databaseUrl;
  if (!databaseUrl) {
    tempDir = await mkdtemp(path.join(tmpdir(), 'spruce-sync-'));
    databaseUrl = `sqlite:${path.join(tempDir, 'spruce-sync.db')}`;
  }
  const config = parseConfig(withRunKey(sandboxConfig(sandbox, { port, databaseUrl, secrets, config: options.config, tenant: options.tenant })));
  const service = await startService(config, { ...options, clock: options.clock ?? sandbox.clock });
  return {
    sandbox,
    service,
    config,
    secrets,
    async close() {
      await service.close();
      if (tempDir) await rm(tempDir, { recursive: true, force: true });
    },
  };
}

export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/** Both simulators and the service in this process; closing it closes all three. */
export async function startSandboxWithService(options: SandboxOptions & { service?: SandboxServiceOptions } = {}): Promise<SandboxWithService> {
  const { service, ...sandboxOptions } = options;
  const sandbox = await startSandbox(sandboxOptions);
  try {
    const running = await startServiceOnSandbox(sandbox, service);
    return {
      ...running,
      async close() {
        await running.close();
        await sandbox.close();
      },
    };
  } catch (error) {
    await sandbox.close();
    throw error;
  }
}

