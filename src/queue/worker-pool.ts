// Runs queued jobs: claims as many as it has free slots, runs their handlers concurrently,
// keeps their leases alive while they run, and settles each one (done, retry later, or dead).
// Per-key order comes from the store: a key has one job row, and only one worker holds it.
// Fairness across tenants comes from the claim: it skips tenants the admission holds back and
// rotates across the others, each under a cap (tenant-admission.ts, store/sql/queue.ts).
import type { CancelTimer, Clock } from '../clock.ts';
import { isRetryable, stoppedWhileWaiting, SyncError, type ErrorCode } from '../errors.ts';
import type { JobQueue } from '../store/ports.ts';
import type { FailOutcome, Job, JobAttempt } from '../store/types.ts';
import { backoffDelay, type BackoffOptions } from './backoff.ts';
import type { HeldTenants } from './tenant-admission.ts';

export interface JobContext {
  workerId: string;
  /**
   * Aborted when this worker lost the job's lease (its renewals failed and another worker may
   * now hold the key): stop before the next side effect.
   */
  signal: AbortSignal;
  /**
   * Aborted when the pool stops. A run need not end at once (running calls finish), but should
   * not wait for a vendor's rate window: a call that would fails with WORK_STOPPED, unsent, and
   * the pool releases the job for the next start with its attempt given back.
   */
  stopping: AbortSignal;
}

export type JobHandler = (job: Job, ctx: JobContext) => Promise<void>;

export interface WorkerPoolOptions {
  store: JobQueue;
  clock: Clock;
  /** Unique per process: leases are held in its name. */
  workerId: string;
  /** Jobs run at once. */
  concurrency: number;
  /** How long a claim lasts without renewal; a crashed worker's jobs come back after it. */
  leaseMs: number;
  /** Longest sleep between claims when nobody calls notify(). */
  pollIntervalMs: number;
  /** Task name → handler. A job whose task has none dies at once (UNEXPECTED). */
  handlers: Record<string, JobHandler>;
  /** Tenants to claim for (paused ones left out); undefined = all. Asked before every claim. */
  tenantFilter?: () => string[] | undefined;
  /** (tenant, task) pairs not to claim (a paused direction); undefined = none. Asked before every claim. */
  taskFilter?: () => { tenantId: string; task: string }[] | undefined;
  /** True while new claims should wait (a burst of webhooks is being acknowledged); call notify() when it ends. */
  holdClaims?: () => boolean;
  /**
   * Tenants not to claim for now: their budget has no slot soon or their vendor is failing
   * (tenant-admission.ts). Asked before every claim; the pool wakes when the first is ready.
   */
  admission?: { held(): HeldTenants };
  /**
   * Most jobs one tenant holds at once, across every instance (see the store's claim). Default: no
   * cap. A function is asked before every claim (the service's tenants come and go).
   */
  perTenantLimit?: number | (() => number | undefined);
  /** Called after every run, for metrics and logs; `error` is what the handler threw. */
  onAttempt?: (attempt: JobAttempt, job: Job, error?: unknown) => void;
  /** Failures of the pool's own store calls; the pool carries on and the lease covers the gap. */
  onError?: (error: unknown) => void;
  backoff?: BackoffOptions;
  /** How often a running job's lease is extended. Default a third of leaseMs. */
  renewEveryMs?: number;
}

/** The code recorded for a run whose lease was taken over before it finished. */
export const LEASE_LOST = 'LEASE_LOST' satisfies ErrorCode;

export class WorkerPool {
  private readonly options: WorkerPoolOptions;
  private readonly active = new Set<Promise<void>>();
  private running = false;
  private loopDone: Promise<void> = Promise.resolve();
  private wakeSleep: AbortController | null = null;
  private wakeRequested = false;
  /** When a tenant left out of the last claim is ready again, ms from then; shortens the next sleep. */
  private heldReadyIn: number | undefined;
  /** Aborted by stop() (the runs' JobContext.stopping); a fresh one at each start. */
  private stopping = new AbortController();

  constructor(options: WorkerPoolOptions) {
    if (options.concurrency < 1) throw new SyncError('CONFIG_INVALID', 'concurrency must be at least 1', { retryable: false });
    this.options = options;
  }

  /** Jobs running now. */
  get activeCount(): number {
    return this.active.size;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    if (this.stopping.signal.aborted) this.stopping = new AbortController();
    this.loopDone = this.loop();
  }

  /**
   * Stops claiming and waits for running handlers to finish and settle; a handler waiting for a
   * vendor's rate window stops waiting (JobContext.stopping) and its job is released.
   */
  async stop(): Promise<void> {
    this.running = false;
    this.stopping.abort();
    this.notify();
    await this.loopDone;
    while (this.active.size > 0) await Promise.allSettled([...this.active]);
  }

  /** New work may be due: claim now instead of at the next poll. */
  notify(): void {
    this.wakeRequested = true;
    this.wakeSleep?.abort();
  }

  /**
   * For tests: claims and runs jobs until none is due and none is running. Does not move the
   * clock, so retries scheduled in the future wait for the test to advance it.
   */
  async runUntilIdle(): Promise<void> {
    for (;;) {
      await this.fill();
      if (this.active.size === 0) return;
      await Promise.race(this.active);
    }
  }

  /** Same as runUntilIdle. */
  drain(): Promise<void> {
    return this.runUntilIdle();
  }

  private async loop(): Promise<void> {
    while (this.running) {
      this.wakeRequested = false;
      let maybeMore = false;
      try {
        maybeMore = await this.fill();
      } catch (error) {
        this.report(error);
      }
      if (!this.running) break;
      if (!maybeMore) await this.sleep();
    }
  }

  private async sleep(): Promise<void> {
    if (this.wakeRequested) return;
    const wake = new AbortController();
    this.wakeSleep = wake;
    try {
      await this.options.clock.sleep(Math.min(this.options.pollIntervalMs, this.heldReadyIn ?? Infinity), wake.signal);
    } catch {
      // Woken early by notify().
    } finally {
      this.wakeSleep = null;
    }
  }

  /** Claims up to the free slots and starts them; true when every slot was filled. */
  private async fill(): Promise<boolean> {
    const { store, clock, workerId, leaseMs, concurrency, tenantFilter, taskFilter, admission } = this.options;
    const perTenantLimit = typeof this.options.perTenantLimit === 'function' ? this.options.perTenantLimit() : this.options.perTenantLimit;
    const free = concurrency - this.active.size;
    if (free <= 0 || this.options.holdClaims?.()) return false;
    const held = admission?.held();
    this.heldReadyIn = held?.readyIn;
    const jobs = await store.claimJobs({
      workerId,
      now: clock.now(),
      leaseMs,
      limit: free,
      tenantIds: tenantFilter?.(),
      excludeTasks: taskFilter?.(),
      ...(held?.tenants.length ? { excludeTenants: held.tenants } : {}),
      ...(perTenantLimit !== undefined ? { perTenantLimit } : {}),
    });
    for (const job of jobs) {
      const run: Promise<void> = this.run(job).finally(() => {
        this.active.delete(run);
        // A slot is free, and a job that got new events while it ran is due again now.
        this.notify();
      });
      this.active.add(run);
    }
    return jobs.length === free;
  }

  private async run(job: Job): Promise<void> {
    const { store, clock, workerId, handlers } = this.options;
    const startedAt = clock.now();
    const lease = this.keepLease(job);
    const stopping = this.stopping.signal;
    let failed = false;
    let failure: unknown;
    try {
      const handler = Object.hasOwn(handlers, job.task) ? handlers[job.task] : undefined;
      if (!handler) throw new SyncError('UNEXPECTED', `no handler for task ${job.task}`, { retryable: false });
      await handler(job, { workerId, signal: lease.signal, stopping });
    } catch (error) {
      failed = true;
      failure = error;
    } finally {
      lease.stop();
    }

    let outcome: JobAttempt['outcome'] = 'succeeded';
    let errorCode: string | null = null;
    if (lease.signal.aborted) {
      // Another worker holds the key now and will settle it; our outcome must not overwrite its.
      outcome = 'retrying';
      errorCode = LEASE_LOST;
    } else {
      try {
        if (failed && stoppedWhileWaiting(failure, stopping)) {
          // Stopped, not failed: the job goes back as it was, for the next start or another instance.
          await store.releaseJob(job, workerId, clock.now());
          outcome = 'retrying';
          errorCode = 'WORK_STOPPED';
        } else if (failed) {
          outcome = await this.settleFailure(job, failure);
          errorCode = describe(failure).code;
        } else {
          await store.completeJob(job, workerId, clock.now());
        }
      } catch (error) {
        // The lease will lapse and the job will be claimed again.
        this.report(error);
      }
    }

    const attempt: JobAttempt = {
      jobId: job.id,
      tenantId: job.tenantId,
      jobKey: job.key,
      startedAt,
      finishedAt: clock.now(),
      outcome,
      errorCode,
      requestId: failure instanceof SyncError ? (failure.requestId ?? null) : null,
    };
    try {
      await store.recordAttempt(attempt);
    } catch (error) {
      this.report(error);
    }
    try {
      this.options.onAttempt?.(attempt, job, failed ? failure : undefined);
    } catch (error) {
      this.report(error);
    }
  }

  /**
   * Retry later with backoff while the error may pass and attempts remain; else dead letter,
   * unless an event arrived for the key meanwhile (the store says which).
   */
  private async settleFailure(job: Job, error: unknown): Promise<FailOutcome> {
    const { store, clock, workerId, backoff } = this.options;
    const now = clock.now();
    const retry = isRetryable(error) && job.attempts < job.maxAttempts;
    return store.failJob(job, {
      jobId: job.id,
      workerId,
      now,
      error: describe(error),
      retryAt: retry ? now + backoffDelay(job.attempts, backoff, error) : undefined,
    });
  }

  /** Extends the lease on a timer while the handler runs; aborts the signal if it is lost. */
  private keepLease(job: Job): { signal: AbortSignal; stop: () => void } {
    const { store, clock, workerId, leaseMs } = this.options;
    const every = this.options.renewEveryMs ?? Math.max(1, Math.floor(leaseMs / 3));
    const lost = new AbortController();
    let stopped = false;
    let cancel: CancelTimer = () => {};
    const schedule = () => {
      cancel = clock.setTimer(every, renew);
    };
    const renew = () => {
      if (stopped) return;
      store.renewLease(job.id, workerId, clock.now() + leaseMs).then(
        (held) => {
          if (stopped) return;
          if (held) schedule();
          else lost.abort(new SyncError(LEASE_LOST, 'job lease lost', { ids: { jobId: job.id } }));
        },
        (error: unknown) => {
          // A store hiccup: keep trying while the lease still has time.
          this.report(error);
          if (!stopped) schedule();
        },
      );
    };
    schedule();
    return {
      signal: lost.signal,
      stop: () => {
        stopped = true;
        cancel();
      },
    };
  }

  private report(error: unknown): void {
    try {
      this.options.onError?.(error);
    } catch {
      // A failing error reporter must not stop the pool.
    }
  }
}

/**
 * The code and message stored with a failed job. A SyncError's message is PHI-free by contract;
 * any other error's message might quote data (a JSON parse error quotes its input), so only its
 * class name is kept.
 */
export function describe(error: unknown): { code: string; message: string } {
  if (error instanceof SyncError) return { code: error.code, message: error.message };
  const name = error instanceof Error ? error.name : typeof error;
  return { code: 'UNEXPECTED', message: `${name} (message withheld: may contain PHI)` };
}
