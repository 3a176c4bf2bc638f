// The composition root: one running spruce-sync (ingress + workers) from a config. Used by
// `spruce-sync start`, the demo and the end-to-end tests alike.
import { hostname } from 'node:os';
import type { FastifyInstance } from 'fastify';
import { systemClock, type Clock } from './clock.ts';
import type { Config, TenantConfig } from './config/schema.ts';
import { RatePacer } from './http/rate-pacer.ts';
import { TokenBucket } from './http/token-bucket.ts';
import type { CallReport } from './http/types.ts';
import { createLogger, type Logger } from './observe/logger.ts';
import { timedLimiter } from './observe/metrics-limiter.ts';
import { WorkerPool } from './queue/worker-pool.ts';
import { createOperatorSurface, type OperatorSurface } from './server/admin/operator-surface.ts';
import { buildApp } from './server/app.ts';
import { SpruceClient } from './spruce/client.ts';
import { SpryClient } from './spry/client.ts';
import { openStore } from './store/open-store.ts';
import type { Store } from './store/types.ts';
import { syncHandlers } from './sync/handlers.ts';
import { OrgCatalogCache } from './sync/org-catalog.ts';
import type { TenantContext } from './sync/tenant-context.ts';

export interface ServiceOptions {
  clock?: Clock;
  logger?: Logger;
  /** Distinguishes this process's leases from other instances'. */
  workerId?: string;
  /** Every outbound API call (metrics, benchmarks, tests). */
  onApiCall?: (tenantId: string, call: CallReport) => void;
}

export interface RunningService {
  url: string;
  app: FastifyInstance;
  store: Store;
  pool: WorkerPool;
  contexts: ReadonlyMap<string, TenantContext>;
  /** Metrics, pause control, alerts, retention. */
  operator: OperatorSurface;
  close(): Promise<void>;
}

export function tenantContext(
  tenant: TenantConfig,
  deps: {
    store: Store;
    clock: Clock;
    logger: Logger;
    onApiCall?: ServiceOptions['onApiCall'];
    /** How long each call waited for its rate limiter (metrics). */
    onRateLimitWait?: (system: 'spry' | 'spruce', waitedMs: number) => void;
  },
): TenantContext {
  const onCall = (call: CallReport) => deps.onApiCall?.(tenant.id, call);
  const onWait = deps.onRateLimitWait;
  const spry = new SpryClient({
    baseUrl: tenant.spry.baseUrl,
    clientId: tenant.spry.clientId,
    clientSecret: tenant.spry.clientSecret,
    organisationId: tenant.spry.organisationId,
    requestsPerSecond: tenant.spry.requestsPerSecond,
    limiter: onWait
      ? timedLimiter(new TokenBucket({ clock: deps.clock, ratePerSecond: tenant.spry.requestsPerSecond }), deps.clock, (ms) => onWait('spry', ms))
      : undefined,
    clock: deps.clock,
    onCall,
  });
  const spruce = new SpruceClient({
    baseUrl: tenant.spruce.baseUrl,
    accessId: tenant.spruce.accessId,
    secretKey: tenant.spruce.secretKey,
    pacer: onWait ? timedLimiter(new RatePacer({ clock: deps.clock }), deps.clock, (ms) => onWait('spruce', ms)) : undefined,
    clock: deps.clock,
    onCall,
  });
  const catalog = new OrgCatalogCache(tenant.id, spruce, deps.store, Object.values(tenant.sync.fieldNames), [tenant.sync.tag]);
  return { config: tenant, spry, spruce, store: deps.store, clock: deps.clock, logger: deps.logger, catalog };
}

export async function startService(config: Config, options: ServiceOptions = {}): Promise<RunningService> {
  const clock = options.clock ?? systemClock;
  const logger = options.logger ?? createLogger({ level: config.log.level });
  const store = await openStore(config.database.url, {
    encryptionKey: config.database.encryptionKey,
    synchronous: config.database.synchronous,
  });
  await store.migrate();

  const operator = createOperatorSurface({ config, store, clock, logger });
  await operator.prepare();
  const onApiCall = (tenantId: string, call: CallReport) => {
    operator.onApiCall(tenantId, call);
    options.onApiCall?.(tenantId, call);
  };
  const contexts = new Map(
    config.tenants.map((tenant) => [
      tenant.id,
      tenantContext(tenant, { store, clock, logger, onApiCall, onRateLimitWait: operator.onRateLimitWait }),
    ]),
  );
  const pool = new WorkerPool({
    store,
    clock,
    workerId: options.workerId ?? `${hostname()}:${process.pid}`,
    concurrency: config.workers.concurrency,
    leaseMs: config.workers.leaseMs,
    pollIntervalMs: config.workers.pollIntervalMs,
    handlers: syncHandlers(contexts),
    // Paused tenants and directions are left unclaimed; their jobs wait, in order.
    tenantFilter: operator.tenantFilter,
    taskFilter: operator.taskFilter,
    onError: (error) => logger.error({ code: (error as { code?: string }).code ?? 'UNEXPECTED' }, 'worker pool store call failed'),
    onAttempt: (attempt, job) => {
      operator.onAttempt(attempt, job);
      if (attempt.outcome !== 'succeeded') {
        logger.warn({ tenantId: attempt.tenantId, jobKey: attempt.jobKey, outcome: attempt.outcome, code: attempt.errorCode, requestId: attempt.requestId }, 'job attempt failed');
      }
    },
  });

  const app = await buildApp({
    config,
    store,
    clock,
    logger,
    ...operator.app,
    // Wake the workers when the coalescing window of the new job closes, not at the next poll.
    onQueued: () => {
      if (config.workers.coalesceMs > 0) clock.setTimer(config.workers.coalesceMs, () => pool.notify());
      else pool.notify();
    },
  });
  const url = await app.listen({ host: config.server.host, port: config.server.port });
  pool.start();
  operator.start();
  logger.info({ url, tenants: config.tenants.map((t) => t.id) }, 'spruce-sync started');

  return {
    url,
    app,
    store,
    pool,
    contexts,
    operator,
    async close() {
      await app.close();
      await pool.stop();
      await operator.stop();
      await store.close();
    },
  };
}
