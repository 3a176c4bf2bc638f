// The operator's queries (admin API, dashboard, CLI). Each one is served by an index (see the
// migrations): the dashboard must stay fast on an inbox of millions of events.
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
} from '../admin-rows.ts';
import * as views from '../admin-types.ts';
import { toAttempt, type AttemptRow, type AuditRow } from '../rows.ts';
import type { JobAttempt } from '../types.ts';
import { tenantsIn } from './retention.ts';
import { anyOf, filterConditions, raw, skipLocked, sql, where, type Db } from './sql.ts';

export async function listEventSummaries(db: Db, query: views.EventSummaryQuery): Promise<views.EventSummary[]> {
  const rows = await db.all<EventSummaryRow>(sql`
    SELECT ${raw(SUMMARY_COLUMNS)}, length(payload) AS payload_bytes FROM events
    ${where(filterConditions(summaryFilters(query)))} ORDER BY id DESC LIMIT ${query.limit}`);
  return rows.map(toEventSummary);
}

export async function inboxBacklog(db: Db, tenantId: string): Promise<views.InboxBacklog> {
  // Each count walks only its slice of events_by_status.
  const row = (await db.get<{ queued: number; dead: number; oldest: number | null }>(sql`
    SELECT (SELECT count(*) FROM events WHERE tenant_id = ${tenantId} AND status = 'queued') AS queued,
           (SELECT count(*) FROM events WHERE tenant_id = ${tenantId} AND status = 'dead')   AS dead,
           (SELECT received_at FROM events WHERE tenant_id = ${tenantId} AND status = 'queued' ORDER BY id LIMIT 1) AS oldest`))!;
  return { queued: Number(row.queued), dead: Number(row.dead), oldestQueuedAt: row.oldest === null ? null : Number(row.oldest) };
}

export async function eventActivity(db: Db, tenantId: string, since: number, until: number, bucketMs: number): Promise<views.ActivityBucket[]> {
  const rows = await db.all<ActivityRow>(sql`
    SELECT CAST((received_at - ${since}) / ${bucketMs} AS INTEGER) AS bucket,
           count(*) AS received,
           count(*) FILTER (WHERE status = 'processed') AS processed,
           count(*) FILTER (WHERE status = 'dead') AS dead,
           avg(updated_at - received_at) FILTER (WHERE status = 'processed') AS lag_avg,
           max(updated_at - received_at) FILTER (WHERE status = 'processed') AS lag_max
    FROM events
    WHERE tenant_id = ${tenantId} AND received_at >= ${since} AND received_at < ${until}
    GROUP BY 1`);
  return fillBuckets(rows, since, until, bucketMs);
}

export async function attemptCounts(db: Db, tenantId: string, since: number): Promise<views.AttemptCounts> {
  const row = (await db.get<views.AttemptCounts>(sql`
    SELECT count(*) FILTER (WHERE outcome = 'succeeded') AS succeeded,
           count(*) FILTER (WHERE outcome = 'retrying')  AS retrying,
           count(*) FILTER (WHERE outcome = 'dead')      AS dead
    FROM job_attempts WHERE tenant_id = ${tenantId} AND finished_at >= ${since}`))!;
  return { succeeded: Number(row.succeeded), retrying: Number(row.retrying), dead: Number(row.dead) };
}

export async function listAttemptsForKeys(db: Db, query: views.AttemptsForKeysQuery): Promise<JobAttempt[]> {
  if (query.jobKeys.length === 0) return [];
  const rows = await db.all<AttemptRow>(sql`
    SELECT * FROM job_attempts
    WHERE tenant_id = ${query.tenantId} AND ${anyOf('job_key', query.jobKeys)} AND finished_at >= ${query.since ?? 0}
    ORDER BY id DESC LIMIT ${query.limit}`);
  return rows.map(toAttempt).reverse();
}

export async function listDeadJobs(db: Db, query: views.DeadJobQuery): Promise<views.DeadJob[]> {
  const rows = await db.all<DeadJobRow>(sql`
    SELECT j.id, j.tenant_id, j.key, j.task, j.params, j.attempts, j.max_attempts, j.last_error, j.updated_at,
           (SELECT count(*) FROM events e
            WHERE e.tenant_id = j.tenant_id AND e.job_key = j.key AND e.status = 'dead') AS dead_events
    FROM jobs j ${where(filterConditions(deadJobFilters(query)))} ORDER BY j.id DESC LIMIT ${query.limit}`);
  return rows.map(toDeadJob);
}

export async function searchAuditRecords(db: Db, query: views.AuditQuery): Promise<views.AuditRecord[]> {
  const rows = await db.all<AuditRow & { id: number }>(
    sql`SELECT * FROM audit ${where(filterConditions(auditFilters(query)))} ORDER BY id DESC LIMIT ${query.limit}`,
  );
  return rows.map(toAuditRecord);
}

/**
 * Empties payloads of finished events received before `olderThan`, in short transactions per
 * tenant; rows another session holds are skipped (the next run gets them). Queued events and
 * dead letters keep theirs: they will be read again. The cursor on received_at keeps each batch
 * from rescanning what the previous one pruned.
 */
export async function prunePayloads(db: Db, options: views.PruneOptions): Promise<views.PruneResult> {
  const batchSize = options.batchSize ?? 2_000;
  const result: views.PruneResult = { events: 0, bytes: 0 };
  for (const tenantId of await tenantsIn(db, 'events')) {
    for (let cursor = 0; ; ) {
      const batch = await db.transaction(async (tx) => {
        const rows = await tx.all<{ id: number; received_at: number; bytes: number }>(sql`
          SELECT id, received_at, length(payload) AS bytes FROM events
          WHERE tenant_id = ${tenantId} AND received_at >= ${cursor} AND received_at < ${options.olderThan}
            AND ${anyOf('status', views.PRUNABLE_STATUSES)} AND length(payload) > 0
          ORDER BY received_at LIMIT ${batchSize} ${skipLocked}`);
        if (rows.length > 0) {
          await tx.run(sql`UPDATE events SET payload = ${Buffer.alloc(0)} WHERE ${anyOf('id', rows.map((r) => r.id), 'bigint')}`);
        }
        return rows;
      });
      result.events += batch.length;
      result.bytes += batch.reduce((sum, row) => sum + Number(row.bytes), 0);
      if (batch.length < batchSize) break;
      cursor = batch[batch.length - 1]!.received_at;
    }
  }
  return result;
}
