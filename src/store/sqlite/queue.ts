// Every change of a job's state is one function here, with its SQL in sight. Callers hold the
// write transaction; SQLite runs one writer at a time, so no row locks are needed.
import { DEFAULT_MAX_ATTEMPTS, failureReason, type JobRow } from '../rows.ts';
import type { ClaimOptions, EnqueueJob, FailJob } from '../types.ts';
import type { Sqlite } from './db.ts';

/**
 * Adds work for a key, or folds it into the key's existing row. A pending retry keeps its
 * backoff; a dead row comes back to life with fresh attempts and its dead events requeued.
 * Returns the job id.
 */
export function enqueue(sql: Sqlite, tenantId: string, job: EnqueueJob, now: number): number {
  const prior = sql.get<{ state: string }>('SELECT state FROM jobs WHERE tenant_id = ? AND key = ?', [tenantId, job.key]);
  const row = sql.get<{ id: number }>(
    `INSERT INTO jobs (tenant_id, key, task, params, run_at, max_attempts, created_at, updated_at)
     VALUES (@tenantId, @key, @task, @params, @runAt, @maxAttempts, @now, @now)
     ON CONFLICT (tenant_id, key) DO UPDATE SET
       task         = excluded.task,
       params       = excluded.params,
       max_attempts = excluded.max_attempts,
       enqueue_seq  = jobs.enqueue_seq + 1,
       run_at       = CASE WHEN jobs.state = 'dead' THEN excluded.run_at
                           WHEN jobs.attempts > 0  THEN jobs.run_at
                           ELSE min(jobs.run_at, excluded.run_at) END,
       attempts     = CASE WHEN jobs.state = 'dead' THEN 0 ELSE jobs.attempts END,
       state        = 'waiting',
       updated_at   = excluded.updated_at
     RETURNING id`,
    {
      tenantId,
      key: job.key,
      task: job.task,
      params: JSON.stringify(job.params),
      runAt: job.runAt ?? now,
      maxAttempts: job.maxAttempts ?? DEFAULT_MAX_ATTEMPTS,
      now,
    },
  )!;
  if (prior?.state === 'dead') requeueDeadEvents(sql, tenantId, job.key, now);
  return row.id;
}

/** Records that an event now feeds the job, so the next claim covers it. */
export function feedEvent(sql: Sqlite, jobId: number, eventId: number): void {
  sql.run('UPDATE jobs SET last_event_id = max(last_event_id, ?) WHERE id = ?', [eventId, jobId]);
}

export function requeueDeadEvents(sql: Sqlite, tenantId: string, jobKey: string, now: number): void {
  sql.run(
    `UPDATE events SET status = 'queued', reason = NULL, updated_at = ?
     WHERE tenant_id = ? AND job_key = ? AND status = 'dead'`,
    [now, tenantId, jobKey],
  );
}

/** Leases due jobs, oldest first: waiting, due, and either unlocked or with a lapsed lease. */
export function claim(sql: Sqlite, options: ClaimOptions): JobRow[] {
  return sql.all<JobRow>(
    `UPDATE jobs SET
       locked_by    = @workerId,
       locked_until = @now + @leaseMs,
       attempts     = attempts + 1,
       claimed_seq  = enqueue_seq,
       updated_at   = @now
     WHERE id IN (
       SELECT id FROM jobs
       WHERE state = 'waiting' AND run_at <= @now
         AND (locked_until IS NULL OR locked_until <= @now)
         AND (@tenants IS NULL OR tenant_id IN (SELECT value FROM json_each(@tenants)))
         AND (@skip IS NULL OR tenant_id || ' ' || task NOT IN (SELECT value FROM json_each(@skip)))
       ORDER BY run_at, id
       LIMIT @limit
     )
     RETURNING *`,
    {
      workerId: options.workerId,
      now: options.now,
      leaseMs: options.leaseMs,
      limit: options.limit,
      tenants: options.tenantIds ? JSON.stringify(options.tenantIds) : null,
      skip: options.excludeTasks?.length ? JSON.stringify(excludedPairs(options)) : null,
    },
  );
}

/** Tenant ids are [a-z0-9-]+, so `tenant task` pairs joined by a space cannot collide. */
function excludedPairs(options: ClaimOptions): string[] {
  return (options.excludeTasks ?? []).map(({ tenantId, task }) => `${tenantId} ${task}`);
}

export function renewLease(sql: Sqlite, jobId: number, workerId: string, lockedUntil: number): boolean {
  return (
    sql.run(`UPDATE jobs SET locked_until = ? WHERE id = ? AND locked_by = ? AND state = 'waiting'`, [
      lockedUntil,
      jobId,
      workerId,
    ]).changes > 0
  );
}

/**
 * Success: the events the run covered are processed. If more work arrived while it ran, the row
 * stays, unlocked and due now with fresh attempts; otherwise it is gone. A worker that lost its
 * lease changes nothing: the new holder will do the work.
 */
export function complete(sql: Sqlite, jobId: number, workerId: string, attempts: number, lastEventId: number, now: number): boolean {
  // `attempts` fences the claim: the same worker id may have claimed the key again after this
  // run's lease lapsed, and only that newer claim may settle it.
  const held = sql.get<{ tenant_id: string; key: string; enqueue_seq: number; claimed_seq: number }>(
    'SELECT tenant_id, key, enqueue_seq, claimed_seq FROM jobs WHERE id = ? AND locked_by = ? AND attempts = ?',
    [jobId, workerId, attempts],
  );
  if (!held) return false;
  sql.run(
    `UPDATE events SET status = 'processed', updated_at = ?
     WHERE tenant_id = ? AND job_key = ? AND status = 'queued' AND id <= ?`,
    [now, held.tenant_id, held.key, lastEventId],
  );
  if (held.enqueue_seq > held.claimed_seq) {
    sql.run(
      `UPDATE jobs SET locked_by = NULL, locked_until = NULL, run_at = ?, attempts = 0, last_error = NULL,
         updated_at = ?
       WHERE id = ?`,
      [now, now, jobId],
    );
  } else {
    sql.run('DELETE FROM jobs WHERE id = ?', [jobId]);
  }
  return true;
}

/** A failed run that may succeed later: unlocked, due at `retryAt`. */
export function retryLater(sql: Sqlite, failure: FailJob & { retryAt: number }, attempts: number): boolean {
  return (
    sql.run(
      `UPDATE jobs SET locked_by = NULL, locked_until = NULL, run_at = ?, last_error = ?, updated_at = ?
       WHERE id = ? AND locked_by = ? AND attempts = ?`,
      [failure.retryAt, failureReason(failure.error), failure.now, failure.jobId, failure.workerId, attempts],
    ).changes > 0
  );
}

/** A failed run that will not succeed by retrying: the job and the events it covered die. */
export function bury(sql: Sqlite, failure: FailJob, lastEventId: number, attempts: number): boolean {
  const reason = failureReason(failure.error);
  const held = sql.get<{ tenant_id: string; key: string }>(
    `UPDATE jobs SET state = 'dead', locked_by = NULL, locked_until = NULL, last_error = ?, updated_at = ?
     WHERE id = ? AND locked_by = ? AND attempts = ?
     RETURNING tenant_id, key`,
    [reason, failure.now, failure.jobId, failure.workerId, attempts],
  );
  if (!held) return false;
  sql.run(
    `UPDATE events SET status = 'dead', reason = ?, updated_at = ?
     WHERE tenant_id = ? AND job_key = ? AND status = 'queued' AND id <= ?`,
    [reason, failure.now, held.tenant_id, held.key, lastEventId],
  );
  return true;
}

/** An operator's replay: the dead job is due now with fresh attempts, its events queued again. */
export function replayDead(sql: Sqlite, tenantId: string, jobKey: string, now: number): boolean {
  const revived = sql.run(
    `UPDATE jobs SET state = 'waiting', attempts = 0, run_at = ?, enqueue_seq = enqueue_seq + 1, updated_at = ?
     WHERE tenant_id = ? AND key = ? AND state = 'dead'`,
    [now, now, tenantId, jobKey],
  );
  if (revived.changes === 0) return false;
  requeueDeadEvents(sql, tenantId, jobKey, now);
  return true;
}
