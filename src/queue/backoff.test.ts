import { describe, expect, it } from 'vitest';
import { SyncError } from '../errors.ts';
import { backoffDelay, DEFAULT_BACKOFF } from './backoff.ts';

const opts = (random: number) => ({ baseMs: 1000, capMs: 60_000, random: () => random });

describe('backoffDelay', () => {
  it('draws from [base, base·2^attempt]: the floor with no jitter, the ceiling with full jitter', () => {
    expect([1, 2, 3, 4].map((n) => backoffDelay(n, opts(0)))).toEqual([1000, 1000, 1000, 1000]);
    expect([1, 2, 3, 4].map((n) => backoffDelay(n, opts(1)))).toEqual([2000, 4000, 8000, 16_000]);
    expect([1, 2, 3].map((n) => backoffDelay(n, opts(0.5)))).toEqual([1500, 2500, 4500]);
  });

  it('never waits longer than the cap, even for huge attempt counts', () => {
    expect(backoffDelay(6, opts(1))).toBe(60_000);
    expect(backoffDelay(1_000_000, opts(1))).toBe(60_000);
    for (let attempt = 1; attempt < 40; attempt++) {
      const delay = backoffDelay(attempt, { baseMs: 1000, capMs: 60_000 });
      expect(delay).toBeGreaterThanOrEqual(1000);
      expect(delay).toBeLessThanOrEqual(60_000);
    }
  });

  it('spreads retries of jobs that failed together', () => {
    const delays = new Set(Array.from({ length: 50 }, () => backoffDelay(8, {})));
    expect(delays.size).toBeGreaterThan(40);
  });

  it('defaults to a 1 s base and a 10 min cap', () => {
    expect(backoffDelay(1, { random: () => 0 })).toBe(DEFAULT_BACKOFF.baseMs);
    expect(backoffDelay(50, { random: () => 1 })).toBe(DEFAULT_BACKOFF.capMs);
  });

  it('honours Retry-After from a SyncError, within the cap', () => {
    const limited = (seconds: number) =>
      new SyncError('SPRUCE_RATE_LIMITED', 'rate limited', { retryable: true, retryAfterSeconds: seconds });
    expect(backoffDelay(1, opts(1), limited(7))).toBe(7000);
    expect(backoffDelay(9, opts(1), limited(0.25))).toBe(250);
    expect(backoffDelay(1, opts(1), limited(3600))).toBe(60_000);
    expect(backoffDelay(1, opts(0), new Error('not a SyncError'))).toBe(1000);
  });
});
