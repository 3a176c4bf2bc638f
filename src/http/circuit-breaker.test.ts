import { describe, expect, it } from 'vitest';
import { ControlledClock } from '../clock.ts';
import { SyncError } from '../errors.ts';
import { callHealth, CircuitBreaker } from './circuit-breaker.ts';
import type { Permit, RequestLimiter, ResponseObservation } from './types.ts';

/** A limiter that always grants and counts what it granted and was told. */
function countingLimiter() {
  const seen: ResponseObservation[] = [];
  let granted = 0;
  const limiter: RequestLimiter = {
    acquire: async (): Promise<Permit> => {
      granted++;
      return { release: (answer) => void seen.push(answer) };
    },
  };
  return { limiter, seen, granted: () => granted };
}

function setup(failureThreshold = 3) {
  const clock = new ControlledClock({ flowing: false, start: 1_000_000 });
  const changes: string[] = [];
  const breaker = new CircuitBreaker({
    system: 'spruce',
    clock,
    circuit: { failureThreshold, openMs: 10_000, maxOpenMs: 60_000 },
    onChange: (state) => changes.push(state),
  });
  const inner = countingLimiter();
  return { clock, breaker, inner, guarded: breaker.guard(inner.limiter), changes };
}

async function call(limiter: RequestLimiter, answer: ResponseObservation, signal?: AbortSignal): Promise<void> {
  const permit = await limiter.acquire('live', signal);
  permit.release(answer);
}

describe('callHealth', () => {
  it('counts no answer and 5xx as failing, an aborted call as silent, any other answer as healthy', () => {
    expect(callHealth({}, false)).toBe('failing');
    expect(callHealth({}, true)).toBe('silent');
    expect(callHealth({ status: 503 }, false)).toBe('failing');
    expect(callHealth({ status: 429 }, false)).toBe('healthy');
    expect(callHealth({ status: 404 }, false)).toBe('healthy');
    expect(callHealth({ status: 200 }, false)).toBe('healthy');
  });
});

describe('CircuitBreaker', () => {
  it('opens after failures in a row, refuses calls without taking a limiter slot, and says when it reopens', async () => {
    const { breaker, inner, guarded, changes } = setup();
    await call(guarded, { status: 500 });
    await call(guarded, { status: 200 });
    await call(guarded, {});
    await call(guarded, { status: 502 });
    expect(breaker.state).toBe('closed');
    await call(guarded, { status: 504 });
    expect(breaker.state).toBe('open');
    expect(changes).toEqual(['open']);
    expect(breaker.closedIn()).toBe(10_000);

    const refused = await guarded.acquire('live').catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(SyncError);
    expect(refused).toMatchObject({ code: 'SPRUCE_UNAVAILABLE', retryable: true, retryAfterSeconds: 10 });
    expect(inner.granted()).toBe(5);
    // Every answer still reaches the limiter it guards.
    expect(inner.seen).toHaveLength(5);
  });

  it('lets one probe through when the cool-down ends: success closes, failure reopens for twice as long', async () => {
    const { clock, breaker, guarded, changes } = setup(1);
    await call(guarded, {});
    await clock.advance(10_000);
    expect(breaker.closedIn()).toBe(0);

    const probe = await guarded.acquire('live');
    // Only one probe at a time.
    await expect(guarded.acquire('live')).rejects.toMatchObject({ code: 'SPRUCE_UNAVAILABLE' });
    probe.release({ status: 503 });
    expect(breaker.state).toBe('open');
    expect(breaker.closedIn()).toBe(20_000);

    await clock.advance(20_000);
    await call(guarded, { status: 200 });
    expect(breaker.state).toBe('closed');
    // Each failed probe reports the circuit open again.
    expect(changes).toEqual(['open', 'open', 'closed']);
    await call(guarded, { status: 200 });
  });

  it('takes a 429 or a call the caller aborted as no sign of a failing vendor', async () => {
    const { breaker, guarded } = setup(2);
    const aborted = new AbortController();
    aborted.abort();
    await call(guarded, {});
    await call(guarded, { status: 429 });
    await call(guarded, {});
    await call(guarded, {}, aborted.signal);
    expect(breaker.state).toBe('closed');
    await call(guarded, {});
    expect(breaker.state).toBe('open');
  });
});
