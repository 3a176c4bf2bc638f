// What the operator's surface (admin API, dashboard, CLI) asks of the Store beyond what the sync
// needs: views without payloads, counts over time, dead letters, audit search, and pruning.
// Everything here is ids, enums, codes and times: no payload ever leaves the store this way.
import type { AuditEntry, EventQuery, EventSource, EventStatus } from './types.ts';

/** An inbound event as the operator sees it: everything but the payload. */
export interface EventSummary {
  id: number;
  tenantId: string;
  source: EventSource;
  eventKey: string;
  type: string;
  occurredAt: number;
  receivedAt: number;
  /** Ids only, as stored at ingest. */
  subject: Record<string, string | number>;
  status: EventStatus;
  jobKey: string | null;
  reason: string | null;
  updatedAt: number;
  /** True once retention removed the payload. */
  payloadPruned: boolean;
}

export interface EventSummaryQuery extends EventQuery {
  jobKey?: string;
  eventId?: number;
}

/** Queue and inbox backlog of one tenant, from the inbox's indexed status column. */
export interface InboxBacklog {
  /** Events accepted and not yet processed. */
  queued: number;
  /** Events that are dead letters. */
  dead: number;
  /** When the oldest still-queued event was received. */
  oldestQueuedAt: number | null;
}

/** Events received in one time bucket and what became of them. */
export interface ActivityBucket {
  /** Bucket start, epoch ms. */
  start: number;
  received: number;
  processed: number;
  dead: number;
  /** Receipt → processed, over the processed events of the bucket. */
  lagMsAvg: number | null;
  lagMsMax: number | null;
}

export interface AttemptCounts {
  succeeded: number;
  retrying: number;
  dead: number;
}

export interface AttemptsForKeysQuery {
  tenantId: string;
  jobKeys: string[];
  /** Attempts that finished at or after this time. */
  since?: number;
  /** The newest `limit` attempts are returned (oldest first). */
  limit: number;
}

export interface DeadJobQuery {
  tenantId?: string;
  /** Only jobs of these tasks (a direction is a set of tasks). */
  tasks?: string[];
  jobKey?: string;
  /** The stable error code the job died with, e.g. `SPRUCE_REJECTED`. */
  errorCode?: string;
  /** Died at or after (inclusive) / before (exclusive). */
  since?: number;
  until?: number;
  /** Keyset paging: jobs with id < beforeId, newest first. */
  beforeId?: number;
  limit: number;
}

export interface DeadJob {
  id: number;
  tenantId: string;
  key: string;
  task: string;
  /** Ids the handler needs (no PHI). */
  params: Record<string, string | number>;
  attempts: number;
  maxAttempts: number;
  /** `CODE: message`, PHI-free. */
  lastError: string | null;
  diedAt: number;
  /** Dead events the job carries (replaying the job requeues them). */
  deadEvents: number;
}

export interface AuditQuery {
  tenantId?: string;
  system?: AuditEntry['system'];
  recordType?: string;
  /** Any of these record ids. */
  recordIds?: string[];
  action?: string;
  eventId?: number;
  since?: number;
  until?: number;
  /** Keyset paging: entries with id < beforeId, newest first. */
  beforeId?: number;
  limit: number;
}

export interface AuditRecord extends AuditEntry {
  id: number;
}

export interface PruneOptions {
  /** Payloads of events received before this time go. */
  olderThan: number;
  /** Rows rewritten per transaction, so writers are never blocked for long. Default 2 000. */
  batchSize?: number;
}

export interface PruneResult {
  /** Events whose payload was removed. */
  events: number;
  /** Payload bytes removed (the database reuses the space; it does not shrink the file). */
  bytes: number;
}

/** Statuses whose payload will never be read again: retention may remove it. */
export const PRUNABLE_STATUSES: readonly EventStatus[] = ['processed', 'ignored', 'test'];

export interface RowPruneOptions {
  /** Rows finished (attempted) before this time go. */
  olderThan: number;
  /** Rows deleted per transaction, so writers are never blocked for long. Default 2 000. */
  batchSize?: number;
}

/** Audit entries oldest first by id, for export and archiving (keyset paged by id). */
export interface AuditPageQuery {
  /** Entries with id > afterId. */
  afterId: number;
  since?: number;
  until?: number;
  limit: number;
}

/** A file the audit rows with ids in [firstId, lastId] and `at` < beforeAt were written to. */
export interface AuditArchive {
  file: string;
  firstId: number;
  lastId: number;
  beforeAt: number;
  rows: number;
  archivedAt: number;
}
