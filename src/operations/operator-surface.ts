// Everything the operator's surface adds to a running service, built in one place so the
// composition root (service.ts) only plugs it in: metrics, pause control, alerts, retention,
// and the hooks that feed them.
import type { Clock } from '../clock.ts';
import type { Config } from '../config/schema.ts';
import { errorCode } from '../errors.ts';
import type { CallReport } from '../http/types.ts';
import { AlertMonitor } from '../observe/alerts.ts';
import type { Logger } from '../observe/logger.ts';
import { observeCompletedJobLag, SyncMetrics } from '../observe/metrics.ts';
import { RetentionScheduler, retentionSettings, type RetentionSettings } from '../observe/retention.ts';
import type { Job, JobAttempt, Store } from '../store/types.ts';
import type { AdminActions } from './context.ts';
import { DIRECTION_NAMES } from './directions.ts';
import { PauseControl, pausedDirections } from './pause.ts';

export interface OperatorSurface {
  metrics: SyncMetrics;
  pauses: PauseControl;
  alerts: AlertMonitor;
  retention: RetentionScheduler;
  /** WorkerPool options. */
  tenantFilter: () => string[] | undefined;
  taskFilter: () => { tenantId: string; task: string }[] | undefined;
  onAttempt: (attempt: JobAttempt, job: Job) => void;
  /** For the HTTP clients. */
  onApiCall: (tenantId: string, call: CallReport) => void;
  onRateLimitWait: (system: string, waitedMs: number) => void;
  /** buildApp options. */
  app: {
    metrics: SyncMetrics;
    pauses: PauseControl;
    onIngestOutcome: (source: 'spry' | 'spruce', outcome: string) => void;
    onSignatureFailure: (tenantId: string) => void;
    adminActions: AdminActions;
  };
  /** Reads the pause state before the workers start claiming. */
  prepare(): Promise<void>;
  start(): void;
  stop(): Promise<void>;
}

export function createOperatorSurface(deps: {
  config: Config;
  store: Store;
  clock: Clock;
  logger: Logger;
  /** The running tenants' ids, kept up to date by the tenant registry; default: the config's. */
  tenantIds?: readonly string[];
  /** Timed alert checks and prunes run only on the instance leading them (several instances on PostgreSQL). */
  runIfLeader?: (duty: string, fn: () => Promise<void>) => Promise<unknown>;
  /** The fan-out store: retention ages its delivery attempts too. */
  fanoutStore?: RetentionSettings['fanout'];
  /** Whether a tenant sends out now (not disabled): its vendors' alerts are held while it does not. */
  tenantSending?: (tenantId: string) => boolean;
}): OperatorSurface {
  const { config, store, clock, logger, runIfLeader } = deps;
  const tenantIds = deps.tenantIds ?? config.tenants.map((t) => t.id);

  const pauses = new PauseControl({
    store,
    clock,
    tenantIds,
    onError: (error) => logger.warn({ code: errorCode(error) }, 'pause state refresh failed; keeping the last known state'),
  });
  const metrics = new SyncMetrics({
    now: () => clock.now(),
    // The tenants served now: a removed tenant's jobs wait for the purge, never to run, and its
    // oldest waiting job would age on /metrics (and fire a rule on it) until then.
    queue: async () => {
      const served = new Set(tenantIds);
      return (await store.queueStats()).filter((row) => served.has(row.tenantId));
    },
    paused: () =>
      tenantIds.flatMap((tenantId) => {
        const paused = pausedDirections(pauses.cached(tenantId));
        return DIRECTION_NAMES.map((direction) => ({ tenantId, direction, paused: paused.includes(direction) }));
      }),
  });
  // Watches the tenants running now; service.ts keeps the list in step with the tenant registry.
  const alerts = new AlertMonitor({
    tenants: config.tenants,
    sending: deps.tenantSending,
    store,
    clock,
    onSent: (notice) => {
      metrics.onAlertSent(notice.tenantId, notice.alert, notice.state);
      logger.warn({ tenantId: notice.tenantId, alert: notice.alert, system: notice.system, state: notice.state, value: notice.value }, 'alert sent');
    },
    onError: (error, tenantId) => logger.error({ tenantId, code: errorCode(error) }, 'alert could not be sent'),
    runIfLeader,
  });
  const retention = new RetentionScheduler({
    store,
    ...retentionSettings(config.retention, { clock, fanout: deps.fanoutStore }),
    everyMinutes: config.retention.pruneEveryMinutes,
    onReport: (report) => {
      metrics.onPruned(report);
      const { events, bytes, olderThan, attempts, fanoutAttempts, durationMs } = report;
      logger.info({ events, bytes, olderThan, attempts, fanoutAttempts, auditArchived: report.audit?.archived, durationMs }, 'retention: pruned');
    },
    onError: (error) => logger.error({ code: errorCode(error) }, 'retention run failed'),
    runIfLeader,
  });

  return {
    metrics,
    pauses,
    alerts,
    retention,
    tenantFilter: () => pauses.tenantFilter(),
    taskFilter: () => pauses.taskFilter(),
    onAttempt: (attempt, job) => {
      metrics.onAttempt(attempt, job);
      // Off the worker's path: a failed read only loses a lag sample.
      observeCompletedJobLag(metrics, store, attempt).catch(() => undefined);
    },
    onApiCall: (tenantId, call) => {
      metrics.onApiCall(tenantId, call);
      alerts.recordApiCall(tenantId, call);
    },
    onRateLimitWait: metrics.onRateLimitWait,
    app: {
      metrics,
      pauses,
      onIngestOutcome: metrics.onIngest,
      onSignatureFailure: alerts.recordSignatureFailure,
      adminActions: { prune: () => retention.runOnce() },
    },
    prepare: () => pauses.refresh(),
    start() {
      // A CLI or another instance may change the pause state: notice within one poll interval.
      pauses.start(config.workers.pollIntervalMs);
      alerts.start(config.admin.alertCheckSeconds * 1000);
      retention.start();
    },
    async stop() {
      pauses.stop();
      alerts.stop();
      await retention.stop();
    },
  };
}
