// A tenant's health at a glance: backlog, throughput, lag, errors, dead letters, pause state and
// the last backfill / reconcile, plus per-minute activity for the dashboard's charts.
import type { ActivityBucket } from '../store/admin-types.ts';
import { DRY_RUN_SUMMARY_KEY } from '../sync/backfill-admin.ts';
import type { AdminContext } from './context.ts';
import { requireTenant } from './context.ts';
import type { PauseState } from './pause.ts';

/** kv state keys written by backfill and reconciliation (JSON), shown as they are. */
export const BACKFILL_STATE_KEY = 'backfill.last';
export const RECONCILE_STATE_KEY = 'reconcile.last';

export interface TenantHealth {
  tenantId: string;
  paused: PauseState;
  queue: {
    waitingJobs: number;
    runningJobs: number;
    deadJobs: number;
    queuedEvents: number;
    deadEvents: number;
    oldestQueuedAt: number | null;
    oldestQueuedAgeMs: number | null;
  };
  window: {
    minutes: number;
    received: number;
    processed: number;
    dead: number;
    throughputPerMinute: number;
    attempts: number;
    failedAttempts: number;
    /** Failed share of attempts (retrying or dead); null without attempts. */
    errorRate: number | null;
    lagMsAvg: number | null;
    lagMsMax: number | null;
  };
  activity: ActivityBucket[];
  backfill: Record<string, unknown> | null;
  /** The summary of the last backfill dry run started from the admin API (kept apart so it never hides a real run's). */
  backfillDryRun: Record<string, unknown> | null;
  reconcile: Record<string, unknown> | null;
}

export interface HealthOptions {
  /** The window of the counts and charts. Default 60. */
  minutes?: number;
  /** Chart resolution. Default 1. */
  bucketMinutes?: number;
}

function stateObject(text: string | null): Record<string, unknown> | null {
  if (text === null) return null;
  try {
    const value = JSON.parse(text) as unknown;
    return value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : { value };
  } catch {
    return { value: text };
  }
}

export async function tenantHealth(ctx: AdminContext, tenantId: string, options: HealthOptions = {}): Promise<TenantHealth> {
  requireTenant(ctx, tenantId);
  const { store, clock } = ctx;
  const minutes = options.minutes ?? 60;
  const bucketMs = (options.bucketMinutes ?? 1) * 60_000;
  const now = clock.now();
  // Whole buckets, ending with the current one.
  const until = Math.floor(now / bucketMs) * bucketMs + bucketMs;
  const since = until - Math.ceil((minutes * 60_000) / bucketMs) * bucketMs;
  const [jobs, backlog, activity, attempts, paused, backfill, backfillDryRun, reconcile] = await Promise.all([
    store.queueStats(tenantId),
    store.inboxBacklog(tenantId),
    store.eventActivity(tenantId, since, until, bucketMs),
    store.attemptCounts(tenantId, now - minutes * 60_000),
    ctx.pauses.read(tenantId),
    store.getState(tenantId, BACKFILL_STATE_KEY),
    store.getState(tenantId, DRY_RUN_SUMMARY_KEY),
    store.getState(tenantId, RECONCILE_STATE_KEY),
  ]);
  const job = jobs[0] ?? { waiting: 0, running: 0, dead: 0 };
  const sum = (pick: (b: ActivityBucket) => number) => activity.reduce((total, bucket) => total + pick(bucket), 0);
  const processed = sum((b) => b.processed);
  const lagWeighted = sum((b) => (b.lagMsAvg ?? 0) * b.processed);
  const lagMax = activity.reduce<number | null>((max, b) => (b.lagMsMax === null ? max : Math.max(max ?? 0, b.lagMsMax)), null);
  const attemptTotal = attempts.succeeded + attempts.retrying + attempts.dead;
  const failed = attempts.retrying + attempts.dead;
  return {
    tenantId,
    paused,
    queue: {
      waitingJobs: job.waiting,
      runningJobs: job.running,
      deadJobs: job.dead,
      queuedEvents: backlog.queued,
      deadEvents: backlog.dead,
      oldestQueuedAt: backlog.oldestQueuedAt,
      oldestQueuedAgeMs: backlog.oldestQueuedAt === null ? null : Math.max(0, now - backlog.oldestQueuedAt),
    },
    window: {
      minutes,
      received: sum((b) => b.received),
      processed,
      dead: sum((b) => b.dead),
      throughputPerMinute: Math.round((processed / minutes) * 100) / 100,
      attempts: attemptTotal,
      failedAttempts: failed,
      errorRate: attemptTotal === 0 ? null : Math.round((failed / attemptTotal) * 1000) / 1000,
      lagMsAvg: processed === 0 ? null : Math.round(lagWeighted / processed),
      lagMsMax: lagMax,
    },
    activity,
    backfill: stateObject(backfill),
    backfillDryRun: stateObject(backfillDryRun),
    reconcile: stateObject(reconcile),
  };
}
