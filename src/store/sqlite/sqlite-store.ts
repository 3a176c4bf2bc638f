// The embedded Store: one SQLite file in WAL mode. A fresh machine runs everything with no
// database server.
import { createCipher, type Cipher } from '../cipher.ts';
import {
  byRunAtThenId,
  sealLedgerFields,
  toAttempt,
  toAudit,
  toJob,
  toLedger,
  toLink,
  toQueueStats,
  type AttemptRow,
  type AuditRow,
  type LedgerRow,
  type LinkRow,
  type QueueStatsRow,
} from '../rows.ts';
import type {
  AuditEntry,
  ClaimOptions,
  ContactLink,
  EnqueueJob,
  EventQuery,
  EventSource,
  FailJob,
  InboundEvent,
  Job,
  JobAttempt,
  LedgerEntry,
  NewInboundEvent,
  Store,
} from '../types.ts';
import type * as views from '../admin-types.ts';
import * as admin from './admin.ts';
import { Sqlite, type SqliteOptions } from './db.ts';
import { GroupCommit, ItemFailure, type GroupCommitStats } from './group-commit.ts';
import * as inbox from './inbox.ts';
import { migrate } from './migrations.ts';
import * as queue from './queue.ts';
import { reclaimAllLeases } from './reclaim.ts';

export interface SqliteStoreOptions extends SqliteOptions {
  encryptionKey?: string;
}

type Inserted = { id: number; inserted: boolean };

export class SqliteStore implements Store {
  private readonly sql: Sqlite;
  private readonly cipher: Cipher;
  private readonly inserts: GroupCommit<NewInboundEvent, Inserted>;
  private readonly insertUnderSavepoint: (event: NewInboundEvent) => Inserted;

  /** `filename` is a path or `:memory:`. */
  constructor(filename: string, options: SqliteStoreOptions = {}) {
    this.sql = new Sqlite(filename, options);
    this.cipher = createCipher(options.encryptionKey);
    // Called inside the batch's transaction, better-sqlite3 runs this under a savepoint.
    this.insertUnderSavepoint = this.sql.db.transaction((event: NewInboundEvent) => inbox.insertEvent(this.sql, this.cipher, event));
    // Each insert is acknowledged to its sender as soon as it commits: durable, one fsync per batch.
    this.inserts = new GroupCommit((events) => this.sql.durableWrite(() => events.map((event) => this.insertIsolated(event))));
  }

  /** Group-commit counters: how many transactions carried how many inserts. */
  get insertStats(): GroupCommitStats {
    return this.inserts.stats;
  }

  async migrate(): Promise<void> {
    migrate(this.sql.db);
  }

  /** At the service's start: every lease in the file was left by a process that is gone. */
  async reclaimLeasesAtStart(now: number): Promise<number> {
    return reclaimAllLeases(this.sql, now);
  }

  async ping(): Promise<void> {
    this.sql.get('SELECT 1');
  }

  async close(): Promise<void> {
    await this.inserts.settle();
    this.sql.close();
  }

  // Inbox --------------------------------------------------------------------------------------

  insertEvent(event: NewInboundEvent): Promise<Inserted> {
    return this.inserts.submit(event);
  }

  /** One event inside the batch, under a savepoint: its failure rolls back only itself. */
  private insertIsolated(event: NewInboundEvent): Inserted | ItemFailure {
    try {
      return this.insertUnderSavepoint(event);
    } catch (error) {
      return new ItemFailure(error);
    }
  }

  async getEvent(id: number): Promise<InboundEvent | null> {
    return inbox.getEvent(this.sql, this.cipher, id);
  }

  async listQueuedEvents(tenantId: string, jobKey: string, uptoId: number): Promise<InboundEvent[]> {
    return inbox.listQueuedEvents(this.sql, this.cipher, tenantId, jobKey, uptoId);
  }

  async searchEvents(query: EventQuery): Promise<InboundEvent[]> {
    return inbox.searchEvents(this.sql, this.cipher, query);
  }

  async latestEventTime(tenantId: string, source: EventSource): Promise<number | null> {
    return inbox.latestEventTime(this.sql, tenantId, source);
  }

  // Queue --------------------------------------------------------------------------------------

  async enqueueJob(tenantId: string, job: EnqueueJob, now: number): Promise<void> {
    this.sql.write(() => queue.enqueue(this.sql, tenantId, job, now));
  }

  async claimJobs(options: ClaimOptions): Promise<Job[]> {
    if (options.limit <= 0 || options.tenantIds?.length === 0) return [];
    return this.sql.write(() => queue.claim(this.sql, options)).map(toJob).sort(byRunAtThenId);
  }

  async renewLease(jobId: number, workerId: string, lockedUntil: number): Promise<boolean> {
    return queue.renewLease(this.sql, jobId, workerId, lockedUntil);
  }

  async completeJob(job: Job, workerId: string, now: number): Promise<void> {
    this.sql.write(() => queue.complete(this.sql, job.id, workerId, job.attempts, job.lastEventId, now));
  }

  async failJob(job: Job, failure: FailJob): Promise<void> {
    const { retryAt } = failure;
    this.sql.write(() =>
      retryAt === undefined ? queue.bury(this.sql, failure, job.lastEventId, job.attempts) : queue.retryLater(this.sql, { ...failure, retryAt }, job.attempts),
    );
  }

  async recordAttempt(attempt: JobAttempt): Promise<void> {
    this.sql.run(
      `INSERT INTO job_attempts (job_id, tenant_id, job_key, started_at, finished_at, outcome, error_code, request_id)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      [
        attempt.jobId,
        attempt.tenantId,
        attempt.jobKey,
        attempt.startedAt,
        attempt.finishedAt,
        attempt.outcome,
        attempt.errorCode,
        attempt.requestId,
      ],
    );
  }

  async listAttempts(jobKey: string, tenantId: string): Promise<JobAttempt[]> {
    return this.sql
      .all<AttemptRow>('SELECT * FROM job_attempts WHERE tenant_id = ? AND job_key = ? ORDER BY id', [tenantId, jobKey])
      .map(toAttempt);
  }

  async queueStats(tenantId?: string) {
    return this.sql
      .all<QueueStatsRow>(
        `SELECT tenant_id,
           sum(state = 'waiting' AND locked_by IS NULL)     AS waiting,
           sum(state = 'waiting' AND locked_by IS NOT NULL) AS running,
           sum(state = 'dead')                              AS dead,
           min(CASE WHEN state = 'waiting' AND locked_by IS NULL THEN run_at END) AS oldest_run_at
         FROM jobs
         WHERE @tenantId IS NULL OR tenant_id = @tenantId
         GROUP BY tenant_id
         ORDER BY tenant_id`,
        { tenantId: tenantId ?? null },
      )
      .map(toQueueStats);
  }

  async replayDeadJob(tenantId: string, jobKey: string, now: number): Promise<boolean> {
    return this.sql.write(() => queue.replayDead(this.sql, tenantId, jobKey, now));
  }

  // Sync state ---------------------------------------------------------------------------------

  async getLinkByPatient(tenantId: string, patientId: number): Promise<ContactLink | null> {
    const row = this.sql.get<LinkRow>('SELECT * FROM links WHERE tenant_id = ? AND patient_id = ?', [tenantId, patientId]);
    return row ? toLink(row) : null;
  }

  async getLinkByContact(tenantId: string, contactId: string): Promise<ContactLink | null> {
    const row = this.sql.get<LinkRow>('SELECT * FROM links WHERE tenant_id = ? AND contact_id = ?', [tenantId, contactId]);
    return row ? toLink(row) : null;
  }

  async upsertLink(tenantId: string, patientId: number, contactId: string, now: number): Promise<void> {
    this.sql.write(() => {
      // The contact may belong to another patient: that link goes, keeping one patient per contact.
      this.sql.run('DELETE FROM links WHERE tenant_id = ? AND contact_id = ? AND patient_id <> ?', [tenantId, contactId, patientId]);
      this.sql.run(
        `INSERT INTO links (tenant_id, patient_id, contact_id, created_at, updated_at) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (tenant_id, patient_id) DO UPDATE SET
           contact_id = excluded.contact_id,
           created_at = CASE WHEN links.contact_id = excluded.contact_id THEN links.created_at ELSE excluded.created_at END,
           updated_at = excluded.updated_at`,
        [tenantId, patientId, contactId, now, now],
      );
    });
  }

  async deleteLinkByContact(tenantId: string, contactId: string): Promise<void> {
    this.sql.run('DELETE FROM links WHERE tenant_id = ? AND contact_id = ?', [tenantId, contactId]);
  }

  async getLedger(tenantId: string, system: LedgerEntry['system'], recordId: string): Promise<LedgerEntry | null> {
    const row = this.sql.get<LedgerRow>('SELECT * FROM ledger WHERE tenant_id = ? AND system = ? AND record_id = ?', [
      tenantId,
      system,
      recordId,
    ]);
    return row ? toLedger(row, this.cipher) : null;
  }

  async putLedger(entry: LedgerEntry): Promise<void> {
    this.sql.run(
      `INSERT INTO ledger (tenant_id, system, record_id, fields, hash, written_at) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (tenant_id, system, record_id) DO UPDATE SET
         fields = excluded.fields, hash = excluded.hash, written_at = excluded.written_at`,
      [entry.tenantId, entry.system, entry.recordId, sealLedgerFields(entry.fields, this.cipher), entry.hash, entry.writtenAt],
    );
  }

  async getState(tenantId: string, key: string): Promise<string | null> {
    return this.sql.get<{ value: string }>('SELECT value FROM state WHERE tenant_id = ? AND key = ?', [tenantId, key])?.value ?? null;
  }

  async setState(tenantId: string, key: string, value: string): Promise<void> {
    this.sql.run(
      `INSERT INTO state (tenant_id, key, value) VALUES (?, ?, ?)
       ON CONFLICT (tenant_id, key) DO UPDATE SET value = excluded.value`,
      [tenantId, key, value],
    );
  }

  async appendAudit(entry: AuditEntry): Promise<void> {
    this.sql.run(
      `INSERT INTO audit (at, tenant_id, system, record_type, record_id, action, event_id, detail)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      [
        entry.at,
        entry.tenantId,
        entry.system,
        entry.recordType,
        entry.recordId,
        entry.action,
        entry.eventId ?? null,
        entry.detail === undefined ? null : JSON.stringify(entry.detail),
      ],
    );
  }

  async searchAudit(query: { tenantId?: string; recordId?: string; since?: number; limit: number }): Promise<AuditEntry[]> {
    return this.sql
      .all<AuditRow>(
        `SELECT * FROM audit
         WHERE (@tenantId IS NULL OR tenant_id = @tenantId)
           AND (@recordId IS NULL OR record_id = @recordId)
           AND (@since IS NULL OR at >= @since)
         ORDER BY at DESC, id DESC
         LIMIT @limit`,
        { tenantId: query.tenantId ?? null, recordId: query.recordId ?? null, since: query.since ?? null, limit: query.limit },
      )
      .map(toAudit);
  }

  // Operator views (see admin.ts) ---------------------------------------------------------------

  async listEventSummaries(query: views.EventSummaryQuery): Promise<views.EventSummary[]> {
    return admin.listEventSummaries(this.sql, query);
  }

  async inboxBacklog(tenantId: string): Promise<views.InboxBacklog> {
    return admin.inboxBacklog(this.sql, tenantId);
  }

  async eventActivity(tenantId: string, since: number, until: number, bucketMs: number): Promise<views.ActivityBucket[]> {
    return admin.eventActivity(this.sql, tenantId, since, until, bucketMs);
  }

  async attemptCounts(tenantId: string, since: number): Promise<views.AttemptCounts> {
    return admin.attemptCounts(this.sql, tenantId, since);
  }

  async listAttemptsForKeys(query: views.AttemptsForKeysQuery): Promise<JobAttempt[]> {
    return admin.listAttemptsForKeys(this.sql, query);
  }

  async listDeadJobs(query: views.DeadJobQuery): Promise<views.DeadJob[]> {
    return admin.listDeadJobs(this.sql, query);
  }

  async searchAuditRecords(query: views.AuditQuery): Promise<views.AuditRecord[]> {
    return admin.searchAuditRecords(this.sql, query);
  }

  async prunePayloads(options: views.PruneOptions): Promise<views.PruneResult> {
    return admin.prunePayloads(this.sql, options);
  }

  async refreshStatistics(): Promise<void> {
    admin.refreshStatistics(this.sql);
  }
}
