// Every change of a job's state is one function here, with its SQL in sight, for both databases
// (graphile-worker keeps its queue the same way). On PostgreSQL many instances share the table:
// the job row's lock orders work on one key, and claims skip rows another session holds. On
// SQLite one writer at a time does the same. Callers that need one pass a transaction.
import { DEFAULT_MAX_ATTEMPTS, failureReason, toAttempt, toQueueStats, type AttemptRow, type JobRow, type QueueStatsRow } from '../rows.ts';
import type { ClaimOptions, EnqueueJob, FailJob, FailOutcome, JobAttempt } from '../types.ts';
import { anyOf, eachOf, forUpdate, least, only, raw, skipLocked, sql, where, type Db, type Sql } from './sql.ts';

/**
 * How an enqueue folds into the key's existing row `j`: newest task and params, one more
 * enqueue counted, a pending retry keeps its backoff (an earlier runAt otherwise wins), live
 * work makes the row live (bulk = 0 wins), and a dead row comes back to life with fresh attempts.
 */
export const COALESCE_INTO_EXISTING = sql`
       task         = excluded.task,
       params       = excluded.params,
       max_attempts = excluded.max_attempts,
       enqueue_seq  = j.enqueue_seq + 1,
       run_at       = CASE WHEN j.state = 'dead' THEN excluded.run_at
                           WHEN j.attempts > 0  THEN j.run_at
                           ELSE ${least(raw('j.run_at'), raw('excluded.run_at'))} END,
       attempts     = CASE WHEN j.state = 'dead' THEN 0 ELSE j.attempts END,
       bulk         = CASE WHEN j.state = 'dead' THEN excluded.bulk ELSE ${least(raw('j.bulk'), raw('excluded.bulk'))} END,
       state        = 'waiting',
       updated_at   = excluded.updated_at`;

/** The job columns an enqueue sets, in the order jobValues gives them. */
export const JOB_COLUMNS = raw('tenant_id, key, task, params, run_at, max_attempts, bulk, created_at, updated_at');

/** An enqueue's values as stored, its defaults applied: due now, the default attempts, live. */
export function jobRequest(job: EnqueueJob, now: number) {
  return {
    params: JSON.stringify(job.params),
    runAt: job.runAt ?? now,
    maxAttempts: job.maxAttempts ?? DEFAULT_MAX_ATTEMPTS,
    bulk: job.priority === 'bulk' ? 1 : 0,
  };
}

/** The job columns of an enqueue, in the order JOB_COLUMNS lists them. */
export function jobValues(tenantId: string, job: EnqueueJob, now: number): Sql {
  const r = jobRequest(job, now);
  return sql`${tenantId}, ${job.key}, ${job.task}, ${r.params}, ${r.runAt}, ${r.maxAttempts}, ${r.bulk}, ${now}, ${now}`;
}

/**
 * Adds work for a key, or folds it into the key's row, then requeues the key's dead events
 * (see requeueDeadEvents). Run in a transaction. Returns the job id.
 */
export async function enqueue(db: Db, tenantId: string, job: EnqueueJob, now: number): Promise<number> {
  const row = await db.get<{ id: number }>(enqueueSql(tenantId, job, now));
  await requeueDeadEvents(db, tenantId, job.key, now);
  return row!.id;
}

/** The upsert of `enqueue` on its own, returning the job's id (SQLite's group commit runs it synchronously). */
export function enqueueSql(tenantId: string, job: EnqueueJob, now: number): Sql {
  return sql`
    INSERT INTO jobs AS j (${JOB_COLUMNS})
    VALUES (${jobValues(tenantId, job, now)})
    ON CONFLICT (tenant_id, key) DO UPDATE SET ${COALESCE_INTO_EXISTING}
    RETURNING id`;
}

/**
 * A key with dead letters has a dead job row (bury marks both at once), so after any enqueue,
 * its dead events, if any, belong to a job that just came back to life: queue them again, so
 * the next run covers them too. Runs after the job row is locked, so it sees every event a
 * concurrent bury committed.
 */
export async function requeueDeadEvents(db: Db, tenantId: string, jobKey: string, now: number): Promise<void> {
  await db.run(requeueDeadEventsSql(tenantId, jobKey, now));
}

function requeueDeadEventsSql(tenantId: string, jobKey: string, now: number): Sql {
  return sql`
    UPDATE events SET status = 'queued', reason = NULL, updated_at = ${now}
    WHERE tenant_id = ${tenantId} AND job_key = ${jobKey} AND status = 'dead'`;
}

/** Whether a job row may be claimed now: waiting, due, and unlocked or with a lapsed lease. */
const claimable = (now: number): Sql =>
  sql`state = 'waiting' AND run_at <= ${now} AND (locked_until IS NULL OR locked_until <= ${now})`;

/**
 * Leases due jobs fairly across tenants. Each tenant's due jobs are ranked live before bulk, then
 * oldest first; a job's turn is its rank plus the jobs its tenant already holds under a live
 * lease (on any instance). Claims go by turn, so every tenant with work gets its next job
 * before any tenant gets one more than that, and with `perTenantLimit` a tenant never holds more
 * than that at once. Within a key nothing changes: a key has one row.
 *
 * Only the jobs that can win are ranked, so a claim costs about (tenants with waiting jobs),
 * not (due jobs), each tenant's jobs found on the index jobs_turns. A job ranked past `limit`
 * within its tenant never wins (its tenant's earlier jobs all have smaller turns). Nor does one
 * whose turn is later than the `limit`-th smallest of the tenants' first turns (that many jobs
 * come before it). So every tenant's first claimable job is taken, and the first `limit` (and no
 * more than its cap) only of those tenants whose second turn is not later than that. Each
 * tenant's candidates are a prefix of its order, so each gets the rank it would among all.
 *
 * On PostgreSQL the picked rows are then locked skipping those another session holds, with the
 * claimable condition checked again on the row as it is now, so two instances never lease one
 * row; a race can lose a few rows to the other instance, which the next claim makes up for.
 */
export function claim(db: Db, options: ClaimOptions): Promise<JobRow[]> {
  const { now } = options;
  const tenantFilters: Sql[] = [sql`b.tenant_id IS NOT NULL`];
  if (options.tenantIds) tenantFilters.push(sql`${anyOf('b.tenant_id', options.tenantIds)}`);
  if (options.excludeTenants?.length) tenantFilters.push(sql`NOT (${anyOf('b.tenant_id', options.excludeTenants)})`);
  // No tenant is ranked deeper than it may claim: `limit` jobs, and no more than its cap.
  const depth = Math.max(0, Math.min(options.limit, options.perTenantLimit ?? options.limit));
  const capped = options.perTenantLimit === undefined ? raw('') : sql`WHERE turn <= ${options.perTenantLimit}`;
  return db.all<JobRow>(sql`
    WITH RECURSIVE busy(tenant_id) AS (
      -- Every tenant with waiting jobs, one probe of jobs_turns each (a loose index scan; its
      -- whole order asked for, so no other index, with dead rows to step over, will do).
      SELECT (SELECT tenant_id FROM jobs ${turnsIndex} WHERE state = 'waiting' ORDER BY tenant_id, bulk, run_at, id LIMIT 1)
      UNION ALL
      SELECT (SELECT j.tenant_id FROM jobs j ${turnsIndex} WHERE j.state = 'waiting' AND j.tenant_id > b.tenant_id
              ORDER BY j.tenant_id, j.bulk, j.run_at, j.id LIMIT 1)
      FROM busy b WHERE b.tenant_id IS NOT NULL
    ),
    held AS MATERIALIZED (
      SELECT tenant_id, count(*) AS n FROM jobs ${only('sqlite', 'INDEXED BY jobs_leased')}
      WHERE state = 'waiting' AND locked_until > ${now}
      GROUP BY tenant_id
    ),
    firsts AS MATERIALIZED (
      -- Each wanted tenant's first claimable job, and the leases the tenant holds.
      SELECT c.id, c.tenant_id, c.bulk, c.run_at, coalesce(h.n, 0) AS held
      FROM busy b ${eachOf('jobs', 'c', firstClaimable(options, 1))}
      LEFT JOIN held h ON h.tenant_id = b.tenant_id
      ${where(tenantFilters)}
    ),
    ${depth > 1 ? laterTurns(options, depth) : sql`candidates AS (SELECT id, tenant_id, bulk, run_at FROM firsts),`}
    turns AS (
      SELECT d.id, d.run_at,
             ROW_NUMBER() OVER (PARTITION BY d.tenant_id ORDER BY d.bulk, d.run_at, d.id) + coalesce(h.n, 0) AS turn
      FROM candidates d
      LEFT JOIN held h ON h.tenant_id = d.tenant_id
    ),
    due AS (
      -- PostgreSQL checks the rows again as they are now: another session may have claimed them
      -- since this one read them. SQLite runs the statement alone (one writer), and the check
      -- would lure its planner from the primary key onto jobs_due, every due job.
      SELECT id FROM jobs
      WHERE id IN (SELECT id FROM turns ${capped} ORDER BY turn, run_at, id LIMIT ${options.limit})
        ${only('postgres', sql`AND ${claimable(now)}`)}
      ${skipLocked}
    )
    UPDATE jobs SET
      locked_by    = ${options.workerId},
      locked_until = ${now + options.leaseMs},
      attempts     = attempts + 1,
      claimed_seq  = enqueue_seq,
      updated_at   = ${now}
    WHERE id IN (SELECT id FROM due)
    RETURNING *`);
}

/**
 * The candidates of a claim of several jobs: each tenant's first job, and its first `depth` when
 * its second turn can still win (see `claim`). A claim of one job needs only the first ones.
 */
function laterTurns(options: ClaimOptions, depth: number): Sql {
  const firstsCapped = options.perTenantLimit === undefined ? raw('') : sql`WHERE held + 1 <= ${options.perTenantLimit}`;
  return sql`
    reach AS (
      -- The limit-th smallest first turn (within the cap): there are that many jobs with a turn
      -- no later, so no job with a later turn can be claimed.
      SELECT held + 1 AS turn FROM firsts ${firstsCapped} ORDER BY held + 1 LIMIT 1 OFFSET ${options.limit - 1}
    ),
    deeper AS MATERIALIZED (
      -- The tenants whose second job could still be claimed: their first few are ranked.
      SELECT tenant_id FROM firsts WHERE held + 2 <= coalesce((SELECT turn FROM reach), ${Number.MAX_SAFE_INTEGER})
    ),
    candidates AS (
      SELECT id, tenant_id, bulk, run_at FROM firsts WHERE tenant_id NOT IN (SELECT tenant_id FROM deeper)
      UNION ALL
      SELECT c.id, c.tenant_id, c.bulk, c.run_at FROM deeper b ${eachOf('jobs', 'c', firstClaimable(options, depth))}
    ),`;
}

/**
 * Tenant `b`'s first `depth` claimable jobs, live before bulk, oldest first: the first `depth` of
 * each priority, each a range of jobs_turns (not-yet-due live jobs sit between the due live and
 * the due bulk ones there, and are not walked through).
 */
function firstClaimable(options: ClaimOptions, depth: number): Sql {
  const ofPriority = (bulk: 0 | 1) => {
    const filters = [sql`tenant_id = b.tenant_id`, sql`bulk = ${bulk}`, claimable(options.now)];
    if (options.excludeTasks?.length) {
      // Tenant ids are [a-z0-9-]+, so `tenant task` pairs joined by a space cannot collide.
      const pairs = options.excludeTasks.map(({ tenantId, task }) => `${tenantId} ${task}`);
      filters.push(sql`NOT (${anyOf(sql`tenant_id || ' ' || task`, pairs)})`);
    }
    return sql`SELECT id, tenant_id, bulk, run_at FROM jobs ${turnsIndex} ${where(filters)} ORDER BY run_at, id LIMIT ${depth}`;
  };
  return sql`
        SELECT * FROM (${ofPriority(0)}) live_jobs
        UNION ALL
        SELECT * FROM (${ofPriority(1)}) bulk_jobs
        ORDER BY bulk, run_at, id LIMIT ${depth}`;
}

/** SQLite's planner, without fresh statistics, would walk jobs_due (every waiting job) instead. */
const turnsIndex = only('sqlite', 'INDEXED BY jobs_turns');

export async function renewLease(db: Db, jobId: number, workerId: string, lockedUntil: number): Promise<boolean> {
  const changed = await db.run(
    sql`UPDATE jobs SET locked_until = ${lockedUntil} WHERE id = ${jobId} AND locked_by = ${workerId} AND state = 'waiting'`,
  );
  return changed > 0;
}

/**
 * Success: the events the run covered are processed. If more work arrived while it ran, the row
 * stays, unlocked and due now with fresh attempts; otherwise it is gone. A worker that lost its
 * lease changes nothing: the new holder will do the work. Run in a transaction.
 */
export async function complete(db: Db, jobId: number, workerId: string, attempts: number, lastEventId: number, now: number): Promise<boolean> {
  const held = await heldClaim(db, jobId, workerId, attempts);
  if (!held) return false;
  await db.run(sql`
    UPDATE events SET status = 'processed', updated_at = ${now}
    WHERE tenant_id = ${held.tenant_id} AND job_key = ${held.key} AND status = 'queued' AND id <= ${lastEventId}`);
  if (held.enqueue_seq > held.claimed_seq) await runAgainNow(db, jobId, now, null);
  else await db.run(sql`DELETE FROM jobs WHERE id = ${jobId}`);
  return true;
}

/**
 * The job row a run settles, locked, if that run still holds it. `attempts` fences the claim:
 * the same worker id may have claimed the key again after this run's lease lapsed, and only that
 * newer claim may settle it. `enqueue_seq` past `claimed_seq` means work arrived while it ran.
 */
function heldClaim(db: Db, jobId: number, workerId: string, attempts: number) {
  return db.get<{ tenant_id: string; key: string; enqueue_seq: number; claimed_seq: number }>(sql`
    SELECT tenant_id, key, enqueue_seq, claimed_seq FROM jobs
    WHERE id = ${jobId} AND locked_by = ${workerId} AND attempts = ${attempts} ${forUpdate}`);
}

/** A settled run whose key got new work meanwhile: unlocked, due now, fresh attempts. */
async function runAgainNow(db: Db, jobId: number, now: number, lastError: string | null): Promise<void> {
  await db.run(sql`
    UPDATE jobs SET locked_by = NULL, locked_until = NULL, run_at = ${now}, attempts = 0, last_error = ${lastError}, updated_at = ${now}
    WHERE id = ${jobId}`);
}

/** A failed run that may succeed later: unlocked, due at `retryAt`. */
export async function retryLater(db: Db, failure: FailJob & { retryAt: number }, attempts: number): Promise<boolean> {
  const changed = await db.run(sql`
    UPDATE jobs SET locked_by = NULL, locked_until = NULL, run_at = ${failure.retryAt},
      last_error = ${failureReason(failure.error)}, updated_at = ${failure.now}
    WHERE id = ${failure.jobId} AND locked_by = ${failure.workerId} AND attempts = ${attempts}`);
  return changed > 0;
}

/** A run stopped unfinished (not failed): unlocked, due as it was, its claim's attempt given back. */
export async function release(db: Db, jobId: number, workerId: string, attempts: number, now: number): Promise<boolean> {
  const changed = await db.run(sql`
    UPDATE jobs SET locked_by = NULL, locked_until = NULL, attempts = attempts - 1, updated_at = ${now}
    WHERE id = ${jobId} AND locked_by = ${workerId} AND attempts = ${attempts}`);
  return changed > 0;
}

/**
 * A failed run that will not succeed by retrying: the job and the events it covered die. Unless
 * work arrived for the key while it ran (a new event, as completion checks): then nothing dies,
 * the key is due again with fresh attempts and the next run covers the new event with the old,
 * as an event arriving after the bury would have revived it. Run in a transaction. Returns what
 * became of the job (`retrying`: due now), or null when this run no longer held it.
 */
export async function bury(db: Db, failure: FailJob, lastEventId: number, attempts: number): Promise<FailOutcome | null> {
  const reason = failureReason(failure.error);
  const held = await heldClaim(db, failure.jobId, failure.workerId, attempts);
  if (!held) return null;
  if (held.enqueue_seq > held.claimed_seq) {
    await runAgainNow(db, failure.jobId, failure.now, reason);
    return 'retrying';
  }
  await db.run(sql`
    UPDATE jobs SET state = 'dead', locked_by = NULL, locked_until = NULL, last_error = ${reason}, updated_at = ${failure.now}
    WHERE id = ${failure.jobId}`);
  await db.run(sql`
    UPDATE events SET status = 'dead', reason = ${reason}, updated_at = ${failure.now}
    WHERE tenant_id = ${held.tenant_id} AND job_key = ${held.key} AND status = 'queued' AND id <= ${lastEventId}`);
  return 'dead';
}

/** An operator's replay: the dead job is due now with fresh attempts, its events queued again. Run in a transaction. */
export async function replayDead(db: Db, tenantId: string, jobKey: string, now: number): Promise<boolean> {
  const revived = await db.run(sql`
    UPDATE jobs SET state = 'waiting', attempts = 0, run_at = ${now}, enqueue_seq = enqueue_seq + 1, updated_at = ${now}
    WHERE tenant_id = ${tenantId} AND key = ${jobKey} AND state = 'dead'`);
  if (revived === 0) return false;
  await requeueDeadEvents(db, tenantId, jobKey, now);
  return true;
}

export async function recordAttempt(db: Db, a: JobAttempt): Promise<void> {
  await db.run(sql`
    INSERT INTO job_attempts (job_id, tenant_id, job_key, started_at, finished_at, outcome, error_code, request_id)
    VALUES (${a.jobId}, ${a.tenantId}, ${a.jobKey}, ${a.startedAt}, ${a.finishedAt}, ${a.outcome}, ${a.errorCode}, ${a.requestId})`);
}

export async function listAttempts(db: Db, jobKey: string, tenantId: string): Promise<JobAttempt[]> {
  const rows = await db.all<AttemptRow>(sql`SELECT * FROM job_attempts WHERE tenant_id = ${tenantId} AND job_key = ${jobKey} ORDER BY id`);
  return rows.map(toAttempt);
}

export async function queueStats(db: Db, tenantId?: string) {
  const rows = await db.all<QueueStatsRow>(sql`
    SELECT tenant_id,
      count(*) FILTER (WHERE state = 'waiting' AND locked_by IS NULL)     AS waiting,
      count(*) FILTER (WHERE state = 'waiting' AND locked_by IS NOT NULL) AS running,
      count(*) FILTER (WHERE state = 'dead')                              AS dead,
      min(run_at) FILTER (WHERE state = 'waiting' AND locked_by IS NULL)  AS oldest_run_at
    FROM jobs ${where(tenantId === undefined ? [] : [sql`tenant_id = ${tenantId}`])}
    GROUP BY tenant_id
    ORDER BY tenant_id`);
  return rows.map(toQueueStats);
}
