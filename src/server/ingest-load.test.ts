import { describe, expect, it } from 'vitest';
import { IngestLoad } from './ingest-load.ts';

describe('IngestLoad', () => {
  it('is a burst only above its threshold, and says once when the burst is over', () => {
    let calm = 0;
    const load = new IngestLoad({ burstAbove: 2, onCalm: () => calm++ });
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
});
