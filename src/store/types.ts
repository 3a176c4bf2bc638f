// What spruce-sync keeps, as records: events, jobs, links, the write ledger, audit entries.
// The ports that keep them are in ports.ts.
//
// Times are epoch milliseconds. Payloads and snapshots may hold PHI: adapters encrypt them at
// rest when a key is configured (see cipher.ts), and nothing here is ever logged.

import type { Priority } from '../http/types.ts';
import type { SpryPatientPatch } from '../spry/types.ts';
import type { ContactSnapshot } from '../sync/contact-diff.ts';

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
  /**
   * `bulk` for work a tenant's own sweeps found (catch-up): claimed after the tenant's live work.
   * Default `live`; a live enqueue folded into a bulk row makes it live.
   */
  priority?: Priority;
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
  /** `bulk` when only a sweep (catch-up) asked for it: its calls use the bulk share of the budgets. */
  priority?: Priority;
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
  /** Leave these tenants' jobs waiting: their budgets have no slot soon, or their vendor is failing. */
  excludeTenants?: string[];
  /** Most jobs one tenant may hold under a live lease at once, across all workers; default `limit`. */
  perTenantLimit?: number;
}

export interface FailJob {
  jobId: number;
  workerId: string;
  now: number;
  error: { code: string; message: string };
  /** When to run again; undefined = dead letter now. */
  retryAt?: number;
}

/** What a failed run left: the job due again (later, or now for work that arrived meanwhile), or dead. */
export type FailOutcome = 'retrying' | 'dead';

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

/** What the write ledger keeps per system: the contact as we wrote it, or the patch we sent Spry. */
export interface LedgerFields {
  spruce: ContactSnapshot;
  /** The contact as we are about to write it (Spruce may announce our write before its answer reaches us). */
  'spruce-intent': ContactSnapshot;
  spry: SpryPatientPatch;
}

export type LedgerSystem = keyof LedgerFields;

/**
 * The write ledger: what we last wrote to one record, field by field, and when. An inbound
 * event whose values equal these is an echo of our own write and is dropped.
 */
export interface LedgerEntry<S extends LedgerSystem = LedgerSystem> {
  tenantId: string;
  system: S;
  /** Spruce contact id or Spry patient id (as a string). */
  recordId: string;
  /** What we wrote (may hold PHI: encrypted at rest). */
  fields: LedgerFields[S];
  /** A hash of `fields`, to tell "nothing changed" without decrypting. */
  hash: string;
  writtenAt: number;
}

/** Per-patient counters of the state table, incremented in SQL: the create idempotency generation. */
export type Counter = `create-generation:${number}`;
/** Per-patient flags of the state table: staff deleted the contact and policy leaves it gone. */
export type Flag = `leave-deleted:${number}`;

/**
 * Where the record touched lives: a vendor's system, or spruce-sync itself (an operator's change
 * to a tenant's definition: recordType `tenant`).
 */
export type AuditSystem = 'spry' | 'spruce' | 'spruce-sync';
export const AUDIT_SYSTEMS: readonly AuditSystem[] = ['spry', 'spruce', 'spruce-sync'];

export interface AuditEntry {
  at: number;
  tenantId: string;
  system: AuditSystem;
  /** What was touched: 'patient', 'contact', 'link', 'communication', 'tenant', … */
  recordType: string;
  recordId: string;
  /** 'read', 'create', 'update', 'delete', 'link', 'unlink', 'skip', 'add', 'disable', … */
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

export type { Store } from './ports.ts';
