// The waiting room shared by both limiters: waiters are served one at a time, live before
// bulk, first come first served within a priority, and every wait runs on the injected clock.
import type { CancelTimer, Clock } from '../clock.ts';
import type { Priority } from './types.ts';

export type GateDecision = { grant: true } | { grant: false; waitMs: number };

interface Waiter {
  priority: Priority;
  resolve: () => void;
  reject: (reason: unknown) => void;
  signal?: AbortSignal;
  onAbort?: () => void;
  done: boolean;
}

export interface PriorityGateOptions {
  clock: Clock;
  /** Asked for the head waiter; when it grants it must also account the grant. */
  decide: (priority: Priority) => GateDecision | Promise<GateDecision>;
  /** Gives back a grant whose waiter gave up while `decide` was running. */
  giveBack: (priority: Priority) => void;
}

export class PriorityGate {
  private readonly queues: Record<Priority, Waiter[]> = { live: [], bulk: [] };
  private cancelTimer: CancelTimer | undefined;
  private running = false;
  private again = false;

  constructor(private readonly options: PriorityGateOptions) {}

  get waiting(): number {
    return this.queues.live.length + this.queues.bulk.length;
  }

  /** Waiters served before a new one of `priority` would be. */
  waitingAhead(priority: Priority): number {
    return priority === 'live' ? this.queues.live.length : this.waiting;
  }

  wait(priority: Priority, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = { priority, resolve, reject, signal, done: false };
      if (signal) {
        waiter.onAbort = () => {
          if (waiter.done) return;
          waiter.done = true;
          this.remove(waiter);
          reject(signal.reason);
          this.poke();
        };
        signal.addEventListener('abort', waiter.onAbort, { once: true });
      }
      this.queues[priority].push(waiter);
      this.poke();
    });
  }

  /** Re-evaluates the head waiter now, e.g. after a response changed what the limiter knows. */
  poke(): void {
    void this.run();
  }

  private async run(): Promise<void> {
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = true;
    try {
      do {
        this.again = false;
        this.cancelTimer?.();
        this.cancelTimer = undefined;
        await this.serve();
      } while (this.again);
    } finally {
      this.running = false;
    }
  }

  private async serve(): Promise<void> {
    for (;;) {
      const head = this.queues.live[0] ?? this.queues.bulk[0];
      if (!head) return;
      let decision: GateDecision;
      try {
        decision = await this.options.decide(head.priority);
      } catch (error) {
        this.settle(head, () => head.reject(error));
        continue;
      }
      if (!decision.grant) {
        this.cancelTimer = this.options.clock.setTimer(decision.waitMs, () => this.poke());
        return;
      }
      if (head.done) this.options.giveBack(head.priority);
      else this.settle(head, () => head.resolve());
    }
  }

  private settle(waiter: Waiter, fn: () => void): void {
    if (waiter.done) return;
    waiter.done = true;
    this.remove(waiter);
    if (waiter.onAbort) waiter.signal?.removeEventListener('abort', waiter.onAbort);
    fn();
  }

  private remove(waiter: Waiter): void {
    const queue = this.queues[waiter.priority];
    const index = queue.indexOf(waiter);
    if (index >= 0) queue.splice(index, 1);
  }
}
