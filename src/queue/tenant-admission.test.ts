import { describe, expect, it } from 'vitest';
import { ControlledClock } from '../clock.ts';
import { CircuitBreaker } from '../http/circuit-breaker.ts';
import { RatePacer } from '../http/rate-pacer.ts';
import { TokenBucket } from '../http/token-bucket.ts';
import { circuitGauge, slotGauge, TenantAdmission } from './tenant-admission.ts';

const spruceAnswer = (limit: number, remaining: number) => ({
  status: 200,
  headers: { 's-ratelimit-limit': String(limit), 's-ratelimit-remaining': String(remaining) },
});

function clock() {
  return new ControlledClock({ flowing: false, start: 5_000_000 });
}

describe('slot forecasts', () => {
  it('RatePacer: now while the budget allows, the 429 pause after one, and asking takes nothing', async () => {
    const c = clock();
    const pacer = new RatePacer({ clock: c });
    expect(pacer.nextSlotIn('live')).toBe(0);
    expect(pacer.nextSlotIn('live')).toBe(0);
    (await pacer.acquire('live')).release(spruceAnswer(30, 29));
    await c.advance(0);
    expect(pacer.nextSlotIn('live')).toBe(0);

    (await pacer.acquire('live')).release({ status: 429, retryAfterSeconds: 20 });
    await c.advance(0);
    expect(pacer.nextSlotIn('live')).toBe(20_000);
    await c.advance(15_000);
    expect(pacer.nextSlotIn('live')).toBe(5_000);
  });

  it('RatePacer: a spent budget is spread, so the next slot is seconds away, later still for bulk', async () => {
    const c = clock();
    const pacer = new RatePacer({ clock: c });
    (await pacer.acquire('live')).release(spruceAnswer(30, 5));
    await c.advance(0);
    // 5 left over the window's 60 s: one every 12 s; bulk keeps off the live reserve (6).
    expect(pacer.nextSlotIn('live')).toBe(12_000);
    expect(pacer.nextSlotIn('bulk')).toBe(60_000);
  });

  it('TokenBucket: the next slot is one interval after the last grant', async () => {
    const c = clock();
    const bucket = new TokenBucket({ clock: c, ratePerSecond: 2 });
    expect(bucket.nextSlotIn('live')).toBe(0);
    await bucket.acquire('live');
    expect(bucket.nextSlotIn('live')).toBe(500);
    await c.advance(500);
    expect(bucket.nextSlotIn('live')).toBe(0);
  });
});

describe('TenantAdmission', () => {
  it('holds back the tenants whose next call is not soon, and says when the first is ready', async () => {
    const c = clock();
    const busy = new RatePacer({ clock: c });
    const failing = new CircuitBreaker({ system: 'spry', clock: c, circuit: { failureThreshold: 1, openMs: 30_000 } });
    const admission = new TenantAdmission(1_000);
    admission.watch('busy', slotGauge('spruce_budget', busy));
    admission.watch('failing', circuitGauge('spry_circuit', failing));
    admission.watch('quiet', slotGauge('spruce_budget', new RatePacer({ clock: c })));
    expect(admission.held()).toEqual({ tenants: [] });

    (await busy.acquire('live')).release({ status: 429, retryAfterSeconds: 10 });
    (await failing.guard(new TokenBucket({ clock: c })).acquire('live')).release({ status: 503 });
    await c.advance(0);
    expect(admission.held()).toEqual({ tenants: ['busy', 'failing'], readyIn: 9_000 });
    expect(admission.readings()).toEqual([
      { tenantId: 'busy', gauge: 'spruce_budget', readyInMs: 10_000, window: null },
      { tenantId: 'failing', gauge: 'spry_circuit', readyInMs: 30_000, circuit: 'open' },
      { tenantId: 'quiet', gauge: 'spruce_budget', readyInMs: 0, window: null },
    ]);

    await c.advance(9_000);
    expect(admission.held()).toEqual({ tenants: ['failing'], readyIn: 20_000 });
    admission.forget('failing');
    expect(admission.held()).toEqual({ tenants: [] });
  });

  it("reads a circuit's state (half-open once its cool-down is over) and a budget's window as last seen", async () => {
    const c = clock();
    const pacer = new RatePacer({ clock: c });
    const breaker = new CircuitBreaker({ system: 'spruce', clock: c, circuit: { failureThreshold: 1, openMs: 10_000 } });
    const admission = new TenantAdmission();
    admission.watch('t1', slotGauge('spruce_budget', pacer), circuitGauge('spruce_circuit', breaker));
    expect(admission.readings().map(({ window, circuit }) => ({ window, circuit }))).toEqual([{ window: null }, { circuit: 'closed' }]);

    (await pacer.acquire('live')).release(spruceAnswer(30, 12));
    (await breaker.guard(new TokenBucket({ clock: c })).acquire('live')).release({ status: 502 });
    await c.advance(0);
    expect(admission.readings()).toEqual([
      { tenantId: 't1', gauge: 'spruce_budget', readyInMs: 0, window: { limit: 30, remaining: 12, endsAt: 5_060_000 } },
      { tenantId: 't1', gauge: 'spruce_circuit', readyInMs: 10_000, circuit: 'open' },
    ]);

    await c.advance(10_000);
    expect(admission.readings()[1]).toMatchObject({ readyInMs: 0, circuit: 'half_open' });
    // Once the window's estimated end has passed, its figures say nothing about the new one.
    await c.advance(50_000);
    expect(admission.readings()[0]).toMatchObject({ window: null });
  });
});
