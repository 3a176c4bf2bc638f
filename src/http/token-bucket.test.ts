import { describe, expect, it } from 'vitest';
import { ControlledClock } from '../clock.ts';
import { TokenBucket } from './token-bucket.ts';
import type { Priority } from './types.ts';

async function runAll(clock: ControlledClock, promises: Promise<unknown>[]): Promise<void> {
  let done = false;
  const all = Promise.all(promises).finally(() => {
    done = true;
  });
  await clock.advance(0); // let what can go now go before time moves
  for (let i = 0; i < 10_000 && !done; i++) await clock.advance(50);
  await all;
}

function maxInAnyHalfOpenSecond(times: number[]): number {
  let best = 0;
  for (const start of times) best = Math.max(best, times.filter((t) => t >= start && t < start + 1_000).length);
  return best;
}

describe('TokenBucket', () => {
  it('lets at most 5 requests through in any one second by default', async () => {
    const clock = new ControlledClock({ start: 0, flowing: false });
    const bucket = new TokenBucket({ clock });
    const grants: number[] = [];
    const call = async () => {
      (await bucket.acquire('live')).release({ status: 200 });
      grants.push(clock.now());
    };
    await runAll(clock, Array.from({ length: 23 }, call));
    expect(grants).toHaveLength(23);
    expect(maxInAnyHalfOpenSecond(grants)).toBe(5);
    expect(grants.at(-1)).toBe(22 * 200);
  });

  it('honours a configured rate and burst', async () => {
    const clock = new ControlledClock({ start: 0, flowing: false });
    const bucket = new TokenBucket({ clock, ratePerSecond: 2, burst: 3 });
    const grants: number[] = [];
    const call = async () => {
      await bucket.acquire('live');
      grants.push(clock.now());
    };
    await runAll(clock, Array.from({ length: 5 }, call));
    expect(grants).toEqual([0, 0, 0, 500, 1_000]);
  });

  it('holds every caller for the Retry-After of a 429', async () => {
    const clock = new ControlledClock({ start: 0, flowing: false });
    const bucket = new TokenBucket({ clock, ratePerSecond: 100 });
    const first = await bucket.acquire('live');
    const grants: number[] = [];
    const others = Array.from({ length: 3 }, async () => {
      await bucket.acquire('live');
      grants.push(clock.now());
    });
    first.release({ status: 429, retryAfterSeconds: 4 });
    await runAll(clock, others);
    expect(grants).toHaveLength(3);
    expect(Math.min(...grants)).toBeGreaterThanOrEqual(4_000);
  });

  it('serves live callers before bulk callers', async () => {
    const clock = new ControlledClock({ start: 0, flowing: false });
    const bucket = new TokenBucket({ clock });
    await bucket.acquire('bulk');
    const order: Priority[] = [];
    const call = async (priority: Priority) => {
      await bucket.acquire(priority);
      order.push(priority);
    };
    await runAll(clock, [call('bulk'), call('bulk'), call('live')]);
    expect(order).toEqual(['live', 'bulk', 'bulk']);
  });

  it('an aborted wait gives its token to the next caller', async () => {
    const clock = new ControlledClock({ start: 0, flowing: false });
    const bucket = new TokenBucket({ clock });
    await bucket.acquire('live');
    const controller = new AbortController();
    const aborted = bucket.acquire('live', controller.signal);
    const next = bucket.acquire('live');
    controller.abort(new Error('stop'));
    await expect(aborted).rejects.toThrow('stop');
    await clock.advance(200);
    await next;
    expect(clock.now()).toBe(200);
  });
});
