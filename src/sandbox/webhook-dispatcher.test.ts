import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ControlledClock } from '../clock.ts';
import { FaultInjector } from './faults.ts';
import { WebhookDispatcher, type DispatcherOptions } from './webhook-dispatcher.ts';

interface Received {
  headers: IncomingMessage['headers'];
  body: string;
}

type Handler = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;

const servers: Server[] = [];
const dispatchers: WebhookDispatcher[] = [];

afterEach(async () => {
  for (const d of dispatchers.splice(0)) d.stop();
  await Promise.all(
    servers.splice(0).map(
      (s) =>
        new Promise<void>((resolve) => {
          s.closeAllConnections();
          s.close(() => resolve());
        }),
    ),
  );
});

async function receiver(handler: Handler = (_req, res) => void res.end('ok')) {
  const received: Received[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => (body += chunk));
    req.on('end', () => {
      received.push({ headers: req.headers, body });
      void handler(req, res);
    });
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, received };
}

function dispatcher(clock: ControlledClock, overrides: Partial<DispatcherOptions> = {}) {
  let n = 0;
  const d = new WebhookDispatcher({
    clock,
    timeoutMs: 10_000,
    retryDelaysMs: [15_000, 60_000, 600_000, 3_600_000, 21_600_000],
    headers: (event, _target, attempt, now) => ({
      'content-type': 'application/json',
      'x-event': event.id,
      'x-attempt': String(attempt),
      'x-at': String(now),
      'x-send': String(++n),
    }),
    ...overrides,
  });
  dispatchers.push(d);
  return d;
}

const event = (id: string) => ({ id, body: JSON.stringify({ id }) });

describe('WebhookDispatcher', () => {
  it('sends at once with the headers and body given; settle() waits for the answer', async () => {
    const clock = new ControlledClock({ flowing: false });
    const target = await receiver();
    const d = dispatcher(clock);
    const state = d.dispatch({ id: 't1', url: target.url }, event('e1'));
    await d.settle();
    expect(state.status).toBe('delivered');
    expect(target.received).toHaveLength(1);
    expect(target.received[0]!.body).toBe('{"id":"e1"}');
    expect(target.received[0]!.headers['x-event']).toBe('e1');
    expect(d.attempts).toMatchObject([{ eventId: 'e1', targetId: 't1', attempt: 1, status: 200, error: null }]);
    expect(d.state('t1', 'e1')).toBe(state);
  });

  it('retries a failing receiver on the clock: 15 s, 1 min, 10 min, 1 h, 6 h, then gives up', async () => {
    const clock = new ControlledClock({ start: 1_000_000, flowing: false });
    const target = await receiver((_req, res) => {
      res.statusCode = 500;
      res.end();
    });
    const d = dispatcher(clock);
    const state = d.dispatch({ id: 't', url: target.url }, event('e'));
    await d.settle();
    for (const delay of [15_000, 60_000, 600_000, 3_600_000, 21_600_000]) {
      expect(state.status).toBe('pending');
      expect(d.nextDueAt()).toBe(clock.now() + delay);
      await clock.advance(delay - 1);
      expect(target.received).toHaveLength(d.attempts.length); // not yet
      await clock.advance(1);
      await d.settle();
    }
    expect(d.attempts.map((a) => a.at - 1_000_000)).toEqual([0, 15_000, 75_000, 675_000, 4_275_000, 25_875_000]);
    expect(d.attempts.map((a) => a.attempt)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(state.status).toBe('failed');
    await clock.advance(48 * 3_600_000);
    expect(target.received).toHaveLength(6);
    expect(d.pendingCount()).toBe(0);
  });

  it('times out on the injected clock: an answer after 11 s is a failure', async () => {
    const clock = new ControlledClock({ flowing: false });
    let arrived!: () => void;
    const arrival = new Promise<void>((resolve) => (arrived = resolve));
    const target = await receiver(async (_req, res) => {
      arrived();
      await clock.sleep(11_000);
      res.end('late');
    });
    const d = dispatcher(clock);
    const t0 = clock.now();
    const state = d.dispatch({ id: 't', url: target.url }, event('slow'));
    await arrival;
    expect(d.nextDueAt()).toBe(t0 + 10_000);
    await clock.advance(10_000);
    await d.settle();
    expect(d.attempts[0]).toMatchObject({ status: null, error: 'timeout', durationMs: 10_000 });
    expect(state.status).toBe('pending');
    expect(state.nextAttemptAt).toBe(t0 + 10_000 + 15_000);
  });

  it('drops, duplicates and holds deliveries as the faults say', async () => {
    const clock = new ControlledClock({ flowing: false });
    const target = await receiver();
    const faults = new FaultInjector(5);
    const d = dispatcher(clock, { faults });

    faults.setDeliveryFaults({ dropRate: 1 });
    expect(d.dispatch({ id: 't', url: target.url }, event('dropped')).status).toBe('dropped');

    faults.setDeliveryFaults({ duplicateRate: 1 });
    d.dispatch({ id: 't', url: target.url }, event('twice'));
    await d.settle();
    const twice = target.received.filter((r) => r.headers['x-event'] === 'twice');
    expect(twice).toHaveLength(2);
    expect(twice.map((r) => r.headers['x-attempt'])).toEqual(['1', '1']);
    expect(twice[0]!.headers['x-send']).not.toBe(twice[1]!.headers['x-send']);

    faults.setDeliveryFaults({ reorderWindowMs: 60_000 });
    const held = Array.from({ length: 5 }, (_, i) => d.dispatch({ id: 't', url: target.url }, event(`held${i}`)));
    for (const s of held) {
      expect(s.nextAttemptAt! - clock.now()).toBeGreaterThanOrEqual(0);
      expect(s.nextAttemptAt! - clock.now()).toBeLessThan(60_000);
    }
    const sendOrder = [...held].sort((a, b) => a.nextAttemptAt! - b.nextAttemptAt!).map((s) => s.eventId);
    expect(sendOrder).not.toEqual(held.map((s) => s.eventId)); // seed 5 reorders these
    for (let i = 0; i < 60; i++) {
      await clock.advance(1_000);
      await d.settle();
    }
    expect(held.every((s) => s.status === 'delivered')).toBe(true);
    expect(target.received.map((r) => r.headers['x-event']).filter((id) => String(id).startsWith('held'))).toEqual(sendOrder);
    expect(target.received.some((r) => r.headers['x-event'] === 'dropped')).toBe(false);
  });

  it('makes a burst wait its turn under maxPerMinute', async () => {
    const clock = new ControlledClock({ start: 0, flowing: false });
    const target = await receiver();
    const d = dispatcher(clock, { maxPerMinute: 2 });
    const states = Array.from({ length: 5 }, (_, i) => d.dispatch({ id: 't', url: target.url }, event(`b${i}`)));
    // The first two go at once; the rest wait for room in a 60 s window.
    expect(states.slice(2).map((s) => s.nextAttemptAt)).toEqual([60_000, 60_000, 120_000]);
    await d.settle();
    expect(target.received).toHaveLength(2);
    expect(d.attempts.map((a) => a.at)).toEqual([0, 0]);
    await clock.advance(60_000);
    await d.settle();
    expect(target.received).toHaveLength(4);
    await clock.advance(60_000);
    await d.settle();
    expect(target.received).toHaveLength(5);
    // Another target has its own budget.
    const other = d.dispatch({ id: 'other', url: target.url }, event('o'));
    expect(other.attempts).toBe(1); // sent at once
  });

  it('delivers a sustained overflow at the allowed rate, spaced as it came, never more than the limit in any minute', async () => {
    const clock = new ControlledClock({ start: 0, flowing: false });
    const target = await receiver();
    const d = dispatcher(clock, { maxPerMinute: 10 });
    // 15 events a minute for four minutes: half again the limit.
    const states = [];
    for (let i = 0; i < 60; i++) {
      states.push(d.dispatch({ id: 't', url: target.url }, event(`s${i}`)));
      await d.settle();
      await clock.advance(4_000);
    }
    const planned = states.map((s) => s.nextAttemptAt ?? 0);
    const sends = [...d.attempts.map((a) => a.at), ...planned.filter((at) => at >= clock.now())].sort((a, b) => a - b);
    expect(sends).toHaveLength(60);
    for (let i = 0; i + 10 < sends.length; i++) expect(sends[i + 10]! - sends[i]!).toBeGreaterThanOrEqual(60_000);
    // No pile-up: the overflow keeps the 4 s spacing it arrived with (at most two share a moment).
    const perInstant = new Map<number, number>();
    for (const at of sends) perInstant.set(at, (perInstant.get(at) ?? 0) + 1);
    expect(Math.max(...perInstant.values())).toBeLessThanOrEqual(2);
    // All of it goes out at the limit: 60 events at 10 a minute take about six minutes, not twelve.
    expect(sends.at(-1)!).toBeLessThan(6 * 60_000);
  });

  it('stop() cancels pending retries; reset() forgets everything and keeps working', async () => {
    const clock = new ControlledClock({ flowing: false });
    let fail = true;
    const target = await receiver((_req, res) => {
      res.statusCode = fail ? 503 : 200;
      res.end();
    });
    const d = dispatcher(clock);
    d.dispatch({ id: 't', url: target.url }, event('r'));
    await d.settle();
    expect(d.pendingCount()).toBe(1);
    d.reset();
    expect(d.attempts).toHaveLength(0);
    expect(d.pendingCount()).toBe(0);
    expect(d.nextDueAt()).toBeUndefined();
    await clock.advance(20_000);
    expect(target.received).toHaveLength(1);

    fail = false;
    const again = d.dispatch({ id: 't', url: target.url }, event('after-reset'));
    await d.settle();
    expect(again.status).toBe('delivered');

    fail = true;
    d.dispatch({ id: 't', url: target.url }, event('stopped'));
    await d.settle();
    d.stop();
    await clock.advance(60_000);
    expect(target.received.filter((r) => r.headers['x-event'] === 'stopped')).toHaveLength(1);
  });

  it('counts a refused connection as a failed attempt', async () => {
    const clock = new ControlledClock({ flowing: false });
    const d = dispatcher(clock);
    const state = d.dispatch({ id: 't', url: 'http://127.0.0.1:9/closed' }, event('x'));
    await d.settle();
    expect(d.attempts[0]).toMatchObject({ status: null });
    expect(d.attempts[0]!.error).toBeTruthy();
    expect(state.status).toBe('pending');
  });
});
