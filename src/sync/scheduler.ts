// Runs recurring background tasks (catch-up, reconciliation) on the injected clock: optionally
// once at start, then every interval after the previous run ended, never two runs of one task
// at once. Every run goes through `runIfLeader`, so that with several instances on one
// PostgreSQL database only the leader runs them (an advisory lock): by default every instance
// is its own leader.
import type { CancelTimer, Clock } from '../clock.ts';
import { errorCode } from '../errors.ts';
import type { Logger } from '../observe/logger.ts';

export interface ScheduledTask {
  /** Unique, e.g. `catch-up:acme-pt`; also what a leader lock is taken on. */
  name: string;
  /** Between the end of one run and the start of the next; 0 = no repeats. */
  everyMs: number;
  runOnStart?: boolean;
  /** `signal` aborts when this instance stops leading the task: stop at the next safe point. */
  run(signal: AbortSignal): Promise<unknown>;
}

/**
 * Runs `fn` when this instance leads `duty`, else resolves without running it (the shape of
 * Leadership.runIfLeader, so an advisory-lock leadership plugs straight in).
 */
export type LeaderGate = (duty: string, fn: (signal: AbortSignal) => Promise<void>) => Promise<unknown>;

const never = new AbortController().signal;

export const alwaysLeader: LeaderGate = (_duty, fn) => fn(never);

export interface SchedulerOptions {
  clock: Clock;
  logger: Logger;
  runIfLeader?: LeaderGate;
}

interface Entry {
  task: ScheduledTask;
  removed?: boolean;
  timer?: CancelTimer;
  running?: Promise<void>;
}

export class Scheduler {
  private readonly entries = new Map<string, Entry>();
  private started = false;
  private stopped = false;

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
    for (const entry of this.entries.values()) this.begin(entry);
  }

  /** Runs the task now (or joins the run in progress); the interval restarts from its end. */
  runNow(name: string): Promise<void> {
    const entry = this.entries.get(name);
    if (!entry) return Promise.reject(new Error(`no task ${name}`));
    return this.fire(entry);
  }

  /** Cancels what is scheduled and waits for runs in progress. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const entry of this.entries.values()) entry.timer?.();
    await Promise.all([...this.entries.values()].map((e) => e.running));
  }

  private begin(entry: Entry): void {
    // The start run does not wait on the clock: a stopped test clock must not hold it back.
    if (entry.task.runOnStart) void this.fire(entry);
    else this.armNext(entry);
  }

  private armNext(entry: Entry): void {
    entry.timer?.();
    entry.timer = undefined;
    if (this.stopped || entry.removed || entry.task.everyMs <= 0) return;
    entry.timer = this.options.clock.setTimer(entry.task.everyMs, () => void this.fire(entry));
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
        gate(task.name, async (signal) => {
          await task.run(signal);
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
