// Wakes the worker pool when new jobs become due, with one timer per slot of `slotMs` instead of
// one per job: a webhook's job is due when its coalescing window closes, and at a few thousand
// deliveries a second a timer each (and a pool wake-up each, with its claim attempt) was a tenth
// of the acknowledgement path's CPU (docs/BENCHMARKS.md, "Ingest profile"). A job is claimed
// at most `slotMs` after it became due; the pool's own poll remains the backstop.
import type { Clock } from '../clock.ts';

export interface WakeScheduleOptions {
  clock: Clock;
  /** Wake-ups are rounded up to a multiple of this (ms). */
  slotMs: number;
  wake: () => void;
}

export class WakeSchedule {
  /** The slots (epoch ms) a timer is armed for. */
  private readonly armed = new Set<number>();

  constructor(private readonly options: WakeScheduleOptions) {}

  /** Wakes the pool at `at` (epoch ms) or at most `slotMs` later. */
  wakeAt(at: number): void {
    const { clock, slotMs, wake } = this.options;
    const slot = Math.ceil(at / slotMs) * slotMs;
    if (this.armed.has(slot)) return;
    this.armed.add(slot);
    clock.setTimer(slot - clock.now(), () => {
      this.armed.delete(slot);
      wake();
    });
  }

  /** Timers armed now (for tests). */
  get pending(): number {
    return this.armed.size;
  }
}
