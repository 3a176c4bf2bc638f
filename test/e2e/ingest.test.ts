// The webhook door: what is refused, with which status, and that nothing refused is stored.
import { createHmac, randomUUID } from 'node:crypto';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SANDBOX_SPRY_ORG, startWorld, type World } from './support.ts';

let world: World;
let base: string;
let tenant: string;

beforeAll(async () => {
  world = await startWorld({ patients: 3 });
  base = world.service.url;
  tenant = world.config.tenants[0]!.id;
});

afterAll(async () => {
  await world?.close();
});

function spryBody(overrides: Record<string, unknown> = {}, data: Record<string, unknown> = {}): string {
  return JSON.stringify({
    event_id: `evt_${randomUUID()}`,
    event_type: 'patient.updated',
    api_version: '2026-06-11',
    timestamp: Math.floor(Date.now() / 1000),
    data: { organisation_id: SANDBOX_SPRY_ORG, patient_id: 1, status: 'ACTIVE', ...data },
    ...overrides,
  });
}

/** Signs as Spry documents it, written here independently of the service's verifier. */
function spryHeader(body: string, secret: string, t = Math.floor(Date.now() / 1000)): string {
  return `t=${t},v1=${createHmac('sha256', secret).update(`${t}.${body}`).digest('hex')}`;
}

function spruceHeader(body: string, secret: string): string {
  return createHmac('sha256', secret).update(body).digest('base64');
}

async function post(path: string, body: string | Buffer, headers: Record<string, string>) {
  const response = await request(`${base}${path}`, { method: 'POST', body, headers: { 'content-type': 'application/json', ...headers } });
  return { status: response.statusCode, body: (await response.body.json()) as Record<string, unknown> };
}

async function storedCount(): Promise<number> {
  return (await world.service.store.searchEvents({ tenantId: tenant, limit: 1000 })).length;
}

describe('Spry webhook ingress', () => {
  it('stores a signed event once, answering 200 to the repeat', async () => {
    const body = spryBody();
    const first = await post(`/webhooks/spry/${tenant}`, body, { 'x-sprypt-signature': spryHeader(body, world.secrets.spryWebhook) });
    expect(first).toEqual({ status: 200, body: { received: true, duplicate: false, status: 'queued' } });
    const again = await post(`/webhooks/spry/${tenant}`, body, { 'x-sprypt-signature': spryHeader(body, world.secrets.spryWebhook) });
    expect(again).toEqual({ status: 200, body: { received: true, duplicate: true, status: 'queued' } });
    const key = JSON.parse(body).event_id;
    const stored = (await world.service.store.searchEvents({ tenantId: tenant, source: 'spry', limit: 1000 })).filter((e) => e.eventKey === key);
    expect(stored).toHaveLength(1);
  });

  it('refuses bad, missing, expired and wrong-secret signatures with 401 and stores nothing', async () => {
    const before = await storedCount();
    const body = spryBody();
    const cases: Record<string, string>[] = [
      {},
      { 'x-sprypt-signature': 'garbage' },
      { 'x-sprypt-signature': spryHeader(body, 'not-the-secret') },
      { 'x-sprypt-signature': spryHeader(body, world.secrets.spryWebhook, Math.floor(Date.now() / 1000) - 301) },
      { 'x-sprypt-signature': spryHeader(body.replace('ACTIVE', 'ARCHIVED'), world.secrets.spryWebhook) },
    ];
    for (const headers of cases) {
      const answer = await post(`/webhooks/spry/${tenant}`, body, headers);
      expect(answer.status).toBe(401);
      expect(answer.body.error).toBe('bad_signature');
    }
    expect(await storedCount()).toBe(before);
  });

  it('answers 404 for an unknown tenant, 400 for what is not an envelope, 403 for another organisation, 413 when too big', async () => {
    const before = await storedCount();
    const body = spryBody();
    const sign = (b: string) => ({ 'x-sprypt-signature': spryHeader(b, world.secrets.spryWebhook) });
    expect((await post('/webhooks/spry/nobody', body, sign(body))).status).toBe(404);
    const notJson = 'this is not json';
    expect((await post(`/webhooks/spry/${tenant}`, notJson, sign(notJson))).status).toBe(400);
    const notEnvelope = JSON.stringify({ hello: 'world' });
    const refused = await post(`/webhooks/spry/${tenant}`, notEnvelope, sign(notEnvelope));
    expect(refused.status).toBe(400);
    expect(refused.body.message).toContain('event_id');
    const otherOrg = spryBody({}, { organisation_id: SANDBOX_SPRY_ORG + 1 });
    expect((await post(`/webhooks/spry/${tenant}`, otherOrg, sign(otherOrg))).status).toBe(403);
    const huge = spryBody({ padding: 'x'.repeat(1024 * 1024) });
    expect((await post(`/webhooks/spry/${tenant}`, huge, sign(huge))).status).toBe(413);
    expect(await storedCount()).toBe(before);
  });

  it('records a test delivery and an unknown event type without syncing anything', async () => {
    const test = spryBody({ test: true }, { patient_id: 0 });
    expect((await post(`/webhooks/spry/${tenant}`, test, { 'x-sprypt-signature': spryHeader(test, world.secrets.spryWebhook) })).body).toMatchObject({ status: 'test' });
    const unknown = spryBody({ event_type: 'invoice.paid' });
    expect((await post(`/webhooks/spry/${tenant}`, unknown, { 'x-sprypt-signature': spryHeader(unknown, world.secrets.spryWebhook) })).body).toMatchObject({ status: 'ignored' });
    const events = await world.service.store.searchEvents({ tenantId: tenant, source: 'spry', limit: 1000 });
    expect(events.filter((e) => e.status === 'test')).toHaveLength(1);
    expect(events.filter((e) => e.status === 'ignored' && e.type === 'invoice.paid')).toHaveLength(1);
  });

  it('accepts a subscription test delivery sent by Spry itself', async () => {
    const [subscription] = world.sandbox.spry.subscriptions(SANDBOX_SPRY_ORG);
    const credentials = world.sandbox.spry.credentials()[0]!;
    const token = await request(`${world.sandbox.spryUrl}/apis/v2/oauth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'client_credentials', client_id: credentials.clientId, client_secret: credentials.clientSecret, scope: 'read write' }).toString(),
    });
    const accessToken = ((await token.body.json()) as { data: { access_token: string } }).data.access_token;
    const sent = await request(`${world.sandbox.spryUrl}/api/v2/subscriptions/${subscription!.id}/test`, { method: 'POST', headers: { authorization: `Bearer ${accessToken}` } });
    expect(sent.statusCode).toBeLessThan(300);
    await sent.body.dump();
    await world.sandbox.spry.settle();
    const attempts = world.sandbox.spry.dispatcher.attempts.filter((a) => a.status !== null);
    expect(attempts.at(-1)!.status).toBe(200);
    const tests = await world.service.store.searchEvents({ tenantId: tenant, status: 'test', limit: 10 });
    expect(tests.length).toBeGreaterThanOrEqual(1);
  });
});

describe('Spruce webhook ingress', () => {
  const contactEvent = (id = `wev_${randomUUID()}`) =>
    JSON.stringify({ id, object: 'event', type: 'scheduledMessage.created', eventTime: new Date().toISOString(), data: { object: { id: 'sm_1' } } });

  it('verifies the base64 HMAC, dedupes, and refuses a bad signature with 401', async () => {
    const body = contactEvent();
    const ok = await post(`/webhooks/spruce/${tenant}`, body, { 'x-spruce-signature': spruceHeader(body, world.secrets.spruceWebhook) });
    expect(ok).toEqual({ status: 200, body: { received: true, duplicate: false, status: 'ignored' } });
    const again = await post(`/webhooks/spruce/${tenant}`, body, { 'x-spruce-signature': spruceHeader(body, world.secrets.spruceWebhook) });
    expect(again.body.duplicate).toBe(true);
    const before = await storedCount();
    expect((await post(`/webhooks/spruce/${tenant}`, body, { 'x-spruce-signature': spruceHeader(body, 'wrong') })).status).toBe(401);
    expect((await post(`/webhooks/spruce/${tenant}`, body, {})).status).toBe(401);
    const bad = JSON.stringify({ object: 'event' });
    expect((await post(`/webhooks/spruce/${tenant}`, bad, { 'x-spruce-signature': spruceHeader(bad, world.secrets.spruceWebhook) })).status).toBe(400);
    expect(await storedCount()).toBe(before);
  });

  it('without an event id, dedupes on the event itself: a redelivery or a re-serialised copy is a duplicate, a second edit in the same second is not', async () => {
    const event = { object: 'event', type: 'conversation.updated', eventTime: '2026-11-23T08:00:00Z', data: { object: { id: 't_1', title: 'First' } } };
    const send = async (body: string) =>
      (await post(`/webhooks/spruce/${tenant}`, body, { 'x-spruce-signature': spruceHeader(body, world.secrets.spruceWebhook) })).body.duplicate;
    expect(await send(JSON.stringify(event))).toBe(false);
    expect(await send(JSON.stringify(event))).toBe(true);
    // The same event with its keys in another order and spaced out, as the delivery log's copy may be.
    const reserialised = JSON.stringify({ data: { object: { title: 'First', id: 't_1' } }, eventTime: event.eventTime, type: event.type, object: 'event' }, null, 2);
    expect(await send(reserialised)).toBe(true);
    // Same type, same object, same second, another change: the old (type, id, eventTime) key lost it.
    expect(await send(JSON.stringify({ ...event, data: { object: { id: 't_1', title: 'Second' } } }))).toBe(false);
  });
});

describe('health', () => {
  it('answers /healthz and /readyz', async () => {
    expect((await request(`${base}/healthz`)).statusCode).toBe(200);
    const ready = await request(`${base}/readyz`);
    expect(ready.statusCode).toBe(200);
    expect(await ready.body.json()).toEqual({ status: 'ready' });
  });
});
