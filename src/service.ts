// The composition root: one running spruce-sync (ingress + workers) from a config. Used by
// `spruce-sync start`, the demo and the end-to-end tests alike.
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { FastifyInstance } from 'fastify';
import { systemClock, type Clock } from './clock.ts';
import { openConfiguredStore } from './config/database.ts';
import type { Config, TenantConfig } from './config/schema.ts';
import { errorCode } from './errors.ts';
import { createFanout, type Fanout, type FanoutDeps } from './fanout/fanout.ts';
import { CircuitBreaker } from './http/circuit-breaker.ts';
import { SharedPacerState, type SharedPacerRecord } from './http/pacer-state-postgres.ts';
import { RatePacer, type PacerStateStore, type RatePacerOptions } from './http/rate-pacer.ts';
import { TokenBucket, type BucketState, type BucketStateStore } from './http/token-bucket.ts';
import type { CallReport } from './http/types.ts';
import { createLogger, type Logger } from './observe/logger.ts';
import { timedLimiter } from './observe/metrics-limiter.ts';
import { circuitGauge, slotGauge, TenantAdmission } from './queue/tenant-admission.ts';
import { WorkerPool } from './queue/worker-pool.ts';
import { createOperatorSurface, type OperatorSurface } from './operations/operator-surface.ts';
import { buildApp } from './server/app.ts';
import { IngestLoad } from './server/ingest-load.ts';
import { WakeSchedule } from './queue/wake-schedule.ts';
import { SpruceClient } from './spruce/client.ts';
import { SpryClient } from './spry/client.ts';
import { startLeaseRecovery } from './store/lease-recovery.ts';
import { LocalLeadership, type Leadership } from './store/leadership.ts';
import { PostgresStore } from './store/postgres/postgres-store.ts';
import type { Store } from './store/types.ts';
import { backgroundOperations } from './sync/backfill-admin.ts';
import { syncHandlers } from './sync/handlers.ts';
import { OrgCatalogCache } from './sync/org-catalog.ts';
import { Scheduler, type LeaderGate } from './sync/scheduler.ts';
import { tenantTasks } from './sync/scheduler-tasks.ts';
import type { TenantContext } from './sync/tenant-context.ts';
import { purgeRemovedTenantsTask } from './tenants/purge.ts';
import { TenantRegistry } from './tenants/registry.ts';
import { TenantAdmin } from './tenants/tenant-admin.ts';

export interface ServiceOptions {
  clock?: Clock;
  logger?: Logger;
  /** Distinguishes this process's leases from other instances'. */
  workerId?: string;
  /** Every outbound API call (metrics, benchmarks, tests). */
  onApiCall?: (tenantId: string, call: CallReport) => void;
  /** Runs a scheduled task only on the leader instance; default: the store's leadership. */
  runIfLeader?: LeaderGate;
  /** Fan-out overrides (tests, benchmarks): alert callback, sender, DNS, jitter. */
  fanout?: Partial<Pick<FanoutDeps, 'onAlert' | 'send' | 'resolve' | 'random' | 'postAlert'>>;
}

export interface RunningService {
  url: string;
  app: FastifyInstance;
  store: Store;
  pool: WorkerPool;
  /** The running tenants' contexts: changes as tenants are added, changed and removed. */
  contexts: ReadonlyMap<string, TenantContext>;
  /** The tenants as data (src/tenants/): seeded from the config, kept in step with the database. */
  tenants: TenantRegistry;
  /** Metrics, pause control, alerts, retention. */
  operator: OperatorSurface;
  /** Catch-up and reconciliation per tenant (`schedules` in the config). */
  scheduler: Scheduler;
  /** Which instance runs the scheduled duties (always this one on SQLite). */
  leadership: Leadership;
  /** Event subscriptions and their deliveries (docs/fanout.md). */
  fanout: Fanout;
  close(): Promise<void>;
}

/** How often each instance reads the tenant directory's version for changes made elsewhere. */
const TENANT_POLL_MS = 1_000;

/**
 * More webhook deliveries in hand at once than this is a burst. Steady traffic (50 changes/s)
 * keeps one or two in hand; a sender's burst of hundreds would otherwise time out behind syncs.
 */
const INGEST_BURST_ABOVE = 16;
/**
 * The longest one burst holds the workers back. A burst of 1,000 is acknowledged within it, and
 * as fast with 10 s (`npm run bench:burst`); a flood that does not end (one clinic's 500 events a
 * second on PostgreSQL) held every other clinic's syncs for the whole hold: 10 s made their p99
 * 4.5–8.7 s, 2 s makes it 0.8 s (docs/BENCHMARKS.md, "The burst hold and a flooding clinic").
 */
const INGEST_MAX_HOLD_MS = 2_000;
/** New jobs wake the pool at most this late (ms): one wake-up per slot however many webhooks. */
const WAKE_SLOT_MS = 10;

/** Names this process among the instances sharing a budget; a restarted process is a new one. */
const INSTANCE_ID = `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;

/** Where a tenant's API budgets live: shared by all instances on PostgreSQL, else in this process. */
export interface TenantBudgets {
  spruce?: PacerStateStore;
  spry?: BucketStateStore;
}

export function sharedBudgets(store: Store, tenantId: string, clock: Clock): TenantBudgets {
  if (!(store instanceof PostgresStore)) return {};
  return {
    spruce: new SharedPacerState({ record: store.sharedRow<SharedPacerRecord | null>(tenantId, 'spruce', null), instanceId: INSTANCE_ID, clock }),
    spry: store.sharedRow<BucketState | null>(tenantId, 'spry', null),
  };
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
    /** Default: shared by all instances when the store is PostgreSQL (sharedBudgets). */
    budgets?: TenantBudgets;
    /** Spruce pacing policy overrides (benchmarks compare policies). */
    sprucePacing?: Omit<RatePacerOptions, 'clock' | 'state'>;
    /** The worker pool's claim gate: told what limits this tenant's calls. */
    admission?: TenantAdmission;
  },
): TenantContext {
  const onCall = (call: CallReport) => deps.onApiCall?.(tenant.id, call);
  const onWait = deps.onRateLimitWait;
  const budgets = deps.budgets ?? sharedBudgets(deps.store, tenant.id, deps.clock);
  const spryBucket = new TokenBucket({ clock: deps.clock, ratePerSecond: tenant.spry.requestsPerSecond, state: budgets.spry });
  const sprucePacer = new RatePacer({ ...deps.sprucePacing, clock: deps.clock, state: budgets.spruce });
  // One breaker per vendor of this tenant: its failing vendor holds back its own jobs only.
  const breaker = (system: 'spry' | 'spruce') =>
    new CircuitBreaker({
      system,
      clock: deps.clock,
      onChange: (state) => deps.logger.warn({ tenantId: tenant.id, system, state }, state === 'open' ? 'vendor failing: calls held back' : 'vendor answering again'),
    });
  const spryBreaker = breaker('spry');
  const spruceBreaker = breaker('spruce');
  deps.admission?.watch(
    tenant.id,
    slotGauge('spruce_budget', sprucePacer),
    slotGauge('spry_budget', spryBucket),
    circuitGauge('spruce_circuit', spruceBreaker),
    circuitGauge('spry_circuit', spryBreaker),
  );
  const spryLimiter = spryBreaker.guard(spryBucket);
  const spruceLimiter = spruceBreaker.guard(sprucePacer);
  const spry = new SpryClient({
    baseUrl: tenant.spry.baseUrl,
    clientId: tenant.spry.clientId,
    clientSecret: tenant.spry.clientSecret,
    organisationId: tenant.spry.organisationId,
    requestsPerSecond: tenant.spry.requestsPerSecond,
    limiter: onWait ? timedLimiter(spryLimiter, deps.clock, (ms) => onWait('spry', ms)) : spryLimiter,
    clock: deps.clock,
    onCall,
  });
  const spruce = new SpruceClient({
    baseUrl: tenant.spruce.baseUrl,
    accessId: tenant.spruce.accessId,
    secretKey: tenant.spruce.secretKey,
    pacer: onWait ? timedLimiter(spruceLimiter, deps.clock, (ms) => onWait('spruce', ms)) : spruceLimiter,
    clock: deps.clock,
    onCall,
  });
  const catalog = new OrgCatalogCache(tenant.id, spruce, deps.store, Object.values(tenant.sync.fieldNames), [tenant.sync.tag]);
  return { config: tenant, spry, spruce, store: deps.store, clock: deps.clock, logger: deps.logger, catalog };
}

/**
 * Most jobs one tenant holds at once: the configured value, else every worker when there is one
 * tenant and half of them when there are more, so a busy clinic always leaves room for the others.
 */
export function perTenantLimit(config: Pick<Config, 'workers' | 'tenants'>): number | undefined {
  const { concurrency, perTenantConcurrency } = config.workers;
  if (perTenantConcurrency !== undefined) return Math.min(perTenantConcurrency, concurrency);
  return config.tenants.length > 1 ? Math.max(1, Math.ceil(concurrency / 2)) : undefined;
}

export async function startService(config: Config, options: ServiceOptions = {}): Promise<RunningService> {
  const clock = options.clock ?? systemClock;
  const logger = options.logger ?? createLogger({ level: config.log.level, format: config.log.format });
  const store = await openConfiguredStore(config.database, logger);
  const leadership: Leadership =
    store instanceof PostgresStore
      ? store.leadership({ clock, onChange: (duty, leader) => logger.info({ duty, leader }, leader ? 'leading a scheduled duty' : 'no longer leading a scheduled duty') })
      : new LocalLeadership();

  // Tenants are data: the config file's are seeded, the rest come from the admin API or the CLI,
  // and every instance follows the directory. Contexts and schedules start and stop with them.
  const contexts = new Map<string, TenantContext>();
  // Made below: the seeded tenants start before these exist, and reach them once they do.
  const late: { scheduler?: Scheduler; operator?: OperatorSurface; pool?: WorkerPool } = {};
  // On PostgreSQL only the leader of a duty runs it (advisory lock); on SQLite this instance leads.
  const runIfLeader: LeaderGate = options.runIfLeader ?? ((duty, fn) => leadership.runIfLeader(duty, fn));
  // The worker pool's claim gate, told what limits each running tenant's calls.
  const admission = new TenantAdmission();
  const onApiCall = (tenantId: string, call: CallReport) => {
    late.operator?.onApiCall(tenantId, call);
    options.onApiCall?.(tenantId, call);
  };
  const scheduleTenant = (tenant: TenantConfig) => {
    const tasks = tenantTasks({ ...config, tenants: [tenant] }, contexts, { onQueued: () => late.pool?.notify() });
    // A disabled tenant sends nothing out: its schedules skip their runs until it is enabled.
    for (const task of tasks) late.scheduler!.add({ ...task, run: (signal) => (registry.claimable(tenant.id) ? task.run(signal) : Promise.resolve()) });
    scheduled.set(tenant.id, tasks.map((task) => task.name));
  };
  const scheduled = new Map<string, string[]>();
  const registry: TenantRegistry = new TenantRegistry({
    directory: store,
    clock,
    logger,
    pollIntervalMs: TENANT_POLL_MS,
    onStart(tenant) {
      contexts.set(tenant.id, tenantContext(tenant, { store, clock, logger, onApiCall, onRateLimitWait: (system, ms) => late.operator?.onRateLimitWait(system, ms), admission }));
      if (late.scheduler) scheduleTenant(tenant);
      late.operator?.alerts.watch(tenant);
      late.pool?.notify();
    },
    onStop(tenantId, why) {
      const stopped = contexts.get(tenantId);
      contexts.delete(tenantId);
      admission.forget(tenantId);
      if (why === 'gone') {
        late.operator?.alerts.forget(tenantId);
        void late.operator?.metrics.forgetTenant(tenantId).catch(() => undefined);
      }
      // Their connection pools close once the requests in flight (a job still running) are done.
      for (const client of [stopped?.spry, stopped?.spruce]) void (client as { close?: () => Promise<void> } | undefined)?.close?.().catch(() => undefined);
      for (const name of scheduled.get(tenantId) ?? []) late.scheduler?.remove(name);
      scheduled.delete(tenantId);
    },
  });
  await registry.seed(config.tenants);
  // What reads the tenant list (alerts, fan-out, pause control) reads the registry's live one.
  const live: Config = { ...config, tenants: registry.list };

  const workerId = options.workerId ?? config.workers.workerId ?? `${hostname()}:${process.pid}`;
  // A disabled tenant sends nothing out (its vendors' alerts held, its fan-out deliveries waiting); a removed one neither.
  const sending = (tenantId: string) => registry.claimable(tenantId);
  const fanout = await createFanout({ config: live, mainStore: store, clock, logger, workerId, sending, ...options.fanout });
  const operator = createOperatorSurface({ config: live, store, clock, logger, tenantIds: registry.ids, runIfLeader, fanoutStore: fanout.store, tenantSending: sending });
  late.operator = operator;
  await operator.prepare();
  operator.metrics.watchAdmission(() => admission.readings());
  // While a burst of webhooks is being acknowledged the workers claim nothing new (ingest-load.ts).
  const ingestLoad = new IngestLoad({ burstAbove: INGEST_BURST_ABOVE, maxHoldMs: INGEST_MAX_HOLD_MS, now: () => clock.now(), onCalm: () => pool.notify() });
  // Backfill and reconcile started from the admin API run in this process, in the background.
  const operations = backgroundOperations(contexts);
  const pool = new WorkerPool({
    store,
    clock,
    workerId,
    concurrency: config.workers.concurrency,
    leaseMs: config.workers.leaseMs,
    pollIntervalMs: config.workers.pollIntervalMs,
    handlers: syncHandlers(contexts, { onNotice: fanout.onSyncNotice }),
    // Paused tenants and directions are left unclaimed; their jobs wait, in order.
    // Disabled and removed tenants' jobs are not claimed either.
    tenantFilter: () => registry.claimFilter(operator.tenantFilter()),
    taskFilter: operator.taskFilter,
    holdClaims: () => ingestLoad.bursting,
    // A tenant waiting on its budget or failing vendor holds no worker, nor more than its share.
    admission,
    // Read at each claim: tenants come and go.
    perTenantLimit: () => perTenantLimit(live),
    onError: (error) => logger.error({ code: errorCode(error) }, 'worker pool store call failed'),
    onAttempt: (attempt, job) => {
      operator.onAttempt(attempt, job);
      fanout.onJobAttempt(attempt, job);
      if (attempt.outcome !== 'succeeded') {
        logger.warn({ tenantId: attempt.tenantId, jobKey: attempt.jobKey, outcome: attempt.outcome, code: attempt.errorCode, requestId: attempt.requestId }, 'job attempt failed');
      }
    },
  });
  late.pool = pool;
  // One timer per 10 ms of due jobs, not one per webhook (queue/wake-schedule.ts).
  const wakes = new WakeSchedule({ clock, slotMs: WAKE_SLOT_MS, wake: () => pool.notify() });
  const tenantAdmin = new TenantAdmin({ directory: store, clock, logger, actor: 'admin-api', onChange: () => registry.refresh().catch((error: unknown) => logger.warn({ code: errorCode(error) }, 'tenant directory reload failed; the poll retries')) });

  // Leases left by a process that is gone are cleared before the pool claims (SQLite: all of
  // them, now; PostgreSQL: those of instances whose heartbeat stopped, within seconds).
  const leases = await startLeaseRecovery(store, {
    instanceId: workerId,
    clock,
    onReclaimed: (count) => logger.info({ count }, 'job leases of a stopped process reclaimed'),
    onError: (error) => logger.warn({ code: errorCode(error) }, 'instance heartbeat failed'),
  });

  const app = await buildApp({
    config: live,
    tenants: registry.tenants,
    tenantIds: registry.ids,
    tenantAdmin,
    tenantLimits: () => admission.readings(),
    store,
    clock,
    logger,
    ...operator.app,
    adminActions: { ...operator.app.adminActions, backfill: operations.backfill, reconcile: operations.reconcile },
    onStored: fanout.onInboundStored,
    subscriptions: fanout.admin,
    ingestLoad,
    // Wake the workers when the coalescing window of the new job closes, not at the next poll.
    onQueued: () => {
      if (config.workers.coalesceMs > 0) wakes.wakeAt(clock.now() + config.workers.coalesceMs);
      else pool.notify();
    },
  });
  await fanout.start();
  // A burst of simultaneous deliveries (one connection each) must not overflow the accept queue
  // (Node's default 511; the kernel caps it at net.core.somaxconn): a dropped SYN is retried
  // only after 1 s, 3 s, 7 s, and the sender's timeout keeps running.
  const url = await app.listen({ host: config.server.host, port: config.server.port, backlog: 4096 });
  pool.start();
  operator.start();
  const schedules = new Scheduler({ clock, logger, runIfLeader });
  late.scheduler = schedules;
  for (const tenant of registry.list) scheduleTenant(tenant);
  // A removed tenant's PHI and fan-out rows go after the retention period; its audit trail stays.
  schedules.add(purgeRemovedTenantsTask({ directory: store, fanout: fanout.store, clock, logger, payloadDays: config.retention.payloadDays, everyMinutes: config.retention.pruneEveryMinutes }));
  schedules.start();
  registry.start();
  logger.info({ url, tenants: registry.ids }, 'spruce-sync started');

  return {
    url,
    app,
    store,
    pool,
    contexts,
    operator,
    leadership,
    scheduler: schedules,
    fanout,
    tenants: registry,
    async close() {
      registry.stop();
      await app.close();
      await operations.stop();
      await schedules.stop();
      await pool.stop();
      await leases.close();
      await fanout.close();
      await operator.stop();
      await leadership.close();
      await store.close();
    },
  };
}
