// Runs recurring background tasks (catch-up, reconciliation) on the injected clock: optionally
// once at start, then every interval after the previous run ended, never two runs of one task
// at once. Every run goes through `runIfLeader`, so that with several instances on one
// PostgreSQL database only the leader runs them (an advisory lock): by default every instance
// is its own leader.
//
// With many tenants the same duty exists once per tenant, all added at the same moment. Were
// each first run one interval after start, every tenant's catch-up would fire at the same
// instant, every interval, for ever (a thundering herd on our CPU, database and the vendors).
// So each task's first periodic run comes at its own stable point in the period (a hash of its
// name), and many start runs are spread over a short window the same way; a task added later
// (a tenant added at run time) keeps the same rule.
import { createHash } from 'node:crypto';
import type { CancelTimer, Clock } from '../clock.ts';
import { errorCode } from '../errors.ts';
import type { Logger } from '../observe/logger.ts';

export interface ScheduledTask {
  /** Unique, e.g. `catch-up:acme-pt`; also what a leader lock is taken on. */
  name: string;
  /** Between the end of one run and the start of the next; 0 = no repeats. */
  everyMs: number;
  runOnStart?: boolean;
  /**
   * `signal` aborts when this instance stops leading the task or the scheduler stops: stop at
   * the next safe point, and do not wait out a vendor's rate window (backfill-context.ts stopWaitingOn).
   */
  run(signal: AbortSignal): Promise<unknown>;
}

/**
 * Runs `fn` when this instance leads `duty`, else resolves without running it (the shape of
 * Leadership.runIfLeader, so an advisory-lock leadership plugs straight in).
 */
export type LeaderGate = (duty: string, fn: (signal: AbortSignal) => Promise<void>) => Promise<unknown>;

const never = new AbortController().signal;

export const alwaysLeader: LeaderGate = (_duty, fn) => fn(never);

/**
 * Where in its period a task first runs: a stable delay in (0, everyMs] from its name, the same
 * on every instance and after every restart, spread evenly over the period across names.
 */
export function phaseOffset(name: string, everyMs: number): number {
  return Math.max(1, Math.ceil(stableFraction(name) * everyMs));
}

/** A number in (0, 1] from the name's SHA-256: stable, and uniform across names. */
function stableFraction(name: string): number {
  return (createHash('sha256').update(name).digest().readUInt32BE(0) + 1) / 2 ** 32;
}

/** Up to this many start runs go at once; beyond it they are spread (see startSpreadMs). */
export const START_RUNS_AT_ONCE = 16;
/** With more start runs than that, they are spread over this much time per run (1,000 → 25 s). */
export const START_SPACING_MS = 25;

/**
 * Over how long the start runs of `count` tasks are spread: not at all for a few (a stopped
 * test clock must not hold back the one tenant's catch-up), else `count × START_SPACING_MS`,
 * never longer than the shortest period among them.
 */
export function startSpreadMs(count: number, shortestEveryMs: number): number {
  if (count <= START_RUNS_AT_ONCE) return 0;
  const window = count * START_SPACING_MS;
  return shortestEveryMs > 0 ? Math.min(window, shortestEveryMs) : window;
}

export interface SchedulerOptions {
  clock: Clock;
  logger: Logger;
  runIfLeader?: LeaderGate;
}

interface Entry {
  task: ScheduledTask;
  /** The first periodic run waits for the task's phase, later ones for the interval. */
  phased?: boolean;
  removed?: boolean;
  timer?: CancelTimer;
  running?: Promise<void>;
}

export class Scheduler {
  private readonly entries = new Map<string, Entry>();
  private started = false;
  private stopped = false;
  /** Aborted by stop(): runs in progress end at their next safe point. */
  private readonly stopping = new AbortController();

  constructor(private readonly options: SchedulerOptions) {}

  add(task: ScheduledTask): void {
    if (this.entries.has(task.name)) throw new Error(`task ${task.name} is scheduled already`);
    const entry: Entry = { task };
    this.entries.set(task.name, entry);
    if (this.started) this.begin(entry);
  }

  /** Stops scheduling a task (its tenant removed or restarting); a run in progress finishes. */
  remove(name: string): void {
    const entry = this.entries.get(name);
    if (!entry) return;
    entry.removed = true;
    entry.timer?.();
    entry.timer = undefined;
    this.entries.delete(name);
  }

  get taskNames(): string[] {
    return [...this.entries.keys()];
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    const entries = [...this.entries.values()];
    const starting = entries.filter((e) => e.task.runOnStart);
    const periods = starting.map((e) => e.task.everyMs).filter((ms) => ms > 0);
    const spread = startSpreadMs(starting.length, periods.length ? Math.min(...periods) : 0);
    for (const entry of entries) this.begin(entry, spread);
  }

  /** Runs the task now (or joins the run in progress); the interval restarts from its end. */
  runNow(name: string): Promise<void> {
    const entry = this.entries.get(name);
    if (!entry) return Promise.reject(new Error(`no task ${name}`));
    return this.fire(entry);
  }

  /** Cancels what is scheduled, tells runs in progress to stop, and waits for them. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.stopping.abort();
    for (const entry of this.entries.values()) entry.timer?.();
    await Promise.all([...this.entries.values()].map((e) => e.running));
  }

  private begin(entry: Entry, spreadMs = 0): void {
    entry.phased = true;
    if (!entry.task.runOnStart) {
      this.armNext(entry);
      return;
    }
    // A lone start run does not wait on the clock: a stopped test clock must not hold it back.
    if (spreadMs <= 0) {
      void this.fire(entry);
      return;
    }
    entry.timer = this.options.clock.setTimer(Math.floor(stableFraction(entry.task.name) * spreadMs), () => void this.fire(entry));
  }

  private armNext(entry: Entry): void {
    entry.timer?.();
    entry.timer = undefined;
    const { everyMs, name } = entry.task;
    if (this.stopped || entry.removed || everyMs <= 0) return;
    const delay = entry.phased ? phaseOffset(name, everyMs) : everyMs;
    entry.phased = false;
    entry.timer = this.options.clock.setTimer(delay, () => void this.fire(entry));
  }

  private fire(entry: Entry): Promise<void> {
    if (entry.running) return entry.running;
    if (this.stopped || entry.removed) return Promise.resolve();
    entry.timer?.();
    entry.timer = undefined;
    const { task } = entry;
    const { logger } = this.options;
    const gate = this.options.runIfLeader ?? alwaysLeader;
    entry.running = Promise.resolve()
      .then(() =>
        gate(task.name, async (leading) => {
          await task.run(AbortSignal.any([leading, this.stopping.signal]));
        }),
      )
      .then(
        () => undefined,
        (error: unknown) => logger.error({ task: task.name, code: errorCode(error) }, 'scheduled task failed'),
      )
      .finally(() => {
        entry.running = undefined;
        this.armNext(entry);
      });
    return entry.running;
  }
}
