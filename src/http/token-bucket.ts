// Paces calls to Spry, which publishes no rate limit: at most `ratePerSecond` requests per
// second per organisation ([assumed] 5), and every caller waits out a 429's Retry-After.
//
// The bucket's state lives behind a BucketStateStore: in memory it is this process's; a store
// backed by a shared database row (one per tenant) makes N instances draw from one bucket, so
// together they stay under the rate. Each instance reserves the next few time slots in one
// round trip and hands them to its waiters, so no instance needs word from the others, and a
// busy tenant costs one database round trip per batch, not per call.
import { systemClock, type Clock } from '../clock.ts';
import { PriorityGate, type GateDecision } from './priority-gate.ts';
import type { Permit, Priority, RequestLimiter, SlotForecast } from './types.ts';

/**
 * The bucket as a schedule (GCRA, equivalent to a token bucket): requests get time slots
 * `1/rate` apart, at most `burst` of them early. Slots can be reserved several at a time, which
 * is what lets many instances share one row cheaply: one database round trip hands out the next
 * few slots to this instance's waiters.
 */
export interface BucketState {
  /** Theoretical arrival time: when the next slot would be, without burst credit (epoch ms). */
  tat: number;
  /** Nobody sends before this (a 429's Retry-After), epoch ms. */
  pausedUntil: number;
}

/** Where the bucket lives; `null` is a bucket nobody has drawn from yet (full). */
export interface BucketStateStore {
  /** Applies `change` atomically and returns its result. */
  update<T>(change: (state: BucketState | null) => [BucketState, T]): Promise<T>;
}

export class MemoryBucketState implements BucketStateStore {
  private state: BucketState | null = null;

  update<T>(change: (state: BucketState | null) => [BucketState, T]): Promise<T> {
    const [next, result] = change(this.state);
    this.state = next;
    return Promise.resolve(result);
  }
}

export interface BucketPolicy {
  msPerToken: number;
  burst: number;
}

/** Reserves the next `count` slots: the times at which the requests may go, ascending. */
export function reserveSlots(state: BucketState | null, now: number, count: number, policy: BucketPolicy): [BucketState, number[]] {
  const credit = (policy.burst - 1) * policy.msPerToken;
  let tat = state?.tat ?? now;
  const pausedUntil = state?.pausedUntil ?? 0;
  const slots: number[] = [];
  for (let i = 0; i < count; i++) {
    const slot = Math.max(now, pausedUntil, tat - credit);
    tat = Math.max(slot, tat) + policy.msPerToken;
    slots.push(slot);
  }
  return [{ tat, pausedUntil }, slots];
}

/** A 429: nobody sends until `pauseMs` from now; then one request may go, the rest are spaced from there. */
export function pauseBucket(state: BucketState | null, now: number, pauseMs: number, policy: BucketPolicy): BucketState {
  const pausedUntil = Math.max(state?.pausedUntil ?? 0, now + pauseMs);
  return { tat: pausedUntil + (policy.burst - 1) * policy.msPerToken, pausedUntil };
}

export interface TokenBucketOptions {
  clock?: Clock;
  /** Default 5. */
  ratePerSecond?: number;
  /**
   * Requests that may leave back to back. Default 1: with a burst of N the bucket lets
   * N + rate − 1 through in some one-second window, which would break "at most 5 a second".
   */
  burst?: number;
  /** Pause after a 429 without Retry-After. Default 1. */
  defaultPauseSeconds?: number;
  /** Default: in memory (this instance only). */
  state?: BucketStateStore;
}

export class TokenBucket implements RequestLimiter, SlotForecast {
  private readonly clock: Clock;
  private readonly policy: BucketPolicy;
  private readonly defaultPauseMs: number;
  private readonly state: BucketStateStore;
  private readonly gate: PriorityGate;
  /** Most slots reserved at once: a quarter second's worth, so an instance never sits on many. */
  private readonly maxBatch: number;
  /** Slots this instance reserved and has not handed out yet, ascending. */
  private reserved: number[] = [];
  /** Bumped by a 429: reservations made before it are void. */
  private epoch = 0;
  /** The bucket as this instance last saw it (a shared one may have moved since). */
  private seen: BucketState | null = null;

  constructor(options: TokenBucketOptions = {}) {
    this.clock = options.clock ?? systemClock;
    const rate = options.ratePerSecond ?? 5;
    if (!(rate > 0)) throw new RangeError('ratePerSecond must be positive');
    this.policy = { msPerToken: 1000 / rate, burst: Math.max(1, options.burst ?? 1) };
    this.maxBatch = Math.max(1, Math.min(16, Math.floor(rate / 4)));
    this.defaultPauseMs = (options.defaultPauseSeconds ?? 1) * 1000;
    this.state = options.state ?? new MemoryBucketState();
    this.gate = new PriorityGate({
      clock: this.clock,
      decide: () => this.decide(),
      // The waiter gave up after its slot was granted: the next one may use it.
      giveBack: () => {
        this.reserved.unshift(this.clock.now());
        this.gate.poke();
      },
    });
  }

  async acquire(priority: Priority, signal?: AbortSignal): Promise<Permit> {
    await this.gate.wait(priority, signal);
    return {
      release: (answer) => {
        if (answer.status !== 429) return;
        const pauseMs = answer.retryAfterSeconds !== undefined ? answer.retryAfterSeconds * 1000 : this.defaultPauseMs;
        this.epoch++;
        this.reserved = [];
        const poke = () => this.gate.poke();
        this.change((s) => [pauseBucket(s, this.clock.now(), pauseMs, this.policy), undefined]).then(poke, poke);
      },
    };
  }

  /** When the next request could go: after this instance's waiters, at the bucket's next free slot. */
  nextSlotIn(priority: Priority): number {
    const now = this.clock.now();
    const ahead = this.gate.waitingAhead(priority);
    if (ahead < this.reserved.length) return Math.max(0, Math.ceil(this.reserved[ahead]! - now));
    const [, slots] = reserveSlots(this.seen, now, ahead - this.reserved.length + 1, this.policy);
    return Math.max(0, Math.ceil(slots[slots.length - 1]! - now));
  }

  private change<T>(fn: (state: BucketState | null) => [BucketState, T]): Promise<T> {
    return this.state.update((s) => {
      const [next, result] = fn(s);
      this.seen = next;
      return [next, result];
    });
  }

  /** The head waiter may go when this instance's next reserved slot has come; reserves more when it has none. */
  private async decide(): Promise<GateDecision> {
    if (this.reserved.length === 0) {
      const epoch = this.epoch;
      const count = Math.min(Math.max(1, this.gate.waiting), this.maxBatch);
      const slots = await this.change((s) => reserveSlots(s, this.clock.now(), count, this.policy));
      // A 429 arrived meanwhile: these slots may fall inside its pause.
      if (epoch !== this.epoch) return { grant: false, waitMs: 1 };
      this.reserved.push(...slots);
    }
    const wait = this.reserved[0]! - this.clock.now();
    if (wait > 0) return { grant: false, waitMs: Math.ceil(wait) };
    this.reserved.shift();
    return { grant: true };
  }
}
