// Time is injected wherever retries, leases or schedules depend on it, so that tests and the
// sandbox can run a 7-hour retry schedule in seconds.

export type CancelTimer = () => void;

export interface Clock {
  /** Epoch milliseconds. */
  now(): number;
  /** Runs `fn` once after `ms`; the returned function cancels it. */
  setTimer(ms: number, fn: () => void): CancelTimer;
  /** Resolves after `ms`; rejects with the signal's reason if it is aborted first. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

function sleepOn(clock: Clock, ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = () => {
      cancel();
      reject(signal?.reason);
    };
    const cancel = clock.setTimer(ms, () => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    });
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimer(ms, fn) {
    const handle = setTimeout(fn, Math.max(0, ms));
    return () => clearTimeout(handle);
  },
  sleep(ms, signal) {
    return sleepOn(systemClock, ms, signal);
  },
};

interface PendingTimer {
  due: number;
  seq: number;
  fn: () => void;
}

export interface ControlledClockOptions {
  /** Epoch ms the clock reads at creation. Default: the real time. */
  start?: number;
  /**
   * When true (the default) time also passes in real time, so a simulator on this clock
   * behaves normally and a test can still jump it forward. When false, time moves only
   * through `advance`.
   */
  flowing?: boolean;
}

/**
 * A clock a test or the sandbox can move forward. `advance(ms)` fires every timer that falls
 * due, in due order, at its own due time, letting the work each one starts settle before the
 * next fires.
 */
export class ControlledClock implements Clock {
  private readonly flowing: boolean;
  private readonly realStart: number;
  private readonly virtualStart: number;
  private offset = 0;
  private seq = 0;
  private timers: PendingTimer[] = [];
  private realTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(options: ControlledClockOptions = {}) {
    this.flowing = options.flowing ?? true;
    this.realStart = Date.now();
    this.virtualStart = options.start ?? this.realStart;
  }

  now(): number {
    const elapsed = this.flowing ? Date.now() - this.realStart : 0;
    return this.virtualStart + elapsed + this.offset;
  }

  setTimer(ms: number, fn: () => void): CancelTimer {
    const timer: PendingTimer = { due: this.now() + Math.max(0, ms), seq: this.seq++, fn };
    this.timers.push(timer);
    this.timers.sort((a, b) => a.due - b.due || a.seq - b.seq);
    this.armRealTimer();
    return () => {
      this.timers = this.timers.filter((t) => t !== timer);
      this.armRealTimer();
    };
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return sleepOn(this, ms, signal);
  }

  /** Timers not yet fired. */
  get pendingTimers(): number {
    return this.timers.length;
  }

  /** Moves time forward by `ms`, firing what falls due on the way. */
  async advance(ms: number): Promise<void> {
    await this.advanceTo(this.now() + ms);
  }

  async advanceTo(target: number): Promise<void> {
    for (;;) {
      const next = this.timers[0];
      if (!next || next.due > target) break;
      if (next.due > this.now()) this.offset += next.due - this.now();
      this.timers.shift();
      next.fn();
      await settle();
    }
    if (target > this.now()) this.offset += target - this.now();
    this.armRealTimer();
    await settle();
  }

  private armRealTimer(): void {
    if (!this.flowing) return;
    if (this.realTimer) clearTimeout(this.realTimer);
    this.realTimer = undefined;
    const next = this.timers[0];
    if (!next) return;
    this.realTimer = setTimeout(() => this.fireDue(), Math.max(0, next.due - this.now()));
    // A pending simulated retry hours away must not keep the process alive.
    this.realTimer.unref?.();
  }

  private fireDue(): void {
    this.realTimer = undefined;
    const now = this.now();
    while (this.timers[0] && this.timers[0].due <= now) {
      this.timers.shift()!.fn();
    }
    this.armRealTimer();
  }
}

/** Lets promise chains and immediate callbacks started by a fired timer run. */
async function settle(): Promise<void> {
  for (let i = 0; i < 3; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}
