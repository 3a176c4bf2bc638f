import { describe, expect, it } from 'vitest';
import { ControlledClock } from '../clock.ts';
import { WakeSchedule } from './wake-schedule.ts';

describe('WakeSchedule', () => {
  it('arms one timer per slot, and wakes no earlier than asked and at most a slot later', async () => {
    const clock = new ControlledClock({ start: 1_000_000, flowing: false });
    const wakes: number[] = [];
    const schedule = new WakeSchedule({ clock, slotMs: 10, wake: () => wakes.push(clock.now()) });
    for (const offset of [101, 105, 110]) schedule.wakeAt(clock.now() + offset);
    schedule.wakeAt(clock.now() + 111);
    expect(schedule.pending).toBe(2);
    await clock.advance(109);
    expect(wakes).toEqual([]);
    await clock.advance(1);
    expect(wakes).toEqual([1_000_110]);
    await clock.advance(10);
    expect(wakes).toEqual([1_000_110, 1_000_120]);
    expect(schedule.pending).toBe(0);
    // A slot already passed is armed again when asked again.
    schedule.wakeAt(clock.now() + 1);
    expect(schedule.pending).toBe(1);
  });
});
