// The Store over a Db: every port's statements are shared (this folder); an adapter adds what
// truly differs per database: opening and migrating, storing an event with its job (PostgreSQL
// draws the event id under the job's lock, SQLite commits a burst of inserts together), and
// keeping the planner's statistics.
import type { Cipher } from '../cipher.ts';
import { byRunAtThenId, ledgerContext, payloadContext, stateSecretContext, toJob } from '../rows.ts';
import type { ConfigTenantChange, NewStoredTenant, Store, StoredTenant } from '../ports.ts';
import type * as views from '../admin-types.ts';
import type {
  AuditEntry,
  ClaimOptions,
  Counter,
  EnqueueJob,
  EventQuery,
  EventSource,
  FailJob,
  FailOutcome,
  Flag,
  Job,
  JobAttempt,
  LedgerEntry,
  LedgerSystem,
  NewInboundEvent,
} from '../types.ts';
import * as audit from './audit.ts';
import * as inbox from './inbox.ts';
import * as links from './links.ts';
import * as queue from './queue.ts';
import { resealColumns, type ResealOptions } from './reseal.ts';
import * as retention from './retention.ts';
import { anyOf, sql, type Db } from './sql.ts';
import * as state from './sync-state.ts';
import * as tenants from './tenants.ts';
import * as operator from './views.ts';

export abstract class SqlStore implements Store {
  constructor(
    protected readonly db: Db,
    protected readonly cipher: Cipher,
  ) {}

  abstract migrate(): Promise<void>;
  abstract ping(): Promise<void>;
  abstract close(): Promise<void>;
  abstract insertEvent(event: NewInboundEvent): Promise<{ id: number; inserted: boolean }>;
  abstract refreshStatistics(): Promise<void>;

  /**
   * Resolves once every event acknowledged so far is where reads look for it. PostgreSQL writes
   * events in place; SQLite stages them first (sqlite/staged-events.ts) and files them here.
   * Reads that show events or jobs to someone (operators, catch-up, maintenance) call it; the
   * workers' own path does not need to: a job exists only once its events are filed.
   */
  settleInbox(): Promise<void> {
    return Promise.resolve();
  }

  /** `read`, after settleInbox. */
  private settled<A extends unknown[], R>(read: (...args: A) => Promise<R>): (...args: A) => Promise<R> {
    return async (...args) => {
      await this.settleInbox();
      return read(...args);
    };
  }

  // Inbox ----------------------------------------------------------------------------------------
  getEvent = this.settled((id: number) => inbox.getEvent(this.db, this.cipher, id));
  listQueuedEvents = (tenantId: string, jobKey: string, uptoId: number) => inbox.listQueuedEvents(this.db, this.cipher, tenantId, jobKey, uptoId);
  searchEvents = this.settled((query: EventQuery) => inbox.searchEvents(this.db, this.cipher, query));
  latestEventTime = this.settled((tenantId: string, source: EventSource) => inbox.latestEventTime(this.db, tenantId, source));

  // Job queue ------------------------------------------------------------------------------------
  async enqueueJob(tenantId: string, job: EnqueueJob, now: number): Promise<void> {
    await this.db.transaction((tx) => queue.enqueue(tx, tenantId, job, now));
  }

  async claimJobs(options: ClaimOptions): Promise<Job[]> {
    if (options.limit <= 0 || options.tenantIds?.length === 0) return [];
    return (await queue.claim(this.db, options)).map(toJob).sort(byRunAtThenId);
  }

  renewLease = (jobId: number, workerId: string, lockedUntil: number) => queue.renewLease(this.db, jobId, workerId, lockedUntil);

  async completeJob(job: Job, workerId: string, now: number): Promise<void> {
    await this.db.transaction((tx) => queue.complete(tx, job.id, workerId, job.attempts, job.lastEventId, now));
  }

  async failJob(job: Job, failure: FailJob): Promise<FailOutcome> {
    const { retryAt } = failure;
    if (retryAt !== undefined) {
      await queue.retryLater(this.db, { ...failure, retryAt }, job.attempts);
      return 'retrying';
    }
    // A run that no longer held the job settles nothing; to its worker, its try ended dead.
    return (await this.db.transaction((tx) => queue.bury(tx, failure, job.lastEventId, job.attempts))) ?? 'dead';
  }

  releaseJob = (job: Job, workerId: string, now: number) => queue.release(this.db, job.id, workerId, job.attempts, now);
  recordAttempt = (attempt: JobAttempt) => queue.recordAttempt(this.db, attempt);
  listAttempts = (jobKey: string, tenantId: string) => queue.listAttempts(this.db, jobKey, tenantId);
  queueStats = this.settled((tenantId?: string) => queue.queueStats(this.db, tenantId));
  replayDeadJob = this.settled((tenantId: string, jobKey: string, now: number) => this.db.transaction((tx) => queue.replayDead(tx, tenantId, jobKey, now)));

  // Links ----------------------------------------------------------------------------------------
  getLinkByPatient = (tenantId: string, patientId: number) => links.getLink(this.db, tenantId, 'patient_id', patientId);
  getLinkByContact = (tenantId: string, contactId: string) => links.getLink(this.db, tenantId, 'contact_id', contactId);
  upsertLink = (tenantId: string, patientId: number, contactId: string, now: number) => links.upsertLink(this.db, tenantId, patientId, contactId, now);
  deleteLinkByContact = (tenantId: string, contactId: string) => links.deleteLinkByContact(this.db, tenantId, contactId);

  // Sync state -----------------------------------------------------------------------------------
  getLedger<S extends LedgerSystem>(tenantId: string, system: S, recordId: string): Promise<LedgerEntry<S> | null> {
    return state.getLedger(this.db, this.cipher, tenantId, system, recordId);
  }

  putLedger<S extends LedgerSystem>(entry: LedgerEntry<S>): Promise<void> {
    return state.putLedger(this.db, this.cipher, entry);
  }

  getCounter = (tenantId: string, counter: Counter) => state.getCounter(this.db, tenantId, counter);
  incrementCounter = (tenantId: string, counter: Counter) => state.incrementCounter(this.db, tenantId, counter);
  isFlagSet = (tenantId: string, flag: Flag) => state.isFlagSet(this.db, tenantId, flag);
  setFlag = (tenantId: string, flag: Flag) => state.setFlag(this.db, tenantId, flag);
  getState = (tenantId: string, key: string) => state.getState(this.db, tenantId, key);
  statesOf = (key: string) => state.statesOf(this.db, key);
  setState = (tenantId: string, key: string, value: string) => state.setState(this.db, tenantId, key, value);
  getSecret = (tenantId: string, key: string) => state.getSecret(this.db, this.cipher, tenantId, key);
  setSecret = (tenantId: string, key: string, secret: string) => state.setSecret(this.db, this.cipher, tenantId, key, secret);

  get encryptsAtRest(): boolean {
    return this.cipher.encrypting;
  }

  // Audit log ------------------------------------------------------------------------------------
  appendAudit = (entry: AuditEntry) => audit.appendAudit(this.db, entry);
  searchAudit = (query: { tenantId?: string; recordId?: string; since?: number; limit: number }) => audit.searchAudit(this.db, query);

  // Operator views -------------------------------------------------------------------------------
  listEventSummaries = this.settled((query: views.EventSummaryQuery) => operator.listEventSummaries(this.db, query));
  inboxBacklog = this.settled((tenantId: string) => operator.inboxBacklog(this.db, tenantId));
  eventActivity = this.settled((tenantId: string, since: number, until: number, bucketMs: number) => operator.eventActivity(this.db, tenantId, since, until, bucketMs));
  attemptCounts = (tenantId: string, since: number) => operator.attemptCounts(this.db, tenantId, since);
  listAttemptsForKeys = (query: views.AttemptsForKeysQuery) => operator.listAttemptsForKeys(this.db, query);
  listDeadJobs = this.settled((query: views.DeadJobQuery) => operator.listDeadJobs(this.db, query));
  searchAuditRecords = (query: views.AuditQuery) => operator.searchAuditRecords(this.db, query);
  prunePayloads = this.settled((options: views.PruneOptions) => operator.prunePayloads(this.db, options));

  // Storage retention ----------------------------------------------------------------------------
  pruneJobAttempts = (options: views.RowPruneOptions) => retention.pruneJobAttempts(this.db, options);
  listAuditPage = (query: views.AuditPageQuery) => retention.listAuditPage(this.db, query);
  recordAuditArchive = (archive: views.AuditArchive) => retention.recordAuditArchive(this.db, archive);
  listAuditArchives = () => retention.listAuditArchives(this.db);
  deleteArchivedAudit = (now: number, batchSize?: number) => retention.deleteArchivedAudit(this.db, now, batchSize);

  // Key rotation ---------------------------------------------------------------------------------
  async resealAll(options: ResealOptions & { secretStateKeys: readonly string[] }) {
    await this.settleInbox();
    const text = (value: unknown) => String(value);
    return resealColumns(
      this.db,
      this.cipher,
      [
        {
          table: 'events',
          column: 'payload',
          key: ['id'],
          columns: ['tenant_id', 'source', 'event_key'],
          context: (row) => payloadContext({ tenantId: text(row.tenant_id), source: text(row.source), eventKey: text(row.event_key) }),
        },
        {
          table: 'ledger',
          column: 'fields',
          key: ['tenant_id', 'system', 'record_id'],
          context: (row) => ledgerContext({ tenantId: text(row.tenant_id), system: text(row.system), recordId: text(row.record_id) }),
        },
        {
          table: 'state',
          column: 'value',
          key: ['tenant_id', 'key'],
          filter: sql`${anyOf('key', options.secretStateKeys)}`,
          base64: true,
          context: (row) => stateSecretContext(text(row.tenant_id), text(row.key)),
        },
        { table: 'tenants', column: 'secrets', key: ['id'], context: (row) => tenants.secretsContext(text(row.id)) },
      ],
      options,
    );
  }

  // Tenant directory -----------------------------------------------------------------------------
  listTenants = () => tenants.listTenants(this.db, this.cipher);
  listTenantSummaries = () => tenants.listTenantSummaries(this.db);
  getTenant = (id: string) => tenants.getTenant(this.db, this.cipher, id);
  insertTenant = (tenant: NewStoredTenant, now: number, audit?: AuditEntry) => tenants.insertTenant(this.db, this.cipher, tenant, now, audit);
  updateTenant = (id: string, change: Partial<Pick<StoredTenant, 'settings' | 'secrets' | 'status'>>, now: number, audit?: AuditEntry) =>
    tenants.updateTenant(this.db, this.cipher, id, change, now, audit);
  seedConfigTenants = (list: Omit<NewStoredTenant, 'source' | 'status'>[], now: number, audit?: (change: ConfigTenantChange) => AuditEntry | null) =>
    tenants.seedConfigTenants(this.db, this.cipher, list, now, audit);
  removeTenant = (id: string, now: number, audit?: AuditEntry) => tenants.removeTenant(this.db, id, now, audit);
  tenantsVersion = () => tenants.tenantsVersion(this.db);
  purgeRemovedTenants = this.settled((removedBefore: number, now: number, deletedElsewhere?: ReadonlyMap<string, Record<string, number>>) =>
    tenants.purgeRemovedTenants(this.db, removedBefore, now, deletedElsewhere));
}
