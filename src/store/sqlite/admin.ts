// The operator queries in SQLite. Each one is served by an index (see migrations.ts): the
// dashboard must stay fast on an inbox of millions of events.
import {
  auditFilters,
  deadJobFilters,
  fillBuckets,
  summaryFilters,
  SUMMARY_COLUMNS,
  toAuditRecord,
  toDeadJob,
  toEventSummary,
  type ActivityRow,
  type DeadJobRow,
  type EventSummaryRow,
  type Filter,
} from '../admin-rows.ts';
import {
  PRUNABLE_STATUSES,
  type ActivityBucket,
  type AttemptCounts,
  type AttemptsForKeysQuery,
  type AuditQuery,
  type AuditRecord,
  type DeadJob,
  type DeadJobQuery,
  type EventSummary,
  type EventSummaryQuery,
  type InboxBacklog,
  type PruneOptions,
  type PruneResult,
} from '../admin-types.ts';
import { toAttempt, type AttemptRow, type AuditRow } from '../rows.ts';
import type { JobAttempt } from '../types.ts';
import type { Sqlite } from './db.ts';

/** Renders filters with `?` placeholders; lists travel as one JSON array. */
function where(filters: Filter[]): { sql: string; params: unknown[] } {
  const parts: string[] = [];
  const params: unknown[] = [];
  for (const [column, op, value] of filters) {
    if (op === 'in') {
      parts.push(`${column} IN (SELECT value FROM json_each(?))`);
      params.push(JSON.stringify(value));
    } else if (op === 'starts') {
      parts.push(`substr(${column}, 1, length(?)) = ?`);
      params.push(value, value);
    } else {
      parts.push(`${column} ${op} ?`);
      params.push(value);
    }
  }
  return { sql: parts.length ? `WHERE ${parts.join(' AND ')}` : '', params };
}

export function listEventSummaries(sql: Sqlite, query: EventSummaryQuery): EventSummary[] {
  const w = where(summaryFilters(query));
  return sql
    .all<EventSummaryRow>(
      `SELECT ${SUMMARY_COLUMNS}, length(payload) AS payload_bytes FROM events ${w.sql} ORDER BY id DESC LIMIT ?`,
      [...w.params, query.limit],
    )
    .map(toEventSummary);
}

export function inboxBacklog(sql: Sqlite, tenantId: string): InboxBacklog {
  // Both counts walk only their slice of events_by_status.
  const counts = sql.get<{ queued: number; dead: number }>(
    `SELECT (SELECT count(*) FROM events WHERE tenant_id = @t AND status = 'queued') AS queued,
            (SELECT count(*) FROM events WHERE tenant_id = @t AND status = 'dead')   AS dead`,
    { t: tenantId },
  )!;
  const oldest = sql.get<{ received_at: number }>(
    `SELECT received_at FROM events WHERE tenant_id = ? AND status = 'queued' ORDER BY id LIMIT 1`,
    [tenantId],
  );
  return { queued: counts.queued, dead: counts.dead, oldestQueuedAt: oldest?.received_at ?? null };
}

export function eventActivity(sql: Sqlite, tenantId: string, since: number, until: number, bucketMs: number): ActivityBucket[] {
  const rows = sql.all<ActivityRow>(
    `SELECT CAST((received_at - @since) / @bucket AS INTEGER) AS bucket,
            count(*) AS received,
            sum(status = 'processed') AS processed,
            sum(status = 'dead') AS dead,
            avg(CASE WHEN status = 'processed' THEN updated_at - received_at END) AS lag_avg,
            max(CASE WHEN status = 'processed' THEN updated_at - received_at END) AS lag_max
     FROM events
     WHERE tenant_id = @tenantId AND received_at >= @since AND received_at < @until
     GROUP BY bucket`,
    { tenantId, since, until, bucket: bucketMs },
  );
  return fillBuckets(rows, since, until, bucketMs);
}

export function attemptCounts(sql: Sqlite, tenantId: string, since: number): AttemptCounts {
  const row = sql.get<AttemptCounts>(
    `SELECT coalesce(sum(outcome = 'succeeded'), 0) AS succeeded,
            coalesce(sum(outcome = 'retrying'), 0)  AS retrying,
            coalesce(sum(outcome = 'dead'), 0)      AS dead
     FROM job_attempts WHERE tenant_id = ? AND finished_at >= ?`,
    [tenantId, since],
  )!;
  return { succeeded: row.succeeded, retrying: row.retrying, dead: row.dead };
}

export function listAttemptsForKeys(sql: Sqlite, query: AttemptsForKeysQuery): JobAttempt[] {
  if (query.jobKeys.length === 0) return [];
  return sql
    .all<AttemptRow>(
      `SELECT * FROM job_attempts
       WHERE tenant_id = ? AND job_key IN (SELECT value FROM json_each(?)) AND finished_at >= ?
       ORDER BY id DESC LIMIT ?`,
      [query.tenantId, JSON.stringify(query.jobKeys), query.since ?? 0, query.limit],
    )
    .map(toAttempt)
    .reverse();
}

export function listDeadJobs(sql: Sqlite, query: DeadJobQuery): DeadJob[] {
  const w = where(deadJobFilters(query));
  return sql
    .all<DeadJobRow>(
      `SELECT j.id, j.tenant_id, j.key, j.task, j.params, j.attempts, j.max_attempts, j.last_error, j.updated_at,
              (SELECT count(*) FROM events e
               WHERE e.tenant_id = j.tenant_id AND e.job_key = j.key AND e.status = 'dead') AS dead_events
       FROM jobs j ${w.sql} ORDER BY j.id DESC LIMIT ?`,
      [...w.params, query.limit],
    )
    .map(toDeadJob);
}

export function searchAuditRecords(sql: Sqlite, query: AuditQuery): AuditRecord[] {
  const w = where(auditFilters(query));
  return sql
    .all<AuditRow & { id: number }>(`SELECT * FROM audit ${w.sql} ORDER BY id DESC LIMIT ?`, [...w.params, query.limit])
    .map(toAuditRecord);
}

/** Tenants present in the inbox, found by skipping through the index (one probe per tenant). */
function inboxTenants(sql: Sqlite): string[] {
  const tenants: string[] = [];
  let last = '';
  for (;;) {
    const row = sql.get<{ t: string | null }>('SELECT min(tenant_id) AS t FROM events WHERE tenant_id > ?', [last]);
    if (!row?.t) return tenants;
    tenants.push(row.t);
    last = row.t;
  }
}

/**
 * Empties payloads of finished events received before `olderThan`, in short write transactions
 * per tenant. Queued events and dead letters keep theirs: they will be read again. The cursor
 * on received_at keeps each batch from rescanning what the previous one pruned.
 */
export function prunePayloads(sql: Sqlite, options: PruneOptions): PruneResult {
  const batchSize = options.batchSize ?? 2_000;
  const statuses = JSON.stringify(PRUNABLE_STATUSES);
  const result: PruneResult = { events: 0, bytes: 0 };
  for (const tenantId of inboxTenants(sql)) {
    let cursor = 0;
    for (;;) {
      const batch = sql.write(() => {
        const rows = sql.all<{ id: number; received_at: number; bytes: number }>(
          `SELECT id, received_at, length(payload) AS bytes FROM events
           WHERE tenant_id = ? AND received_at >= ? AND received_at < ?
             AND status IN (SELECT value FROM json_each(?)) AND length(payload) > 0
           ORDER BY received_at LIMIT ?`,
          [tenantId, cursor, options.olderThan, statuses, batchSize],
        );
        if (rows.length > 0) {
          sql.run(`UPDATE events SET payload = x'' WHERE id IN (SELECT value FROM json_each(?))`, [
            JSON.stringify(rows.map((r) => r.id)),
          ]);
        }
        return rows;
      });
      result.events += batch.length;
      result.bytes += batch.reduce((sum, row) => sum + row.bytes, 0);
      if (batch.length < batchSize) break;
      cursor = batch[batch.length - 1]!.received_at;
    }
  }
  return result;
}

/**
 * Without statistics SQLite may walk (tenant_id, id) backwards for a rare job key or patient and
 * take hundreds of ms at a million events; with them it picks the narrow index (< 1 ms).
 * Sampled (analysis_limit), it takes about 0.3 s on a million events.
 */
export function refreshStatistics(sql: Sqlite): void {
  sql.db.pragma('analysis_limit = 1000');
  sql.db.exec('ANALYZE');
}
