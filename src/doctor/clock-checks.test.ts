import { describe, expect, it } from 'vitest';
import { clockCheck, skewSeconds } from './clock-checks.ts';
import type { Exchange } from './wire-tap.ts';

const T = Date.parse('2026-12-07T01:00:00Z');

function answered(date: string | undefined, sentAt: number, answeredAt = sentAt + 40): Exchange {
  return { method: 'GET', path: '/x', status: 200, headers: date ? { date } : {}, body: '', sentAt, answeredAt };
}

describe('skewSeconds', () => {
  it('sees no skew within the resolution of the Date header', () => {
    expect(skewSeconds([answered(new Date(T).toUTCString(), T + 300)])).toBe(0);
    expect(skewSeconds([answered(new Date(T).toUTCString(), T + 1400)])).toBe(0);
  });

  it('measures how far our clock is ahead or behind', () => {
    expect(skewSeconds([answered(new Date(T).toUTCString(), T + 600_000)])).toBe(600);
    expect(skewSeconds([answered(new Date(T).toUTCString(), T - 45_000)])).toBe(-45);
  });

  it('trusts the quickest round trip', () => {
    const slow = answered(new Date(T).toUTCString(), T - 20_000, T + 20_000);
    const quick = answered(new Date(T + 10_000).toUTCString(), T + 70_000);
    expect(skewSeconds([slow, quick])).toBe(60);
  });

  it('has nothing to say without a Date header', () => {
    expect(skewSeconds([answered(undefined, T)])).toBeUndefined();
  });
});

describe('clockCheck', () => {
  it('is ok close by, warns from 30 s and fails from 150 s, naming clock.skew', () => {
    expect(clockCheck('spry', [answered(new Date(T).toUTCString(), T + 10_500)])).toMatchObject({ status: 'ok', message: "our clock is 10 s ahead of Spry's" });
    expect(clockCheck('spruce', [answered(new Date(T).toUTCString(), T - 60_000)])).toMatchObject({ status: 'warn', assumption: 'clock.skew' });
    expect(clockCheck('spry', [answered(new Date(T).toUTCString(), T + 200_000)])).toMatchObject({ status: 'fail', assumption: 'clock.skew' });
  });

  it('warns when the vendor sends no Date header', () => {
    expect(clockCheck('spruce', [answered(undefined, T)])).toMatchObject({ status: 'warn', assumption: 'clock.date-header' });
  });
});
