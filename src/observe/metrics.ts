// Prometheus metrics, in a registry of our own (so tests and several services in one process
// never share counters). Labels are ids and enums only — tenant id, source, outcome, task,
// remote system, route template, HTTP status — never PHI.
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { CallReport } from '../http/types.ts';
import type { OperatorViews } from '../store/ports.ts';
import type { Job, JobAttempt } from '../store/types.ts';

const PREFIX = 'spruce_sync_';

/** Seconds: from a fast local job to a Spry retry schedule of hours. */
const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
const LAG_BUCKETS = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 4 * 3600, 12 * 3600];

export interface QueueSnapshot {
  tenantId: string;
  waiting: number;
  running: number;
  dead: number;
  oldestRunAt: number | null;
}

export interface SyncMetricsOptions {
  /** Epoch ms, for ages. */
  now?: () => number;
  /** Read on every scrape: queue depth and dead letters per tenant. */
  queue?: () => Promise<QueueSnapshot[]>;
  /** Read on every scrape: paused directions per tenant. */
  paused?: () => { tenantId: string; direction: string; paused: boolean }[];
}

export class SyncMetrics {
  readonly registry = new Registry();
  private readonly ingest: Counter<'source' | 'outcome'>;
  private readonly jobDuration: Histogram<'task' | 'outcome'>;
  private readonly eventLag: Histogram<'tenant' | 'source'>;
  private readonly apiCalls: Counter<'tenant' | 'system' | 'route' | 'status'>;
  private readonly apiDuration: Histogram<'system' | 'route'>;
  private readonly rateLimitWait: Histogram<'system'>;
  private readonly pruned: Counter<'kind'>;
  private readonly alerts: Counter<'tenant' | 'alert' | 'state'>;

  constructor(options: SyncMetricsOptions = {}) {
    const registers = [this.registry];
    const now = options.now ?? Date.now;
    this.ingest = new Counter({
      name: `${PREFIX}webhooks_total`,
      help: 'Webhook deliveries answered, by source and outcome (stored, duplicate, bad_signature, …)',
      labelNames: ['source', 'outcome'],
      registers,
    });
    this.jobDuration = new Histogram({
      name: `${PREFIX}job_duration_seconds`,
      help: 'Processing latency: one run of one job, by task and outcome',
      labelNames: ['task', 'outcome'],
      buckets: DURATION_BUCKETS,
      registers,
    });
    this.eventLag = new Histogram({
      name: `${PREFIX}event_lag_seconds`,
      help: 'End-to-end lag: webhook received → its job completed',
      labelNames: ['tenant', 'source'],
      buckets: LAG_BUCKETS,
      registers,
    });
    this.apiCalls = new Counter({
      name: `${PREFIX}api_calls_total`,
      help: 'Outbound API exchanges by tenant, system, route template and HTTP status (0 = no answer)',
      labelNames: ['tenant', 'system', 'route', 'status'],
      registers,
    });
    this.apiDuration = new Histogram({
      name: `${PREFIX}api_call_duration_seconds`,
      help: 'Outbound API exchange duration by system and route template',
      labelNames: ['system', 'route'],
      buckets: DURATION_BUCKETS,
      registers,
    });
    this.rateLimitWait = new Histogram({
      name: `${PREFIX}rate_limit_wait_seconds`,
      help: 'Time a call waited for its rate limiter (our pacing of the remote API)',
      labelNames: ['system'],
      buckets: [0, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    });
    this.pruned = new Counter({
      name: `${PREFIX}retention_pruned_total`,
      help: 'Retention: event payloads removed (kind=events) and their bytes (kind=bytes), job and fan-out attempts deleted (kind=attempts, fanout_attempts), audit rows archived (kind=audit_archived)',
      labelNames: ['kind'],
      registers,
    });
    this.alerts = new Counter({
      name: `${PREFIX}alerts_sent_total`,
      help: 'Alert notifications posted, by tenant, alert and state (firing, resolved)',
      labelNames: ['tenant', 'alert', 'state'],
      registers,
    });

    const queue = options.queue;
    if (queue) {
      // One store query per scrape feeds the three queue gauges.
      let snapshot: { at: number; rows: Promise<QueueSnapshot[]> } | null = null;
      const read = () => {
        // A store hiccup empties the gauges for one scrape rather than failing /metrics (readyz reports the store).
        if (!snapshot || Date.now() - snapshot.at > 1000) snapshot = { at: Date.now(), rows: queue().catch(() => []) };
        return snapshot.rows;
      };
      new Gauge({
        name: `${PREFIX}queue_jobs`,
        help: 'Jobs in the queue per tenant and state (waiting, running)',
        labelNames: ['tenant', 'state'],
        registers,
        async collect() {
          this.reset();
          for (const row of await read()) {
            this.set({ tenant: row.tenantId, state: 'waiting' }, row.waiting);
            this.set({ tenant: row.tenantId, state: 'running' }, row.running);
          }
        },
      });
      new Gauge({
        name: `${PREFIX}dead_letters`,
        help: 'Dead-letter jobs per tenant (replayable)',
        labelNames: ['tenant'],
        registers,
        async collect() {
          this.reset();
          for (const row of await read()) this.set({ tenant: row.tenantId }, row.dead);
        },
      });
      new Gauge({
        name: `${PREFIX}queue_oldest_waiting_seconds`,
        help: 'Age of the oldest due waiting job per tenant (0 when none)',
        labelNames: ['tenant'],
        registers,
        async collect() {
          this.reset();
          const at = now();
          for (const row of await read()) {
            this.set({ tenant: row.tenantId }, row.oldestRunAt === null ? 0 : Math.max(0, (at - row.oldestRunAt) / 1000));
          }
        },
      });
    }
    const paused = options.paused;
    if (paused) {
      new Gauge({
        name: `${PREFIX}paused`,
        help: '1 when a direction of a tenant is paused by an operator',
        labelNames: ['tenant', 'direction'],
        registers,
        collect() {
          this.reset();
          for (const row of paused()) this.set({ tenant: row.tenantId, direction: row.direction }, row.paused ? 1 : 0);
        },
      });
    }
  }

  /**
   * Per tenant, how long until each of its limits (Spruce and Spry budgets, circuits) lets the
   * next call go: a tenant's budget use as the workers see it. Read on every scrape.
   */
  watchAdmission(read: () => { tenantId: string; gauge: string; readyInMs: number }[]): void {
    new Gauge({
      name: `${PREFIX}tenant_ready_in_seconds`,
      help: "Time until a tenant's next call may go, per limit (spruce_budget, spry_budget, spruce_circuit, spry_circuit)",
      labelNames: ['tenant', 'limit'],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const row of read()) this.set({ tenant: row.tenantId, limit: row.gauge }, row.readyInMs / 1000);
      },
    });
  }

  /**
   * Drops a removed tenant's series from the counters and histograms that carry its id (the
   * gauges are rebuilt at every scrape): a deployment whose clinics come and go would otherwise
   * keep every one it ever served until the next restart.
   */
  async forgetTenant(tenantId: string): Promise<void> {
    for (const metric of [this.apiCalls, this.eventLag, this.alerts] as (Counter<string> | Histogram<string>)[]) {
      for (const { labels } of (await metric.get()).values) {
        if (labels.tenant !== tenantId) continue;
        // A histogram lists each series once per bucket, sum and count; the series is its labels
        // without the bucket's `le` (removing it again is a no-op).
        const { le: _bucket, ...series } = labels as Record<string, string | number>;
        metric.remove(series);
      }
    }
  }

  /** For webhookRoutes' onOutcome. */
  readonly onIngest = (source: string, outcome: string): void => {
    this.ingest.inc({ source, outcome });
  };

  /** For the HTTP clients' onCall. Routes are templates (`GET /contacts/{contactId}`), never URLs. */
  readonly onApiCall = (tenantId: string, call: CallReport): void => {
    this.apiCalls.inc({ tenant: tenantId, system: call.system, route: call.route, status: String(call.status) });
    this.apiDuration.observe({ system: call.system, route: call.route }, call.durationMs / 1000);
  };

  /** For WorkerPool's onAttempt. */
  readonly onAttempt = (attempt: JobAttempt, job: Job): void => {
    this.jobDuration.observe({ task: job.task, outcome: attempt.outcome }, Math.max(0, attempt.finishedAt - attempt.startedAt) / 1000);
  };

  observeEventLag(tenantId: string, source: string, lagMs: number): void {
    this.eventLag.observe({ tenant: tenantId, source }, Math.max(0, lagMs) / 1000);
  }

  readonly onRateLimitWait = (system: string, waitedMs: number): void => {
    this.rateLimitWait.observe({ system }, Math.max(0, waitedMs) / 1000);
  };

  onPruned(result: { events: number; bytes: number; attempts?: number; fanoutAttempts?: number; audit?: { archived: number } }): void {
    this.pruned.inc({ kind: 'events' }, result.events);
    this.pruned.inc({ kind: 'bytes' }, result.bytes);
    this.pruned.inc({ kind: 'attempts' }, result.attempts ?? 0);
    this.pruned.inc({ kind: 'fanout_attempts' }, result.fanoutAttempts ?? 0);
    this.pruned.inc({ kind: 'audit_archived' }, result.audit?.archived ?? 0);
  }

  onAlertSent(tenantId: string, alert: string, state: string): void {
    this.alerts.inc({ tenant: tenantId, alert, state });
  }

  /** The Prometheus text exposition. */
  async text(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}

/**
 * After a job completed: the receipt → processed lag of the events it covered, read back from
 * the inbox (a few rows through the job-key index). Sampled to the newest 50 for a huge burst.
 */
export async function observeCompletedJobLag(metrics: SyncMetrics, store: Pick<OperatorViews, 'listEventSummaries'>, attempt: JobAttempt): Promise<void> {
  if (attempt.outcome !== 'succeeded') return;
  const events = await store.listEventSummaries({ tenantId: attempt.tenantId, jobKey: attempt.jobKey, status: 'processed', limit: 50 });
  for (const event of events) {
    // Events an earlier run processed were settled before this run started.
    if (event.updatedAt < attempt.startedAt) break;
    metrics.observeEventLag(attempt.tenantId, event.source, event.updatedAt - event.receivedAt);
  }
}
