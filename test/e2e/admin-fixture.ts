// The real app (webhooks, admin API, dashboard, metrics) on a real SQLite file, with a
// WorkerPool whose handlers the test controls: a job for a key can be made to fail, and every
// run is recorded with the event ids it covered. Shared by the admin API tests, the browser
// test and the screenshot script.
import { createHmac } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { systemClock, type Clock } from '../../src/clock.ts';
import { parseConfig } from '../../src/config/load-config.ts';
import type { Config } from '../../src/config/schema.ts';
import { SyncError } from '../../src/errors.ts';
import { createLogger } from '../../src/observe/logger.ts';
import { SyncMetrics } from '../../src/observe/metrics.ts';
import { WorkerPool, type JobHandler } from '../../src/queue/worker-pool.ts';
import { PauseControl } from '../../src/operations/pause.ts';
import { buildApp } from '../../src/server/app.ts';
import type { Job, Store } from '../../src/store/types.ts';
import type { AdminActions } from '../../src/operations/context.ts';
import { openConfiguredStore } from '../../src/config/database.ts';

export const ADMIN_TOKEN = 'test-admin-token-0123456789';
export const TENANTS = ['acme-pt', 'beta-pt'] as const;
export const SPRY_ORG: Record<string, number> = { 'acme-pt': 74, 'beta-pt': 75 };
const SPRY_SECRET = 'spry-webhook-secret';
const SPRUCE_SECRET = 'spruce-webhook-secret';

export interface Run {
  tenantId: string;
  task: string;
  key: string;
  eventIds: number[];
  ok: boolean;
}

export interface AdminHarness {
  url: string;
  app: FastifyInstance;
  store: Store;
  pool: WorkerPool;
  pauses: PauseControl;
  config: Config;
  dbFile: string;
  /** Every handler run, in order. */
  runs: Run[];
  /** Job keys whose runs fail permanently (dead letter at once) until removed. */
  failing: Set<string>;
  postSpry(tenantId: string, patientId: number, eventId: string, type?: string): Promise<Response>;
  postSpruce(tenantId: string, contactId: string, eventId: string, type?: string): Promise<Response>;
  /** An admin API call; `token: null` sends none. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- a JSON answer; tests assert its shape
  admin(path: string, options?: { method?: string; body?: unknown; token?: string | null }): Promise<{ status: number; body: any }>;
  close(): Promise<void>;
}

export interface HarnessOptions {
  /** Start the pool's loop (the browser test); else the test drives it with pool.runUntilIdle(). */
  startPool?: boolean;
  clock?: Clock;
  port?: number;
  adminToken?: string | null;
  /** Operations the admin API may start (backfill, reconcile, prune); default none (501). */
  adminActions?: AdminActions;
}

export async function startAdminHarness(options: HarnessOptions = {}): Promise<AdminHarness> {
  const dir = mkdtempSync(join(tmpdir(), 'spruce-sync-admin-'));
  const dbFile = join(dir, 'sync.db');
  const clock = options.clock ?? systemClock;
  const tenant = (id: string) => ({
    id,
    spry: {
      baseUrl: 'http://127.0.0.1:9/spry',
      clientId: 'c',
      clientSecret: 's',
      organisationId: SPRY_ORG[id],
      webhookSecrets: [SPRY_SECRET],
      chartUrl: 'https://spry.example/patients/{patientId}',
    },
    spruce: { baseUrl: 'http://127.0.0.1:9/spruce', accessId: 'a', secretKey: 'k', webhookSecrets: [SPRUCE_SECRET] },
  });
  const config = parseConfig({
    server: { host: '127.0.0.1', port: options.port ?? 0 },
    database: { url: `sqlite:${dbFile}`, synchronous: 'NORMAL' },
    workers: { concurrency: 4, leaseMs: 30_000, pollIntervalMs: 200, maxAttempts: 3, coalesceMs: 0 },
    log: { level: 'silent' },
    admin: options.adminToken === null ? {} : { token: options.adminToken ?? ADMIN_TOKEN },
    tenants: TENANTS.map(tenant),
  });
  const store = await openConfiguredStore(config.database);
  const logger = createLogger({ level: 'silent' });
  const tenantIds = config.tenants.map((t) => t.id);
  const pauses = new PauseControl({ store, clock, tenantIds });
  const runs: Run[] = [];
  const failing = new Set<string>();

  const handler: JobHandler = async (job: Job) => {
    const events = await store.listQueuedEvents(job.tenantId, job.key, job.lastEventId);
    const ok = !failing.has(job.key);
    runs.push({ tenantId: job.tenantId, task: job.task, key: job.key, eventIds: events.map((e) => e.id), ok });
    if (!ok) throw new SyncError('SPRUCE_REJECTED', 'the contact was refused (test)', { retryable: false, requestId: `req-${job.id}-${job.attempts}` });
  };
  const pool = new WorkerPool({
    store,
    clock,
    workerId: 'test-worker',
    concurrency: config.workers.concurrency,
    leaseMs: config.workers.leaseMs,
    pollIntervalMs: config.workers.pollIntervalMs,
    handlers: { 'spry.patient': handler, 'spruce.contact': handler, 'spruce.item': handler },
    tenantFilter: () => pauses.tenantFilter(),
    taskFilter: () => pauses.taskFilter(),
  });
  const metrics = new SyncMetrics({ queue: () => store.queueStats() });
  const app = await buildApp({
    config,
    store,
    clock,
    logger,
    metrics,
    pauses,
    onQueued: () => pool.notify(),
    onIngestOutcome: metrics.onIngest,
    adminActions: options.adminActions,
  });
  const url = await app.listen({ host: '127.0.0.1', port: options.port ?? 0 });
  if (options.startPool) pool.start();

  const post = (path: string, body: string, headers: Record<string, string>) =>
    fetch(`${url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });

  return {
    url,
    app,
    store,
    pool,
    pauses,
    config,
    dbFile,
    runs,
    failing,
    postSpry(tenantId, patientId, eventId, type = 'patient.updated') {
      const body = JSON.stringify({
        event_id: eventId,
        event_type: type,
        api_version: '2026-06-11',
        timestamp: Math.floor(clock.now() / 1000),
        data: { organisation_id: SPRY_ORG[tenantId], patient_id: patientId },
      });
      const t = Math.floor(clock.now() / 1000);
      const v1 = createHmac('sha256', SPRY_SECRET).update(`${t}.${body}`).digest('hex');
      return post(`/webhooks/spry/${tenantId}`, body, { 'x-sprypt-signature': `t=${t},v1=${v1}` });
    },
    postSpruce(tenantId, contactId, eventId, type = 'contact.updated') {
      const body = JSON.stringify({
        id: eventId,
        object: 'event',
        type,
        eventTime: new Date(clock.now()).toISOString(),
        data: { object: { id: contactId, object: 'contact', givenName: 'Never Shown' } },
      });
      const signature = createHmac('sha256', SPRUCE_SECRET).update(body).digest('base64');
      return post(`/webhooks/spruce/${tenantId}`, body, { 'x-spruce-signature': signature });
    },
    async admin(path, { method = 'GET', body, token = ADMIN_TOKEN } = {}) {
      const headers: Record<string, string> = {};
      if (token !== null) headers.authorization = `Bearer ${token}`;
      if (body !== undefined) headers['content-type'] = 'application/json';
      const response = await fetch(`${url}/admin/api${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
      const text = await response.text();
      return { status: response.status, body: text ? JSON.parse(text) : null };
    },
    async close() {
      await app.close();
      await pool.stop();
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
