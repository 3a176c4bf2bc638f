// Row ↔ view mapping and filters for the operator queries (sql/views.ts).
import type { ActivityBucket, AuditQuery, AuditRecord, DeadJob, DeadJobQuery, EventSummary, EventSummaryQuery } from './admin-types.ts';
import { eventColumns, eventFilters, jobColumns, num, numOrNull, toAudit, type AuditRow, type EventRow, type JobRow } from './rows.ts';
import type { Filter } from './sql/sql.ts';

/** The event columns an operator view reads: never the payload itself, only its size. */
export const SUMMARY_COLUMNS =
  'id, tenant_id, source, event_key, type, occurred_at, received_at, subject, status, job_key, reason, updated_at';

export type EventSummaryRow = Omit<EventRow, 'payload'> & { payload_bytes: number };

export function toEventSummary(row: EventSummaryRow): EventSummary {
  return { ...eventColumns(row), payloadPruned: num(row.payload_bytes) === 0 };
}

export function summaryFilters(query: EventSummaryQuery): Filter[] {
  const filters: Filter[] = eventFilters(query);
  if (query.jobKey !== undefined) filters.push(['job_key', '=', query.jobKey]);
  if (query.eventId !== undefined) filters.push(['id', '=', query.eventId]);
  return filters;
}

export type DeadJobRow = Pick<JobRow, 'id' | 'tenant_id' | 'key' | 'task' | 'params' | 'attempts' | 'max_attempts' | 'last_error'> & {
  updated_at: number;
  dead_events: number;
};

export function toDeadJob(row: DeadJobRow): DeadJob {
  return {
    ...jobColumns(row),
    diedAt: num(row.updated_at),
    deadEvents: num(row.dead_events),
  };
}

/** Filters on the jobs table (aliased `j`), dead ones only. */
export function deadJobFilters(query: DeadJobQuery): Filter[] {
  const filters: Filter[] = [['j.state', '=', 'dead']];
  if (query.tenantId !== undefined) filters.push(['j.tenant_id', '=', query.tenantId]);
  if (query.tasks !== undefined) filters.push(['j.task', 'in', query.tasks]);
  if (query.jobKey !== undefined) filters.push(['j.key', '=', query.jobKey]);
  // Stored as `CODE: message` (see failureReason).
  if (query.errorCode !== undefined) filters.push(['j.last_error', 'starts', `${query.errorCode}:`]);
  if (query.since !== undefined) filters.push(['j.updated_at', '>=', query.since]);
  if (query.until !== undefined) filters.push(['j.updated_at', '<', query.until]);
  if (query.beforeId !== undefined) filters.push(['j.id', '<', query.beforeId]);
  return filters;
}

export function auditFilters(query: AuditQuery): Filter[] {
  const filters: Filter[] = [];
  if (query.tenantId !== undefined) filters.push(['tenant_id', '=', query.tenantId]);
  if (query.system !== undefined) filters.push(['system', '=', query.system]);
  if (query.recordType !== undefined) filters.push(['record_type', '=', query.recordType]);
  if (query.recordIds !== undefined) filters.push(['record_id', 'in', query.recordIds]);
  if (query.action !== undefined) filters.push(['action', '=', query.action]);
  if (query.eventId !== undefined) filters.push(['event_id', '=', query.eventId]);
  if (query.since !== undefined) filters.push(['at', '>=', query.since]);
  if (query.until !== undefined) filters.push(['at', '<', query.until]);
  if (query.beforeId !== undefined) filters.push(['id', '<', query.beforeId]);
  return filters;
}

export function toAuditRecord(row: AuditRow & { id: number }): AuditRecord {
  return { id: num(row.id), ...toAudit(row) };
}

export interface ActivityRow {
  bucket: number;
  received: number;
  processed: number;
  dead: number;
  lag_avg: number | null;
  lag_max: number | null;
}

/** Every bucket from `since` to `until`, zeros where nothing was received. */
export function fillBuckets(rows: ActivityRow[], since: number, until: number, bucketMs: number): ActivityBucket[] {
  const byIndex = new Map(rows.map((row) => [num(row.bucket), row]));
  const count = Math.max(0, Math.ceil((until - since) / bucketMs));
  return Array.from({ length: count }, (_, i) => {
    const row = byIndex.get(i);
    const lagAvg = numOrNull(row?.lag_avg);
    return {
      start: since + i * bucketMs,
      received: num(row?.received ?? 0),
      processed: num(row?.processed ?? 0),
      dead: num(row?.dead ?? 0),
      lagMsAvg: lagAvg === null ? null : Math.round(lagAvg),
      lagMsMax: numOrNull(row?.lag_max),
    };
  });
}
