// The operator queries in PostgreSQL: the same views as SQLite's, served by the same indexes.
import type pg from 'pg';
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
import type { Queryable } from './db.ts';

/** Renders filters with numbered placeholders; lists travel as one text[] parameter. */
function where(filters: Filter[]): { sql: string; params: unknown[] } {
  const parts: string[] = [];
  const params: unknown[] = [];
  for (const [column, op, value] of filters) {
    params.push(value);
    const p = `$${params.length}`;
    if (op === 'in') parts.push(`${column} = ANY (${p}::text[])`);
    else if (op === 'starts') parts.push(`left(${column}, length(${p}::text)) = ${p}::text`);
    else parts.push(`${column} ${op} ${p}`);
  }
  return { sql: parts.length ? `WHERE ${parts.join(' AND ')}` : '', params };
}

export async function listEventSummaries(db: Queryable, query: EventSummaryQuery): Promise<EventSummary[]> {
  const w = where(summaryFilters(query));
  const { rows } = await db.query<EventSummaryRow>(
    `SELECT ${SUMMARY_COLUMNS}, octet_length(payload) AS payload_bytes FROM events ${w.sql}
     ORDER BY id DESC LIMIT $${w.params.length + 1}`,
    [...w.params, query.limit],
  );
  return rows.map(toEventSummary);
}

export async function inboxBacklog(db: Queryable, tenantId: string): Promise<InboxBacklog> {
  const { rows } = await db.query<{ queued: number; dead: number; oldest: number | null }>(
    `SELECT (SELECT count(*) FROM events WHERE tenant_id = $1 AND status = 'queued') AS queued,
            (SELECT count(*) FROM events WHERE tenant_id = $1 AND status = 'dead')   AS dead,
            (SELECT received_at FROM events WHERE tenant_id = $1 AND status = 'queued' ORDER BY id LIMIT 1) AS oldest`,
    [tenantId],
  );
  const row = rows[0]!;
  return { queued: Number(row.queued), dead: Number(row.dead), oldestQueuedAt: row.oldest === null ? null : Number(row.oldest) };
}

export async function eventActivity(
  db: Queryable,
  tenantId: string,
  since: number,
  until: number,
  bucketMs: number,
): Promise<ActivityBucket[]> {
  const { rows } = await db.query<ActivityRow>(
    `SELECT (received_at - $2) / $4 AS bucket,
            count(*) AS received,
            count(*) FILTER (WHERE status = 'processed') AS processed,
            count(*) FILTER (WHERE status = 'dead') AS dead,
            avg(updated_at - received_at) FILTER (WHERE status = 'processed')::float8 AS lag_avg,
            max(updated_at - received_at) FILTER (WHERE status = 'processed') AS lag_max
     FROM events
     WHERE tenant_id = $1 AND received_at >= $2 AND received_at < $3
     GROUP BY bucket`,
    [tenantId, since, until, bucketMs],
  );
  return fillBuckets(rows, since, until, bucketMs);
}

export async function attemptCounts(db: Queryable, tenantId: string, since: number): Promise<AttemptCounts> {
  const { rows } = await db.query<AttemptCounts>(
    `SELECT count(*) FILTER (WHERE outcome = 'succeeded') AS succeeded,
            count(*) FILTER (WHERE outcome = 'retrying')  AS retrying,
            count(*) FILTER (WHERE outcome = 'dead')      AS dead
     FROM job_attempts WHERE tenant_id = $1 AND finished_at >= $2`,
    [tenantId, since],
  );
  const row = rows[0]!;
  return { succeeded: Number(row.succeeded), retrying: Number(row.retrying), dead: Number(row.dead) };
}

export async function listAttemptsForKeys(db: Queryable, query: AttemptsForKeysQuery): Promise<JobAttempt[]> {
  if (query.jobKeys.length === 0) return [];
  const { rows } = await db.query<AttemptRow>(
    `SELECT * FROM job_attempts
     WHERE tenant_id = $1 AND job_key = ANY ($2::text[]) AND finished_at >= $3
     ORDER BY id DESC LIMIT $4`,
    [query.tenantId, query.jobKeys, query.since ?? 0, query.limit],
  );
  return rows.map(toAttempt).reverse();
}

export async function listDeadJobs(db: Queryable, query: DeadJobQuery): Promise<DeadJob[]> {
  const w = where(deadJobFilters(query));
  const { rows } = await db.query<DeadJobRow>(
    `SELECT j.id, j.tenant_id, j.key, j.task, j.params, j.attempts, j.max_attempts, j.last_error, j.updated_at,
            (SELECT count(*) FROM events e
             WHERE e.tenant_id = j.tenant_id AND e.job_key = j.key AND e.status = 'dead') AS dead_events
     FROM jobs j ${w.sql} ORDER BY j.id DESC LIMIT $${w.params.length + 1}`,
    [...w.params, query.limit],
  );
  return rows.map(toDeadJob);
}

export async function searchAuditRecords(db: Queryable, query: AuditQuery): Promise<AuditRecord[]> {
  const w = where(auditFilters(query));
  const { rows } = await db.query<AuditRow & { id: number }>(
    `SELECT * FROM audit ${w.sql} ORDER BY id DESC LIMIT $${w.params.length + 1}`,
    [...w.params, query.limit],
  );
  return rows.map(toAuditRecord);
}

/** Tenants present in the inbox, found by skipping through the index (one probe per tenant). */
async function inboxTenants(db: Queryable): Promise<string[]> {
  const tenants: string[] = [];
  let last = '';
  for (;;) {
    const { rows } = await db.query<{ t: string | null }>('SELECT min(tenant_id) AS t FROM events WHERE tenant_id > $1', [last]);
    const next = rows[0]?.t;
    if (!next) return tenants;
    tenants.push(next);
    last = next;
  }
}

/**
 * Empties payloads of finished events received before `olderThan`, one short statement per
 * batch; rows another session holds are skipped (the next run gets them). Queued events and dead
 * letters keep theirs. The cursor on received_at keeps batches from rescanning pruned rows.
 */
export async function prunePayloads(pool: pg.Pool, options: PruneOptions): Promise<PruneResult> {
  const batchSize = options.batchSize ?? 2_000;
  const result: PruneResult = { events: 0, bytes: 0 };
  for (const tenantId of await inboxTenants(pool)) {
    let cursor = 0;
    for (;;) {
      const { rows } = await pool.query<{ events: number; bytes: number | null; last: number | null }>(
        `WITH victims AS (
           SELECT id, received_at, octet_length(payload) AS bytes FROM events
           WHERE tenant_id = $1 AND received_at >= $2 AND received_at < $3
             AND status = ANY ($4::text[]) AND octet_length(payload) > 0
           ORDER BY received_at
           LIMIT $5
           FOR UPDATE SKIP LOCKED
         ), pruned AS (
           UPDATE events e SET payload = ''::bytea FROM victims v WHERE e.id = v.id
           RETURNING v.bytes, v.received_at
         )
         SELECT count(*) AS events, sum(bytes) AS bytes, max(received_at) AS last FROM pruned`,
        [tenantId, cursor, options.olderThan, PRUNABLE_STATUSES, batchSize],
      );
      const batch = rows[0]!;
      const events = Number(batch.events);
      result.events += events;
      result.bytes += Number(batch.bytes ?? 0);
      if (events < batchSize || batch.last === null) break;
      cursor = Number(batch.last);
    }
  }
  return result;
}
