// The operator commands on PostgreSQL with `database.schema`: each reads and writes that schema
// (what the service wrote there) and leaves `public` untouched; so do the tenant commands
// (backfill, reconcile) against the sandbox. Runs in a database of its own,
// so "public is untouched" means exactly "has no tables". Skipped, with one line, when no
// PostgreSQL is reachable.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { registerAuditCommand } from '../../src/cli/audit.ts';
import { registerBackfillCommand } from '../../src/cli/backfill.ts';
import { registerDlqCommand } from '../../src/cli/dlq.ts';
import { registerEventsCommand } from '../../src/cli/events.ts';
import { registerPauseCommands } from '../../src/cli/pause.ts';
import { registerPruneCommand } from '../../src/cli/prune.ts';
import { registerReconcileCommand } from '../../src/cli/reconcile.ts';
import { registerStatusCommand } from '../../src/cli/status.ts';
import { registerSubscriptionsCommand } from '../../src/cli/subscriptions.ts';
import { systemClock } from '../../src/clock.ts';
import { openConfiguredStore } from '../../src/config/database.ts';
import { parseConfig } from '../../src/config/load-config.ts';
import { SyncError } from '../../src/errors.ts';
import { WorkerPool } from '../../src/queue/worker-pool.ts';
import { SANDBOX_TENANT_ID, sandboxConfig, startSandbox, type Sandbox } from '../../src/sandbox/environment.ts';
import { adminQuery, findPostgres, schemaQuery, skipNotice, uniqueSchema } from '../support/postgres.ts';
import { runCommands } from './cli-support.ts';

/** PostgreSQL needs a configured key (or `encryption: off`); every instance shares it. */
const ENCRYPTION_KEY = randomBytes(32).toString('base64');

const pgUrl = await findPostgres();
if (!pgUrl) console.warn(skipNotice('operator CLI on a PostgreSQL schema'));

const database = uniqueSchema('spruce_cli_db').toLowerCase();
const schema = uniqueSchema('cli_schema');
const dir = mkdtempSync(join(tmpdir(), 'spruce-sync-cli-pg-'));
const configFile = join(dir, 'config.yaml');
let databaseUrl = '';

let sandbox: Sandbox | undefined;

const rawConfig = () => {
  const sandboxTenant = (sandboxConfig(sandbox!, { port: 0, databaseUrl, secrets: { spryWebhook: 'w', spruceWebhook: 'w' } }) as { tenants: Record<string, Record<string, unknown>>[] }).tenants[0]!;
  return {
    database: { url: databaseUrl, schema, poolSize: 2, encryptionKey: ENCRYPTION_KEY },
    tenants: [
      {
        id: 'acme-pt',
        spry: { baseUrl: 'http://127.0.0.1:9/spry', clientId: 'c', clientSecret: 's', organisationId: 74, webhookSecrets: ['w'], chartUrl: 'https://spry.example/patients/{patientId}' },
        spruce: { baseUrl: 'http://127.0.0.1:9/spruce', accessId: 'a', secretKey: 'k', webhookSecrets: ['w'] },
      },
      { ...sandboxTenant, spry: { ...sandboxTenant.spry, requestsPerSecond: 1_000 } },
    ],
  };
};

/** What the service leaves behind: one processed event, one dead letter, one audit record. */
async function seed(): Promise<void> {
  const config = parseConfig(rawConfig());
  const store = await openConfiguredStore(config.database);
  try {
    const now = Date.now();
    for (const patientId of [1, 2]) {
      await store.insertEvent({
        tenantId: 'acme-pt',
        source: 'spry',
        eventKey: `e-${patientId}`,
        type: 'patient.updated',
        occurredAt: now,
        receivedAt: now,
        payload: Buffer.from('{}'),
        subject: { patientId },
        status: 'queued',
        job: { key: `spry-patient:74:${patientId}`, task: 'spry.patient', params: { patientId } },
      });
    }
    const pool = new WorkerPool({
      store,
      clock: systemClock,
      workerId: 'seed',
      concurrency: 2,
      leaseMs: 30_000,
      pollIntervalMs: 1_000,
      handlers: {
        'spry.patient': async (job) => {
          if (job.params.patientId === 2) throw new SyncError('SPRUCE_REJECTED', 'refused (test)', { retryable: false });
        },
      },
    });
    await pool.runUntilIdle();
    await pool.stop();
    await store.appendAudit({ at: now, tenantId: 'acme-pt', system: 'spruce', recordType: 'contact', recordId: 'entity_7', action: 'create' });
  } finally {
    await store.close();
  }
}

/** Runs one command in-process and returns what it printed. */
const cli = (...args: string[]) =>
  runCommands(
    [
      registerStatusCommand,
      registerEventsCommand,
      registerDlqCommand,
      registerPauseCommands,
      registerPruneCommand,
      registerAuditCommand,
      registerSubscriptionsCommand,
      registerBackfillCommand,
      registerReconcileCommand,
    ],
    [...args, '--config', configFile],
  );

const tablesIn = async (name: string) =>
  (await adminQuery<{ table_name: string }>(databaseUrl, `SELECT table_name FROM information_schema.tables WHERE table_schema = $1`, [name])).map((r) => r.table_name);

beforeAll(async () => {
  if (!pgUrl) return;
  await adminQuery(pgUrl, `CREATE DATABASE ${database}`);
  const url = new URL(pgUrl);
  url.pathname = `/${database}`;
  databaseUrl = url.toString();
  sandbox = await startSandbox({ patients: 3, spruceRateLimitPerMinute: 0 });
  writeFileSync(configFile, stringify(rawConfig()));
  await seed();
});

afterAll(async () => {
  await sandbox?.close();
  rmSync(dir, { recursive: true, force: true });
  if (pgUrl) await adminQuery(pgUrl, `DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
});

describe.skipIf(!pgUrl)('operator commands on a PostgreSQL schema', () => {
  it('read what the service wrote in the configured schema', async () => {
    const status = await cli('status');
    expect(status.code).toBeUndefined();
    expect(status.out).toMatch(/acme-pt\s+running\s+0\s+0\s+-/);

    const dead = JSON.parse((await cli('events', 'search', '--status', 'dead', '--json')).out);
    expect(dead.events.map((e: { eventKey: string }) => e.eventKey)).toEqual(['e-2']);

    expect((await cli('dlq', 'list')).out).toMatch(/acme-pt\s+spry-to-spruce\s+spry-patient:74:2/);
    expect((await cli('audit', 'search', '--tenant', 'acme-pt')).out).toMatch(/acme-pt\s+spruce\s+contact entity_7\s+create/);
    const exported = join(dir, 'audit.jsonl');
    expect((await cli('audit', 'export', '--since', '1d', '--out', exported)).code).toBeUndefined();
    expect(readFileSync(exported, 'utf8')).toMatch(/"recordId":"entity_7","action":"create"/);
  });

  it('write to the configured schema: pause, resume, replay, prune, subscriptions', async () => {
    expect((await cli('pause', 'acme-pt')).out).toBe('acme-pt: paused');
    expect((await cli('status')).out).toMatch(/acme-pt\s+paused/);
    expect((await cli('resume', 'acme-pt')).out).toBe('acme-pt: running');

    expect((await cli('dlq', 'replay', '--tenant', 'acme-pt')).out).toBe('replayed 1 of 1 matching dead letters');
    expect((await cli('dlq', 'list', '--json')).out).toContain('"deadLetters": []');

    expect(JSON.parse((await cli('prune', '--days', '0.00000001', '--json')).out)).toMatchObject({ events: 1 });

    const added = await cli('subscriptions', 'add', 'acme-pt', 'https://93.184.216.34/hook', '--types', 'spry.*', '--json');
    expect(added.code).toBeUndefined();
    const listed = await cli('subscriptions', 'list', 'acme-pt', '--json');
    expect(listed.out).toContain('https://93.184.216.34/hook');
  });

  it('tenant commands too: backfill links the patients, reconcile keeps its summary, in the schema', async () => {
    const backfill = await cli('backfill', '--tenant', SANDBOX_TENANT_ID, '--json');
    expect(backfill.code).toBe(0);
    const links = await schemaQuery<{ count: number }>(databaseUrl, schema, 'SELECT count(*)::int AS count FROM links WHERE tenant_id = $1', [SANDBOX_TENANT_ID]);
    expect(links[0]!.count).toBe(3);

    const reconcile = await cli('reconcile', '--tenant', SANDBOX_TENANT_ID, '--all', '--json');
    expect(reconcile.code).toBe(0);
    const kept = await schemaQuery(databaseUrl, schema, `SELECT key FROM state WHERE tenant_id = $1 AND key = 'reconcile.last'`, [SANDBOX_TENANT_ID]);
    expect(kept).toHaveLength(1);
  });

  it('leave public untouched', async () => {
    expect(await tablesIn(schema)).toEqual(expect.arrayContaining(['events', 'jobs', 'fanout_subscriptions']));
    expect(await tablesIn('public')).toEqual([]);
  });
});
