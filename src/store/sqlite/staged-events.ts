// SQLite's acknowledgement path: a webhook's event is staged as one narrow row (its primary key
// and its dedupe key the only indexes), committed durably, and acknowledged. Filing moves the
// staged rows into `events` and feeds their jobs a batch at a time, so the eight indexes of
// `events` and the job upserts are written once per batch instead of once per webhook: each of
// those indexes takes events at scattered places (per patient, per job key), so a commit of 50
// webhooks wrote about 50 pages per index, where a commit of 500 shares most of them
// (docs/BENCHMARKS.md, "Ingest: a staged inbox").
//
// Nothing waits on a staged row: no job is due before its events' `runAt` (Spry's coalescing
// window), and filing runs by then (a timer, and any claim that finds a staged deadline passed).
// A staged event whose job is already filed and waiting (an earlier filing took the first events
// of a burst) is due when that job is: filed before the claim that takes the job, it joins that
// run instead of arriving during it and costing the patient a second fetch. Reads that show events or jobs file first, so
// they see every acknowledged event. A staged event keeps its id when filed: ids are drawn past
// both tables' newest, so they stay in acknowledgement order and are never reused.
import type { eventValues } from '../sql/inbox.ts';
import { COALESCE_INTO_EXISTING, JOB_COLUMNS, jobRequest } from '../sql/queue.ts';
import { sql, type Sql } from '../sql/sql.ts';
import type { NewInboundEvent } from '../types.ts';

/**
 * Stages one event, returning its id, and the runAt of its job when that is filed already and
 * waiting; no row when (tenant, source, eventKey) is staged or filed already. The id is one past
 * the newest of both tables (`sqlite_sequence` keeps the newest id `events` ever held, filed ones
 * included), drawn inside the write transaction.
 */
export function stageEventSql(e: ReturnType<typeof eventValues>): Sql {
  const job = e.job && jobRequest(e.job, e.receivedAt);
  return sql`
    INSERT INTO staged_events (id, tenant_id, source, event_key, type, occurred_at, received_at, payload, subject,
                               patient_id, contact_id, status, reason,
                               job_key, job_task, job_params, job_run_at, job_max_attempts, job_bulk)
    SELECT max(coalesce((SELECT max(id) FROM staged_events), 0),
               coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'events'), 0)) + 1,
           ${e.tenantId}, ${e.source}, ${e.eventKey}, ${e.type}, ${e.occurredAt}, ${e.receivedAt}, ${e.payload}, ${e.subject},
           ${e.patientId}, ${e.contactId}, ${e.status}, ${e.reason ?? null},
           ${e.job?.key ?? null}, ${e.job?.task ?? null}, ${job?.params ?? null},
           ${job?.runAt ?? null}, ${job?.maxAttempts ?? null}, ${job?.bulk ?? null}
    WHERE NOT EXISTS (SELECT 1 FROM events WHERE tenant_id = ${e.tenantId} AND source = ${e.source} AND event_key = ${e.eventKey})
    ON CONFLICT (tenant_id, source, event_key) DO NOTHING
    RETURNING id,
      (SELECT run_at FROM jobs
       WHERE jobs.tenant_id = staged_events.tenant_id AND jobs.key = staged_events.job_key AND jobs.state = 'waiting') AS job_run_at`;
}

/** The id an event already has, staged or filed. */
export function knownEventIdSql(event: Pick<NewInboundEvent, 'tenantId' | 'source' | 'eventKey'>): Sql {
  return sql`
    SELECT id FROM staged_events WHERE tenant_id = ${event.tenantId} AND source = ${event.source} AND event_key = ${event.eventKey}
    UNION ALL
    SELECT id FROM events WHERE tenant_id = ${event.tenantId} AND source = ${event.source} AND event_key = ${event.eventKey}`;
}

/**
 * The newest id (and receipt) of the oldest `limit` staged rows, and how many there are: one
 * filing's batch is every row up to it, and fewer than `limit` means it is the last.
 */
export function filingBoundSql(limit: number): Sql {
  return sql`
    SELECT max(id) AS upto, max(received_at) AS now, count(*) AS rows
    FROM (SELECT id, received_at FROM staged_events ORDER BY id LIMIT ${limit})`;
}

export const anyStagedSql = sql`SELECT EXISTS (SELECT 1 FROM staged_events) AS staged`;

/** Files the staged rows up to `upto` into events, in id order, with the ids they were acknowledged under. */
export function fileEventsSql(upto: number): Sql {
  return sql`
    INSERT INTO events (id, tenant_id, source, event_key, type, occurred_at, received_at, payload, subject,
                        patient_id, contact_id, status, reason, job_key, updated_at)
    SELECT id, tenant_id, source, event_key, type, occurred_at, received_at, payload, subject,
           patient_id, contact_id, status, reason, job_key, received_at
    FROM staged_events WHERE id <= ${upto} ORDER BY id
    ON CONFLICT DO NOTHING`;
}

/**
 * Feeds the jobs of the staged rows up to `upto`: one upsert per (tenant, key) with the newest
 * request's task, params and attempts, the earliest runAt, live if any request is live, and the
 * newest event as last_event_id. That leaves the job row as upserting each request in turn would
 * (queue.ts COALESCE_INTO_EXISTING keeps the least runAt and bulk; a dead row revives at the
 * first request, which then folds like a fresh one); only `enqueue_seq` counts one enqueue for
 * the batch, and it is read only for whether anything arrived while a job ran.
 */
export function feedStagedJobsSql(upto: number): Sql {
  return sql`
    INSERT INTO jobs AS j (${JOB_COLUMNS}, last_event_id)
    SELECT s.tenant_id, s.job_key, s.job_task, s.job_params, f.run_at, s.job_max_attempts, f.bulk, s.received_at, s.received_at, s.id
    FROM (SELECT max(id) AS newest, min(job_run_at) AS run_at, min(job_bulk) AS bulk
          FROM staged_events WHERE id <= ${upto} AND job_key IS NOT NULL
          GROUP BY tenant_id, job_key) AS f
    JOIN staged_events AS s ON s.id = f.newest
    WHERE true
    ON CONFLICT (tenant_id, key) DO UPDATE SET ${COALESCE_INTO_EXISTING},
       last_event_id = max(j.last_event_id, excluded.last_event_id)`;
}

export function clearFiledSql(upto: number): Sql {
  return sql`DELETE FROM staged_events WHERE id <= ${upto}`;
}

/** The fed keys' dead events come back to the queue with their jobs (queue.ts requeueDeadEvents). */
export function requeueDeadOfStagedSql(upto: number, now: number): Sql {
  return sql`
    UPDATE events SET status = 'queued', reason = NULL, updated_at = ${now}
    WHERE (tenant_id, job_key, status) IN
          (SELECT DISTINCT tenant_id, job_key, 'dead' FROM staged_events WHERE id <= ${upto} AND job_key IS NOT NULL)`;
}

/**
 * When the staged rows must be filed by: the earliest of their jobs' runAt (no job may be due
 * before it exists); for an event without a job, `settleMs` after its receipt (it is only shown).
 * Times are the service clock's (what claims pass as `now`); the timer that files unprompted
 * waits the same distance in real time from the staging.
 */
export class StagedDeadline {
  /** Service-clock time the staged rows are due by; null when nothing is staged. */
  private dueAt: number | null = null;
  private timer: NodeJS.Timeout | null = null;
  /** performance.now() the armed timer fires at. */
  private timerAt = Infinity;

  constructor(
    private readonly file: () => void,
    private readonly settleMs: number,
  ) {}

  /**
   * Rows whose deadline is unknown (left by a process that stopped, or a failed filing) are due
   * at once; the timer files them after `delayMs`.
   */
  markUnknown(delayMs = 0): void {
    this.dueAt = -Infinity;
    this.arm(delayMs);
  }

  /** `waitingJobRunAt`: when the event's job, filed already and waiting, is due (it is due by then too). */
  staged(event: Pick<NewInboundEvent, 'receivedAt' | 'job'>, waitingJobRunAt: number | null = null): void {
    const own = event.job ? (event.job.runAt ?? event.receivedAt) : event.receivedAt + this.settleMs;
    const due = waitingJobRunAt === null ? own : Math.min(own, waitingJobRunAt);
    if (this.dueAt === null || due < this.dueAt) this.dueAt = due;
    // Unprompted filing only by the event's own runAt: a job that exists is taken by a claim,
    // which files first (isDue), so an event for a job already due costs no filing of its own.
    this.arm(Math.max(0, own - event.receivedAt));
  }

  /** Whether a claim at `now` could miss a job whose events are still staged. */
  isDue(now: number): boolean {
    return this.dueAt !== null && this.dueAt <= now;
  }

  get pending(): boolean {
    return this.dueAt !== null;
  }

  /** Everything staged was filed. */
  filed(): void {
    this.dueAt = null;
    this.disarm();
  }

  disarm(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.timerAt = Infinity;
  }

  private arm(delayMs: number): void {
    const at = performance.now() + delayMs;
    if (at >= this.timerAt) return;
    this.disarm();
    this.timerAt = at;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.timerAt = Infinity;
      this.file();
    }, delayMs);
    this.timer.unref();
  }
}
