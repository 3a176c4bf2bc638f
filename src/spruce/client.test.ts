import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ControlledClock } from '../clock.ts';
import { SyncError } from '../errors.ts';
import { RatePacer } from '../http/rate-pacer.ts';
import { autoAdvance, eventually, listen } from '../http/test-support.ts';
import type { CallReport } from '../http/types.ts';
import { SpruceClient, type SpruceClientOptions } from './client.ts';
import type { SpruceContact } from './types.ts';

const ACCESS_ID = 'aid_test';
const SECRET = 'sk_test';
const TOKEN = Buffer.from(`${ACCESS_ID}:${SECRET}`).toString('base64');
const PHONE = '+12065551234';

type Req = FastifyRequest;

/** Spruce as its OpenAPI and docs describe it, with the sandbox's 429 over-limit answer. */
class FakeSpruce {
  app: FastifyInstance = Fastify();
  contacts = new Map<string, SpruceContact>();
  keys = new Set<string>();
  received: { route: string; at: number; status: number; query: Record<string, string>; body: unknown; headers: Req['headers'] }[] = [];
  tags = Array.from({ length: 3 }, (_, i) => ({ id: `tag_${i}`, value: `t${i}`, object: 'contactTag' }));
  clock: { now(): number } = Date;
  limit: number | null = null;
  rateLimitNext = 0;
  /** Largest page the fake answers, to make paging visible with few records. */
  pageCap = 2;
  private windowStart = 0;
  private used = 0;
  private seq = 0;

  constructor() {
    this.app.register(async (v1) => this.routes(v1), { prefix: '/v1' });
  }

  seed(n: number): void {
    for (let i = 1; i <= n; i++) {
      const id = `entity_${String(i).padStart(3, '0')}`;
      this.contacts.set(id, contact(id, i % 2 === 0 ? [] : [{ type: 'custom', externalId: 'spry:1', contactId: id, url: 'https://spry/1' }]));
    }
  }

  private error(reply: FastifyReply, statusCode: number, type: string, message: string) {
    return reply.code(statusCode).send({ statusCode, type, message });
  }

  private page<T>(req: Req, items: T[], key: string) {
    const q = req.query as Record<string, string>;
    const size = Math.min(Number(q.pageSize ?? 50), this.pageCap);
    const start = Number(q.paginationToken ?? 0);
    const slice = items.slice(start, start + size);
    const hasMore = start + size < items.length;
    return { [key]: slice, hasMore, ...(hasMore ? { paginationToken: String(start + size) } : {}), totalCount: items.length };
  }

  private routes(v1: FastifyInstance) {
    v1.addHook('onRequest', async (req, reply) => {
      const now = this.clock.now();
      reply.header('s-request-id', `req_${++this.seq}`);
      const entry = { route: `${req.method} ${req.url.split('?')[0]}`, at: now, status: 0, query: req.query as Record<string, string>, body: undefined as unknown, headers: req.headers };
      this.received.push(entry);
      reply.raw.on('finish', () => {
        entry.status = reply.statusCode;
      });
      if (req.headers.authorization !== `Bearer ${TOKEN}`) return this.error(reply, 403, 'FORBIDDEN', 'bad token');
      if (this.limit !== null) {
        if (now >= this.windowStart + 60_000) {
          this.windowStart = now;
          this.used = 0;
        }
        const over = this.used >= this.limit || this.rateLimitNext > 0;
        if (!over) this.used++;
        reply.header('s-ratelimit-limit', String(this.limit));
        reply.header('s-ratelimit-remaining', String(this.limit - this.used));
        if (over) {
          if (this.rateLimitNext > 0) this.rateLimitNext--;
          const wait = this.used >= this.limit ? Math.ceil((this.windowStart + 60_000 - now) / 1000) : 5;
          reply.header('retry-after', String(wait));
          return this.error(reply, 429, 'RATE_LIMITED', 'too many requests');
        }
      }
      const key = req.headers['s-idempotency-key'];
      if (typeof key === 'string') {
        const scoped = `${req.method} ${req.url}:${key}`;
        if (this.keys.has(scoped)) return this.error(reply, 422, 'IDEMPOTENCY_KEY_REUSED', 'key already used');
        this.keys.add(scoped);
      }
    });
    v1.addHook('preHandler', async (req) => {
      this.received.at(-1)!.body = req.body;
    });

    v1.get('/contacts', async (req) => this.page(req, [...this.contacts.values()], 'contacts'));
    v1.post('/contacts', async (req, reply) => {
      const body = req.body as { givenName?: string };
      if (body.givenName === 'BAD') return this.error(reply, 400, 'BAD_PARAMETER', `Invalid phone number ${PHONE}`);
      const id = `entity_new${this.contacts.size}`;
      const created = { ...contact(id, []), ...body };
      this.contacts.set(id, created);
      return reply.code(201).send(created);
    });
    v1.get('/contacts/:contactId', async (req, reply) => {
      const found = this.contacts.get((req.params as { contactId: string }).contactId);
      return found ?? this.error(reply, 404, 'NOT_FOUND', 'contact not found');
    });
    v1.patch('/contacts/:contactId', async (req, reply) => {
      const id = (req.params as { contactId: string }).contactId;
      const found = this.contacts.get(id);
      if (!found) return this.error(reply, 404, 'NOT_FOUND', 'contact not found');
      const updated = { ...found, ...(req.body as object) };
      this.contacts.set(id, updated);
      return updated;
    });
    v1.delete('/contacts/:contactId', async (req, reply) => {
      const id = (req.params as { contactId: string }).contactId;
      if (!this.contacts.delete(id)) return this.error(reply, 404, 'NOT_FOUND', 'contact not found');
      return reply.code(200).send();
    });
    v1.post('/contacts/search', async (req) => {
      const body = req.body as { structured?: { integrationIDFilter?: { integrationIDs: { integrationLinkType: string; id: string }[] }[] } };
      const wanted = body.structured?.integrationIDFilter?.[0]?.integrationIDs ?? [];
      const matches = [...this.contacts.values()]
        .filter((c) => c.integrationLinks.some((l) => wanted.some((w) => w.integrationLinkType === l.type && w.id === l.externalId)))
        .sort((a, b) => a.id.localeCompare(b.id));
      return { ...this.page(req, matches, 'contacts'), totalCountRelation: 'eq' };
    });
    v1.post('/contacts/:contactId/integrationlinks', async (req, reply) => {
      const id = (req.params as { contactId: string }).contactId;
      const found = this.contacts.get(id);
      if (!found) return this.error(reply, 404, 'NOT_FOUND', 'contact not found');
      const link = req.body as { type: 'custom'; externalId: string; url: string };
      found.integrationLinks = [...found.integrationLinks, { ...link, contactId: id }];
      return reply.code(201).send({ integrationLinks: found.integrationLinks });
    });
    v1.delete('/contacts/:contactId/integrationlinks', async (req, reply) => {
      const found = this.contacts.get((req.params as { contactId: string }).contactId);
      const q = req.query as { type: string; externalId: string };
      if (!found || !found.integrationLinks.some((l) => l.type === q.type && l.externalId === q.externalId)) {
        return this.error(reply, 404, 'NOT_FOUND', 'no such link');
      }
      found.integrationLinks = found.integrationLinks.filter((l) => !(l.type === q.type && l.externalId === q.externalId));
      return reply.code(200).send();
    });
    v1.get('/contacts/tags', async (req) => this.page(req, this.tags, 'tags'));
    v1.post('/contacts/tags', async (req, reply) => {
      const { value } = req.body as { value: string };
      const tag = this.tags.find((t) => t.value === value) ?? { id: `tag_${this.tags.length}`, value, object: 'contactTag' };
      if (!this.tags.includes(tag)) this.tags.push(tag);
      return reply.code(201).send(tag);
    });
    v1.get('/contacts/fields', async (req) => this.page(req, [{ id: 'fld_1', name: 'Spry ID' }], 'fields'));
    v1.post('/contacts/fields', async (req, reply) => reply.code(201).send({ id: 'fld_2', name: (req.body as { name: string }).name }));
    v1.get('/conversations/:id', async (req, reply) => {
      const id = (req.params as { id: string }).id;
      return id === 't_missing' ? this.error(reply, 404, 'NOT_FOUND', 'nope') : { conversation: { id, type: 'phone', title: 'x' } };
    });
    v1.get('/conversationItems/:id', async (req, reply) => {
      const id = (req.params as { id: string }).id;
      return id === 'ti_missing' ? this.error(reply, 404, 'NOT_FOUND', 'nope') : { conversationItem: { id, conversationId: 't_1' } };
    });
    v1.get('/organization', async () => ({ organization: { id: 'entity_org', name: 'Acme PT', object: 'organization', type: 'organization' } }));
    v1.get('/webhooks/endpoints', async () => ({ endpoints: [{ id: 'wde_1', url: 'https://a/b', status: 'active', createdAt: 'x', object: 'webhookEndpoint', signingSecrets: [] }] }));
    v1.post('/webhooks/endpoints', async (req) => ({
      endpoint: { id: 'wde_2', ...(req.body as object), status: 'active', createdAt: 'x', object: 'webhookEndpoint', signingSecrets: [{ id: 's1', value: 'whsec' }] },
    }));
    v1.get('/webhooks/endpoints/:id/events', async (req) => {
      const events = Array.from({ length: 3 }, (_, i) => ({ id: `wev_${i}`, eventTime: 'x', data: '{}', object: 'event' }));
      return this.page(req, events, 'events');
    });
  }
}

function contact(id: string, integrationLinks: SpruceContact['integrationLinks']): SpruceContact {
  return {
    id,
    displayName: 'Jane Patient',
    givenName: 'Jane',
    familyName: 'Patient',
    category: 'patient',
    phoneNumbers: [{ id: 'p1', label: 'mobile', value: PHONE, displayValue: '(206) 555-1234' }],
    emailAddresses: [],
    faxNumbers: [],
    tags: [],
    organizationContactFields: [],
    customContactFields: [],
    integrationLinks,
    hasAccount: false,
    hasPendingInvite: false,
    canEdit: true,
    canDelete: true,
    created: '2026-01-01T00:00:00Z',
    appURL: 'x',
    apiURL: 'x',
  } as unknown as SpruceContact;
}

let spruce: FakeSpruce;
let baseUrl: string;
const clients: SpruceClient[] = [];

beforeAll(async () => {
  spruce = new FakeSpruce();
  baseUrl = await listen(spruce.app, '/v1');
});
afterAll(async () => {
  await spruce.app.close();
});
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  spruce.contacts.clear();
  spruce.received = [];
  spruce.limit = null;
  spruce.rateLimitNext = 0;
  spruce.clock = Date;
});

function makeClient(overrides: Partial<SpruceClientOptions> = {}) {
  const calls: CallReport[] = [];
  const c = new SpruceClient({
    baseUrl,
    accessId: ACCESS_ID,
    secretKey: SECRET,
    clock: new ControlledClock(),
    onCall: (call) => calls.push(call),
    retry: { attempts: 1 },
    ...overrides,
  });
  clients.push(c);
  return { client: c, calls };
}

async function failure(promise: Promise<unknown>): Promise<SyncError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(SyncError);
  return error as SyncError;
}

describe('SpruceClient contacts', () => {
  it('reads a bare contact; 404 is null; onCall has the route template and s-request-id', async () => {
    spruce.seed(1);
    const { client, calls } = makeClient();
    expect(await client.getContact('entity_001')).toMatchObject({ id: 'entity_001', givenName: 'Jane' });
    expect(await client.getContact('entity_nope')).toBeNull();
    expect(calls).toEqual([
      expect.objectContaining({ system: 'spruce', method: 'GET', route: 'GET /contacts/{contactId}', status: 200, requestId: expect.stringMatching(/^req_/) }),
      expect.objectContaining({ route: 'GET /contacts/{contactId}', status: 404 }),
    ]);
    expect(spruce.received[0]!.headers.authorization).toBe(`Bearer ${TOKEN}`);
  });

  it('bad credentials → SPRUCE_AUTH_FAILED, permanent, with the request id', async () => {
    const { client } = makeClient({ secretKey: 'sk_wrong' });
    const error = await failure(client.getContact('entity_001'));
    expect(error).toMatchObject({ code: 'SPRUCE_AUTH_FAILED', retryable: false, status: 403, requestId: expect.stringMatching(/^req_/) });
  });

  it('creates with an idempotency key; a repeat of the key is SPRUCE_IDEMPOTENCY_REPLAY', async () => {
    const { client } = makeClient();
    const created = await client.createContact({ givenName: 'Ann', category: 'patient' }, { idempotencyKey: 'create-spry-1' });
    expect(created).toMatchObject({ givenName: 'Ann' });
    expect(spruce.received.at(-1)!.headers['s-idempotency-key']).toBe('create-spry-1');
    const replay = await failure(client.createContact({ givenName: 'Ann', category: 'patient' }, { idempotencyKey: 'create-spry-1' }));
    expect(replay).toMatchObject({ code: 'SPRUCE_IDEMPOTENCY_REPLAY', retryable: false, status: 422, requestId: expect.stringMatching(/^req_/) });
  });

  it('hashes idempotency keys longer than Spruce allows', async () => {
    const { client } = makeClient();
    await client.createContact({ givenName: 'Ann', category: 'patient' }, { idempotencyKey: 'k'.repeat(300) });
    const sent = spruce.received.at(-1)!.headers['s-idempotency-key'] as string;
    expect(sent.length).toBeLessThanOrEqual(255);
    expect(sent).toMatch(/^sha256:[0-9a-f]{64}$/);
  });

  it('a 400 names the error type, never the message (it may echo PHI)', async () => {
    const { client } = makeClient();
    const error = await failure(client.createContact({ givenName: 'BAD', category: 'patient' }));
    expect(error).toMatchObject({ code: 'SPRUCE_REJECTED', retryable: false, status: 400 });
    expect(error.message).toContain('BAD_PARAMETER');
    expect(error.message).not.toContain('206');
  });

  it('updates with PATCH and the key; deletes, a second delete is fine', async () => {
    spruce.seed(1);
    const { client } = makeClient();
    const updated = await client.updateContact('entity_001', { givenName: 'Joan' }, { idempotencyKey: 'patch-1' });
    expect(updated.givenName).toBe('Joan');
    expect(spruce.received.at(-1)).toMatchObject({ route: 'PATCH /v1/contacts/entity_001', headers: { 's-idempotency-key': 'patch-1' } });
    expect(await failure(client.updateContact('entity_404', { givenName: 'X' }))).toMatchObject({ code: 'SPRUCE_NOT_FOUND', ids: { contactId: 'entity_404' } });
    await client.deleteContact('entity_001');
    await client.deleteContact('entity_001');
    expect(spruce.contacts.size).toBe(0);
  });

  it('lists contacts in pages and iterates them all', async () => {
    spruce.seed(5);
    const { client } = makeClient();
    const page = await client.listContacts({ pageSize: 900 });
    expect(spruce.received.at(-1)!.query.pageSize).toBe('500');
    expect(page).toMatchObject({ hasMore: true, paginationToken: '2', totalCount: 5 });
    expect(page.items).toHaveLength(2);
    const ids: string[] = [];
    for await (const c of client.iterateContacts()) ids.push(c.id);
    expect(ids).toHaveLength(5);
  });

  it('finds contacts by custom integration id, across every page', async () => {
    spruce.seed(9); // odd ids carry the link: 5 matches, 2 a page
    const { client, calls } = makeClient();
    const found = await client.findContactsByIntegrationId('spry:1');
    expect(found.map((c) => c.id)).toEqual(['entity_001', 'entity_003', 'entity_005', 'entity_007', 'entity_009']);
    const searches = spruce.received.filter((r) => r.route === 'POST /v1/contacts/search');
    expect(searches).toHaveLength(3);
    expect(searches[0]!.body).toEqual({
      structured: { integrationIDFilter: [{ integrationIDs: [{ integrationLinkType: 'custom', id: 'spry:1' }], match: 'any' }] },
    });
    expect(searches.map((s) => s.query)).toEqual([
      { pageSize: '500' },
      { pageSize: '500', paginationToken: '2' },
      { pageSize: '500', paginationToken: '4' },
    ]);
    expect(new Set(calls.map((c) => c.route))).toEqual(new Set(['POST /contacts/search']));
  });

  it('creates and deletes an integration link; deleting a missing one is fine', async () => {
    spruce.seed(2);
    const { client } = makeClient();
    const links = await client.createIntegrationLink('entity_002', { type: 'custom', externalId: 'spry:2', url: 'https://spry/2' }, { idempotencyKey: 'link-2' });
    expect(links).toEqual([{ type: 'custom', externalId: 'spry:2', url: 'https://spry/2', contactId: 'entity_002' }]);
    await client.deleteIntegrationLink('entity_002', 'custom', 'spry:2');
    expect(spruce.received.at(-1)!.query).toEqual({ type: 'custom', externalId: 'spry:2' });
    await client.deleteIntegrationLink('entity_002', 'custom', 'spry:2');
  });
});

describe('SpruceClient other resources', () => {
  it('tags and fields: every page; create answers the tag or field', async () => {
    const { client } = makeClient();
    expect((await client.listTags()).map((t) => t.value)).toEqual(['t0', 't1', 't2']);
    expect(spruce.received.filter((r) => r.route === 'GET /v1/contacts/tags')).toHaveLength(2);
    expect(await client.createTag('t1')).toMatchObject({ id: 'tag_1', value: 't1' });
    expect(await client.listContactFields()).toEqual([{ id: 'fld_1', name: 'Spry ID' }]);
    expect(await client.createContactField('Spry URL')).toEqual({ id: 'fld_2', name: 'Spry URL' });
  });

  it('unwraps {conversation} and {conversationItem}; 404 is null', async () => {
    const { client } = makeClient();
    expect(await client.getConversation('t_1')).toMatchObject({ id: 't_1', type: 'phone' });
    expect(await client.getConversation('t_missing')).toBeNull();
    expect(await client.getConversationItem('ti_1')).toMatchObject({ id: 'ti_1', conversationId: 't_1' });
    expect(await client.getConversationItem('ti_missing')).toBeNull();
  });

  it('reads the organization the credentials act for; bad credentials are SPRUCE_AUTH_FAILED', async () => {
    expect(await makeClient().client.getOrganization()).toMatchObject({ id: 'entity_org', type: 'organization' });
    expect((await failure(makeClient({ secretKey: 'sk_wrong' }).client.getOrganization())).code).toBe('SPRUCE_AUTH_FAILED');
  });

  it('webhook endpoints and their event log', async () => {
    const { client } = makeClient();
    expect(await client.listWebhookEndpoints()).toEqual([expect.objectContaining({ id: 'wde_1' })]);
    expect(await client.createWebhookEndpoint({ name: 'sync', url: 'https://x/hook' })).toMatchObject({
      id: 'wde_2',
      signingSecrets: [{ id: 's1', value: 'whsec' }],
    });
    const page = await client.listWebhookEndpointEvents('wde_1', { startTime: '2026-01-01T00:00:00Z' });
    expect(page).toMatchObject({ hasMore: true, paginationToken: '2' });
    expect(spruce.received.at(-1)!.query).toEqual({ startTime: '2026-01-01T00:00:00Z' });
    const all: string[] = [];
    for await (const e of client.iterateWebhookEndpointEvents('wde_1')) all.push(e.id);
    expect(all).toEqual(['wev_0', 'wev_1', 'wev_2']);
  });
});

describe('SpruceClient pacing', () => {
  it('paces from the rate-limit headers as they count down: no 429, spread over the window', async () => {
    const clock = new ControlledClock({ start: 0, flowing: false });
    spruce.clock = clock;
    spruce.limit = 10;
    spruce.seed(1);
    // Bursting off: this is about following the headers; the burst rule has its own tests.
    const { client } = makeClient({ clock, pacer: new RatePacer({ clock, burstAbove: 1 }) });
    const stop = autoAdvance(clock, 200);
    try {
      await Promise.all(Array.from({ length: 25 }, () => client.getContact('entity_001')));
    } finally {
      await stop();
    }
    const statuses = spruce.received.map((r) => r.status);
    expect(statuses.filter((s) => s === 429)).toHaveLength(0);
    expect(statuses).toHaveLength(25);
    const times = spruce.received.map((r) => r.at);
    const firstWindow = times.filter((t) => t < times[0]! + 60_000);
    expect(firstWindow.length).toBeLessThanOrEqual(10);
    // Spread: the first window's ten calls cover most of it instead of leaving in a burst.
    expect(firstWindow.at(-1)! - firstWindow[0]!).toBeGreaterThan(40_000);
  });

  it('after a 429 every caller waits for Retry-After, then the call is retried', async () => {
    const clock = new ControlledClock({ start: 0, flowing: false });
    spruce.clock = clock;
    spruce.limit = 1_000;
    spruce.seed(1);
    const { client, calls } = makeClient({ clock, retry: { attempts: 2 } });
    const stop = autoAdvance(clock, 50);
    try {
      await client.getContact('entity_001'); // learns the budget
      spruce.rateLimitNext = 1;
      const first = client.getContact('entity_001');
      // Until the client has read the 429 (the pacer learns the pause before onCall reports it),
      // a new caller could still go out ahead of the pause.
      await eventually(() => calls.some((c) => c.status === 429));
      // Callers arriving during the pause wait with the one that was refused.
      const others = Array.from({ length: 3 }, () => client.getContact('entity_001'));
      const results = await Promise.all([first, ...others]);
      expect(results.every((r) => r?.id === 'entity_001')).toBe(true);
    } finally {
      await stop();
    }
    const limited = spruce.received.find((r) => r.status === 429)!;
    const later = spruce.received.filter((r) => r.at > limited.at);
    expect(later).toHaveLength(4);
    for (const r of later) expect(r.at).toBeGreaterThanOrEqual(limited.at + 5_000);
    expect(calls.filter((c) => c.status === 429)).toEqual([expect.objectContaining({ error: 'SPRUCE_RATE_LIMITED', requestId: expect.any(String) })]);
  });

  it('a bulk view shares the pacer of its client', async () => {
    const pacer = new RatePacer();
    const { client } = makeClient({ pacer });
    spruce.seed(1);
    expect(await client.withPriority('bulk').getContact('entity_001')).not.toBeNull();
  });
});
