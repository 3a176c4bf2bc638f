// Paces calls to Spry, which publishes no rate limit: at most `ratePerSecond` requests per
// second per organisation ([assumed] 5), and every caller waits out a 429's Retry-After.
import { systemClock, type Clock } from '../clock.ts';
import { PriorityGate, type GateDecision } from './priority-gate.ts';
import type { Permit, Priority, RequestLimiter } from './types.ts';

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
}

export class TokenBucket implements RequestLimiter {
  private readonly clock: Clock;
  private readonly msPerToken: number;
  private readonly burst: number;
  private readonly defaultPauseMs: number;
  private readonly gate: PriorityGate;
  private tokens: number;
  private refilledAt: number;
  private pausedUntil = 0;

  constructor(options: TokenBucketOptions = {}) {
    this.clock = options.clock ?? systemClock;
    const rate = options.ratePerSecond ?? 5;
    if (!(rate > 0)) throw new RangeError('ratePerSecond must be positive');
    this.msPerToken = 1000 / rate;
    this.burst = Math.max(1, options.burst ?? 1);
    this.defaultPauseMs = (options.defaultPauseSeconds ?? 1) * 1000;
    this.tokens = this.burst;
    this.refilledAt = this.clock.now();
    this.gate = new PriorityGate({
      clock: this.clock,
      decide: () => this.take(),
      giveBack: () => {
        this.tokens = Math.min(this.burst, this.tokens + 1);
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
        this.pausedUntil = Math.max(this.pausedUntil, this.clock.now() + pauseMs);
        // One request may go the moment the pause ends; the rest refill from there.
        this.tokens = 1;
        this.refilledAt = this.pausedUntil;
        this.gate.poke();
      },
    };
  }

  private take(): GateDecision {
    const now = this.clock.now();
    if (now < this.pausedUntil) return { grant: false, waitMs: Math.ceil(this.pausedUntil - now) };
    if (now > this.refilledAt) {
      this.tokens = Math.min(this.burst, this.tokens + (now - this.refilledAt) / this.msPerToken);
      this.refilledAt = now;
    }
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return { grant: true };
    }
    return { grant: false, waitMs: Math.max(1, Math.ceil((1 - this.tokens) * this.msPerToken)) };
  }
}
