import { describe, expect, it } from 'vitest';
import { RateLimiter } from './rate-limit.ts';

describe('RateLimiter', () => {
  it('counts down per organization within a 60 s window and refuses past the limit', () => {
    const limiter = new RateLimiter();
    const config = { perMinute: 3, perDay: 0 };
    const remaining = [0, 1, 2].map((i) => limiter.check('org', config, 1_000 + i).headers['s-ratelimit-remaining']);
    expect(remaining).toEqual(['2', '1', '0']);
    const refused = limiter.check('org', config, 31_000);
    expect(refused.allowed).toBe(false);
    expect(refused.retryAfterSeconds).toBe(30); // the window opened at 1 000 ms, frees at 61 000
    expect(limiter.check('other', config, 31_000).allowed).toBe(true);
    expect(limiter.check('org', config, 61_000).headers['s-ratelimit-remaining']).toBe('2');
  });

  it('does not count refused requests, and 0 means unlimited (no headers)', () => {
    const limiter = new RateLimiter();
    limiter.check('org', { perMinute: 1, perDay: 0 }, 0);
    for (let i = 0; i < 5; i++) limiter.check('org', { perMinute: 1, perDay: 0 }, 10);
    expect(limiter.check('org', { perMinute: 1, perDay: 0 }, 60_000).allowed).toBe(true);
    expect(limiter.check('free', { perMinute: 0, perDay: 0 }, 0)).toEqual({ allowed: true, headers: {} });
  });

  it('adds the daily headers only where a daily limit applies', () => {
    const limiter = new RateLimiter();
    const config = { perMinute: 10, perDay: 2 };
    expect(limiter.check('org', config, 0).headers).toEqual({
      's-ratelimit-limit': '10',
      's-ratelimit-remaining': '9',
      's-ratelimit-daily-limit': '2',
      's-ratelimit-daily-remaining': '1',
    });
    limiter.check('org', config, 1);
    const refused = limiter.check('org', config, 120_000);
    expect(refused.allowed).toBe(false);
    expect(refused.retryAfterSeconds).toBe(24 * 3600 - 120);
  });
});
