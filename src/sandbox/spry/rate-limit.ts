// [assumed] Spry publishes no rate limit; the simulator can impose one per organisation (a token
// bucket on the simulator's clock, burst = one second's worth) and answers 429 + Retry-After.
import type { Clock } from '../../clock.ts';

export class OrgRateLimiter {
  private buckets = new Map<number, { tokens: number; at: number }>();

  constructor(
    private readonly clock: Clock,
    private requestsPerSecond: number | null = null,
  ) {}

  get limit(): number | null {
    return this.requestsPerSecond;
  }

  setLimit(requestsPerSecond: number | null): void {
    this.requestsPerSecond = requestsPerSecond && requestsPerSecond > 0 ? requestsPerSecond : null;
    this.buckets.clear();
  }

  /** Takes one request from the organisation's budget; returns seconds to wait when there is none. */
  take(organisationId: number): { allowed: true } | { allowed: false; retryAfterSeconds: number } {
    const rate = this.requestsPerSecond;
    if (!rate) return { allowed: true };
    const now = this.clock.now();
    const bucket = this.buckets.get(organisationId) ?? { tokens: rate, at: now };
    bucket.tokens = Math.min(rate, bucket.tokens + ((now - bucket.at) / 1000) * rate);
    bucket.at = now;
    this.buckets.set(organisationId, bucket);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return { allowed: true };
    }
    return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil((1 - bucket.tokens) / rate)) };
  }
}
