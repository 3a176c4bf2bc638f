// The embedded Store: one SQLite file in WAL mode. A fresh machine runs everything with no
// database server. The statements are shared (sql/); what is SQLite's own is here: a burst of
// webhook inserts staged and committed together, filed into the event log in larger batches,
// and a sampled ANALYZE.
import { cipherFor, type EncryptionOptions } from '../cipher.ts';
import { eventValues } from '../sql/inbox.ts';
import { sql, type Sql } from '../sql/sql.ts';
import { SqlStore } from '../sql/sql-store.ts';
import type { ClaimOptions, Job, NewInboundEvent } from '../types.ts';
import { SqliteDb, type SqliteOptions } from './db.ts';
import { GroupCommit, ItemFailure, type GroupCommitStats } from './group-commit.ts';
import { migrate } from './migrations.ts';
import { releaseAllLeases } from '../sql/leases.ts';
import {
  anyStagedSql,
  clearFiledSql,
  fileEventsSql,
  filingBoundSql,
  feedStagedJobsSql,
  knownEventIdSql,
  requeueDeadOfStagedSql,
  StagedDeadline,
  stageEventSql,
} from './staged-events.ts';

/**
 * Staged rows filed per transaction: a bigger batch shares more index pages but holds the event
 * loop longer. 500 cost the ingest p99 30 ms more than 200 did, for 5 % less CPU per webhook
 * (docs/BENCHMARKS.md, "Ingest: a staged inbox").
 */
const FILING_BATCH = 200;
/** How long an event with no job may stay staged (it is only shown in the event log). */
const JOBLESS_SETTLE_MS = 100;
/** After a filing failed (disk full, I/O error), the next try. */
const FILING_RETRY_MS = 1000;
/** How often claims look for rows staged by another process on the file. */
const LOOK_AROUND_MS = 1000;

export interface SqliteStoreOptions extends SqliteOptions, EncryptionOptions {}

type Inserted = { id: number; inserted: boolean };

export class SqliteStore extends SqlStore {
  private readonly sqlite: SqliteDb;
  private readonly inserts: GroupCommit<NewInboundEvent, Inserted>;
  private readonly deadline: StagedDeadline;
  /** The filing running now, which later callers wait for rather than start another. */
  private filing: Promise<void> | null = null;
  /** performance.now() after which a claim looks for other processes' staged rows. */
  private nextLookAround = performance.now() + LOOK_AROUND_MS;

  /** `filename` is a path or `:memory:`. */
  constructor(filename: string, options: SqliteStoreOptions = {}) {
    const db = new SqliteDb(filename, options);
    super(db, cipherFor(options));
    this.sqlite = db;
    // Unprompted filing (the deadline's timer): a failure is retried by fileAll's own re-arming.
    this.deadline = new StagedDeadline(() => void this.settleInbox().catch(() => undefined), JOBLESS_SETTLE_MS);
    // Each insert is staged and acknowledged to its sender as soon as it commits: durable, one
    // fsync per batch. The batch runs synchronously, as one step of the event loop: a webhook's answer
    // waits for nothing else the process is doing. The batch's events go in one after the other
    // with no savepoint each (a savepoint per event cost more than its job upsert); an event that
    // fails rolls the whole batch back, and only then is it run again with each event under its
    // own savepoint (a nested better-sqlite3 transaction), so that one failure fails only itself.
    const insertEach = (events: NewInboundEvent[]) => events.map((event) => this.stageOne(event));
    const isolated = db.db.transaction((event: NewInboundEvent) => this.stageOne(event));
    const insertIsolated = (events: NewInboundEvent[]) =>
      events.map((event) => {
        try {
          return isolated(event);
        } catch (error) {
          return new ItemFailure(error);
        }
      });
    this.inserts = new GroupCommit(async (events) => {
      try {
        return await db.durableSync(() => insertEach(events));
      } catch (error) {
        // A lone event's error is its own; the batch was rolled back as a whole, so nothing of it is stored.
        if (events.length === 1) throw error;
        return db.durableSync(() => insertIsolated(events));
      }
    });
  }

  /** Group-commit counters: how many transactions carried how many inserts. */
  get insertStats(): GroupCommitStats {
    return this.inserts.stats;
  }

  async migrate(): Promise<void> {
    await this.sqlite.direct((db) => migrate(db));
    // Rows a stopped process staged and did not file: their deadlines are unknown, so now.
    this.deadline.markUnknown();
  }

  /**
   * Files every staged event (staged-events.ts), this process's and any another process on the
   * file left behind; concurrent callers share one filing.
   */
  override async settleInbox(): Promise<void> {
    if (!this.deadline.pending && !(await this.anyStaged())) return this.filing ?? undefined;
    this.filing ??= this.fileAll().finally(() => (this.filing = null));
    return this.filing;
  }

  /**
   * A claim first files what may be due, so that no due job is missed for being staged; now
   * and then also rows another process staged (a command run beside the service) and did not file.
   */
  override async claimJobs(options: ClaimOptions): Promise<Job[]> {
    const lookAround = performance.now() >= this.nextLookAround;
    if (this.deadline.isDue(options.now) || lookAround) {
      if (lookAround) this.nextLookAround = performance.now() + LOOK_AROUND_MS;
      await this.settleInbox();
    }
    return super.claimJobs(options);
  }

  private async anyStaged(): Promise<boolean> {
    return (await this.sqlite.get<{ staged: number }>(anyStagedSql))!.staged === 1;
  }

  /**
   * At the service's start: one process owns the file, so every job lease in it was left by a
   * process that is gone (killed, crashed, powered off); cleared rather than waited out.
   */
  reclaimLeasesAtStart(now: number): Promise<number> {
    return releaseAllLeases(this.db, now);
  }

  async ping(): Promise<void> {
    await this.sqlite.get(sql`SELECT 1`);
  }

  async close(): Promise<void> {
    await this.inserts.settle();
    // Closing again (a service and its sandbox both close it) has nothing left to file.
    if (this.sqlite.db.open) await this.settleInbox();
    this.deadline.disarm();
    this.sqlite.close();
  }

  insertEvent(event: NewInboundEvent): Promise<Inserted> {
    return this.inserts.submit(event);
  }

  /** Stages one event (the caller holds the transaction); a repeat gets the id it already has. */
  private stageOne(event: NewInboundEvent): Inserted {
    const get = (query: Sql) => this.sqlite.exec(query, 'get') as { id: number; job_run_at?: number | null } | undefined;
    const row = get(stageEventSql(eventValues(event, this.cipher)));
    if (!row) return { id: get(knownEventIdSql(event))!.id, inserted: false };
    this.deadline.staged(event, row.job_run_at ?? null);
    return { id: row.id, inserted: true };
  }

  private async fileAll(): Promise<void> {
    try {
      let more = true;
      while (more) {
        more = await this.sqlite.sync(() => this.fileBatch());
        // Webhooks that arrived meanwhile are acknowledged before the next batch.
        if (more) await new Promise((resolve) => setImmediate(resolve));
      }
    } catch (error) {
      // Nothing of the failed batch was filed (rolled back): try again a little later.
      this.deadline.markUnknown(FILING_RETRY_MS);
      throw error;
    }
  }

  /**
   * Files the oldest staged rows into events and feeds their jobs, one upsert per key (and its
   * dead events requeued, as an enqueue does), each step one statement; returns whether rows
   * remain. When none do, the deadline is cleared in the same synchronous step, before any new
   * row can be staged.
   */
  private fileBatch(): boolean {
    const exec = (query: Sql, mode: 'all' | 'get' | 'run') => this.sqlite.exec(query, mode);
    const { upto, now, rows } = exec(filingBoundSql(FILING_BATCH), 'get') as { upto: number | null; now: number; rows: number };
    if (upto !== null) {
      exec(fileEventsSql(upto), 'run');
      exec(feedStagedJobsSql(upto), 'run');
      exec(requeueDeadOfStagedSql(upto, now), 'run');
      exec(clearFiledSql(upto), 'run');
    }
    // Nothing can be staged while this transaction holds the file: a short batch was the last.
    const more = rows === FILING_BATCH;
    if (!more) this.deadline.filed();
    return more;
  }

  /**
   * Without statistics SQLite may walk (tenant_id, id) backwards for a rare job key or patient and
   * take hundreds of ms at a million events; with them it picks the narrow index (< 1 ms).
   * Sampled (analysis_limit), it takes about 0.3 s on a million events.
   */
  async refreshStatistics(): Promise<void> {
    await this.sqlite.direct((db) => {
      db.pragma('analysis_limit = 1000');
      db.exec('ANALYZE');
    });
  }
}
