// Row ↔ domain mapping shared by both adapters: their tables have the same columns, only the
// drivers differ (SQLite hands JSON back as text, PostgreSQL as parsed values).
import type { Cipher, SealContext } from './cipher.ts';
import type { AuditEntry, ContactLink, EventSource, EventStatus, InboundEvent, Job, JobAttempt, LedgerEntry, LedgerSystem } from './types.ts';

/** When an enqueue does not say: enough tries to ride out an upstream outage of a few hours. */
export const DEFAULT_MAX_ATTEMPTS = 20;

/**
 * What each sealed value is authenticated with: its column and its row's stable key, so a value
 * cannot be moved to another column or row. An event's id is drawn on insert, after sealing: its
 * unique (tenant, source, event key) names it instead.
 */
export function payloadContext(event: { tenantId: string; source: string; eventKey: string }): SealContext {
  return { column: 'events.payload', row: [event.tenantId, event.source, event.eventKey] };
}

export function ledgerContext(entry: { tenantId: string; system: string; recordId: string }): SealContext {
  return { column: 'ledger.fields', row: [entry.tenantId, entry.system, entry.recordId] };
}

/** Secrets in the state table (setup's webhook secrets); SSE1 values named the tenant and key so. */
export function stateSecretContext(tenantId: string, key: string): SealContext {
  return { column: 'state.value', row: [tenantId, key], legacy: `state.${tenantId}.${key}` };
}

/** Dead-letter reasons and last errors are shown to operators; keep them short. */
const MAX_REASON_CHARS = 500;

export function failureReason(error: { code: string; message: string }): string {
  return `${error.code}: ${error.message}`.slice(0, MAX_REASON_CHARS);
}

/** The subject ids that get their own indexed columns. */
export function subjectIds(subject: Record<string, string | number>): { patientId: number | null; contactId: string | null } {
  const patient = subject.patientId === undefined ? NaN : Number(subject.patientId);
  const contact = subject.contactId;
  return {
    patientId: Number.isSafeInteger(patient) ? patient : null,
    contactId: contact === undefined || contact === '' ? null : String(contact),
  };
}

export function json<T>(value: unknown): T {
  return (typeof value === 'string' ? JSON.parse(value) : value) as T;
}

export function num(value: unknown): number {
  return typeof value === 'number' ? value : Number(value);
}

export function numOrNull(value: unknown): number | null {
  return value === null || value === undefined ? null : num(value);
}

export interface EventRow {
  id: number;
  tenant_id: string;
  source: string;
  event_key: string;
  type: string;
  occurred_at: number;
  received_at: number;
  payload: Buffer;
  subject: unknown;
  status: string;
  job_key: string | null;
  reason: string | null;
  updated_at: number;
}

export function toInboundEvent(row: EventRow, cipher: Cipher): InboundEvent {
  const columns = eventColumns(row);
  return { ...columns, payload: cipher.open(Buffer.from(row.payload), payloadContext(columns)) };
}

/** An event row's columns apart from its payload (the event log's summaries have no payload). */
export function eventColumns(row: Omit<EventRow, 'payload'>): Omit<InboundEvent, 'payload'> {
  return {
    id: num(row.id),
    tenantId: row.tenant_id,
    source: row.source as EventSource,
    eventKey: row.event_key,
    type: row.type,
    occurredAt: num(row.occurred_at),
    receivedAt: num(row.received_at),
    subject: json(row.subject),
    status: row.status as EventStatus,
    jobKey: row.job_key,
    reason: row.reason,
    updatedAt: num(row.updated_at),
  };
}

export interface JobRow {
  id: number;
  tenant_id: string;
  key: string;
  task: string;
  params: unknown;
  state: string;
  attempts: number;
  max_attempts: number;
  run_at: number;
  last_event_id: number;
  locked_by: string | null;
  locked_until: number | null;
  last_error: string | null;
  /** 1 for bulk work (catch-up), 0 for live. */
  bulk?: number | boolean;
}

/** The columns a job and a dead letter (admin-rows.ts) share. */
export function jobColumns(row: Pick<JobRow, 'id' | 'tenant_id' | 'key' | 'task' | 'params' | 'attempts' | 'max_attempts' | 'last_error'>) {
  return {
    id: num(row.id),
    tenantId: row.tenant_id,
    key: row.key,
    task: row.task,
    params: json<Job['params']>(row.params),
    attempts: num(row.attempts),
    maxAttempts: num(row.max_attempts),
    lastError: row.last_error,
  };
}

export function toJob(row: JobRow): Job {
  return {
    ...jobColumns(row),
    runAt: num(row.run_at),
    lastEventId: num(row.last_event_id),
    lockedBy: row.locked_by,
    lockedUntil: numOrNull(row.locked_until),
    state: row.state as Job['state'],
    priority: Number(row.bulk ?? 0) === 1 ? 'bulk' : 'live',
  };
}

export function byRunAtThenId(a: Job, b: Job): number {
  return a.runAt - b.runAt || a.id - b.id;
}

export interface AttemptRow {
  job_id: number;
  tenant_id: string;
  job_key: string;
  started_at: number;
  finished_at: number;
  outcome: string;
  error_code: string | null;
  request_id: string | null;
}

export function toAttempt(row: AttemptRow): JobAttempt {
  return {
    jobId: num(row.job_id),
    tenantId: row.tenant_id,
    jobKey: row.job_key,
    startedAt: num(row.started_at),
    finishedAt: num(row.finished_at),
    outcome: row.outcome as JobAttempt['outcome'],
    errorCode: row.error_code,
    requestId: row.request_id,
  };
}

export interface LinkRow {
  tenant_id: string;
  patient_id: number;
  contact_id: string;
  created_at: number;
  updated_at: number;
}

export function toLink(row: LinkRow): ContactLink {
  return {
    tenantId: row.tenant_id,
    patientId: num(row.patient_id),
    contactId: row.contact_id,
    createdAt: num(row.created_at),
    updatedAt: num(row.updated_at),
  };
}

export interface LedgerRow {
  tenant_id: string;
  system: string;
  record_id: string;
  fields: Buffer;
  hash: string;
  written_at: number;
}

export function sealLedgerFields(entry: LedgerEntry, cipher: Cipher): Buffer {
  return cipher.seal(Buffer.from(JSON.stringify(entry.fields)), ledgerContext(entry));
}

/** The row was read by its system, and each system's fields are written by putLedger typed for it. */
export function toLedger<S extends LedgerSystem>(row: LedgerRow, cipher: Cipher): LedgerEntry<S> {
  const key = { tenantId: row.tenant_id, system: row.system as S, recordId: row.record_id };
  return {
    ...key,
    fields: JSON.parse(cipher.open(Buffer.from(row.fields), ledgerContext(key)).toString('utf8')) as LedgerEntry<S>['fields'],
    hash: row.hash,
    writtenAt: num(row.written_at),
  };
}

export interface AuditRow {
  at: number;
  tenant_id: string;
  system: string;
  record_type: string;
  record_id: string;
  action: string;
  event_id: number | null;
  detail: unknown;
}

export function toAudit(row: AuditRow): AuditEntry {
  return {
    at: num(row.at),
    tenantId: row.tenant_id,
    system: row.system as AuditEntry['system'],
    recordType: row.record_type,
    recordId: row.record_id,
    action: row.action,
    eventId: numOrNull(row.event_id),
    detail: row.detail === null || row.detail === undefined ? undefined : json(row.detail),
  };
}

export interface QueueStatsRow {
  tenant_id: string;
  waiting: number;
  running: number;
  dead: number;
  oldest_run_at: number | null;
}

export function toQueueStats(row: QueueStatsRow) {
  return {
    tenantId: row.tenant_id,
    waiting: num(row.waiting),
    running: num(row.running),
    dead: num(row.dead),
    oldestRunAt: numOrNull(row.oldest_run_at),
  };
}

/**
 * The search filters as (column, operator, value) triples, for each adapter to render with its
 * own placeholders. `since` (inclusive) and `until` (exclusive) bound when we received it.
 */
export function eventFilters(query: {
  tenantId?: string;
  source?: string;
  type?: string;
  status?: string;
  patientId?: number;
  contactId?: string;
  since?: number;
  until?: number;
  beforeId?: number;
}): [column: string, op: '=' | '>=' | '<' | '<=', value: string | number][] {
  const filters: [string, '=' | '>=' | '<' | '<=', string | number][] = [];
  if (query.tenantId !== undefined) filters.push(['tenant_id', '=', query.tenantId]);
  if (query.source !== undefined) filters.push(['source', '=', query.source]);
  if (query.type !== undefined) filters.push(['type', '=', query.type]);
  if (query.status !== undefined) filters.push(['status', '=', query.status]);
  if (query.patientId !== undefined) filters.push(['patient_id', '=', query.patientId]);
  if (query.contactId !== undefined) filters.push(['contact_id', '=', query.contactId]);
  if (query.since !== undefined) filters.push(['received_at', '>=', query.since]);
  if (query.until !== undefined) filters.push(['received_at', '<', query.until]);
  if (query.beforeId !== undefined) filters.push(['id', '<', query.beforeId]);
  return filters;
}
