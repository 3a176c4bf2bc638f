// Spruce webhooks as documented: signed envelope, 5 s answer, retry every 2 min up to 10
// attempts, at most 1000 events/min per endpoint (delayed, not dropped), a delivery log with
// 20 events per page for 30 days, pause/resume. All on a stopped clock: no real waiting.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { addEndpoint, START, startReceiver, startSim, type Receiver, type TestSim } from './spruce-simulator-helpers.ts';

type LogEvent = { id: string; eventTime: string; data: string; delivery: { status: string; attempts: number; attemptLimit: number; deliveryTime?: string; nextAttemptTime?: string } };
type LogPage = { events: LogEvent[]; hasMore: boolean; paginationToken?: string };

let open: { t?: TestSim; receiver?: Receiver }[] = [];

async function setup(options: Parameters<typeof startSim>[0] = {}) {
  const t = await startSim({ organizations: [{ id: 'entity_ORG', accessId: 'aid_a', secretKey: 'sk_a', rateLimitPerMinute: 0 }], ...options });
  const receiver = await startReceiver();
  open.push({ t, receiver });
  const endpoint = await addEndpoint(t, receiver.url);
  return { t, receiver, endpoint };
}

afterEach(async () => {
  for (const { t, receiver } of open) {
    if (t) expect(t.sim.responseViolations).toEqual([]);
    if (t) expect(t.sim.violations).toEqual([]);
    await t?.sim.close();
    await receiver?.close();
  }
  open = [];
});

/** Written from the docs alone: base64(HMAC-SHA256(key = secret as UTF-8, message = raw body)). */
function verifySignature(secret: string, rawBody: string, header: string | string[] | undefined): boolean {
  if (typeof header !== 'string') return false;
  const expected = createHmac('sha256', Buffer.from(secret, 'utf8')).update(Buffer.from(rawBody, 'utf8')).digest();
  const given = Buffer.from(header, 'base64');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

async function log(t: TestSim, endpointId: string, query = ''): Promise<LogPage> {
  const response = await t.api<LogPage>('GET', `/webhooks/endpoints/${endpointId}/events${query}`);
  expect(response.status, response.raw).toBe(200);
  return response.body;
}

describe('webhook deliveries', () => {
  it('signs every delivery; the secret is shown only at creation; the envelope is the documented one', async () => {
    const { t, receiver, endpoint } = await setup();
    expect(endpoint.id).toMatch(/^wde_/);
    expect(endpoint.secret.length).toBeGreaterThan(20);
    const listed = await t.api<{ endpoints: { id: string; status: string; signingSecrets: { id: string; value: string }[] }[] }>('GET', '/webhooks/endpoints');
    expect(listed.body.endpoints).toEqual([expect.objectContaining({ id: endpoint.id, status: 'active', signingSecrets: [{ id: expect.stringMatching(/^wss_/), value: '' }] })]);
    const got = await t.api<{ endpoint: { signingSecrets: { value: string }[] } }>('GET', `/webhooks/endpoints/${endpoint.id}`);
    expect(got.body.endpoint.signingSecrets[0]!.value).toBe('');

    const contact = await t.api<{ id: string }>('POST', '/contacts', { body: { givenName: 'Ann', familyName: 'Lee' } });
    await t.sim.settle();
    expect(receiver.received).toHaveLength(1);
    const [delivery] = receiver.received;
    expect(verifySignature(endpoint.secret, delivery!.raw, delivery!.headers['x-spruce-signature'])).toBe(true);
    expect(verifySignature(endpoint.secret, delivery!.raw.replace('Ann', 'Bob'), delivery!.headers['x-spruce-signature'])).toBe(false);
    expect(verifySignature('wrong-secret', delivery!.raw, delivery!.headers['x-spruce-signature'])).toBe(false);
    expect(delivery!.headers['content-type']).toBe('application/json');
    expect(delivery!.json).toEqual({
      object: 'event',
      id: expect.stringMatching(/^wev_/),
      type: 'contact.created',
      eventTime: expect.stringMatching(/^2025-06-02T09:00:00\.\d+Z$/),
      data: { object: expect.objectContaining({ id: contact.body.id, displayName: 'Ann Lee', integrationLinks: [] }) },
    });
    const entries = (await log(t, endpoint.id)).events;
    expect(entries).toEqual([
      { object: 'event', id: delivery!.json.id, eventTime: delivery!.json.eventTime, data: delivery!.raw, delivery: { status: 'delivered', attempts: 1, attemptLimit: 10, deliveryTime: new Date(START).toISOString() } },
    ]);
  });

  it('every endpoint of the organization gets every event; other organizations get none', async () => {
    const orgs = [
      { id: 'entity_ORG', accessId: 'aid_a', secretKey: 'sk_a', rateLimitPerMinute: 0 },
      { id: 'entity_OTHER', accessId: 'aid_b', secretKey: 'sk_b', rateLimitPerMinute: 0 },
    ];
    const { t, receiver } = await setup({ organizations: orgs });
    const second = await startReceiver();
    const other = await startReceiver();
    open.push({ receiver: second }, { receiver: other });
    await addEndpoint(t, second.url);
    const otherAuth = t.sim.credentials()[1]!.authorization;
    await t.api('POST', '/webhooks/endpoints', { body: { name: 'other', url: other.url }, auth: otherAuth });
    await t.api('POST', '/contacts', { body: { givenName: 'Ann' } });
    await t.sim.settle();
    expect([receiver.received.length, second.received.length, other.received.length]).toEqual([1, 1, 0]);
    expect(receiver.received[0]!.raw).toBe(second.received[0]!.raw);
    expect((await t.api('GET', '/contacts', { auth: otherAuth })).body).toMatchObject({ totalCount: 0 });
  });

  it('accepts only https URLs, plus http to loopback hosts (sandbox deviation)', async () => {
    const { t } = await setup();
    for (const url of ['http://hooks.example.com/x', 'ftp://example.com/x']) {
      expect((await t.api('POST', '/webhooks/endpoints', { body: { name: 'n', url } })).status).toBe(400);
    }
    for (const url of ['https://hooks.example.com/x', 'http://localhost:9/x', 'http://[::1]:9/x']) {
      expect((await t.api('POST', '/webhooks/endpoints', { body: { name: 'n', url } })).status).toBe(200);
    }
  });

  it('retries every 2 minutes, at most 10 attempts, then stops (the log keeps it as failed)', async () => {
    const { t, receiver, endpoint } = await setup();
    receiver.respond = 500;
    await t.api('POST', '/contacts', { body: { givenName: 'Ann' } });
    await t.sim.settle();
    expect(receiver.received).toHaveLength(1);
    let entry = (await log(t, endpoint.id)).events[0]!;
    expect(entry.delivery).toEqual({ status: 'pending', attempts: 1, attemptLimit: 10, nextAttemptTime: new Date(START + 120_000).toISOString() });
    await t.clock.advance(119_000);
    await t.sim.settle();
    expect(receiver.received).toHaveLength(1);
    await t.clock.advance(1_000);
    await t.sim.settle();
    expect(receiver.received).toHaveLength(2);
    for (let i = 0; i < 12; i++) {
      await t.clock.advance(120_000);
      await t.sim.settle();
    }
    expect(receiver.received).toHaveLength(10);
    const times = t.sim.dispatcher.attempts.map((a) => a.at - START);
    expect(times).toEqual(Array.from({ length: 10 }, (_, i) => i * 120_000));
    expect(new Set(receiver.received.map((r) => r.raw)).size).toBe(1); // the same event each time
    entry = (await log(t, endpoint.id)).events[0]!;
    expect(entry.delivery).toEqual({ status: 'failed', attempts: 10, attemptLimit: 10 });
    await t.clock.advance(3600_000);
    await t.sim.settle();
    expect(receiver.received).toHaveLength(10);
  });

  it('a receiver that takes longer than 5 s fails the attempt; the retry 2 minutes later can succeed', async () => {
    const { t, receiver, endpoint } = await setup();
    receiver.respond = 'hang';
    await t.api('POST', '/contacts', { body: { givenName: 'Ann' } });
    await t.clock.advance(4_999);
    expect((await log(t, endpoint.id)).events[0]!.delivery).toMatchObject({ status: 'pending', attempts: 1 });
    expect(t.sim.dispatcher.attempts).toHaveLength(0);
    await t.clock.advance(1);
    await t.sim.settle();
    expect(t.sim.dispatcher.attempts).toEqual([expect.objectContaining({ attempt: 1, status: null, error: 'timeout' })]);
    receiver.respond = 200;
    await t.clock.advance(120_000);
    await t.sim.settle();
    expect((await log(t, endpoint.id)).events[0]!.delivery).toMatchObject({ status: 'delivered', attempts: 2 });
  });

  it('at most 1000 events per minute per endpoint: the 1001st is delayed, not dropped', async () => {
    const { t, receiver, endpoint } = await setup();
    for (let i = 0; i < 1001; i++) t.sim.staff.createContact({ givenName: `Patient${i}` });
    await t.sim.settle();
    expect(receiver.received).toHaveLength(1000);
    let token: string | undefined;
    let last: LogEvent | undefined;
    do {
      const page = await log(t, endpoint.id, token ? `?paginationToken=${encodeURIComponent(token)}` : '');
      last = page.events.at(-1);
      token = page.paginationToken;
    } while (token);
    expect([last!.id, last!.delivery]).toEqual([
      t.sim.events[1000]!.id,
      { status: 'pending', attempts: 0, attemptLimit: 10, nextAttemptTime: new Date(START + 60_000).toISOString() },
    ]);
    await t.clock.advance(59_999);
    await t.sim.settle();
    expect(receiver.received).toHaveLength(1000);
    await t.clock.advance(1);
    await t.sim.settle();
    expect(receiver.received).toHaveLength(1001);
    expect(receiver.received.at(-1)!.json.id).toBe(t.sim.events[1000]!.id);
  }, 60_000);

  it('the delivery log pages 20 at a time, filters by time and keeps 30 days', async () => {
    const { t, receiver, endpoint } = await setup();
    for (let i = 0; i < 25; i++) t.sim.staff.createContact({ givenName: `Early${i}` });
    // Settle before moving the clock: a jump while requests are in flight would time them out.
    await t.sim.settle();
    await t.clock.advance(3600_000);
    for (let i = 0; i < 20; i++) t.sim.staff.createContact({ givenName: `Late${i}` });
    await t.sim.settle();
    const seen: LogEvent[] = [];
    const sizes: number[] = [];
    let token: string | undefined;
    do {
      const page = await log(t, endpoint.id, token ? `?paginationToken=${encodeURIComponent(token)}` : '');
      sizes.push(page.events.length);
      seen.push(...page.events);
      token = page.paginationToken;
      expect(page.hasMore).toBe(token !== undefined);
    } while (token);
    expect(sizes).toEqual([20, 20, 5]);
    expect(seen.map((e) => e.id)).toEqual(t.sim.events.map((e) => e.id));
    expect(seen.map((e) => e.data)).toEqual(receiver.received.map((r) => r.raw));
    expect(seen.every((e) => e.delivery.status === 'delivered')).toBe(true);
    const late = await log(t, endpoint.id, `?startTime=${new Date(START + 3600_000).toISOString()}`);
    expect(late.events).toHaveLength(20);
    const early = await log(t, endpoint.id, `?startTime=${new Date(START).toISOString()}&endTime=${new Date(START + 1).toISOString()}&paginationToken=`);
    expect(early.events).toHaveLength(20);
    expect(early.hasMore).toBe(true);
    await t.clock.advance(30 * 24 * 3600_000 - 3600_000 + 1); // the early ones are now 30 days and 1 ms old
    expect((await log(t, endpoint.id)).events.map((e) => JSON.parse(e.data).data.object.givenName)).toEqual(
      Array.from({ length: 20 }, (_, i) => `Late${i}`),
    );
    expect((await t.api('GET', '/webhooks/endpoints/wde_nope/events')).status).toBe(404);
  });

  it('a paused endpoint logs events but gets none; after resume new events flow and held ones are not replayed', async () => {
    const { t, receiver, endpoint } = await setup();
    const paused = await t.api('POST', `/webhooks/endpoints/${endpoint.id}/paused?paused=true`);
    expect(paused.body).toEqual({ paused: true });
    expect((await t.api<{ endpoint: { status: string } }>('GET', `/webhooks/endpoints/${endpoint.id}`)).body.endpoint.status).toBe('paused');
    await t.api('POST', '/contacts', { body: { givenName: 'Held' } });
    await t.sim.settle();
    expect(receiver.received).toHaveLength(0);
    expect((await t.api('POST', `/webhooks/endpoints/${endpoint.id}/paused?paused=false`)).body).toEqual({ paused: false });
    await t.api('POST', '/contacts', { body: { givenName: 'After' } });
    await t.clock.advance(3600_000);
    await t.sim.settle();
    expect(receiver.received.map((r) => r.json.data.object.givenName)).toEqual(['After']);
    const entries = (await log(t, endpoint.id)).events;
    expect(entries.map((e) => e.delivery.status)).toEqual(['paused', 'delivered']);
    expect(JSON.parse(entries[0]!.data).data.object.givenName).toBe('Held');
    expect((await t.api('DELETE', `/webhooks/endpoints/${endpoint.id}`)).status).toBe(200);
    expect((await t.api('GET', `/webhooks/endpoints/${endpoint.id}`)).status).toBe(404);
  });

  it('delivery faults: duplicates arrive twice with the same body; dropped events stay in the log', async () => {
    const { t, receiver, endpoint } = await setup();
    await t.control('PUT', '/faults', { deliveries: { duplicateRate: 1 } });
    await t.api('POST', '/contacts', { body: { givenName: 'Twice' } });
    await t.sim.settle();
    expect(receiver.received).toHaveLength(2);
    expect(receiver.received[0]!.raw).toBe(receiver.received[1]!.raw);
    await t.control('PUT', '/faults', { deliveries: { dropRate: 1 } });
    await t.api('POST', '/contacts', { body: { givenName: 'Lost' } });
    await t.sim.settle();
    expect(receiver.received).toHaveLength(2);
    const entries = (await log(t, endpoint.id)).events;
    expect(entries).toHaveLength(2);
    expect(JSON.parse(entries[1]!.data).data.object.givenName).toBe('Lost');
  });
});
