// Which instances sharing the database are alive, and the job leases of those that are not.
// Every instance writes a heartbeat row under its worker id every few seconds; one whose row has
// not moved for `deadAfterMs` is gone (a SIGKILL, a lost host), and its leases are cleared at
// once instead of after the lease length (a minute by default). A live instance whose job is only
// slow keeps beating, so its leases stay; one that was merely stalled and wakes up again finds
// its leases gone, and the attempt fence in queue.ts keeps its late outcome from counting.
import type { CancelTimer, Clock } from '../../clock.ts';
import { releaseLeasesOf } from '../sql/leases.ts';
import { sql, type Db } from '../sql/sql.ts';

export const INSTANCES_MIGRATION = {
  version: 7,
  name: 'instance heartbeats',
  sql: `
-- One row per running instance (its worker id), beaten every few seconds: an instance whose row
-- went quiet is gone, and its job leases are reclaimed (instances.ts).
CREATE TABLE instances (
  id           text   PRIMARY KEY,
  started_at   bigint NOT NULL,
  heartbeat_at bigint NOT NULL
);
`,
};

/**
 * Registers an instance that is starting. Any lease already held under its id belongs to an
 * earlier life of the same id (a restarted container keeps its host name and pid 1): cleared.
 * Returns how many leases were cleared.
 */
export function register(db: Db, instanceId: string, now: number): Promise<number> {
  return db.transaction(async (tx) => {
    await tx.run(sql`INSERT INTO instances (id, started_at, heartbeat_at) VALUES (${instanceId}, ${now}, ${now})
                     ON CONFLICT (id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at, started_at = excluded.started_at`);
    return releaseLeasesOf(tx, [instanceId], now);
  });
}

/**
 * A heartbeat, then (when `judge`) the leases of instances silent for `deadAfterMs` cleared.
 * Returns that count.
 */
export function beatAndReclaim(db: Db, instanceId: string, now: number, deadAfterMs: number, judge = true): Promise<number> {
  return db.transaction(async (tx) => {
    await tx.run(sql`INSERT INTO instances (id, started_at, heartbeat_at) VALUES (${instanceId}, ${now}, ${now})
                     ON CONFLICT (id) DO UPDATE SET heartbeat_at = greatest(instances.heartbeat_at, excluded.heartbeat_at)`);
    if (!judge) return 0;
    // The row goes with its leases: one sweep per death. Should that instance only have been
    // stalled, its next heartbeat registers it again.
    const gone = await tx.all<{ id: string }>(sql`DELETE FROM instances WHERE heartbeat_at < ${now - deadAfterMs} AND id <> ${instanceId} RETURNING id`);
    return releaseLeasesOf(tx, gone.map((r) => r.id), now);
  });
}

/** A clean stop: the row goes (its pool has settled every job it held). */
export async function deregister(db: Db, instanceId: string): Promise<void> {
  await db.run(sql`DELETE FROM instances WHERE id = ${instanceId}`);
}

export interface InstanceLivenessOptions {
  /** The worker id this instance's leases are held under. */
  instanceId: string;
  clock: Clock;
  /** How often the row is beaten (and dead instances looked for). Default 2 000 ms. */
  heartbeatMs?: number;
  /** Silent this long = gone. Default 10 000 ms: five missed beats, well under any lease. */
  deadAfterMs?: number;
  /** Leases of a gone instance were cleared (logs). */
  onReclaimed?: (count: number) => void;
  /** A beat failed; the next one tries again. */
  onError?: (error: unknown) => void;
}

/** This instance's heartbeat, which also reclaims the leases of instances that went silent. */
export class InstanceLiveness {
  private cancelTimer: CancelTimer = () => {};
  private beating: Promise<void> | undefined;
  private closed = false;
  /** When our own last beat landed. */
  private lastBeatAt = 0;
  /** Since when our beats have landed without a gap longer than deadAfterMs. */
  private inTouchSince = 0;

  constructor(
    private readonly db: Db,
    private readonly options: InstanceLivenessOptions,
  ) {}

  /** Registers (clearing this id's leases from an earlier life), then beats until close(). */
  async start(): Promise<void> {
    const { instanceId, clock } = this.options;
    const now = clock.now();
    this.report(await register(this.db, instanceId, now));
    this.lastBeatAt = now;
    // A starting instance judges at once: it was not cut off, it was not running.
    this.inTouchSince = now - this.deadAfterMs;
    this.schedule();
  }

  async close(): Promise<void> {
    this.closed = true;
    this.cancelTimer();
    await this.beating;
    await deregister(this.db, this.options.instanceId).catch((error: unknown) => this.options.onError?.(error));
  }

  /** One beat now (the timer's, or a test's): returns how many leases of gone instances it cleared. */
  async beat(): Promise<number> {
    const { instanceId, clock } = this.options;
    const deadAfterMs = this.deadAfterMs;
    const now = clock.now();
    // Out of touch ourselves (the database was unreachable, this process stalled), we cannot
    // tell a dead instance from one cut off as we were: we judge nobody until we have been back
    // for deadAfterMs, which gives the others as long to beat again.
    if (now - this.lastBeatAt > deadAfterMs) this.inTouchSince = now;
    const judge = now - this.inTouchSince >= deadAfterMs;
    const released = await beatAndReclaim(this.db, instanceId, now, deadAfterMs, judge);
    this.lastBeatAt = now;
    this.report(released);
    return released;
  }

  private schedule(): void {
    if (this.closed) return;
    this.cancelTimer = this.options.clock.setTimer(this.options.heartbeatMs ?? 2_000, () => {
      this.beating = this.beat()
        .then(
          () => {},
          (error: unknown) => this.options.onError?.(error),
        )
        .finally(() => {
          this.beating = undefined;
          this.schedule();
        });
    });
  }

  private get deadAfterMs(): number {
    return this.options.deadAfterMs ?? 10_000;
  }

  private report(released: number): void {
    if (released > 0) this.options.onReclaimed?.(released);
  }
}
