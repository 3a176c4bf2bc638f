// The Store: everything spruce-sync keeps. One interface, two adapters (SQLite embedded,
// PostgreSQL for scale-out), one contract test suite run against both.
//
// Times are epoch milliseconds. Payloads and snapshots may hold PHI: adapters encrypt them at
// rest when a key is configured (see cipher.ts), and nothing here is ever logged.

import type {
  ActivityBucket,
  AttemptCounts,
  AttemptsForKeysQuery,
  AuditQuery,
  AuditRecord,
  DeadJob,
  DeadJobQuery,
  EventSummary,
  EventSummaryQuery,
  InboxBacklog,
  PruneOptions,
  PruneResult,
} from './admin-types.ts';

export type EventSource = 'spry' | 'spruce';

/** What became of an inbound event. */
export type EventStatus =
  | 'queued' // waiting for its job to run
  | 'processed' // its job ran to success
  | 'dead' // its job failed permanently or ran out of attempts; replayable
  | 'ignored' // acknowledged, nothing to do (unknown type, wrong state)
  | 'test'; // a sender's test delivery: recorded, nothing synced

export interface NewInboundEvent {
  tenantId: string;
  source: EventSource;
  /** The dedupe key: Spry `event_id`; Spruce `id`, else a digest of the canonical event. */
  eventKey: string;
  type: string;
  /** When the sender says it happened (Spry `timestamp`, Spruce `eventTime`). */
  occurredAt: number;
  receivedAt: number;
  /** The raw body as received. */
  payload: Buffer;
  /** Ids only, for search and the dashboard: e.g. { patientId: 12, contactId: 'entity_…' }. */
  subject: Record<string, string | number>;
  /** Initial status: 'queued' when `job` is given, else 'ignored' or 'test'. */
  status: EventStatus;
  /** Why an event stored as 'ignored' needs nothing done (shown in the event log; no PHI). */
  reason?: string | null;
  /** The job this event feeds; enqueued (or coalesced) in the same transaction. */
  job?: EnqueueJob;
}

export interface InboundEvent extends Omit<NewInboundEvent, 'job'> {
  id: number;
  jobKey: string | null;
  /** Why it is dead or ignored: a stable error code and a PHI-free message. */
  reason: string | null;
  updatedAt: number;
}

export interface EnqueueJob {
  /** Work for one key runs one at a time, in order: e.g. `spry-patient:74:123`. */
  key: string;
  /** The handler that runs it: e.g. `spry.patient`, `spruce.contact`, `spruce.item`. */
  task: string;
  /** Ids the handler needs (no PHI). */
  params: Record<string, string | number>;
  /** Earliest run time; default now. */
  runAt?: number;
  maxAttempts?: number;
}

export interface Job {
  id: number;
  tenantId: string;
  key: string;
  task: string;
  params: Record<string, string | number>;
  /** 1 on the first run. */
  attempts: number;
  maxAttempts: number;
  runAt: number;
  /** The newest event id fed into this job when it was claimed; completing covers up to it. */
  lastEventId: number;
  lockedBy: string | null;
  lockedUntil: number | null;
  lastError: string | null;
  state: 'waiting' | 'dead';
}

export interface ClaimOptions {
  workerId: string;
  now: number;
  leaseMs: number;
  limit: number;
  /** Only these tenants (paused tenants are left out by the caller). */
  tenantIds?: string[];
  /** Leave jobs of these tasks of these tenants waiting: one paused direction of a tenant. */
  excludeTasks?: { tenantId: string; task: string }[];
}

export interface FailJob {
  jobId: number;
  workerId: string;
  now: number;
  error: { code: string; message: string };
  /** When to run again; undefined = dead letter now. */
  retryAt?: number;
}

/** One try of one job, kept for the operator (no PHI). */
export interface JobAttempt {
  jobId: number;
  tenantId: string;
  jobKey: string;
  startedAt: number;
  finishedAt: number;
  outcome: 'succeeded' | 'retrying' | 'dead';
  errorCode: string | null;
  requestId: string | null;
}

/** The Spry patient ↔ Spruce contact link: one contact per patient, one patient per contact. */
export interface ContactLink {
  tenantId: string;
  patientId: number;
  contactId: string;
  createdAt: number;
  updatedAt: number;
}

/**
 * The write ledger: what we last wrote to one record, field by field, and when. An inbound
 * event whose values equal these is an echo of our own write and is dropped.
 */
export interface LedgerEntry {
  tenantId: string;
  /**
   * What we last wrote to that system; `spruce-intent`: the contact as we are about to write it
   * (Spruce may announce our write before its answer reaches us and the write is recorded).
   */
  system: 'spruce' | 'spry' | 'spruce-intent';
  /** Spruce contact id or Spry patient id (as a string). */
  recordId: string;
  /** Field name → the value we wrote (may hold PHI: encrypted at rest). */
  fields: Record<string, unknown>;
  /** A hash of `fields`, to tell "nothing changed" without decrypting. */
  hash: string;
  writtenAt: number;
}

export interface AuditEntry {
  at: number;
  tenantId: string;
  system: 'spry' | 'spruce';
  /** What was touched: 'patient', 'contact', 'link', 'communication', … */
  recordType: string;
  recordId: string;
  /** 'read', 'create', 'update', 'delete', 'link', 'unlink', 'skip', … */
  action: string;
  /** The inbound event that caused it, when one did. */
  eventId?: number | null;
  /** PHI-free detail: field names changed, counts, codes. */
  detail?: Record<string, unknown>;
}

export interface EventQuery {
  tenantId?: string;
  source?: EventSource;
  type?: string;
  status?: EventStatus;
  patientId?: number;
  contactId?: string;
  /** Received at or after (ms). */
  since?: number;
  /** Received before (ms, exclusive). */
  until?: number;
  /** Keyset paging: events with id < beforeId, newest first. */
  beforeId?: number;
  limit: number;
}

export interface Store {
  /** Creates or upgrades the schema; safe when several processes start at once. */
  migrate(): Promise<void>;
  /** Cheap round trip for /readyz. */
  ping(): Promise<void>;
  close(): Promise<void>;

  // Inbox ------------------------------------------------------------------------------------
  /**
   * Stores an event and, when it carries a job, enqueues or coalesces that job, in one
   * transaction. A repeat of (tenantId, source, eventKey) stores nothing and returns the
   * existing id with `inserted: false`.
   */
  insertEvent(event: NewInboundEvent): Promise<{ id: number; inserted: boolean }>;
  getEvent(id: number): Promise<InboundEvent | null>;
  /** Queued events fed into `jobKey` with id ≤ uptoId, oldest first (payloads included). */
  listQueuedEvents(tenantId: string, jobKey: string, uptoId: number): Promise<InboundEvent[]>;
  searchEvents(query: EventQuery): Promise<InboundEvent[]>;
  /** Newest occurredAt stored for a tenant and source, for catch-up after downtime. */
  latestEventTime(tenantId: string, source: EventSource): Promise<number | null>;

  // Queue --------------------------------------------------------------------------------------
  /** Enqueues (or coalesces into) a job with no inbound event: backfill, reconcile, replay. */
  enqueueJob(tenantId: string, job: EnqueueJob, now: number): Promise<void>;
  /**
   * Claims up to `limit` due jobs, at most one per key, leasing each until now + leaseMs.
   * A job whose lease ran out (its worker died) is claimable again.
   */
  claimJobs(options: ClaimOptions): Promise<Job[]>;
  /** Extends the lease of a job this worker holds; false when it no longer holds it. */
  renewLease(jobId: number, workerId: string, lockedUntil: number): Promise<boolean>;
  /**
   * Marks the job's events up to `job.lastEventId` processed. When newer events arrived
   * meanwhile (or enqueueJob was called for the key) the job stays, unlocked and due now, with
   * attempts reset; else it is removed. Does nothing if `workerId` no longer holds the lease.
   */
  completeJob(job: Job, workerId: string, now: number): Promise<void>;
  /**
   * A failed run: with `retryAt`, unlocked and due then; without, dead: the job and its events
   * up to `lastEventId` become dead letters with the error. A later event revives the key.
   */
  failJob(job: Job, failure: FailJob): Promise<void>;
  recordAttempt(attempt: JobAttempt): Promise<void>;
  listAttempts(jobKey: string, tenantId: string): Promise<JobAttempt[]>;
  /** Jobs per tenant: waiting (unclaimed), running (claimed, not settled), dead; oldest waiting runAt. */
  queueStats(tenantId?: string): Promise<{ tenantId: string; waiting: number; running: number; dead: number; oldestRunAt: number | null }[]>;
  /** Re-enqueues a dead job; its dead events become queued again. */
  replayDeadJob(tenantId: string, jobKey: string, now: number): Promise<boolean>;

  // Sync state ---------------------------------------------------------------------------------
  getLinkByPatient(tenantId: string, patientId: number): Promise<ContactLink | null>;
  getLinkByContact(tenantId: string, contactId: string): Promise<ContactLink | null>;
  /** Sets the patient's contact, replacing any link either side had. */
  upsertLink(tenantId: string, patientId: number, contactId: string, now: number): Promise<void>;
  deleteLinkByContact(tenantId: string, contactId: string): Promise<void>;

  getLedger(tenantId: string, system: LedgerEntry['system'], recordId: string): Promise<LedgerEntry | null>;
  putLedger(entry: LedgerEntry): Promise<void>;

  /** Small per-tenant facts: Spruce field and tag ids, backfill checkpoints, watermarks. */
  getState(tenantId: string, key: string): Promise<string | null>;
  setState(tenantId: string, key: string, value: string): Promise<void>;

  appendAudit(entry: AuditEntry): Promise<void>;
  searchAudit(query: { tenantId?: string; recordId?: string; since?: number; limit: number }): Promise<AuditEntry[]>;

  // Operator views (admin API, dashboard, CLI): ids, codes and times, never payloads -----------
  /** Like searchEvents without payloads (newest first, keyset paged by id). */
  listEventSummaries(query: EventSummaryQuery): Promise<EventSummary[]>;
  /** Queued and dead event counts and the oldest queued event's receipt time. */
  inboxBacklog(tenantId: string): Promise<InboxBacklog>;
  /** Events received in [since, until) per bucket: counts by outcome and receipt → processed lag. */
  eventActivity(tenantId: string, since: number, until: number, bucketMs: number): Promise<ActivityBucket[]>;
  /** Attempts finished since `since`, by outcome. */
  attemptCounts(tenantId: string, since: number): Promise<AttemptCounts>;
  /** The newest attempts of several job keys, oldest first. */
  listAttemptsForKeys(query: AttemptsForKeysQuery): Promise<JobAttempt[]>;
  /** Dead jobs (dead letters), newest first, keyset paged by id. */
  listDeadJobs(query: DeadJobQuery): Promise<DeadJob[]>;
  /** Audit entries with their ids, newest first, keyset paged by id. */
  searchAuditRecords(query: AuditQuery): Promise<AuditRecord[]>;
  /** Retention: removes payloads of finished events received before `olderThan` (never queued or dead ones). */
  prunePayloads(options: PruneOptions): Promise<PruneResult>;
  /**
   * Refreshes the query planner's statistics, so operator searches keep picking the right index
   * as the inbox grows (SQLite: a sampled ANALYZE; PostgreSQL: autovacuum does it already).
   */
  refreshStatistics(): Promise<void>;
}
