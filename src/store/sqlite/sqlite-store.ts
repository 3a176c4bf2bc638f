// The embedded Store: one SQLite file in WAL mode. A fresh machine runs everything with no
// database server. The statements are shared (sql/); what is SQLite's own is here: a burst of
// webhook inserts committed together, and a sampled ANALYZE.
import { cipherFor, type EncryptionOptions } from '../cipher.ts';
import { eventIdSql, eventValues, insertEventSql } from '../sql/inbox.ts';
import { COALESCE_INTO_EXISTING, JOB_COLUMNS, jobValues, requeueDeadEventsSql } from '../sql/queue.ts';
import { sql, type Sql } from '../sql/sql.ts';
import { SqlStore } from '../sql/sql-store.ts';
import type { EnqueueJob, NewInboundEvent } from '../types.ts';
import { SqliteDb, type SqliteOptions } from './db.ts';
import { GroupCommit, ItemFailure, type GroupCommitStats } from './group-commit.ts';
import { migrate } from './migrations.ts';
import { releaseAllLeases } from '../sql/leases.ts';

/**
 * queue.ts's enqueue upsert with the event's id as the job's last_event_id (the larger one
 * kept), as the PostgreSQL adapter's insert does: one statement where there were two.
 */
function enqueueFedSql(tenantId: string, job: EnqueueJob, now: number, eventId: number): Sql {
  return sql`
    INSERT INTO jobs AS j (${JOB_COLUMNS}, last_event_id)
    VALUES (${jobValues(tenantId, job, now)}, ${eventId})
    ON CONFLICT (tenant_id, key) DO UPDATE SET ${COALESCE_INTO_EXISTING},
       last_event_id = max(j.last_event_id, excluded.last_event_id)`;
}

export interface SqliteStoreOptions extends SqliteOptions, EncryptionOptions {}

type Inserted = { id: number; inserted: boolean };

export class SqliteStore extends SqlStore {
  private readonly sqlite: SqliteDb;
  private readonly inserts: GroupCommit<NewInboundEvent, Inserted>;

  /** `filename` is a path or `:memory:`. */
  constructor(filename: string, options: SqliteStoreOptions = {}) {
    const db = new SqliteDb(filename, options);
    super(db, cipherFor(options));
    this.sqlite = db;
    // Each insert is acknowledged to its sender as soon as it commits: durable, one fsync per
    // batch. The batch runs synchronously, as one step of the event loop: a webhook's answer
    // waits for nothing else the process is doing. The batch's events go in one after the other
    // with no savepoint each (a savepoint per event cost more than its job upsert); an event that
    // fails rolls the whole batch back, and only then is it run again with each event under its
    // own savepoint (a nested better-sqlite3 transaction), so that one failure fails only itself.
    const insertEach = (events: NewInboundEvent[]) => events.map((event) => this.insertOne(event));
    const isolated = db.db.transaction((event: NewInboundEvent) => this.insertOne(event));
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

  migrate(): Promise<void> {
    return this.sqlite.direct((db) => migrate(db));
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
    this.sqlite.close();
  }

  insertEvent(event: NewInboundEvent): Promise<Inserted> {
    return this.inserts.submit(event);
  }

  /** Stores one event, enqueues its job and feeds it (the newest event it covers); the caller holds the transaction. */
  private insertOne(event: NewInboundEvent): Inserted {
    const get = (query: Sql) => this.sqlite.exec(query, 'get') as { id: number } | undefined;
    const row = get(insertEventSql(eventValues(event, this.cipher)));
    if (!row) return { id: get(eventIdSql(event))!.id, inserted: false };
    const { job } = event;
    if (job) {
      // The job row is upserted already fed this event (its newest), in one statement.
      this.sqlite.exec(enqueueFedSql(event.tenantId, job, event.receivedAt, row.id), 'run');
      this.sqlite.exec(requeueDeadEventsSql(event.tenantId, job.key, event.receivedAt), 'run');
    }
    return { id: row.id, inserted: true };
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
