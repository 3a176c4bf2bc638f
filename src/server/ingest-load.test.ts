import { describe, expect, it } from 'vitest';
import { IngestLoad } from './ingest-load.ts';

describe('IngestLoad', () => {
  it('is a burst only above its threshold, and says once when the burst is over', () => {
    let calm = 0;
    const load = new IngestLoad({ burstAbove: 2, maxHoldMs: 5_000, now: () => 0, onCalm: () => calm++ });
    load.enter();
    load.enter();
    expect(load.bursting).toBe(false);
    load.enter();
    expect(load.bursting).toBe(true);
    load.leave();
    expect(load.bursting).toBe(false);
    expect(calm).toBe(1);
    load.leave();
    load.leave();
    load.leave(); // one too many (a bug elsewhere) never goes below zero
    expect(load.current).toBe(0);
    expect(calm).toBe(1);
  });

  it('holds the workers back for at most maxHoldMs of one burst, however long it lasts', () => {
    let now = 0;
    const load = new IngestLoad({ burstAbove: 1, maxHoldMs: 5_000, now: () => now });
    load.enter();
    load.enter();
    expect(load.bursting).toBe(true);
    now = 4_999;
    expect(load.bursting).toBe(true);
    now = 5_000;
    expect(load.bursting).toBe(false);
    // Deliveries keep coming and going above the threshold: still the same burst, no new hold.
    load.enter();
    load.leave();
    expect(load.bursting).toBe(false);
    // Back below the threshold, a new burst holds again.
    load.leave();
    load.enter();
    now = 6_000;
    load.enter();
    expect(load.bursting).toBe(true);
  });
});
