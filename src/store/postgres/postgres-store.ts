// The scale-out Store: any number of stateless instances share one PostgreSQL database.
import type pg from 'pg';
import { SyncError } from '../../errors.ts';
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
import { createPool, inTransaction, isUniqueViolation, type PoolOptions } from './db.ts';
import * as inbox from './inbox.ts';
import { InstanceLiveness, type InstanceLivenessOptions } from './instances.ts';
import { PostgresLeadership, type PostgresLeadershipOptions } from './leadership.ts';
import { migrate } from './migrations.ts';
import * as queue from './queue.ts';
import { SharedRow } from './shared-rows.ts';

export interface PostgresStoreOptions extends PoolOptions {
  encryptionKey?: string;
}

export class PostgresStore implements Store {
  private readonly pool: pg.Pool;
  private readonly cipher: Cipher;
  private readonly schema: string | undefined;
  private readonly url: string;

  constructor(url: string, options: PostgresStoreOptions = {}) {
    this.pool = createPool(url, options);
    this.cipher = createCipher(options.encryptionKey);
    this.schema = options.schema;
    this.url = url;
  }

  // Scale-out: what the instances sharing this database coordinate through (not part of Store) --

  /** Leadership of scheduled duties among the instances on this database and schema. */
  leadership(options: Omit<PostgresLeadershipOptions, 'url' | 'schema'> = {}): PostgresLeadership {
    return new PostgresLeadership({ ...options, url: this.url, schema: this.schema });
  }

  /** This instance's heartbeat; the job leases of instances gone silent are reclaimed. */
  instanceLiveness(options: InstanceLivenessOptions): InstanceLiveness {
    return new InstanceLiveness(this.pool, options);
  }

  /** A record every instance changes atomically, e.g. a tenant's API budget. */
  sharedRow<S>(tenantId: string, name: string, initial: S): SharedRow<S> {
    return new SharedRow(this.pool, tenantId, name, initial);
  }

  async migrate(): Promise<void> {
    await migrate(this.pool, this.schema);
  }

  async ping(): Promise<void> {
    try {
      await this.pool.query('SELECT 1');
    } catch (cause) {
      throw new SyncError('STORE_UNAVAILABLE', 'PostgreSQL did not answer', { retryable: true, cause });
    }
  }

  async close(): Promise<void> {
    await this.pool.end();
  }

  // Inbox --------------------------------------------------------------------------------------

  insertEvent(event: NewInboundEvent): Promise<{ id: number; inserted: boolean }> {
    return inbox.insertEvent(this.pool, this.cipher, event);
  }

  getEvent(id: number): Promise<InboundEvent | null> {
    return inbox.getEvent(this.pool, this.cipher, id);
  }

  listQueuedEvents(tenantId: string, jobKey: string, uptoId: number): Promise<InboundEvent[]> {
    return inbox.listQueuedEvents(this.pool, this.cipher, tenantId, jobKey, uptoId);
  }

  searchEvents(query: EventQuery): Promise<InboundEvent[]> {
    return inbox.searchEvents(this.pool, this.cipher, query);
  }

  latestEventTime(tenantId: string, source: EventSource): Promise<number | null> {
    return inbox.latestEventTime(this.pool, tenantId, source);
  }

  // Queue --------------------------------------------------------------------------------------

  async enqueueJob(tenantId: string, job: EnqueueJob, now: number): Promise<void> {
    await inTransaction(this.pool, async (client) => {
      await queue.enqueue(client, tenantId, job, now);
      await queue.requeueDeadEvents(client, tenantId, job.key, now);
    });
  }

  async claimJobs(options: ClaimOptions): Promise<Job[]> {
    if (options.limit <= 0 || options.tenantIds?.length === 0) return [];
    return (await queue.claim(this.pool, options)).map(toJob).sort(byRunAtThenId);
  }

  renewLease(jobId: number, workerId: string, lockedUntil: number): Promise<boolean> {
    return queue.renewLease(this.pool, jobId, workerId, lockedUntil);
  }

  async completeJob(job: Job, workerId: string, now: number): Promise<void> {
    await inTransaction(this.pool, (client) => queue.complete(client, job.id, workerId, job.attempts, job.lastEventId, now));
  }

  async failJob(job: Job, failure: FailJob): Promise<void> {
    const { retryAt } = failure;
    if (retryAt !== undefined) await queue.retryLater(this.pool, { ...failure, retryAt }, job.attempts);
    else await inTransaction(this.pool, (client) => queue.bury(client, failure, job.lastEventId, job.attempts));
  }

  async recordAttempt(attempt: JobAttempt): Promise<void> {
    await this.pool.query(
      `INSERT INTO job_attempts (job_id, tenant_id, job_key, started_at, finished_at, outcome, error_code, request_id)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
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
    const { rows } = await this.pool.query<AttemptRow>(
      'SELECT * FROM job_attempts WHERE tenant_id = $1 AND job_key = $2 ORDER BY id',
      [tenantId, jobKey],
    );
    return rows.map(toAttempt);
  }

  async queueStats(tenantId?: string) {
    const { rows } = await this.pool.query<QueueStatsRow>(
      `SELECT tenant_id,
         count(*) FILTER (WHERE state = 'waiting' AND locked_by IS NULL)     AS waiting,
         count(*) FILTER (WHERE state = 'waiting' AND locked_by IS NOT NULL) AS running,
         count(*) FILTER (WHERE state = 'dead')                              AS dead,
         min(run_at) FILTER (WHERE state = 'waiting' AND locked_by IS NULL)  AS oldest_run_at
       FROM jobs
       WHERE $1::text IS NULL OR tenant_id = $1
       GROUP BY tenant_id
       ORDER BY tenant_id`,
      [tenantId ?? null],
    );
    return rows.map(toQueueStats);
  }

  replayDeadJob(tenantId: string, jobKey: string, now: number): Promise<boolean> {
    return inTransaction(this.pool, (client) => queue.replayDead(client, tenantId, jobKey, now));
  }

  // Sync state ---------------------------------------------------------------------------------

  async getLinkByPatient(tenantId: string, patientId: number): Promise<ContactLink | null> {
    const { rows } = await this.pool.query<LinkRow>('SELECT * FROM links WHERE tenant_id = $1 AND patient_id = $2', [
      tenantId,
      patientId,
    ]);
    return rows[0] ? toLink(rows[0]) : null;
  }

  async getLinkByContact(tenantId: string, contactId: string): Promise<ContactLink | null> {
    const { rows } = await this.pool.query<LinkRow>('SELECT * FROM links WHERE tenant_id = $1 AND contact_id = $2', [
      tenantId,
      contactId,
    ]);
    return rows[0] ? toLink(rows[0]) : null;
  }

  async upsertLink(tenantId: string, patientId: number, contactId: string, now: number): Promise<void> {
    // Two sessions linking one contact to different patients at once: the loser hits the unique
    // contact index and simply tries again, now seeing the winner's link to replace.
    for (let attempt = 1; ; attempt++) {
      try {
        await inTransaction(this.pool, async (client) => {
          await client.query('DELETE FROM links WHERE tenant_id = $1 AND contact_id = $2 AND patient_id <> $3', [
            tenantId,
            contactId,
            patientId,
          ]);
          await client.query(
            `INSERT INTO links AS l (tenant_id, patient_id, contact_id, created_at, updated_at) VALUES ($1, $2, $3, $4, $4)
             ON CONFLICT (tenant_id, patient_id) DO UPDATE SET
               contact_id = EXCLUDED.contact_id,
               created_at = CASE WHEN l.contact_id = EXCLUDED.contact_id THEN l.created_at ELSE EXCLUDED.created_at END,
               updated_at = EXCLUDED.updated_at`,
            [tenantId, patientId, contactId, now],
          );
        });
        return;
      } catch (error) {
        if (!isUniqueViolation(error) || attempt >= 3) throw error;
      }
    }
  }

  async deleteLinkByContact(tenantId: string, contactId: string): Promise<void> {
    await this.pool.query('DELETE FROM links WHERE tenant_id = $1 AND contact_id = $2', [tenantId, contactId]);
  }

  async getLedger(tenantId: string, system: LedgerEntry['system'], recordId: string): Promise<LedgerEntry | null> {
    const { rows } = await this.pool.query<LedgerRow>(
      'SELECT * FROM ledger WHERE tenant_id = $1 AND system = $2 AND record_id = $3',
      [tenantId, system, recordId],
    );
    return rows[0] ? toLedger(rows[0], this.cipher) : null;
  }

  async putLedger(entry: LedgerEntry): Promise<void> {
    await this.pool.query(
      `INSERT INTO ledger (tenant_id, system, record_id, fields, hash, written_at) VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT (tenant_id, system, record_id) DO UPDATE SET
         fields = EXCLUDED.fields, hash = EXCLUDED.hash, written_at = EXCLUDED.written_at`,
      [entry.tenantId, entry.system, entry.recordId, sealLedgerFields(entry.fields, this.cipher), entry.hash, entry.writtenAt],
    );
  }

  async getState(tenantId: string, key: string): Promise<string | null> {
    const { rows } = await this.pool.query<{ value: string }>('SELECT value FROM state WHERE tenant_id = $1 AND key = $2', [
      tenantId,
      key,
    ]);
    return rows[0]?.value ?? null;
  }

  async setState(tenantId: string, key: string, value: string): Promise<void> {
    await this.pool.query(
      `INSERT INTO state (tenant_id, key, value) VALUES ($1, $2, $3)
       ON CONFLICT (tenant_id, key) DO UPDATE SET value = EXCLUDED.value`,
      [tenantId, key, value],
    );
  }

  async appendAudit(entry: AuditEntry): Promise<void> {
    await this.pool.query(
      `INSERT INTO audit (at, tenant_id, system, record_type, record_id, action, event_id, detail)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
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
    const { rows } = await this.pool.query<AuditRow>(
      `SELECT * FROM audit
       WHERE ($1::text IS NULL OR tenant_id = $1)
         AND ($2::text IS NULL OR record_id = $2)
         AND ($3::bigint IS NULL OR at >= $3)
       ORDER BY at DESC, id DESC
       LIMIT $4`,
      [query.tenantId ?? null, query.recordId ?? null, query.since ?? null, query.limit],
    );
    return rows.map(toAudit);
  }

  // Operator views (see admin.ts) ---------------------------------------------------------------

  listEventSummaries(query: views.EventSummaryQuery): Promise<views.EventSummary[]> {
    return admin.listEventSummaries(this.pool, query);
  }

  inboxBacklog(tenantId: string): Promise<views.InboxBacklog> {
    return admin.inboxBacklog(this.pool, tenantId);
  }

  eventActivity(tenantId: string, since: number, until: number, bucketMs: number): Promise<views.ActivityBucket[]> {
    return admin.eventActivity(this.pool, tenantId, since, until, bucketMs);
  }

  attemptCounts(tenantId: string, since: number): Promise<views.AttemptCounts> {
    return admin.attemptCounts(this.pool, tenantId, since);
  }

  listAttemptsForKeys(query: views.AttemptsForKeysQuery): Promise<JobAttempt[]> {
    return admin.listAttemptsForKeys(this.pool, query);
  }

  listDeadJobs(query: views.DeadJobQuery): Promise<views.DeadJob[]> {
    return admin.listDeadJobs(this.pool, query);
  }

  searchAuditRecords(query: views.AuditQuery): Promise<views.AuditRecord[]> {
    return admin.searchAuditRecords(this.pool, query);
  }

  prunePayloads(options: views.PruneOptions): Promise<views.PruneResult> {
    return admin.prunePayloads(this.pool, options);
  }

  async refreshStatistics(): Promise<void> {
    // Autovacuum's auto-analyze keeps PostgreSQL's statistics current.
  }
}
