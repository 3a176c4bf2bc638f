import { describe, expect, it } from 'vitest';
import { ControlledClock } from '../clock.ts';
import { createLogger } from '../observe/logger.ts';
import { phaseOffset, Scheduler, START_RUNS_AT_ONCE, startSpreadMs, type LeaderGate } from './scheduler.ts';

const logger = createLogger({ level: 'silent' });
const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('Scheduler', () => {
  it('runs a task at start, then at its own phase of the period, then every interval after the previous run ended, on the clock', async () => {
    const clock = new ControlledClock({ start: 0, flowing: false });
    const runs: number[] = [];
    const scheduler = new Scheduler({ clock, logger });
    scheduler.add({ name: 'catch-up:t', everyMs: 60_000, runOnStart: true, run: async () => void runs.push(clock.now()) });
    scheduler.add({ name: 'reconcile:t', everyMs: 0, run: async () => void runs.push(-1) });
    scheduler.start();
    await tick();
    expect(runs).toEqual([0]);
    const phase = phaseOffset('catch-up:t', 60_000);
    expect(phase).toBeGreaterThan(0);
    expect(phase).toBeLessThanOrEqual(60_000);
    await clock.advance(phase - 1);
    expect(runs).toEqual([0]);
    await clock.advance(1);
    await clock.advance(120_000);
    expect(runs).toEqual([0, phase, phase + 60_000, phase + 120_000]);
    await scheduler.stop();
    await clock.advance(600_000);
    expect(runs).toHaveLength(4);
  });

  it('spreads the same duty of 1,000 tenants over its period, at the same stable points after a restart (no thundering herd)', async () => {
    const everyMs = 15 * 60_000;
    const names = Array.from({ length: 1_000 }, (_, i) => `catch-up:tenant-${i}`);
    const runsOf = async () => {
      const clock = new ControlledClock({ start: 0, flowing: false });
      const runs = new Map<string, number[]>();
      const scheduler = new Scheduler({ clock, logger });
      for (const name of names) scheduler.add({ name, everyMs, runOnStart: true, run: async () => void runs.set(name, [...(runs.get(name) ?? []), clock.now()]) });
      scheduler.start();
      await tick();
      // 1,000 start runs are spread too: not one of them ran at once.
      expect(runs.size).toBe(0);
      for (let t = 0; t < 2 * everyMs; t += 10_000) await clock.advance(10_000);
      await scheduler.stop();
      return runs;
    };
    const runs = await runsOf();
    expect(runs.size).toBe(names.length);
    // Start runs within the spread window (25 s for 1,000), each task's own run first.
    const window = startSpreadMs(names.length, everyMs);
    expect(window).toBe(25_000);
    const starts = names.map((n) => runs.get(n)![0]!);
    expect(Math.max(...starts)).toBeLessThan(window);
    // The periodic runs: counted per minute of the period, no minute holds more than twice its share.
    const periodic = names.flatMap((n) => runs.get(n)!.slice(1)).filter((at) => at < 2 * everyMs);
    const perMinute = new Map<number, number>();
    for (const at of periodic) perMinute.set(Math.floor(at / 60_000), (perMinute.get(Math.floor(at / 60_000)) ?? 0) + 1);
    const share = periodic.length / (2 * everyMs / 60_000);
    expect(Math.max(...perMinute.values())).toBeLessThan(2 * share);
    // Stable: another start (a restart) puts every task at the same points.
    expect(await runsOf()).toEqual(runs);
  });

  it('runs a few start runs at once, without waiting on the clock', async () => {
    const clock = new ControlledClock({ start: 0, flowing: false });
    let runs = 0;
    const scheduler = new Scheduler({ clock, logger });
    for (let i = 0; i < START_RUNS_AT_ONCE; i++) scheduler.add({ name: `catch-up:t${i}`, everyMs: 60_000, runOnStart: true, run: async () => void runs++ });
    scheduler.start();
    await tick();
    expect(runs).toBe(START_RUNS_AT_ONCE);
    await scheduler.stop();
  });

  it('stops scheduling a removed task (its tenant removed); a task of that name may be added again', async () => {
    const clock = new ControlledClock({ start: 0, flowing: false });
    const runs: string[] = [];
    const scheduler = new Scheduler({ clock, logger });
    scheduler.add({ name: 'catch-up:a', everyMs: 1_000, run: async () => void runs.push('a') });
    scheduler.add({ name: 'catch-up:b', everyMs: 1_000, run: async () => void runs.push('b') });
    scheduler.start();
    await clock.advance(1_000);
    await tick();
    scheduler.remove('catch-up:a');
    await clock.advance(2_000);
    await tick();
    expect(runs.filter((r) => r === 'a')).toHaveLength(1);
    expect(runs.filter((r) => r === 'b').length).toBeGreaterThanOrEqual(2);
    expect(scheduler.taskNames).toEqual(['catch-up:b']);
    scheduler.add({ name: 'catch-up:a', everyMs: 1_000, run: async () => void runs.push('a2') });
    await clock.advance(1_000);
    await tick();
    expect(runs).toContain('a2');
    await scheduler.stop();
  });

  it('never runs one task twice at once, and a failed run does not stop the schedule', async () => {
    const clock = new ControlledClock({ start: 0, flowing: false });
    let running = 0;
    let most = 0;
    let calls = 0;
    let release: () => void = () => {};
    const scheduler = new Scheduler({ clock, logger });
    scheduler.add({
      name: 'slow',
      everyMs: 1_000,
      run: async () => {
        calls += 1;
        running += 1;
        most = Math.max(most, running);
        if (calls === 1) await new Promise<void>((resolve) => (release = resolve));
        running -= 1;
        if (calls === 2) throw new Error('boom');
      },
    });
    scheduler.start();
    await clock.advance(1_000);
    const joined = scheduler.runNow('slow');
    await clock.advance(5_000);
    expect(calls).toBe(1);
    release();
    await joined;
    await clock.advance(1_000);
    await tick();
    await clock.advance(1_000);
    await tick();
    expect(calls).toBe(3);
    expect(most).toBe(1);
    await scheduler.stop();
  });

  it('runs through the leader gate: a follower skips its turn and tries again next time', async () => {
    const clock = new ControlledClock({ start: 0, flowing: false });
    let leader = false;
    const asked: string[] = [];
    const gate: LeaderGate = async (duty, fn) => {
      asked.push(duty);
      return leader ? fn(new AbortController().signal) : undefined;
    };
    let runs = 0;
    const scheduler = new Scheduler({ clock, logger, runIfLeader: gate });
    scheduler.add({ name: 'catch-up:a', everyMs: 1_000, runOnStart: true, run: async () => void runs++ });
    scheduler.start();
    await tick();
    expect([asked, runs]).toEqual([['catch-up:a'], 0]);
    leader = true;
    await clock.advance(1_000);
    await tick();
    expect(runs).toBe(1);
    await scheduler.stop();
  });

  it('stop waits for the run in progress', async () => {
    const clock = new ControlledClock({ start: 0, flowing: false });
    let finished = false;
    const scheduler = new Scheduler({ clock, logger });
    scheduler.add({ name: 'x', everyMs: 1_000, runOnStart: true, run: () => new Promise<void>((resolve) => setTimeout(() => ((finished = true), resolve()), 20)) });
    scheduler.start();
    await scheduler.stop();
    expect(finished).toBe(true);
  });
});
