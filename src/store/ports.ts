// The Store as focused ports, each read at once: the inbox, the job queue, the links, the sync's
// own state, the audit log and the operator's views. Consumers take the ports they use; the
// composite `Store` is what an adapter (SQLite embedded, PostgreSQL for scale-out) provides, and
// one contract suite runs against both.
import type * as views from './admin-types.ts';
import type { ResealOptions, ResealReport } from './sql/reseal.ts';
import type {
  AuditEntry,
  ClaimOptions,
  ContactLink,
  Counter,
  EnqueueJob,
  EventQuery,
  EventSource,
  FailJob,
  FailOutcome,
  Flag,
  InboundEvent,
  Job,
  JobAttempt,
  LedgerEntry,
  LedgerSystem,
  NewInboundEvent,
} from './types.ts';

/** Inbound events: stored once, deduped, found again. */
export interface Inbox {
  /**
   * Stores an event durably and, when it carries a job, enqueues or coalesces that job no later
   * than the job's runAt (PostgreSQL in the same transaction; SQLite stages the event and files
   * it with its job in a later batch). A repeat of (tenantId, source, eventKey) stores nothing
   * and returns the existing id with `inserted: false`. The id is the event's for good.
   */
  insertEvent(event: NewInboundEvent): Promise<{ id: number; inserted: boolean }>;
  /** Resolves once every event stored so far shows in reads, and its job is enqueued. */
  settleInbox(): Promise<void>;
  getEvent(id: number): Promise<InboundEvent | null>;
  /** Queued events fed into `jobKey` with id ≤ uptoId, oldest first (payloads included). */
  listQueuedEvents(tenantId: string, jobKey: string, uptoId: number): Promise<InboundEvent[]>;
  searchEvents(query: EventQuery): Promise<InboundEvent[]>;
  /** Newest occurredAt stored for a tenant and source, for catch-up after downtime. */
  latestEventTime(tenantId: string, source: EventSource): Promise<number | null>;
}

export interface QueueStats {
  tenantId: string;
  /** Unclaimed. */
  waiting: number;
  /** Claimed, not settled. */
  running: number;
  dead: number;
  oldestRunAt: number | null;
}

/** One row per (tenant, key): work for a key runs one at a time, in order. */
export interface JobQueue {
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
   * up to `lastEventId` become dead letters with the error. A later event revives the key, and
   * so does one that arrived while the run failed: then nothing dies and the key is due now
   * with fresh attempts (`retrying`). Resolves to what became of the job.
   */
  failJob(job: Job, failure: FailJob): Promise<FailOutcome>;
  /**
   * A run stopped before it was done (its service stopping): unlocked, due as it was, and the
   * claim's attempt given back, since it failed at nothing. False if `workerId` no longer holds it.
   */
  releaseJob(job: Job, workerId: string, now: number): Promise<boolean>;
  recordAttempt(attempt: JobAttempt): Promise<void>;
  listAttempts(jobKey: string, tenantId: string): Promise<JobAttempt[]>;
  queueStats(tenantId?: string): Promise<QueueStats[]>;
  /** Re-enqueues a dead job; its dead events become queued again. */
  replayDeadJob(tenantId: string, jobKey: string, now: number): Promise<boolean>;
}

/** Spry patient ↔ Spruce contact: one contact per patient, one patient per contact. */
export interface Links {
  getLinkByPatient(tenantId: string, patientId: number): Promise<ContactLink | null>;
  getLinkByContact(tenantId: string, contactId: string): Promise<ContactLink | null>;
  /** Sets the patient's contact, replacing any link either side had. */
  upsertLink(tenantId: string, patientId: number, contactId: string, now: number): Promise<void>;
  deleteLinkByContact(tenantId: string, contactId: string): Promise<void>;
}

/** What the sync remembers between runs: the write ledger, counters, flags, small documents. */
export interface SyncState {
  getLedger<S extends LedgerSystem>(tenantId: string, system: S, recordId: string): Promise<LedgerEntry<S> | null>;
  putLedger<S extends LedgerSystem>(entry: LedgerEntry<S>): Promise<void>;
  /** 0 until first incremented. */
  getCounter(tenantId: string, counter: Counter): Promise<number>;
  /** Adds one in one statement (two runs incrementing at once both count); returns the new value. */
  incrementCounter(tenantId: string, counter: Counter): Promise<number>;
  isFlagSet(tenantId: string, flag: Flag): Promise<boolean>;
  setFlag(tenantId: string, flag: Flag): Promise<void>;
  /** Small per-tenant documents: Spruce field and tag ids, backfill checkpoints, watermarks. */
  getState(tenantId: string, key: string): Promise<string | null>;
  /** One key's document of every tenant that has one, by tenant: one query for a directory-wide refresh. */
  statesOf(key: string): Promise<Map<string, string>>;
  setState(tenantId: string, key: string, value: string): Promise<void>;
  /** Secrets we were handed (setup's webhook secrets): kept in the state table, sealed with the database key. */
  getSecret(tenantId: string, key: string): Promise<string | null>;
  setSecret(tenantId: string, key: string, secret: string): Promise<void>;
  /** Whether PHI and secrets are sealed at rest (an encryption key is configured). */
  readonly encryptsAtRest: boolean;
}

export interface AuditLog {
  appendAudit(entry: AuditEntry): Promise<void>;
  searchAudit(query: { tenantId?: string; recordId?: string; since?: number; limit: number }): Promise<AuditEntry[]>;
}

/** What the admin API, dashboard and CLI read: ids, codes and times, never payloads. */
export interface OperatorViews {
  /** Like searchEvents without payloads (newest first, keyset paged by id). */
  listEventSummaries(query: views.EventSummaryQuery): Promise<views.EventSummary[]>;
  /** Queued and dead event counts and the oldest queued event's receipt time. */
  inboxBacklog(tenantId: string): Promise<views.InboxBacklog>;
  /** Events received in [since, until) per bucket: counts by outcome and receipt → processed lag. */
  eventActivity(tenantId: string, since: number, until: number, bucketMs: number): Promise<views.ActivityBucket[]>;
  /** Attempts finished since `since`, by outcome. */
  attemptCounts(tenantId: string, since: number): Promise<views.AttemptCounts>;
  /** The newest attempts of several job keys, oldest first. */
  listAttemptsForKeys(query: views.AttemptsForKeysQuery): Promise<JobAttempt[]>;
  /** Dead jobs (dead letters), newest first, keyset paged by id. */
  listDeadJobs(query: views.DeadJobQuery): Promise<views.DeadJob[]>;
  /** Audit entries with their ids, newest first, keyset paged by id. */
  searchAuditRecords(query: views.AuditQuery): Promise<views.AuditRecord[]>;
  /** Retention: removes payloads of finished events received before `olderThan` (never queued or dead ones). */
  prunePayloads(options: views.PruneOptions): Promise<views.PruneResult>;
  /**
   * Refreshes the query planner's statistics, so operator searches keep picking the right index
   * as the inbox grows (SQLite: a sampled ANALYZE; PostgreSQL: autovacuum does it already).
   */
  refreshStatistics(): Promise<void>;
}

/**
 * Bounded storage: attempt logs go past their age; the audit trail is read in id order for
 * export and archiving, and leaves the database only as rows an archive record covers.
 */
export interface StorageRetention {
  /** Deletes job attempts finished before `olderThan`, in short batches; returns how many. */
  pruneJobAttempts(options: views.RowPruneOptions): Promise<number>;
  /** Audit entries oldest id first (keyset paged by id). */
  listAuditPage(query: views.AuditPageQuery): Promise<views.AuditRecord[]>;
  /**
   * Records a written, synced archive file: the rows it covers may be deleted from then on.
   * False when another instance recorded one for the same cutoff first.
   */
  recordAuditArchive(archive: views.AuditArchive): Promise<boolean>;
  listAuditArchives(): Promise<views.AuditArchive[]>;
  /** Deletes the rows of every unfinished archive record, in short batches; returns how many. */
  deleteArchivedAudit(now: number, batchSize?: number): Promise<number>;
}

export type TenantSource = 'config' | 'api';
export type TenantStatus = 'enabled' | 'disabled';

/** A tenant as stored: its settings (no secrets) and its secrets (sealed at rest), as JSON documents. */
export interface StoredTenant {
  id: string;
  source: TenantSource;
  status: TenantStatus;
  settings: Record<string, unknown>;
  secrets: Record<string, unknown>;
  createdAt: number;
  updatedAt: number;
  /** Set once removed: its webhooks are refused; its PHI is purged after the retention period. */
  removedAt: number | null;
  purgedAt: number | null;
}

export type NewStoredTenant = Pick<StoredTenant, 'id' | 'source' | 'status' | 'settings' | 'secrets'>;

/**
 * What seeding the config file's tenants does to one tenant: `before` as the directory had it
 * (null: never there; its secrets null when they cannot be opened), `after` as the file has it
 * (null: taken out of the file, so removed). Given to `seedConfigTenants`' audit, which turns it
 * into the trail's entry, written in the seeding's transaction.
 */
export interface ConfigTenantChange {
  id: string;
  before: (Omit<StoredTenant, 'secrets'> & { secrets: Record<string, unknown> | null }) | null;
  after: Omit<NewStoredTenant, 'source' | 'status'> | null;
}

/** A tenant's place in the directory without its definition: nothing unsealed to read it. */
export type TenantSummary = Omit<StoredTenant, 'settings' | 'secrets'> & {
  /**
   * Changes whenever the tenant's settings or secrets are written (a digest of them as stored,
   * sealed: nothing is unsealed for it), so a reader can tell which definitions to read again.
   */
  revision: string;
};

/** The tenants, as data: every change bumps one version, which each running instance polls. */
export interface TenantDirectory {
  /** Every tenant, removed ones included, by id. */
  listTenants(): Promise<StoredTenant[]>;
  /**
   * Every tenant's id, source, status and dates, removed ones included, by id: for views and
   * duties that need no settings or secrets (no secret is unsealed for them).
   */
  listTenantSummaries(): Promise<TenantSummary[]>;
  getTenant(id: string): Promise<StoredTenant | null>;
  /**
   * False (and nothing written) when the id is taken, by a removed tenant too. `audit` (an
   * operator's change) is appended in the same transaction, only when the change is made.
   */
  insertTenant(tenant: NewStoredTenant, now: number, audit?: AuditEntry): Promise<boolean>;
  /** Changes a tenant that is not removed; false when there is none. `audit` as for insertTenant. */
  updateTenant(id: string, change: Partial<Pick<StoredTenant, 'settings' | 'secrets' | 'status'>>, now: number, audit?: AuditEntry): Promise<boolean>;
  /**
   * The config file's tenants, upserted as source `config` (a removed one comes back; status is
   * kept), and config tenants no longer in the file removed: one transaction, one version bump.
   */
  seedConfigTenants(tenants: Omit<NewStoredTenant, 'source' | 'status'>[], now: number, audit?: (change: ConfigTenantChange) => AuditEntry | null): Promise<void>;
  /** Marks a tenant removed; false when there is none (or it was removed already). `audit` as for insertTenant. */
  removeTenant(id: string, now: number, audit?: AuditEntry): Promise<boolean>;
  /** Bumped by every change above. */
  tenantsVersion(): Promise<number>;
  /**
   * Deletes the PHI of tenants removed before `removedBefore` (events and their payloads, jobs,
   * attempts, links, ledger, state); their audit trail stays, with one more entry (`purge`) for
   * each, counting the rows deleted by table. Returns the ids purged. The fan-out store's rows are
   * its own (FanoutStore.purgeTenant, run first): `deletedElsewhere` adds their counts to the entry.
   */
  purgeRemovedTenants(removedBefore: number, now: number, deletedElsewhere?: ReadonlyMap<string, Record<string, number>>): Promise<string[]>;
}

export interface StoreLifecycle {
  /** Creates or upgrades the schema; safe when several processes start at once. */
  migrate(): Promise<void>;
  /** Cheap round trip for /readyz. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** `spruce-sync rekey`: every sealed value moved to the current key, online. */
export interface KeyRotation {
  /** `secretStateKeys`: the state rows that hold secrets (sealed there, or plaintext from before a key). */
  resealAll(options: ResealOptions & { secretStateKeys: readonly string[] }): Promise<ResealReport>;
}

export type Store = StoreLifecycle & Inbox & JobQueue & Links & SyncState & AuditLog & OperatorViews & StorageRetention & KeyRotation & TenantDirectory;
