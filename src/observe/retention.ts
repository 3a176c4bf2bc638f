// Retention, so a busy clinic's database does not grow forever:
// - payloads of finished inbox events (processed, ignored, test) are removed once older than
//   retention.payloadDays. Rows stay (ids, type, status, times: the event log and the dedupe
//   keys keep working); dead letters and queued events keep their payloads, since they will be
//   read again;
// - job attempts and fan-out delivery attempts older than retention.attemptDays are deleted;
// - with retention.auditArchiveAfterDays, older audit rows move to gzip files (audit-archive.ts);
//   without it the audit trail is never deleted.
// Every delete runs in short batches. Runs on a timer in the service and on demand (CLI, admin API).
import type { CancelTimer, Clock } from '../clock.ts';
import type { Config } from '../config/schema.ts';
import type { FanoutStore } from '../fanout/types.ts';
import type { OperatorViews, StorageRetention, SyncState } from '../store/ports.ts';
import { archiveAudit, type ArchiveReport } from './audit-archive.ts';

/** What retention needs of the store: pruning, archiving, and a place to keep its last report. */
type RetentionStore = Pick<OperatorViews, 'prunePayloads' | 'refreshStatistics'> &
  Pick<SyncState, 'getState' | 'setState'> &
  Pick<StorageRetention, 'pruneJobAttempts' | 'listAuditPage' | 'recordAuditArchive' | 'listAuditArchives' | 'deleteArchivedAudit'>;

const DAY_MS = 24 * 60 * 60 * 1000;

/** Where the last report is kept (kv state of the reserved, never-configured tenant `_service`). */
export const RETENTION_STATE = { tenantId: '_service', key: 'retention.last' } as const;

export interface PruneReport {
  /** Payloads of events received before this time were removed. */
  olderThan: number;
  events: number;
  bytes: number;
  /** Job attempts finished before this time were deleted. */
  attemptsOlderThan?: number;
  /** Job attempts deleted. */
  attempts?: number;
  /** Fan-out delivery attempts deleted (absent when the run had no fan-out store). */
  fanoutAttempts?: number;
  /** The audit archive run, when retention.auditArchiveAfterDays is set. */
  audit?: ArchiveReport;
  startedAt: number;
  durationMs: number;
}

export interface RetentionSettings {
  clock: Clock;
  payloadDays: number;
  attemptDays: number;
  /** Set: audit rows older than `afterDays` are archived to `dir`. */
  auditArchive?: { afterDays: number; dir: string };
  /** The fan-out store, whose delivery attempts age like job attempts. */
  fanout?: Pick<FanoutStore, 'pruneAttempts'>;
}

/** The settings of the `retention` config section (`days` overrides payloadDays and attemptDays, for `spruce-sync prune --days`). */
export function retentionSettings(
  config: Config['retention'],
  deps: { clock: Clock; fanout?: RetentionSettings['fanout']; days?: number },
): RetentionSettings {
  const { auditArchiveAfterDays: afterDays, auditArchiveDir: dir } = config;
  return {
    clock: deps.clock,
    fanout: deps.fanout,
    payloadDays: deps.days ?? config.payloadDays,
    attemptDays: deps.days ?? config.attemptDays,
    auditArchive: afterDays !== undefined && dir !== undefined ? { afterDays, dir } : undefined,
  };
}

/** Whole milliseconds: a fractional age (1.5 days is fine, 1/3 is not) must not reach a bigint column. */
const cutoff = (now: number, days: number) => Math.floor(now - days * DAY_MS);

export async function runRetention(store: RetentionStore, settings: RetentionSettings): Promise<PruneReport> {
  const { clock } = settings;
  const startedAt = clock.now();
  const olderThan = cutoff(startedAt, settings.payloadDays);
  const { events, bytes } = await store.prunePayloads({ olderThan });
  const attemptsOlderThan = cutoff(startedAt, settings.attemptDays);
  const attempts = await store.pruneJobAttempts({ olderThan: attemptsOlderThan });
  const fanoutAttempts = settings.fanout ? await settings.fanout.pruneAttempts({ olderThan: attemptsOlderThan }) : undefined;
  const audit = settings.auditArchive ? await archiveAudit(store, { clock, ...settings.auditArchive }) : undefined;
  // The same maintenance window keeps the planner's statistics fresh for the dashboard's searches.
  await store.refreshStatistics();
  const report: PruneReport = { olderThan, events, bytes, attemptsOlderThan, attempts, fanoutAttempts, audit, startedAt, durationMs: clock.now() - startedAt };
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

export interface RetentionSchedulerOptions extends RetentionSettings {
  store: RetentionStore;
  /** 0 = never on a timer. */
  everyMinutes: number;
  onReport?: (report: PruneReport) => void;
  onError?: (error: unknown) => void;
  /** Runs the timed prune only where this instance leads the `retention` duty. Default: always. */
  runIfLeader?: (duty: string, fn: () => Promise<void>) => Promise<unknown>;
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
    const runIfLeader = this.options.runIfLeader ?? ((_duty, fn) => fn());
    const tick = () => {
      runIfLeader('retention', async () => void (await this.runOnce()))
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
    this.running ??= runRetention(this.options.store, this.options)
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
