// Paces calls to Spry, which publishes no rate limit: at most `ratePerSecond` requests per
// second per organisation ([assumed] 5), and every caller waits out a 429's Retry-After.
//
// The bucket's state lives behind a BucketStateStore: in memory it is this process's; a store
// backed by a shared database row (one per tenant) makes N instances draw from one bucket, so
// together they stay under the rate. Waits are computed from the shared state, so an instance
// needs no word from the others to know when the next token is due.
import { systemClock, type Clock } from '../clock.ts';
import { PriorityGate, type GateDecision } from './priority-gate.ts';
import type { Permit, Priority, RequestLimiter } from './types.ts';

export interface BucketState {
  tokens: number;
  /** When `tokens` was last topped up, epoch ms. */
  refilledAt: number;
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

function full(now: number, policy: BucketPolicy): BucketState {
  return { tokens: policy.burst, refilledAt: now, pausedUntil: 0 };
}

/** Takes one token if there is one (topping the bucket up for the time passed); else how long to wait. */
export function takeToken(state: BucketState | null, now: number, policy: BucketPolicy): [BucketState, GateDecision] {
  const s = state ?? full(now, policy);
  if (now < s.pausedUntil) return [s, { grant: false, waitMs: Math.ceil(s.pausedUntil - now) }];
  let { tokens, refilledAt } = s;
  if (now > refilledAt) {
    tokens = Math.min(policy.burst, tokens + (now - refilledAt) / policy.msPerToken);
    refilledAt = now;
  }
  if (tokens >= 1) return [{ ...s, tokens: tokens - 1, refilledAt }, { grant: true }];
  return [{ ...s, tokens, refilledAt }, { grant: false, waitMs: Math.max(1, Math.ceil((1 - tokens) * policy.msPerToken)) }];
}

/** A 429: nobody sends until `pauseMs` from now; then one request may go, the rest refill from there. */
export function pauseBucket(state: BucketState | null, now: number, pauseMs: number): BucketState {
  const pausedUntil = Math.max(state?.pausedUntil ?? 0, now + pauseMs);
  return { tokens: 1, refilledAt: pausedUntil, pausedUntil };
}

/** A grant whose caller gave up before using it goes back. */
export function returnToken(state: BucketState | null, now: number, policy: BucketPolicy): BucketState {
  const s = state ?? full(now, policy);
  return { ...s, tokens: Math.min(policy.burst, s.tokens + 1) };
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

export class TokenBucket implements RequestLimiter {
  private readonly clock: Clock;
  private readonly policy: BucketPolicy;
  private readonly defaultPauseMs: number;
  private readonly state: BucketStateStore;
  private readonly gate: PriorityGate;

  constructor(options: TokenBucketOptions = {}) {
    this.clock = options.clock ?? systemClock;
    const rate = options.ratePerSecond ?? 5;
    if (!(rate > 0)) throw new RangeError('ratePerSecond must be positive');
    this.policy = { msPerToken: 1000 / rate, burst: Math.max(1, options.burst ?? 1) };
    this.defaultPauseMs = (options.defaultPauseSeconds ?? 1) * 1000;
    this.state = options.state ?? new MemoryBucketState();
    this.gate = new PriorityGate({
      clock: this.clock,
      decide: () => this.state.update((s) => takeToken(s, this.clock.now(), this.policy)),
      giveBack: () => {
        const poke = () => this.gate.poke();
        this.state.update((s) => [returnToken(s, this.clock.now(), this.policy), undefined]).then(poke, poke);
      },
    });
  }

  async acquire(priority: Priority, signal?: AbortSignal): Promise<Permit> {
    await this.gate.wait(priority, signal);
    return {
      release: (answer) => {
        if (answer.status !== 429) return;
        const pauseMs = answer.retryAfterSeconds !== undefined ? answer.retryAfterSeconds * 1000 : this.defaultPauseMs;
        const poke = () => this.gate.poke();
        this.state.update((s) => [pauseBucket(s, this.clock.now(), pauseMs), undefined]).then(poke, poke);
      },
    };
  }
}
