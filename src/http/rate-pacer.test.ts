import { describe, expect, it } from 'vitest';
import { ControlledClock } from '../clock.ts';
import { observeAnswer, planGrant, RatePacer, UNKNOWN_BUDGET, type PacerBudget, type PacerPolicy } from './rate-pacer.ts';
import type { Priority, ResponseObservation } from './types.ts';

const WINDOW_MS = 60_000;

/** Spruce's budget as the sandbox keeps it: a fixed window opened by the first request. */
function fakeSpruce(clock: ControlledClock, limit: number, options: { rateLimitAt?: Set<number>; retryAfter?: number } = {}) {
  let windowStart: number | undefined;
  let used = 0;
  let calls = 0;
  const log: { at: number; status: number; priority: Priority }[] = [];
  return {
    log,
    answer(priority: Priority): ResponseObservation {
      const now = clock.now();
      calls++;
      if (windowStart === undefined || now >= windowStart + WINDOW_MS) {
        windowStart = now;
        used = 0;
      }
      const headers = (remaining: number) => ({
        's-ratelimit-limit': String(limit),
        's-ratelimit-remaining': String(remaining),
      });
      if (used >= limit || options.rateLimitAt?.has(calls)) {
        log.push({ at: now, status: 429, priority });
        const retryAfterSeconds = options.retryAfter ?? Math.ceil((windowStart + WINDOW_MS - now) / 1000);
        return { status: 429, headers: headers(0), retryAfterSeconds };
      }
      used++;
      log.push({ at: now, status: 200, priority });
      return { status: 200, headers: headers(limit - used) };
    },
  };
}

async function runAll(clock: ControlledClock, promises: Promise<unknown>[], maxMs = 10 * WINDOW_MS): Promise<void> {
  let done = false;
  const all = Promise.all(promises).finally(() => {
    done = true;
  });
  await clock.advance(0); // let what can go now go before time moves
  const end = clock.now() + maxMs;
  while (!done && clock.now() < end) await clock.advance(1_000);
  await all;
}

function maxInAnyInterval(times: number[], intervalMs: number): number {
  const sorted = [...times].sort((a, b) => a - b);
  let best = 0;
  for (let i = 0, j = 0; i < sorted.length; i++) {
    while (sorted[i]! - sorted[j]! >= intervalMs) j++;
    best = Math.max(best, i - j + 1);
  }
  return best;
}

describe('RatePacer', () => {
  it('keeps 250 calls within 100 per 60 s and spreads them over the window', async () => {
    const clock = new ControlledClock({ start: 0, flowing: false });
    const pacer = new RatePacer({ clock, burstAbove: 1 });
    const spruce = fakeSpruce(clock, 100);
    const call = async () => (await pacer.acquire('live')).release(spruce.answer('live'));

    await runAll(clock, Array.from({ length: 250 }, call));

    const ok = spruce.log.filter((e) => e.status === 200).map((e) => e.at);
    expect(ok).toHaveLength(250);
    expect(spruce.log.filter((e) => e.status === 429)).toHaveLength(0);
    // Not only per fixed window: no 60 s stretch anywhere holds more than the budget.
    expect(maxInAnyInterval(ok, WINDOW_MS)).toBeLessThanOrEqual(100);
    // Spread, not burst: the first window's calls cover most of it, ~10 per 6 s.
    const first = ok.slice(0, 100);
    expect(first.at(-1)! - first[0]!).toBeGreaterThan(0.9 * WINDOW_MS);
    expect(maxInAnyInterval(ok, 6_000)).toBeLessThanOrEqual(12);
    // 250 calls at 100 a window need a bit over two windows, not much more.
    expect(ok.at(-1)!).toBeLessThan(3 * WINDOW_MS);
  });

  it('lets a burst of live calls go at once while most of the budget is left, and spreads the rest', async () => {
    const clock = new ControlledClock({ start: 0, flowing: false });
    const pacer = new RatePacer({ clock });
    const spruce = fakeSpruce(clock, 100);
    const call = async () => (await pacer.acquire('live')).release(spruce.answer('live'));

    // A burst smaller than three quarters of the budget: no waiting at all.
    await runAll(clock, Array.from({ length: 20 }, call));
    expect(spruce.log.every((e) => e.at === 0 && e.status === 200)).toBe(true);

    await runAll(clock, Array.from({ length: 230 }, call));
    const ok = spruce.log.filter((e) => e.status === 200).map((e) => e.at);
    expect(ok).toHaveLength(250);
    expect(spruce.log.filter((e) => e.status === 429)).toHaveLength(0);
    // The last quarter of each window is spread, never overrun.
    const firstWindow = ok.filter((t) => t < WINDOW_MS);
    expect(firstWindow.length).toBeLessThanOrEqual(100);
    expect(firstWindow.filter((t) => t === 0).length).toBeLessThanOrEqual(76);
    expect(ok.at(-1)!).toBeLessThan(3 * WINDOW_MS);
  });

  it('pauses every caller for the Retry-After of a 429', async () => {
    const clock = new ControlledClock({ start: 0, flowing: false });
    const pacer = new RatePacer({ clock, burstAbove: 1 });
    // Plenty of budget on the headers, but the 3rd call is refused (another instance used it).
    const spruce = fakeSpruce(clock, 100, { rateLimitAt: new Set([3]), retryAfter: 7 });
    const grants: number[] = [];
    const call = async () => {
      const permit = await pacer.acquire('live');
      grants.push(clock.now());
      permit.release(spruce.answer('live'));
    };

    await runAll(clock, Array.from({ length: 8 }, call));

    const refusedAt = spruce.log.find((e) => e.status === 429)!.at;
    const after = grants.filter((t) => t > refusedAt);
    expect(grants.filter((t) => t <= refusedAt)).toHaveLength(3);
    expect(after).toHaveLength(5);
    for (const t of after) expect(t).toBeGreaterThanOrEqual(refusedAt + 7_000);
  });

  it('probes with one request until the first answer tells the budget', async () => {
    const clock = new ControlledClock({ start: 0, flowing: false });
    const pacer = new RatePacer({ clock });
    const first = await pacer.acquire('live');
    let second = false;
    const pending = pacer.acquire('live').then((p) => {
      second = true;
      return p;
    });
    await clock.advance(10);
    expect(second).toBe(false);
    first.release({ status: 200, headers: {} });
    await clock.advance(0);
    expect(second).toBe(true);
    (await pending).release({ status: 200, headers: {} });
  });

  it('does not limit an organization whose answers carry no rate-limit header', async () => {
    const clock = new ControlledClock({ start: 0, flowing: false });
    const pacer = new RatePacer({ clock });
    (await pacer.acquire('live')).release({ status: 200, headers: {} });
    const permits = await Promise.all(Array.from({ length: 50 }, () => pacer.acquire('live')));
    expect(clock.now()).toBe(0);
    for (const p of permits) p.release({ status: 200, headers: {} });
  });

  it('leaves the reserved share to live traffic while live traffic runs, and lends most of it to bulk while live is quiet', async () => {
    const clock = new ControlledClock({ start: 0, flowing: false });
    const pacer = new RatePacer({ clock, reserveForLive: 0.2, idleReserveForLive: 0.05 });
    const spruce = fakeSpruce(clock, 100);
    const call = async (priority: Priority) => (await pacer.acquire(priority)).release(spruce.answer(priority));
    const bulkIn = (from: number, to: number) => spruce.log.filter((e) => e.priority === 'bulk' && e.status === 200 && e.at >= from && e.at < to).length;

    const bulk = Array.from({ length: 200 }, () => call('bulk'));
    // No live traffic: bulk borrows the live share but for the margin (5 of 100).
    for (let i = 0; i < 59; i++) await clock.advance(1_000);
    expect(bulkIn(0, WINDOW_MS)).toBeLessThanOrEqual(95);
    expect(bulkIn(0, WINDOW_MS)).toBeGreaterThan(85);

    // A live sync (three calls) arriving late in that window is served at once from the margin,
    // ahead of the waiting bulk calls.
    const before = clock.now();
    const live = [call('live'), call('live'), call('live')];
    await clock.advance(0);
    await Promise.all(live);
    expect(spruce.log.filter((e) => e.priority === 'live').map((e) => e.at)).toEqual([before, before, before]);

    // Live keeps coming: from the next window on, bulk leaves it the whole 20 %.
    const liveEvery10s = (async () => {
      for (let i = 0; i < 12; i++) {
        await clock.sleep(10_000);
        await call('live');
      }
    })();
    await runAll(clock, [liveEvery10s]);
    const turn = spruce.log.find((e) => e.at >= WINDOW_MS)!.at;
    expect(bulkIn(turn, turn + WINDOW_MS)).toBeLessThanOrEqual(80);
    await runAll(clock, bulk);
    expect(spruce.log.filter((e) => e.status === 429)).toHaveLength(0);
  });

  it('live callers are served before waiting bulk callers', async () => {
    const clock = new ControlledClock({ start: 0, flowing: false });
    const pacer = new RatePacer({ clock, reserveForLive: 0 });
    const spruce = fakeSpruce(clock, 10);
    const order: Priority[] = [];
    const call = async (priority: Priority) => {
      const permit = await pacer.acquire(priority);
      order.push(priority);
      permit.release(spruce.answer(priority));
    };
    await call('bulk'); // learns the budget; the next grant is a spacing interval away
    const calls = [call('bulk'), call('bulk'), call('live'), call('bulk'), call('live')];
    await runAll(clock, calls);
    expect(order).toEqual(['bulk', 'live', 'live', 'bulk', 'bulk', 'bulk']);
  });

  it('an aborted wait gives its turn to the next caller', async () => {
    const clock = new ControlledClock({ start: 0, flowing: false });
    const pacer = new RatePacer({ clock });
    const first = await pacer.acquire('live');
    const controller = new AbortController();
    const aborted = pacer.acquire('live', controller.signal);
    const next = pacer.acquire('live');
    controller.abort(new Error('shutdown'));
    await expect(aborted).rejects.toThrow('shutdown');
    first.release({ status: 200, headers: {} });
    await clock.advance(0);
    (await next).release({ status: 200, headers: {} });
    expect(pacer.waiting).toBe(0);
  });
});

describe('pacer policy', () => {
  const policy: PacerPolicy = {
    windowMs: WINDOW_MS,
    reserveForLive: 0.2,
    idleReserveForLive: 0.05,
    liveQuietMs: WINDOW_MS,
    defaultPauseMs: 5_000,
    burstAbove: 1,
    probeIntervalMs: 1_000,
  };
  const limited = (remaining: number) => ({
    status: 200,
    headers: { 's-ratelimit-limit': '100', 's-ratelimit-remaining': String(remaining) },
  });

  it('reads answers arriving out of order as the same window', () => {
    let b: PacerBudget = { ...UNKNOWN_BUDGET, observed: true, limit: 100, remaining: 50, windowEndsAt: 30_000, inFlight: 3 };
    b = observeAnswer(b, limited(47), 1_000, policy);
    b = observeAnswer(b, limited(49), 1_001, policy); // sent earlier, answered later
    expect(b.remaining).toBe(47);
    expect(b.windowEndsAt).toBe(30_000);
  });

  it('sees a new window when the budget jumps beyond what was in flight', () => {
    let b: PacerBudget = { ...UNKNOWN_BUDGET, observed: true, limit: 100, remaining: 3, windowEndsAt: 30_000, inFlight: 1 };
    b = observeAnswer(b, limited(99), 20_000, policy);
    expect(b.remaining).toBe(99);
    expect(b.windowEndsAt).toBe(20_000 + WINDOW_MS);
  });

  it('keeps what it knows when a 5xx without headers comes from a proxy', () => {
    const b: PacerBudget = { ...UNKNOWN_BUDGET, observed: true, limit: 100, remaining: 40, windowEndsAt: 30_000, inFlight: 1 };
    expect(observeAnswer(b, { status: 502, headers: {} }, 1_000, policy)).toMatchObject({ limit: 100, remaining: 40, inFlight: 0 });
    expect(observeAnswer(b, { status: 200, headers: {} }, 1_000, policy)).toMatchObject({ limit: null });
  });

  it('waits for the window to turn when bulk has used its share while live traffic is about', () => {
    const b = { ...UNKNOWN_BUDGET, observed: true, limit: 100, remaining: 20, windowEndsAt: 50_000, lastLiveAt: 5_000 };
    const [, bulk] = planGrant(b, 'bulk', 10_000, policy);
    expect(bulk).toEqual({ grant: false, waitMs: 40_000 });
    const [, live] = planGrant(b, 'live', 10_000, policy);
    expect(live).toEqual({ grant: true });
  });

  it('lets bulk borrow the live share down to a margin while no live call was asked for in a window, and not once one is', () => {
    const quiet: PacerBudget = { ...UNKNOWN_BUDGET, observed: true, limit: 100, remaining: 20, windowEndsAt: 50_000, lastLiveAt: 10_000 - WINDOW_MS };
    expect(planGrant(quiet, 'bulk', 10_000, policy)[1]).toEqual({ grant: true });
    // The margin (5 of 100) stays for live: bulk waits for the turn there.
    expect(planGrant({ ...quiet, remaining: 5 }, 'bulk', 10_000, policy)[1]).toEqual({ grant: false, waitMs: 40_000 });
    // Never any live call yet: quiet too.
    expect(planGrant({ ...quiet, lastLiveAt: undefined }, 'bulk', 10_000, policy)[1]).toEqual({ grant: true });
    // A live call asked for (even one that must wait) ends the loan at once.
    const [afterLive] = planGrant({ ...quiet, remaining: 0 }, 'live', 10_000, policy);
    expect(afterLive.lastLiveAt).toBe(10_000);
    expect(planGrant({ ...afterLive, remaining: 20 }, 'bulk', 10_001, policy)[1]).toEqual({ grant: false, waitMs: 39_999 });
  });

  it('spaces grants by the time left over the budget left', () => {
    const b = { ...UNKNOWN_BUDGET, observed: true, limit: 100, remaining: 40, windowEndsAt: 40_000, lastGrantAt: 9_500 };
    // 30 s left for 40 calls: one every 750 ms.
    expect(planGrant(b, 'live', 10_000, policy)[1]).toEqual({ grant: false, waitMs: 250 });
    expect(planGrant(b, 'live', 10_250, policy)[1]).toEqual({ grant: true });
  });

  it('sends one probe when its window estimate runs out, and takes the full budget only when the answer shows the turn', () => {
    const spent: PacerBudget = { ...UNKNOWN_BUDGET, observed: true, limit: 100, remaining: 20, windowEndsAt: 60_000, lastGrantAt: 59_000 };
    const [probing, first] = planGrant(spent, 'bulk', 60_000, policy);
    expect(first).toEqual({ grant: true });
    expect(probing).toMatchObject({ probing: true, remaining: 20, inFlight: 1 });
    // Nobody else goes until the probe is answered.
    expect(planGrant(probing, 'live', 60_001, policy)[1]).toEqual({ grant: false, waitMs: 1_000 });
    const turned = observeAnswer(probing, limited(99), 60_050, policy);
    expect(turned).toMatchObject({ probing: false, remaining: 99, windowEndsAt: 60_050 + WINDOW_MS });
  });

  it('keeps the server\'s count and probes again shortly when the probe lands in the old window', () => {
    const probing: PacerBudget = { ...UNKNOWN_BUDGET, observed: true, limit: 100, remaining: 20, windowEndsAt: 60_000, inFlight: 1, probing: true, lastLiveAt: 59_000 };
    const stillOld = observeAnswer(probing, limited(19), 60_020, policy);
    expect(stillOld).toMatchObject({ probing: true, remaining: 19, windowEndsAt: 61_020, inFlight: 0 });
    // Bulk waits for the next probe, not for a whole window.
    expect(planGrant(stillOld, 'bulk', 60_030, policy)[1]).toEqual({ grant: false, waitMs: 990 });
    expect(planGrant(stillOld, 'bulk', 61_020, policy)[1]).toEqual({ grant: true });
  });

  it('recognises an idle window\'s turn, where the count does not jump', () => {
    const idle: PacerBudget = { ...UNKNOWN_BUDGET, observed: true, limit: 100, remaining: 99, windowEndsAt: 60_000 };
    const [probing] = planGrant(idle, 'live', 500_000, policy);
    expect(observeAnswer(probing, limited(99), 500_010, policy)).toMatchObject({ probing: false, windowEndsAt: 500_010 + WINDOW_MS });
  });
});
