// Every change of a job's state is one function here, with its SQL in sight. Many instances
// share the table: the job row's lock is what orders work on one key, and claims skip rows
// another session holds instead of waiting for them.
import { DEFAULT_MAX_ATTEMPTS, failureReason, type JobRow } from '../rows.ts';
import type { ClaimOptions, EnqueueJob, FailJob } from '../types.ts';
import type { Queryable } from './db.ts';

/**
 * How an enqueue folds into the key's existing row: newest task and params, one more enqueue
 * counted, a pending retry keeps its backoff (an earlier runAt otherwise wins), and a dead row
 * comes back to life with fresh attempts. Shared by both enqueue statements below.
 */
const COALESCE_INTO_EXISTING = `
       task         = EXCLUDED.task,
       params       = EXCLUDED.params,
       max_attempts = EXCLUDED.max_attempts,
       enqueue_seq  = j.enqueue_seq + 1,
       run_at       = CASE WHEN j.state = 'dead' THEN EXCLUDED.run_at
                           WHEN j.attempts > 0  THEN j.run_at
                           ELSE least(j.run_at, EXCLUDED.run_at) END,
       attempts     = CASE WHEN j.state = 'dead' THEN 0 ELSE j.attempts END,
       state        = 'waiting',
       updated_at   = EXCLUDED.updated_at`;

/**
 * Adds work for a key with no inbound event (backfill, reconcile), or folds it into the key's
 * row. Runs in the caller's transaction, followed by requeueDeadEvents.
 */
export async function enqueue(db: Queryable, tenantId: string, job: EnqueueJob, now: number): Promise<void> {
  await db.query(
    `INSERT INTO jobs AS j (tenant_id, key, task, params, run_at, max_attempts, created_at, updated_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $7)
     ON CONFLICT (tenant_id, key) DO UPDATE SET ${COALESCE_INTO_EXISTING}`,
    jobValues(tenantId, job, now),
  );
}

/**
 * Stores an event and enqueues (or coalesces) its job in one statement, in the caller's
 * transaction. The event's id is drawn while the statement holds the job row (just inserted, or
 * locked for the update) and becomes the row's last_event_id. Ids of one key's events therefore
 * follow the order in which they commit: when a worker claims "up to id N", every event of that
 * key with a smaller id is already visible, and completing cannot mark one the run never saw.
 * Returns null for a duplicate; the caller then rolls back.
 */
export async function enqueueWithEvent(db: Queryable, tenantId: string, job: EnqueueJob, now: number, event: EventValues): Promise<number | null> {
  const { rows } = await db.query<{ id: number }>(
    `WITH job AS (
       INSERT INTO jobs AS j (tenant_id, key, task, params, run_at, max_attempts, last_event_id, created_at, updated_at)
       VALUES ($1, $2, $3, $4, $5, $6, nextval('events_id_seq'), $7, $7)
       ON CONFLICT (tenant_id, key) DO UPDATE SET ${COALESCE_INTO_EXISTING},
         last_event_id = nextval('events_id_seq')
       RETURNING last_event_id
     )
     INSERT INTO events (id, tenant_id, source, event_key, type, occurred_at, received_at, payload, subject,
                         patient_id, contact_id, status, job_key, updated_at)
     SELECT job.last_event_id, $1, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $2, $12 FROM job
     ON CONFLICT (tenant_id, source, event_key) DO NOTHING
     RETURNING id`,
    [...jobValues(tenantId, job, now), ...eventValues(event)],
  );
  return rows[0]?.id ?? null;
}

/** An event's columns apart from its tenant and job key, in statement order. */
export interface EventValues {
  source: string;
  eventKey: string;
  type: string;
  occurredAt: number;
  receivedAt: number;
  payload: Buffer;
  subject: string;
  patientId: number | null;
  contactId: string | null;
  status: string;
}

function eventValues(e: EventValues): unknown[] {
  return [e.source, e.eventKey, e.type, e.occurredAt, e.receivedAt, e.payload, e.subject, e.patientId, e.contactId, e.status];
}

function jobValues(tenantId: string, job: EnqueueJob, now: number): unknown[] {
  return [tenantId, job.key, job.task, JSON.stringify(job.params), job.runAt ?? now, job.maxAttempts ?? DEFAULT_MAX_ATTEMPTS, now];
}

/**
 * A key with dead letters has a dead job row (bury marks both at once), so after any enqueue,
 * its dead events, if any, belong to a job that just came back to life: queue them again, so
 * the next run covers them too. Runs in the enqueue's transaction, after the job row is locked,
 * so it sees every event a concurrent bury committed.
 */
export async function requeueDeadEvents(db: Queryable, tenantId: string, jobKey: string, now: number): Promise<void> {
  await db.query(
    `UPDATE events SET status = 'queued', reason = NULL, updated_at = $1
     WHERE tenant_id = $2 AND job_key = $3 AND status = 'dead'`,
    [now, tenantId, jobKey],
  );
}

/** Leases due jobs, oldest first, skipping rows another session is claiming or feeding. */
export async function claim(db: Queryable, options: ClaimOptions): Promise<JobRow[]> {
  const { rows } = await db.query<JobRow>(
    `WITH due AS (
       SELECT id FROM jobs
       WHERE state = 'waiting' AND run_at <= $1
         AND (locked_until IS NULL OR locked_until <= $1)
         AND ($2::text[] IS NULL OR tenant_id = ANY ($2))
         AND ($6::text[] IS NULL OR NOT (tenant_id || ' ' || task = ANY ($6)))
       ORDER BY run_at, id
       LIMIT $3
       FOR UPDATE SKIP LOCKED
     )
     UPDATE jobs SET
       locked_by    = $4,
       locked_until = $1 + $5::bigint,
       attempts     = attempts + 1,
       claimed_seq  = enqueue_seq,
       updated_at   = $1
     FROM due WHERE jobs.id = due.id
     RETURNING jobs.*`,
    [
      options.now,
      options.tenantIds ?? null,
      options.limit,
      options.workerId,
      options.leaseMs,
      // Tenant ids are [a-z0-9-]+, so `tenant task` pairs joined by a space cannot collide.
      options.excludeTasks?.length ? options.excludeTasks.map(({ tenantId, task }) => `${tenantId} ${task}`) : null,
    ],
  );
  return rows;
}

export async function renewLease(db: Queryable, jobId: number, workerId: string, lockedUntil: number): Promise<boolean> {
  const { rowCount } = await db.query(
    `UPDATE jobs SET locked_until = $1 WHERE id = $2 AND locked_by = $3 AND state = 'waiting'`,
    [lockedUntil, jobId, workerId],
  );
  return (rowCount ?? 0) > 0;
}

/**
 * Success: the events the run covered are processed. If more work arrived while it ran, the row
 * stays, unlocked and due now with fresh attempts; otherwise it is gone. A worker that lost its
 * lease changes nothing: the new holder will do the work. Runs inside the caller's transaction.
 */
export async function complete(db: Queryable, jobId: number, workerId: string, attempts: number, lastEventId: number, now: number): Promise<boolean> {
  // `attempts` fences the claim: the same worker id may have claimed the key again after this
  // run's lease lapsed, and only that newer claim may settle it.
  const { rows } = await db.query<{ tenant_id: string; key: string; enqueue_seq: number; claimed_seq: number }>(
    'SELECT tenant_id, key, enqueue_seq, claimed_seq FROM jobs WHERE id = $1 AND locked_by = $2 AND attempts = $3 FOR UPDATE',
    [jobId, workerId, attempts],
  );
  const held = rows[0];
  if (!held) return false;
  await db.query(
    `UPDATE events SET status = 'processed', updated_at = $1
     WHERE tenant_id = $2 AND job_key = $3 AND status = 'queued' AND id <= $4`,
    [now, held.tenant_id, held.key, lastEventId],
  );
  if (held.enqueue_seq > held.claimed_seq) {
    await db.query(
      `UPDATE jobs SET locked_by = NULL, locked_until = NULL, run_at = $1, attempts = 0, last_error = NULL,
         updated_at = $1
       WHERE id = $2`,
      [now, jobId],
    );
  } else {
    await db.query('DELETE FROM jobs WHERE id = $1', [jobId]);
  }
  return true;
}

/** A failed run that may succeed later: unlocked, due at `retryAt`. */
export async function retryLater(db: Queryable, failure: FailJob & { retryAt: number }, attempts: number): Promise<boolean> {
  const { rowCount } = await db.query(
    `UPDATE jobs SET locked_by = NULL, locked_until = NULL, run_at = $1, last_error = $2, updated_at = $3
     WHERE id = $4 AND locked_by = $5 AND attempts = $6`,
    [failure.retryAt, failureReason(failure.error), failure.now, failure.jobId, failure.workerId, attempts],
  );
  return (rowCount ?? 0) > 0;
}

/** A failed run that will not succeed by retrying: the job and the events it covered die. */
export async function bury(db: Queryable, failure: FailJob, lastEventId: number, attempts: number): Promise<boolean> {
  const reason = failureReason(failure.error);
  const { rows } = await db.query<{ tenant_id: string; key: string }>(
    `UPDATE jobs SET state = 'dead', locked_by = NULL, locked_until = NULL, last_error = $1, updated_at = $2
     WHERE id = $3 AND locked_by = $4 AND attempts = $5
     RETURNING tenant_id, key`,
    [reason, failure.now, failure.jobId, failure.workerId, attempts],
  );
  const held = rows[0];
  if (!held) return false;
  await db.query(
    `UPDATE events SET status = 'dead', reason = $1, updated_at = $2
     WHERE tenant_id = $3 AND job_key = $4 AND status = 'queued' AND id <= $5`,
    [reason, failure.now, held.tenant_id, held.key, lastEventId],
  );
  return true;
}

/** An operator's replay: the dead job is due now with fresh attempts, its events queued again. */
export async function replayDead(db: Queryable, tenantId: string, jobKey: string, now: number): Promise<boolean> {
  const { rowCount } = await db.query(
    `UPDATE jobs SET state = 'waiting', attempts = 0, run_at = $1, enqueue_seq = enqueue_seq + 1, updated_at = $1
     WHERE tenant_id = $2 AND key = $3 AND state = 'dead'`,
    [now, tenantId, jobKey],
  );
  if ((rowCount ?? 0) === 0) return false;
  await requeueDeadEvents(db, tenantId, jobKey, now);
  return true;
}
