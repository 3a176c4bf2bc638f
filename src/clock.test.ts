import { describe, expect, it } from 'vitest';
import { ControlledClock, systemClock } from './clock.ts';

describe('ControlledClock', () => {
  it('fires timers in due order at their own due time when advanced', async () => {
    const clock = new ControlledClock({ start: 1_000_000, flowing: false });
    const fired: [string, number][] = [];
    clock.setTimer(60_000, () => fired.push(['b', clock.now()]));
    clock.setTimer(15_000, () => fired.push(['a', clock.now()]));
    clock.setTimer(7 * 3600_000, () => fired.push(['c', clock.now()]));
    await clock.advance(3600_000);
    expect(fired).toEqual([
      ['a', 1_015_000],
      ['b', 1_060_000],
    ]);
    expect(clock.now()).toBe(1_000_000 + 3600_000);
    await clock.advance(6 * 3600_000);
    expect(fired.map(([name]) => name)).toEqual(['a', 'b', 'c']);
  });

  it('fires timers that a fired timer schedules within the same advance', async () => {
    const clock = new ControlledClock({ start: 0, flowing: false });
    const times: number[] = [];
    const retry = (delay: number) =>
      clock.setTimer(delay, () => {
        times.push(clock.now());
        if (times.length < 3) retry(delay * 2);
      });
    retry(10);
    await clock.advance(1000);
    expect(times).toEqual([10, 30, 70]);
  });

  it('cancels timers and aborts sleeps', async () => {
    const clock = new ControlledClock({ start: 0, flowing: false });
    let fired = false;
    const cancel = clock.setTimer(5, () => (fired = true));
    cancel();
    await clock.advance(10);
    expect(fired).toBe(false);
    const controller = new AbortController();
    const sleeping = clock.sleep(100, controller.signal);
    controller.abort(new Error('stop'));
    await expect(sleeping).rejects.toThrow('stop');
    expect(clock.pendingTimers).toBe(0);
  });

  it('flows with real time when flowing, and still jumps forward', async () => {
    const clock = new ControlledClock();
    const before = clock.now();
    await systemClock.sleep(20);
    expect(clock.now()).toBeGreaterThanOrEqual(before + 15);
    let fired = false;
    clock.setTimer(60_000, () => (fired = true));
    await clock.advance(60_000);
    expect(fired).toBe(true);
    const real = clock.sleep(10);
    await real; // fires on the real timer, with no advance
  });
});
