// Requests per second to one endpoint: a token bucket that holds up to one second's worth
// (at least one token). The lane asks how many it may send now and when the next token comes,
// so it claims no more deliveries than it can send at once and holds no lease while waiting.
import type { Clock } from '../clock.ts';

export class EndpointRateLimit {
  private tokens: number;
  private refilledAt: number;
  private readonly capacity: number;

  constructor(
    private readonly clock: Clock,
    /** 0 = no limit. */
    private readonly ratePerSecond: number,
  ) {
    this.capacity = Math.max(1, ratePerSecond);
    this.tokens = this.capacity;
    this.refilledAt = clock.now();
  }

  /** Whole requests that may go now. */
  available(): number {
    if (this.ratePerSecond <= 0) return Number.POSITIVE_INFINITY;
    this.refill();
    return Math.floor(this.tokens);
  }

  take(n = 1): void {
    if (this.ratePerSecond <= 0) return;
    this.refill();
    this.tokens -= n;
  }

  /** Ms until one more request may go (0 when one may go now). */
  waitMs(): number {
    if (this.ratePerSecond <= 0) return 0;
    this.refill();
    return this.tokens >= 1 ? 0 : Math.ceil(((1 - this.tokens) * 1000) / this.ratePerSecond);
  }

  private refill(): void {
    const now = this.clock.now();
    if (now > this.refilledAt) {
      this.tokens = Math.min(this.capacity, this.tokens + ((now - this.refilledAt) * this.ratePerSecond) / 1000);
      this.refilledAt = now;
    }
  }
}
