// The delivery engine on a clock that moves only when told: retry schedules of hours, Retry-After,
// the breaker and the disable-after-an-outage run in milliseconds.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ControlledClock } from '../clock.ts';
import { SqliteFanoutStore } from '../store/sqlite/fanout-store.ts';
import { Dispatcher } from './dispatcher.ts';
import { withId } from './messages.ts';
import type { SendRequest, SendResult } from './sender.ts';
import type { FanoutStore, Subscription, SubscriptionHealth } from './types.ts';

const T0 = 1_700_000_000_000;
type Answer = Partial<SendResult> & { status: number | null };

let clock: ControlledClock;
let store: FanoutStore;
let dispatcher: Dispatcher;
let sent: { at: number; id: string; sub: string; patient: unknown }[];
let answer: (req: SendRequest, sub: string) => Answer;
let disabled: { id: string; health: SubscriptionHealth }[];

const subscription = (id: string, extra: Partial<Subscription> = {}): Subscription => ({
  id,
  tenantId: 't1',
  url: `https://${id}.example.com/hook`,
  description: null,
  eventTypes: ['*'],
  filter: null,
  version: '2026-07-01',
  allowPhi: false,
  retrySchedule: [1_000, 5_000, 60_000],
  ratePerSecond: 0,
  maxInFlight: 4,
  ordered: true,
  status: 'active',
  statusReason: null,
  secrets: [{ secret: 'whsec_c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0IQ==', createdAt: T0, expiresAt: null }],
  health: { consecutiveFailures: 0, failingSince: null, lastSuccessAt: null, lastFailureAt: null, alertedAt: null },
  createdAt: T0,
  updatedAt: T0,
  ...extra,
});

async function start(subs: Subscription[]) {
  for (const s of subs) await store.insertSubscription(s);
  dispatcher = new Dispatcher({
    store,
    clock,
    pollIntervalMs: 1_000,
    send: async (req) => {
      const sub = new URL(req.url).hostname.split('.')[0]!;
      const body = JSON.parse(req.body) as { subject: { patientId?: number } };
      sent.push({ at: clock.now(), id: req.headers['webhook-id']!, sub, patient: body.subject.patientId });
      return { latencyMs: 1, errorCode: null, snippet: null, ...answer(req, sub) };
    },
    settings: {
      workerId: 'w',
      leaseMs: 30_000,
      retryAfterCapMs: 60_000,
      jitter: 0.2,
      circuit: { failureThreshold: 3, openMs: 10_000, maxOpenMs: 40_000, disableAfterMs: 3_600_000 },
    },
    policyOf: () => ({ allowLoopback: false, allowedNetworks: [] }),
    random: () => 0.5, // no jitter: waits are exactly the schedule's
    onDisabled: (s, health) => disabled.push({ id: s.id, health }),
    onError: (error) => {
      throw error;
    },
  });
  dispatcher.start(subs);
}

async function publish(n: number, patients = 1, from = 0) {
  const subs = await store.listSubscriptions();
  const ids: string[] = [];
  for (let i = from; i < from + n; i++) {
    const patientId = (i % patients) + 1;
    const message = withId({
      tenantId: 't1',
      source: 'spry',
      type: 'spry.patient.updated',
      dedupeKey: `e${i}`,
      occurredAt: clock.now(),
      createdAt: clock.now(),
      subject: { patientId },
      orderKey: `patient:${patientId}`,
      phi: false,
      data: { i },
    });
    ids.push(message.id);
    await store.insertMessages([{ message, deliveries: subs.map((s) => ({ subscriptionId: s.id, version: s.version })) }], clock.now());
  }
  dispatcher.notify();
  await flush();
  return ids;
}

/** Lets the lanes' store calls and sends run (the clock does not move). */
async function flush() {
  for (let i = 0; i < 20; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

async function advance(ms: number, step = 500) {
  for (let done = 0; done < ms; done += step) {
    await clock.advance(Math.min(step, ms - done));
    await flush();
  }
}

beforeEach(async () => {
  clock = new ControlledClock({ start: T0, flowing: false });
  store = new SqliteFanoutStore(':memory:');
  await store.migrate();
  sent = [];
  disabled = [];
  answer = () => ({ status: 200 });
});

afterEach(async () => {
  await dispatcher?.stop();
  await store.close();
});

describe('delivery engine', () => {
  it("follows the subscription's retry schedule, then delivers", async () => {
    let calls = 0;
    answer = () => ({ status: ++calls <= 2 ? 503 : 200, errorCode: calls <= 2 ? 'HTTP_503' : null });
    await start([subscription('a')]);
    const [id] = await publish(1);
    expect(sent.map((s) => s.at - T0)).toEqual([0]);
    await advance(999, 333);
    expect(sent).toHaveLength(1);
    await advance(1, 1);
    expect(sent.map((s) => s.at - T0)).toEqual([0, 1_000]);
    await advance(5_000);
    expect(sent.map((s) => s.at - T0)).toEqual([0, 1_000, 6_000]);
    expect(new Set(sent.map((s) => s.id))).toEqual(new Set([id]));
    const [delivery] = await store.listDeliveries({ subscriptionId: 'a', limit: 5 });
    expect(delivery).toMatchObject({ status: 'delivered', attempts: 3, retryStep: 2 });
    expect((await store.listAttempts(delivery!.id)).map((a) => [a.outcome, a.statusCode, a.trigger])).toEqual([
      ['failed', 503, 'first'],
      ['failed', 503, 'retry'],
      ['delivered', 200, 'retry'],
    ]);
  });

  it('honours Retry-After within the cap, holding the whole endpoint, without spending retries', async () => {
    let limited = true;
    answer = () => (limited ? { status: 429, retryAfterSeconds: 600, errorCode: 'HTTP_429' } : { status: 200 });
    await start([subscription('a', { maxInFlight: 1 })]);
    await publish(3, 3);
    expect(sent).toHaveLength(1);
    limited = false;
    await advance(59_000, 1_000);
    expect(sent).toHaveLength(1); // capped at 60 s, not 600
    await advance(1_000, 1_000);
    await advance(1_000);
    expect(sent).toHaveLength(4);
    const deliveries = await store.listDeliveries({ subscriptionId: 'a', limit: 5 });
    expect(deliveries.every((d) => d.status === 'delivered')).toBe(true);
    expect(deliveries.find((d) => d.attempts === 2)).toMatchObject({ retryStep: 0 });
  });

  it('opens the breaker on a failing endpoint, probes with growing pauses, and drains everything in order on recovery', async () => {
    let down = true;
    answer = (_req, sub) => (sub === 'a' && down ? { status: null, errorCode: 'NETWORK' } : { status: 200 });
    await start([subscription('a'), subscription('b')]);
    await publish(12, 3);
    await advance(120_000, 1_000);
    const tries = sent.filter((s) => s.sub === 'a').length;
    // 3 failures open it; then one probe per cool-down (10 s, 20 s, 40 s, 40 s …), not one try per event.
    expect(tries).toBeGreaterThanOrEqual(5);
    expect(tries).toBeLessThanOrEqual(9);
    // The healthy endpoint got everything at once, untouched by its neighbour.
    expect(sent.filter((s) => s.sub === 'b')).toHaveLength(12);
    expect((await store.deliveryCounts('a')).failed).toBe(0);

    down = false;
    await advance(45_000, 1_000);
    const counts = await store.deliveryCounts('a');
    expect(counts).toEqual({ pending: 0, delivered: 12, failed: 0 });
    // Per patient, first successful receipts are in publication order.
    const okTimes = new Map<string, number>();
    for (const s of sent.filter((x) => x.sub === 'a')) okTimes.set(s.id, s.at);
    const delivered = (await store.listDeliveries({ subscriptionId: 'a', limit: 20 })).sort((x, y) => x.id - y.id);
    for (const key of ['patient:1', 'patient:2', 'patient:3']) {
      const times = delivered.filter((d) => d.orderKey === key).map((d) => d.deliveredAt!);
      expect(times).toEqual([...times].sort((x, y) => x - y));
    }
  });

  it('disables after a sustained outage, keeps every event, and delivers them all once re-enabled', async () => {
    let down = true;
    answer = () => (down ? { status: 500, errorCode: 'HTTP_500' } : { status: 200 });
    await start([subscription('a')]);
    const before = await publish(5, 2);
    await advance(3_600_000 + 60_000, 10_000);
    expect(disabled.map((d) => d.id)).toEqual(['a']);
    expect(disabled[0]!.health.consecutiveFailures).toBeGreaterThanOrEqual(3);
    expect((await store.getSubscription('a'))!).toMatchObject({ status: 'disabled', statusReason: 'endpoint_failing' });
    const triesWhileDisabled = sent.length;
    const during = await publish(3, 2, 5);
    await advance(600_000, 10_000);
    expect(sent.length).toBe(triesWhileDisabled);
    expect(await store.deliveryCounts('a')).toEqual({ pending: 8, delivered: 0, failed: 0 });

    // The operator re-enables it (what `subscriptions resume` does) and the endpoint is back.
    down = false;
    const sub = (await store.getSubscription('a'))!;
    await store.updateHealth('a', { ...sub.health, consecutiveFailures: 0, failingSince: null, alertedAt: null }, clock.now());
    await store.expedite('a', clock.now());
    await store.setSubscriptionStatus('a', 'active', null, clock.now() + 1);
    dispatcher.sync(await store.listSubscriptions());
    await advance(5_000);
    expect(await store.deliveryCounts('a')).toEqual({ pending: 0, delivered: 8, failed: 0 });
    const okIds = new Set((await store.listDeliveries({ subscriptionId: 'a', limit: 20 })).map((d) => d.messageId));
    expect(okIds).toEqual(new Set([...before, ...during]));
  });

  it('fails a delivery the endpoint keeps refusing while it takes others (a poison event), and only then', async () => {
    answer = (req) => (JSON.parse(req.body).data.i === 0 ? { status: 400, errorCode: 'HTTP_400' } : { status: 200 });
    await start([subscription('a', { ordered: false })]);
    await publish(1);
    await advance(500);
    await publish(3, 3, 1);
    await advance(70_000, 1_000);
    expect(await store.deliveryCounts('a')).toEqual({ pending: 0, delivered: 3, failed: 1 });
    const failed = (await store.listDeliveries({ subscriptionId: 'a', status: 'failed', limit: 5 }))[0]!;
    expect(failed.attempts).toBe(4);
  });

  it('does not let one refused event hold the breaker open against all the others', async () => {
    answer = (req) => (JSON.parse(req.body).data.i === 0 ? { status: 422, errorCode: 'HTTP_422' } : { status: 200 });
    await start([subscription('a', { retrySchedule: [100, 100] })]);
    await publish(1);
    // Alone, the refused event trips the breaker (3 failures in a row) …
    await advance(10_000, 500);
    // … yet the events that follow still get through, as probes and then normally.
    await publish(4, 2, 1);
    await advance(200_000, 1_000);
    expect(await store.deliveryCounts('a')).toEqual({ pending: 0, delivered: 4, failed: 1 });
  });

  it('sends no more than the rate limit allows', async () => {
    await start([subscription('a', { ratePerSecond: 2, ordered: false })]);
    await publish(10, 10);
    expect(sent.length).toBeLessThanOrEqual(2);
    await advance(2_000, 100);
    expect(sent.length).toBeGreaterThanOrEqual(5);
    expect(sent.length).toBeLessThanOrEqual(7);
    await advance(3_000, 100);
    expect(sent).toHaveLength(10);
  });
});
