// Event fan-out end to end: the sandbox clinic, spruce-sync, and real subscribers on loopback.
// Four endpoints at once (healthy, slow, failing for a while, rate limiting) each get every
// event they subscribed to exactly once by webhook-id, in order per patient, signed so the
// Standard Webhooks reference library verifies them, while the sync runs at its own pace.
import { afterEach, describe, expect, it } from 'vitest';
import { messageId } from '../../src/fanout/messages.ts';
import type { FanoutAlert } from '../../src/fanout/alerts.ts';
import type { SubscriptionInput } from '../../src/fanout/subscriptions.ts';
import { SANDBOX_TENANT_ID } from '../../src/sandbox/environment.ts';
import { healthy, startReceiver, verifyAll, type Receiver } from './fanout-support.ts';
import { contactsOfPatient, eventually, quiesce, SANDBOX_SPRY_ORG, startWorld, type World } from './support.ts';

const FAST = {
  pollIntervalMs: 100,
  timeoutMs: 3_000,
  retryAfterCapMs: 2_000,
  retrySchedule: ['100ms', '200ms', '400ms', '800ms'],
  circuit: { failureThreshold: 3, openMs: 200, maxOpenMs: 600, disableAfterMs: 2_500 },
};

let world: World | undefined;
const receivers: Receiver[] = [];
const alerts: FanoutAlert[] = [];

async function start(extra: { alertsUrl?: string } = {}) {
  world = await startWorld({
    patients: 6,
    service: {
      config: { fanout: FAST, admin: { token: 'fanout-admin-token-0123456789' } },
      tenant: { fanout: { allowLoopback: true }, ...(extra.alertsUrl ? { alerts: { url: extra.alertsUrl } } : {}) },
      fanout: { onAlert: (alert) => alerts.push(alert) },
    },
  });
  return world;
}

async function receiver(...args: Parameters<typeof startReceiver>) {
  const r = await startReceiver(...args);
  receivers.push(r);
  return r;
}

afterEach(async () => {
  await world?.close();
  world = undefined;
  await Promise.all(receivers.splice(0).map((r) => r.close()));
  alerts.length = 0;
});

const admin = () => world!.service.fanout.admin;
const spry = () => world!.sandbox.spry;
const spruce = () => world!.sandbox.spruce;
const add = (url: string, input: Omit<SubscriptionInput, 'url'>) => admin().add(SANDBOX_TENANT_ID, { url, ...input });

/** Inbox events (not senders' tests) as the webhook-ids the fan-out gives them. */
async function sourceEvents(): Promise<{ id: string; type: string; patientId?: number }[]> {
  const events = await world!.service.store.searchEvents({ tenantId: SANDBOX_TENANT_ID, limit: 1000 });
  return events
    .filter((e) => e.status !== 'test')
    .map((e) => ({ id: messageId(e.tenantId, e.source, e.eventKey), type: `${e.source}.${e.type}`, patientId: e.subject.patientId as number | undefined }));
}

/** The order the fan-out created a subscription's deliveries in, per order key. */
async function createdOrder(subscriptionId: string): Promise<Map<string, string[]>> {
  const deliveries = await world!.service.fanout.store.listDeliveries({ subscriptionId, limit: 1000 });
  const byKey = new Map<string, string[]>();
  for (const d of deliveries.sort((a, b) => a.id - b.id)) {
    if (d.orderKey) byKey.set(d.orderKey, [...(byKey.get(d.orderKey) ?? []), d.messageId]);
  }
  return byKey;
}

/** Each key's first receipts come in the order the deliveries were created. */
async function expectOrderedPerKey(r: Receiver, subscriptionId: string) {
  const arrived = r.firsts().map((x) => x.id);
  for (const [key, ids] of await createdOrder(subscriptionId)) {
    const got = arrived.filter((id) => ids.includes(id));
    expect(got, `order of ${key}`).toEqual(ids.filter((id) => got.includes(id)));
  }
}

async function activity(patients: number[]) {
  for (const patientId of patients) spry().staff.editPatient(SANDBOX_SPRY_ORG, patientId, { alias: 'first' });
  await eventually(() => patients.every((p) => contactsOfPatient(world!, p).length === 1), 20_000, 'contacts');
  for (let round = 1; round <= 3; round++) {
    for (const patientId of patients) spry().staff.editPatient(SANDBOX_SPRY_ORG, patientId, { last_name: `Fan${round}x${patientId}` });
    await new Promise((resolve) => setTimeout(resolve, 150));
  }
  const contactId = contactsOfPatient(world!, patients[0]!)[0]!.id;
  spruce().staff.receiveSecureMessage({ contactId, text: 'Running late' });
  await eventually(() => spry().communications(SANDBOX_SPRY_ORG, patients[0]!).length === 1, 20_000, 'chart entry');
  await quiesce(world!, 30_000);
}

describe('event fan-out', () => {
  it('gets every matching event to healthy, slow, flaky and rate-limiting endpoints exactly once, in order per patient, without slowing the sync', async () => {
    await start();
    const fine = await receiver();
    const slow = await receiver(() => ({ status: 200, delayMs: 400 }));
    let flakyUntil = 0;
    const flaky = await receiver(() => {
      flakyUntil ||= Date.now() + 1_500;
      return Date.now() < flakyUntil ? { status: 503 } : { status: 200 };
    });
    const limited = await receiver(({ n }) => (n % 3 === 0 ? { status: 429, headers: { 'retry-after': '1' } } : { status: 200 }));

    const all = await add(fine.url, { eventTypes: ['*'], allowPhi: true });
    const slowSub = await add(slow.url, { eventTypes: ['spry.*', 'sync.*'], maxInFlight: 1 });
    const flakySub = await add(flaky.url, { eventTypes: ['patient.*', 'sync.contact.*'] });
    const limitedSub = await add(limited.url, { eventTypes: ['*'] });

    const patients = spry().patientIds(SANDBOX_SPRY_ORG).slice(0, 3);
    const syncStarted = Date.now();
    await activity(patients);
    const syncDoneAt = Date.now();
    // The sync is done while the slow endpoint still has a backlog: nothing waited for it.
    const slowBacklog = (await admin().get(SANDBOX_TENANT_ID, slowSub.subscription.id)).deliveries.pending;
    expect(slowBacklog).toBeGreaterThan(0);

    const source = await sourceEvents();
    expect(source.some((e) => e.type === 'spruce.conversationItem.created')).toBe(true);
    const wants = {
      fine: source.map((e) => e.id),
      slow: source.filter((e) => e.type.startsWith('spry.')).map((e) => e.id),
      flaky: source.filter((e) => e.type.startsWith('spry.patient.')).map((e) => e.id),
      limited: source.filter((e) => !e.type.startsWith('spruce.')).map((e) => e.id),
    };
    const has = (r: Receiver, ids: string[]) => ids.every((id) => r.deliveredIds().has(id));
    await eventually(() => has(fine, wants.fine) && has(slow, wants.slow) && has(flaky, wants.flaky) && has(limited, wants.limited), 60_000, 'every source event everywhere');

    // Sync events: one contact created per patient, the chart entry; the same ids wherever subscribed.
    const syncIds = (r: Receiver, prefix = 'sync.') => new Set(r.firsts().filter((x) => x.json.type.startsWith(prefix)).map((x) => x.id));
    await eventually(() => {
      const expected = syncIds(fine);
      const contacts = syncIds(fine, 'sync.contact.');
      return (
        [...expected].every((id) => slow.deliveredIds().has(id) && limited.deliveredIds().has(id)) &&
        [...contacts].every((id) => flaky.deliveredIds().has(id))
      );
    }, 60_000, 'sync events everywhere');
    const created = fine.firsts().filter((x) => x.json.type === 'sync.contact.created');
    expect(created.map((x) => x.json.subject!.patientId).sort()).toEqual([...patients].sort());
    expect(fine.firsts().some((x) => x.json.type === 'sync.chart.activity_recorded')).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 500));

    for (const [r, sub, want, types] of [
      [fine, all, wants.fine, () => true],
      [slow, slowSub, wants.slow, (t: string) => t.startsWith('spry.') || t.startsWith('sync.')],
      [flaky, flakySub, wants.flaky, (t: string) => t.startsWith('spry.patient.') || t.startsWith('sync.contact.')],
      [limited, limitedSub, wants.limited, (t: string) => !t.startsWith('spruce.')],
    ] as const) {
      const ids = r.firsts();
      // Exactly once by webhook-id: every wanted source event, nothing of another type.
      expect(new Set(ids.map((x) => x.id)).size).toBe(ids.length);
      expect(want.every((id) => r.deliveredIds().has(id))).toBe(true);
      expect(ids.every((x) => types(x.json.type)), `types at ${r.url}`).toBe(true);
      expect(ids.every((x) => x.json.id === x.id)).toBe(true);
      // Signed: the reference library verifies every request, retries included.
      expect(verifyAll(r, [sub.secret])).toBeGreaterThanOrEqual(ids.length);
      await expectOrderedPerKey(r, sub.subscription.id);
    }
    // PHI reached only the subscription that allows it.
    expect(fine.firsts().some((x) => x.json.type.startsWith('spruce.'))).toBe(true);
    for (const r of [slow, flaky, limited]) expect(r.received.some((x) => x.json.type.startsWith('spruce.'))).toBe(false);
    // The healthy endpoint saw no retry at all; the others were retried, not duplicated.
    expect(fine.received.length).toBe(fine.firsts().length);
    expect(flaky.received.some((x) => x.status === 503)).toBe(true);
    expect(limited.received.some((x) => x.status === 429)).toBe(true);
    // The sync finished long before the slow subscriber had its last event.
    const slowLast = Math.max(...slow.firsts().map((x) => x.at));
    expect(slowLast).toBeGreaterThan(syncDoneAt);
    expect(syncDoneAt - syncStarted).toBeLessThan(30_000);
    // Attempts are logged without PHI: no snippet for PHI events, ids and codes otherwise.
    const phiDelivery = (await world!.service.fanout.store.listDeliveries({ subscriptionId: all.subscription.id, limit: 1000 })).find((d) => d.type.startsWith('spruce.'))!;
    const phiAttempts = await world!.service.fanout.store.listAttempts(phiDelivery.id);
    expect(phiAttempts.every((a) => a.responseSnippet === null)).toBe(true);
  });

  it('pauses and resumes in order, replays one delivery or the failed ones of a window, sends a test event, rotates the secret', async () => {
    await start();
    let refuse = true;
    const [p1, p2] = spry().patientIds(SANDBOX_SPRY_ORG);
    const poison = (body: string) => {
      const event = JSON.parse(body) as { type: string; subject: { patientId?: number } };
      return event.type === 'sync.contact.created' && event.subject.patientId === p1;
    };
    const r = await receiver(({ body }) => (refuse && poison(body) ? { status: 422 } : { status: 200 }));
    const { subscription, secret } = await add(r.url, { eventTypes: ['spry.patient.*', 'sync.contact.*'], retrySchedule: ['50ms', '50ms'] });
    const windowStart = Date.now() - 1;

    // A poison event: refused while the endpoint takes others, it fails after its schedule.
    spry().staff.editPatient(SANDBOX_SPRY_ORG, p1!, { alias: 'one' });
    await quiesce(world!);
    await eventually(() => r.received.some((x) => x.status === 422), 10_000, 'the refusal');
    spry().staff.editPatient(SANDBOX_SPRY_ORG, p2!, { alias: 'two' });
    await quiesce(world!);
    await eventually(async () => (await admin().get(SANDBOX_TENANT_ID, subscription.id)).deliveries.failed === 1, 15_000, 'a failed delivery');
    expect(r.received.some((x) => x.status === 422)).toBe(true);

    // Paused: events are kept, nothing is sent.
    await admin().pause(SANDBOX_TENANT_ID, subscription.id);
    const seen = r.received.length;
    for (let i = 1; i <= 3; i++) spry().staff.editPatient(SANDBOX_SPRY_ORG, p2!, { last_name: `Paused${i}` });
    await quiesce(world!);
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(r.received.length).toBe(seen);
    const held = (await admin().get(SANDBOX_TENANT_ID, subscription.id)).deliveries.pending;
    expect(held).toBeGreaterThanOrEqual(3);

    // Resumed: they drain, in order per patient.
    await admin().resume(SANDBOX_TENANT_ID, subscription.id);
    await eventually(async () => (await admin().get(SANDBOX_TENANT_ID, subscription.id)).deliveries.pending === 0, 15_000, 'drained');
    await expectOrderedPerKey(r, subscription.id);

    // The failed ones of the window go again once the receiver takes them.
    refuse = false;
    const { replayed } = await admin().replayFailed(SANDBOX_TENANT_ID, subscription.id, { since: windowStart });
    expect(replayed).toBe(1);
    await eventually(async () => (await admin().get(SANDBOX_TENANT_ID, subscription.id)).deliveries.failed === 0 && r.firsts().some((x) => x.json.type === 'sync.contact.created'), 15_000, 'replayed');

    // One delivery again: the same webhook-id arrives a second time.
    const [latest] = (await admin().deliveries(SANDBOX_TENANT_ID, subscription.id, { status: 'delivered', limit: 1 })).deliveries;
    const before = r.received.filter((x) => x.id === latest!.messageId).length;
    await admin().replayOne(SANDBOX_TENANT_ID, subscription.id, latest!.id);
    await eventually(() => r.received.filter((x) => x.id === latest!.messageId).length === before + 1, 10_000, 'replayed one');
    const { attempts } = await admin().attempts(SANDBOX_TENANT_ID, subscription.id, latest!.id);
    expect(attempts.length).toBe(before + 1);

    // A test event on demand.
    const test = await admin().sendTest(SANDBOX_TENANT_ID, subscription.id);
    await eventually(() => r.received.find((x) => x.id === test.messageId)?.json.type === 'webhook.test', 10_000, 'test event');

    // Rotation: during the overlap both secrets sign; the new one is shown once.
    const rotated = await admin().rotateSecret(SANDBOX_TENANT_ID, subscription.id, 60_000);
    expect(rotated.secret).not.toBe(secret);
    const after = await admin().sendTest(SANDBOX_TENANT_ID, subscription.id);
    const signed = await eventually(() => r.received.find((x) => x.id === after.messageId), 10_000, 'signed by both');
    expect(String(signed.headers['webhook-signature']).split(' ')).toHaveLength(2);
    expect(verifyAll({ ...r, received: [signed] }, [secret])).toBe(1);
    expect(verifyAll({ ...r, received: [signed] }, [rotated.secret])).toBe(1);
    expect(verifyAll(r, [secret])).toBe(r.received.length);
  });

  it('disables a subscriber that never recovers, alerts, and loses nothing for it when re-enabled', async () => {
    const alertSink = await receiver();
    await start({ alertsUrl: alertSink.url });
    const dead = await receiver(() => ({ status: 500 }));
    const fine = await receiver(healthy);
    const deadSub = await add(dead.url, { eventTypes: ['spry.*'] });
    const fineSub = await add(fine.url, { eventTypes: ['spry.*'] });
    const [p1, p2] = spry().patientIds(SANDBOX_SPRY_ORG);

    spry().staff.editPatient(SANDBOX_SPRY_ORG, p1!, { alias: 'before' });
    spry().staff.editPatient(SANDBOX_SPRY_ORG, p2!, { alias: 'before' });
    await quiesce(world!);
    await eventually(async () => (await admin().get(SANDBOX_TENANT_ID, deadSub.subscription.id)).status === 'disabled', 20_000, 'disabled');
    expect(alerts).toEqual([expect.objectContaining({ alert: 'subscription_disabled', state: 'firing', subscriptionId: deadSub.subscription.id })]);
    await eventually(() => alertSink.received.some((x) => (x.json as unknown as FanoutAlert).alert === 'subscription_disabled'), 5_000, 'alert POST');
    const view = await admin().get(SANDBOX_TENANT_ID, deadSub.subscription.id);
    expect(view).toMatchObject({ statusReason: 'endpoint_failing', deliveries: { delivered: 0, failed: 0 } });
    // The breaker kept the tries far below one per event per retry step.
    const triesAtDisable = dead.received.length;
    expect(triesAtDisable).toBeLessThan(20);

    // More events while disabled: kept, not sent.
    for (let i = 1; i <= 3; i++) spry().staff.editPatient(SANDBOX_SPRY_ORG, p1!, { last_name: `Meanwhile${i}` });
    await quiesce(world!);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(dead.received.length).toBe(triesAtDisable);

    // Back up and re-enabled: everything that accrued arrives, once each, in order.
    dead.behave(healthy);
    await admin().resume(SANDBOX_TENANT_ID, deadSub.subscription.id);
    const want = (await sourceEvents()).filter((e) => e.type.startsWith('spry.')).map((e) => e.id);
    await eventually(() => want.every((id) => dead.deliveredIds().has(id)), 20_000, 'backlog delivered');
    expect(dead.deliveredIds()).toEqual(fine.deliveredIds());
    expect(dead.firsts()).toHaveLength(want.length);
    await expectOrderedPerKey(dead, deadSub.subscription.id);
    expect(verifyAll(dead, [deadSub.secret])).toBe(dead.received.length);
    expect(fineSub.subscription.status).toBe('active');
    expect(alerts.map((a) => a.state)).toEqual(['firing', 'resolved']);
  });
});
