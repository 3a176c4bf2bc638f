// Retention: payloads of finished inbox events (processed, ignored, test) are removed once older
// than the configured age. Rows stay (ids, type, status, times: the event log and the dedupe
// keys keep working); dead letters and queued events keep their payloads, since they will be
// read again. Runs on a timer in the service and on demand (CLI, admin API).
import type { CancelTimer, Clock } from '../clock.ts';
import type { OperatorViews, SyncState } from '../store/ports.ts';

/** What retention needs of the store: pruning, and a place to keep its last report. */
type RetentionStore = Pick<OperatorViews, 'prunePayloads' | 'refreshStatistics'> & Pick<SyncState, 'getState' | 'setState'>;

const DAY_MS = 24 * 60 * 60 * 1000;

/** Where the last report is kept (kv state of the reserved, never-configured tenant `_service`). */
export const RETENTION_STATE = { tenantId: '_service', key: 'retention.last' } as const;

export interface PruneReport {
  /** Payloads of events received before this time were removed. */
  olderThan: number;
  events: number;
  bytes: number;
  startedAt: number;
  durationMs: number;
}

export async function pruneInbox(store: RetentionStore, options: { clock: Clock; payloadDays: number }): Promise<PruneReport> {
  const startedAt = options.clock.now();
  // Whole milliseconds: a fractional age (1.5 days is fine, 1/3 is not) must not reach a bigint column.
  const olderThan = Math.floor(startedAt - options.payloadDays * DAY_MS);
  const { events, bytes } = await store.prunePayloads({ olderThan });
  // The same maintenance window keeps the planner's statistics fresh for the dashboard's searches.
  await store.refreshStatistics();
  const report = { olderThan, events, bytes, startedAt, durationMs: options.clock.now() - startedAt };
  await store.setState(RETENTION_STATE.tenantId, RETENTION_STATE.key, JSON.stringify(report));
  return report;
}

export async function lastPruneReport(store: Pick<SyncState, 'getState'>): Promise<PruneReport | null> {
  const text = await store.getState(RETENTION_STATE.tenantId, RETENTION_STATE.key);
  if (!text) return null;
  try {
    return JSON.parse(text) as PruneReport;
  } catch {
    return null;
  }
}

export interface RetentionSchedulerOptions {
  store: RetentionStore;
  clock: Clock;
  payloadDays: number;
  /** 0 = never on a timer. */
  everyMinutes: number;
  onReport?: (report: PruneReport) => void;
  onError?: (error: unknown) => void;
}

/**
 * Prunes a minute after start (so a restart also refreshes the planner's statistics soon), then
 * every `everyMinutes`; runs never overlap.
 */
export class RetentionScheduler {
  private readonly options: RetentionSchedulerOptions;
  private cancel: CancelTimer | null = null;
  private running: Promise<PruneReport> | null = null;

  constructor(options: RetentionSchedulerOptions) {
    this.options = options;
  }

  start(): void {
    const { everyMinutes, clock } = this.options;
    if (everyMinutes <= 0 || this.cancel) return;
    const tick = () => {
      this.runOnce()
        .catch(() => undefined)
        .finally(() => {
          if (this.cancel) this.cancel = clock.setTimer(everyMinutes * 60_000, tick);
        });
    };
    this.cancel = clock.setTimer(Math.min(1, everyMinutes) * 60_000, tick);
  }

  /** Stops the timer and waits for a run in progress. */
  async stop(): Promise<void> {
    this.cancel?.();
    this.cancel = null;
    await this.running?.catch(() => undefined);
  }

  /** Prunes now (or joins the run in progress) and reports what it did. */
  runOnce(): Promise<PruneReport> {
    this.running ??= pruneInbox(this.options.store, this.options)
      .then(
        (report) => {
          this.options.onReport?.(report);
          return report;
        },
        (error: unknown) => {
          this.options.onError?.(error);
          throw error;
        },
      )
      .finally(() => {
        this.running = null;
      });
    return this.running;
  }
}
