import { describe, expect, it } from 'vitest';
import { ControlledClock } from '../clock.ts';
import { openStore } from '../store/open-store.ts';
import { PauseControl, parsePauseState, RUNNING, withPause, withResume } from './pause.ts';

describe('pause state', () => {
  it('pauses and resumes a tenant or one direction', () => {
    const one = withPause(RUNNING, 'spruce-to-spry');
    expect(one).toEqual({ all: false, directions: ['spruce-to-spry'] });
    const all = withPause({ ...RUNNING, ...one }, 'all');
    expect(all).toEqual({ all: true, directions: ['spruce-to-spry'] });
    // Resuming one direction of a paused tenant leaves the other paused.
    expect(withResume({ ...RUNNING, all: true }, 'spry-to-spruce')).toEqual({ all: false, directions: ['spruce-to-spry'] });
    expect(withResume({ ...RUNNING, ...all }, 'all')).toEqual({ all: false, directions: [] });
  });

  it('reads a damaged or unknown value as running', () => {
    expect(parsePauseState(null)).toEqual(RUNNING);
    expect(parsePauseState('{oops')).toEqual(RUNNING);
    expect(parsePauseState('{"all":true,"directions":["sideways","spry-to-spruce"]}')).toMatchObject({ all: true, directions: ['spry-to-spruce'] });
  });

  it('gives the worker pool its claim filters from the store, refreshed on a timer', async () => {
    const store = await openStore('sqlite::memory:');
    const clock = new ControlledClock({ start: 1_000_000, flowing: false });
    const a = new PauseControl({ store, clock, tenantIds: ['t1', 't2'] });
    const b = new PauseControl({ store, clock, tenantIds: ['t1', 't2'] }); // another instance
    expect(a.tenantFilter()).toBeUndefined();
    expect(a.taskFilter()).toBeUndefined();

    await a.pause('t1', 'all', 'test');
    expect(a.tenantFilter()).toEqual(['t2']);
    await a.pause('t2', 'spruce-to-spry', 'test');
    expect(a.taskFilter()).toEqual([
      { tenantId: 't2', task: 'spruce.contact' },
      { tenantId: 't2', task: 'spruce.item' },
    ]);
    expect((await a.read('t1')).changedAt).toBe(1_000_000);

    // The other instance learns it on its next refresh.
    expect(b.tenantFilter()).toBeUndefined();
    b.start(500);
    await clock.advance(500);
    expect(b.tenantFilter()).toEqual(['t2']);
    await a.resume('t1', 'all', 'test');
    await clock.advance(500);
    expect(b.tenantFilter()).toBeUndefined();
    b.stop();
    await store.close();
  });
});
