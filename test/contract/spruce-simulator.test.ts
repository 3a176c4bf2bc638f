// The Spruce simulator against what Spruce documents (docs/spruce-api.md, the OpenAPI), over
// real HTTP on 127.0.0.1, on a stopped clock (no real waiting). Every test also checks that the
// simulator's own responses match the spec (validateResponses).
import { createHmac, timingSafeEqual } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { nullListsAsEmpty } from '../../src/sandbox/spruce/test-context.ts';
import { addEndpoint, START, startReceiver, startSim, type Receiver, type TestSim } from './spruce-simulator-helpers.ts';

type Contact = {
  id: string;
  displayName: string;
  givenName?: string;
  familyName?: string;
  middleName?: string;
  phoneNumbers: { id: string; value: string; displayValue: string }[];
  emailAddresses: { value: string }[];
  tags: { id: string; value: string }[];
  organizationContactFields: { id: string; name: string; value: string }[];
  integrationLinks: { type: string; externalId: string; contactId: string; url?: string }[];
  canDelete: boolean;
};
type ContactPage = { contacts: Contact[]; hasMore: boolean; paginationToken?: string; totalCount: number };

let open: { t?: TestSim; receiver?: Receiver; noViolations?: boolean }[] = [];

async function sim(options: Parameters<typeof startSim>[0] = {}): Promise<TestSim> {
  const t = await startSim(options);
  open.push({ t });
  return t;
}

afterEach(async () => {
  for (const { t, receiver, noViolations } of open) {
    if (t) expect(t.sim.responseViolations).toEqual([]);
    if (t && noViolations) expect(t.sim.violations).toEqual([]);
    await t?.sim.close();
    await receiver?.close();
  }
  open = [];
});

/** A webhook object against the spec's schema of its resource (null lists read as empty). */
function expectSpecShaped(t: TestSim, type: string, object: Record<string, unknown>): void {
  expect(t.sim.openapi.validateSchema(type.split('.')[0]!, nullListsAsEmpty(object)), type).toEqual([]);
}

/** A simulator (default organization) with a webhook receiver registered as its endpoint. */
async function simWithReceiver(): Promise<{ t: TestSim; receiver: Receiver }> {
  const t = await sim();
  const receiver = await startReceiver();
  open.push({ receiver });
  await addEndpoint(t, receiver.url);
  return { t, receiver };
}

async function createContact(t: TestSim, body: Record<string, unknown>): Promise<Contact> {
  const response = await t.api<Contact>('POST', '/contacts', { body });
  expect(response.status, response.raw).toBe(201);
  return response.body;
}

describe('auth', () => {
  it('answers 403 {statusCode,type,message} to a missing, malformed or wrong token, with s-request-id', async () => {
    const t = await sim();
    const basic = `Basic ${Buffer.from(`${t.accessId}:x`).toString('base64')}`;
    const wrong = `Bearer ${Buffer.from(`${t.accessId}:sk_wrong`).toString('base64')}`;
    for (const auth of [null, 'Bearer', basic, wrong, `Bearer ${t.accessId}`]) {
      const response = await t.api('GET', '/contacts', { auth });
      expect(response.status).toBe(403);
      expect(response.body).toEqual({ statusCode: 403, type: 'FORBIDDEN', message: expect.any(String) });
      expect(response.headers['s-request-id']).toMatch(/^[0-9A-Z]{26}$/);
    }
    expect((await t.api('GET', '/contacts')).status).toBe(200);
    expect(t.sim.requestLog.map((r) => [r.status, r.organizationId])).toEqual([...Array(5).fill([403, null]), [200, t.sim.organizationId]]);
  });

  it('GET /organization names the organization the credential acts for; unsimulated operations answer 501', async () => {
    const t = await sim();
    const org = await t.api('GET', '/organization');
    expect(org.body).toEqual({ organization: { object: 'organization', id: t.sim.organizationId, name: 'Sandbox Physical Therapy', type: 'organization' } });
    const media = await t.api('GET', '/phonelines');
    expect([media.status, (media.body as { type: string }).type]).toEqual([501, 'NOT_IMPLEMENTED']);
  });

  it('a disabled credential gets 403', async () => {
    const t = await sim();
    await t.control('POST', `/credentials/${t.accessId}/disabled`, { disabled: true });
    expect((await t.api('GET', '/contacts')).status).toBe(403);
    await t.control('POST', `/credentials/${t.accessId}/disabled`, { disabled: false });
    expect((await t.api('GET', '/contacts')).status).toBe(200);
  });
});

describe('idempotency keys', () => {
  it('a repeat on the same path within 24 h is 422 (not replayed); another path is fine', async () => {
    const t = await sim({ organizations: [{ id: 'entity_ORG', accessId: 'aid_a', secretKey: 'sk_a', rateLimitPerMinute: 0 }] });
    const key = { 's-idempotency-key': 'create-patient-42' };
    const first = await t.api<Contact>('POST', '/contacts', { body: { givenName: 'Ann' }, headers: key });
    expect(first.status).toBe(201);
    const repeat = await t.api('POST', '/contacts', { body: { givenName: 'Ann' }, headers: key });
    expect(repeat.status).toBe(422);
    expect(repeat.body).toMatchObject({ statusCode: 422, type: 'DUPLICATE_REQUEST' });
    expect(t.sim.contacts()).toHaveLength(1);
    expect((await t.api('POST', '/contacts/tags', { body: { value: 'VIP' }, headers: key })).status).toBe(201);
    expect((await t.api('PATCH', `/contacts/${first.body.id}`, { body: { familyName: 'Lee' }, headers: key })).status).toBe(200);
    await t.clock.advance(24 * 3600_000);
    expect((await t.api('POST', '/contacts', { body: { givenName: 'Ann' }, headers: key })).status).toBe(201);
  });

  it('ambiguous failures: the write commits and its answer is lost (reset, 5xx, hang); the key is used up, a retry gets 422', async () => {
    const t = await sim({ organizations: [{ id: 'entity_ORG', accessId: 'aid_a', secretKey: 'sk_a', rateLimitPerMinute: 0 }] });
    const outcome = (call: Promise<{ status: number }>) => call.then((r) => r.status, () => 'no answer');
    const key = (k: string) => ({ 's-idempotency-key': k });

    expect((await t.control('PUT', '/faults', { routes: [{ match: 'POST /v1/contacts', ambiguousRate: 1 }] })).status).toBe(200);
    expect(await outcome(t.api('POST', '/contacts', { body: { givenName: 'Ann' }, headers: key('create-1') }))).toBe('no answer');
    expect(t.sim.contacts().map((c) => c.givenName)).toEqual(['Ann']);
    await t.sim.settle(); // the server sees its side of the reset a moment after the client
    expect(t.sim.requestLog.map((r) => [r.route, r.status])).toEqual([['POST /v1/contacts', 0]]);
    expect((await t.api('GET', '/contacts')).status).toBe(200); // reads are untouched
    await t.control('DELETE', '/faults');
    const retry = await t.api('POST', '/contacts', { body: { givenName: 'Ann' }, headers: key('create-1') });
    expect([retry.status, retry.body.type]).toEqual([422, 'DUPLICATE_REQUEST']);
    expect(t.sim.contacts()).toHaveLength(1);
    const ann = t.sim.contacts()[0]!;

    await t.control('PUT', '/faults', { routes: [{ match: 'PATCH /v1/contacts/*', ambiguousRate: 1, ambiguousMode: 'error' }] });
    const patched = await t.api('PATCH', `/contacts/${ann.id}`, { body: { familyName: 'Lee' }, headers: key('edit-1') });
    expect([patched.status, patched.body.type]).toEqual([502, 'INTERNAL']);
    expect(t.sim.contacts()[0]!.familyName).toBe('Lee');
    // A refused write is not a commit: its answer and its key are left alone.
    const refused = await t.api('PATCH', `/contacts/${ann.id}`, { body: { tagIds: ['tag_unknown'] }, headers: key('edit-2') });
    expect(refused.status).toBe(400);
    await t.control('DELETE', '/faults');
    expect((await t.api('PATCH', `/contacts/${ann.id}`, { body: { familyName: 'Lee' }, headers: key('edit-1') })).status).toBe(422);
    expect((await t.api('PATCH', `/contacts/${ann.id}`, { body: { familyName: 'Lee' }, headers: key('edit-2') })).status).toBe(200);

    await t.control('PUT', '/faults', { routes: [{ match: 'DELETE /v1/**', ambiguousRate: 1, ambiguousMode: 'hang', hangMs: 10_000 }] });
    const deleting = outcome(t.api('DELETE', `/contacts/${ann.id}`));
    while (t.sim.contacts().length > 0) await new Promise((resolve) => setImmediate(resolve));
    await t.clock.advance(10_000);
    expect(await deleting).toBe('no answer');
    expect((await t.api('GET', `/contacts/${ann.id}`)).status).toBe(404);
  });

  it('a request that failed does not use up its key; keys over 255 chars are refused', async () => {
    const t = await sim();
    const key = { 's-idempotency-key': 'k-1' };
    expect((await t.api('POST', '/contacts', { body: { companyName: 'x' }, headers: key })).status).toBe(400);
    expect((await t.api('POST', '/contacts', { body: { givenName: 'Ann' }, headers: key })).status).toBe(201);
    const long = await t.api('POST', '/contacts', { body: { givenName: 'Ann' }, headers: { 's-idempotency-key': 'k'.repeat(256) } });
    expect(long.status).toBe(400);
  });
});

describe('rate limit', () => {
  it('counts down in headers, answers 429 + Retry-After past the limit, frees when the window ends on the clock', async () => {
    const t = await sim({ organizations: [{ id: 'entity_ORG', accessId: 'aid_a', secretKey: 'sk_a', rateLimitPerMinute: 5 }] });
    const remaining: string[] = [];
    for (let i = 0; i < 5; i++) {
      const response = await t.api('GET', '/contacts');
      expect(response.headers['s-ratelimit-limit']).toBe('5');
      remaining.push(response.headers['s-ratelimit-remaining']!);
      if (i === 1) await t.clock.advance(20_000);
    }
    expect(remaining).toEqual(['4', '3', '2', '1', '0']);
    const limited = await t.api('GET', '/contacts');
    expect(limited.status).toBe(429);
    expect(limited.body).toEqual({ statusCode: 429, type: 'RATE_LIMITED', message: expect.any(String) });
    expect(limited.headers['retry-after']).toBe('40'); // the window opened at START, it is now START + 20 s
    await t.clock.advance(39_000);
    expect((await t.api('GET', '/contacts')).status).toBe(429);
    await t.clock.advance(1_000);
    const freed = await t.api('GET', '/contacts');
    expect([freed.status, freed.headers['s-ratelimit-remaining']]).toEqual([200, '4']);
    expect(t.sim.requestLog.filter((r) => r.rateLimited)).toHaveLength(2);
    expect(t.sim.requestLog.every((r) => r.route === 'GET /v1/contacts')).toBe(true);
  });

  it('the control API is outside auth, rate limits and faults', async () => {
    const t = await sim({ organizations: [{ id: 'entity_ORG', accessId: 'aid_a', secretKey: 'sk_a', rateLimitPerMinute: 1 }] });
    await t.control('PUT', '/faults', { routes: [{ match: 'GET /v1/**', errorRate: 1, errorStatus: 503 }] });
    const faulted = await t.api('GET', '/contacts');
    expect(faulted.status).toBe(503);
    expect(faulted.headers['s-request-id']).toBeDefined();
    for (let i = 0; i < 3; i++) expect((await t.control('GET', '/state')).status).toBe(200);
  });
});

describe('OpenAPI validation', () => {
  it('rejects requests that break the spec with 400 BAD_PARAMETER and logs each violation', async () => {
    const t = await sim({ organizations: [{ id: 'entity_ORG', accessId: 'aid_a', secretKey: 'sk_a', rateLimitPerMinute: 0 }] });
    const bad: [string, string, Parameters<TestSim['api']>[2]][] = [
      ['GET', '/contacts?pageSize=501', {}],
      ['GET', '/conversations', {}], // orderBy is required
      ['GET', '/conversations/t_1/items?pageSize=201', {}],
      ['POST', '/contacts', { body: { givenName: 'Ann', phone: '2065551234' } }],
      ['POST', '/contacts', { body: { givenName: 'Ann', gender: 'f' } }],
      ['POST', '/contacts', { body: { givenName: 'Ann', emailAddresses: [{ value: 'nope' }] } }],
      ['POST', '/contacts', { rawBody: '{"givenName": ' }],
      ['POST', '/contacts', {}],
      ['POST', '/contacts/search', { body: { structured: { phoneNumberFilter: [{ values: ['2065551234'] }] } } }],
      ['POST', '/webhooks/endpoints/wde_1/paused?paused=maybe', {}],
      ['GET', '/patients', {}],
    ];
    for (const [method, path, options] of bad) {
      const response = await t.api(method, path, options);
      expect(response.status, `${method} ${path}`).toBe(path === '/patients' ? 404 : 400);
      if (response.status === 400) expect(response.body).toEqual({ statusCode: 400, type: 'BAD_PARAMETER', message: expect.any(String) });
    }
    expect(t.sim.violations).toHaveLength(bad.length);
    expect(t.sim.violations[0]).toMatchObject({ method: 'GET', route: 'GET /v1/contacts', errors: ['query/pageSize must be <= 500'] });
    expect(t.sim.violations[3]!.errors).toEqual(["body has unknown property 'phone'"]);
    expect(t.sim.violations.map((v) => v.route)).toContain('POST /v1/contacts/search');
  });

  it('valid requests log nothing', async () => {
    const t = await sim();
    const ann = await createContact(t, { givenName: 'Ann', phoneNumbers: [{ value: '(206) 555-1234' }], dateOfBirth: '1990-01-31' });
    await t.api('GET', '/contacts?pageSize=500');
    await t.api('PATCH', `/contacts/${ann.id}`, { body: { middleName: null, dateOfBirth: '' } });
    await t.api('POST', '/contacts/search', { body: { structured: { phoneNumberFilter: [{ values: ['2065551234'], match: 'any' }] } } });
    await t.api('GET', '/conversations?orderBy=last_message&startFrom=2025-01-01T00:00:00Z');
    await t.api('GET', '/webhooks/endpoints');
    expect(t.sim.violations).toEqual([]);
  });
});

describe('contacts', () => {
  it('create → 201 bare Contact with E.164 phones; get; list; delete only when canDelete', async () => {
    const t = await sim();
    const formats = ['2065551234', '+12065551235', '(206) 555-1236', '206-555-1237'];
    const ann = await createContact(t, { givenName: 'Ann', familyName: 'Lee', phoneNumbers: formats.map((value) => ({ value })) });
    expect(ann.id).toMatch(/^entity_/);
    expect(ann.phoneNumbers.map((p) => [p.value, p.displayValue])).toEqual([
      ['+12065551234', '(206) 555-1234'],
      ['+12065551235', '(206) 555-1235'],
      ['+12065551236', '(206) 555-1236'],
      ['+12065551237', '(206) 555-1237'],
    ]);
    expect((await t.api('POST', '/contacts', { body: { companyName: 'No name' } })).status).toBe(400);
    expect((await t.api<Contact>('GET', `/contacts/${ann.id}`)).body).toEqual(ann);
    expect((await t.api('GET', '/contacts/entity_nope')).status).toBe(404);
    const deleted = await t.api('DELETE', `/contacts/${ann.id}`);
    expect([deleted.status, deleted.raw]).toEqual([200, '']);
    expect((await t.api('GET', `/contacts/${ann.id}`)).status).toBe(404);
    const member = (await t.control<Contact>('POST', '/contacts', { givenName: 'Has', familyName: 'Account', hasAccount: true })).body;
    expect(member.canDelete).toBe(false);
    const refused = await t.api('DELETE', `/contacts/${member.id}`);
    expect([refused.status, (refused.body as { type: string }).type]).toEqual([400, 'NOT_DELETABLE']);
  });

  it('PATCH: omitted/null unchanged, "" and [] clear, arrays replace, fields set per id', async () => {
    const t = await sim();
    const vip = (await t.api<{ id: string }>('POST', '/contacts/tags', { body: { value: 'VIP' } })).body;
    const again = await t.api<{ id: string }>('POST', '/contacts/tags', { body: { value: 'VIP' } });
    expect([again.status, again.body.id]).toEqual([201, vip.id]);
    const pharmacy = (await t.api<{ id: string }>('POST', '/contacts/fields', { body: { name: 'Preferred Pharmacy' } })).body;
    const address = (await t.api<{ id: string }>('POST', '/contacts/fields', { body: { name: 'Address' } })).body;
    const ann = await createContact(t, {
      givenName: 'Ann',
      middleName: 'Q',
      familyName: 'Lee',
      phoneNumbers: [{ value: '2065551234' }, { value: '2065550000' }],
      emailAddresses: [{ value: 'ann@example.com' }],
      tagIds: [vip.id],
      organizationContactFields: [
        { id: pharmacy.id, value: 'CVS' },
        { id: address.id, value: '1 Main St' },
      ],
    });
    const patched = await t.api<Contact>('PATCH', `/contacts/${ann.id}`, {
      body: { givenName: null, middleName: '', phoneNumbers: [{ value: '503-555-0101' }], tagIds: [], organizationContactFields: [{ id: pharmacy.id, value: 'Walgreens' }] },
    });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({ givenName: 'Ann', familyName: 'Lee', displayName: 'Ann Lee', tags: [], emailAddresses: [{ value: 'ann@example.com' }] });
    expect(patched.body.middleName).toBeUndefined();
    expect(patched.body.phoneNumbers.map((p) => p.value)).toEqual(['+15035550101']);
    expect(patched.body.organizationContactFields.map((f) => [f.name, f.value])).toEqual([
      ['Preferred Pharmacy', 'Walgreens'],
      ['Address', '1 Main St'],
    ]);
    const cleared = await t.api<Contact>('PATCH', `/contacts/${ann.id}`, { body: { emailAddresses: [], organizationContactFields: [] } });
    expect([cleared.body.emailAddresses, cleared.body.organizationContactFields]).toEqual([[], []]);
    expect((await t.api('PATCH', `/contacts/${ann.id}`, { body: { tagIds: ['tag_unknown'] } })).status).toBe(400);
    expect((await t.api('PATCH', '/contacts/entity_nope', { body: {} })).status).toBe(404);
  });

  it('integration links: 201 {integrationLinks}, no id, url only for custom, inside every Contact, deletable by type+externalId', async () => {
    const t = await sim();
    const ann = await createContact(t, { givenName: 'Ann' });
    const link = { type: 'custom', externalId: 'spry:clinic-1:patient-42', url: 'https://spry.example/patients/42' };
    const created = await t.api('POST', `/contacts/${ann.id}/integrationlinks`, { body: link });
    expect(created.status).toBe(201);
    expect(created.body).toEqual({ integrationLinks: [{ ...link, contactId: ann.id }] });
    expect((await t.api<Contact>('GET', `/contacts/${ann.id}`)).body.integrationLinks).toEqual([{ ...link, contactId: ann.id }]);
    expect((await t.api('POST', `/contacts/${ann.id}/integrationlinks`, { body: { type: 'hint', externalId: 'h', url: 'https://x.example' } })).status).toBe(400);
    const removed = await t.api('DELETE', `/contacts/${ann.id}/integrationlinks?type=custom&externalId=${encodeURIComponent(link.externalId)}`);
    expect(removed.status).toBe(200);
    expect((await t.api<Contact>('GET', `/contacts/${ann.id}`)).body.integrationLinks).toEqual([]);
    expect((await t.api('DELETE', `/contacts/${ann.id}/integrationlinks?type=custom&externalId=gone`)).status).toBe(404);
  });

  it('search: structured filters ANDed, all/any/none, sorted by id; integrationIDFilter; free text', async () => {
    const t = await sim();
    const ann = await createContact(t, { givenName: 'Ann', familyName: 'Lee', gender: 'female', phoneNumbers: [{ value: '2065551234' }] });
    const bob = await createContact(t, { givenName: 'Bob', familyName: 'Lee', gender: 'male', phoneNumbers: [{ value: '2065551234' }] });
    const cy = await createContact(t, { givenName: 'Cy', familyName: 'Young', emailAddresses: [{ value: 'cy@example.com' }] });
    for (const [c, id] of [[ann, 'p-1'], [bob, 'p-2']] as const) {
      await t.api('POST', `/contacts/${c.id}/integrationlinks`, { body: { type: 'custom', externalId: id, url: `https://spry.example/${id}` } });
    }
    const search = async (body: unknown) => (await t.api<ContactPage & { totalCountRelation: string }>('POST', '/contacts/search', { body })).body;
    const ids = async (body: unknown) => (await search(body)).contacts.map((c) => c.id);
    const byLink = await search({ structured: { integrationIDFilter: [{ integrationIDs: [{ integrationLinkType: 'custom', id: 'p-2' }], match: 'any' }] } });
    expect(byLink).toMatchObject({ totalCount: 1, totalCountRelation: 'eq', hasMore: false });
    expect(byLink.contacts[0]!.id).toBe(bob.id);
    expect(byLink.contacts[0]!.integrationLinks[0]).toMatchObject({ externalId: 'p-2', contactId: bob.id });
    expect(await ids({ structured: { phoneNumberFilter: [{ values: ['(206) 555-1234'], match: 'any' }] } })).toEqual([ann.id, bob.id]);
    expect(
      await ids({
        structured: {
          nameFilter: [{ names: [{ familyName: 'Lee' }], match: 'any' }],
          genderFilter: [{ genders: ['male'], match: 'none' }],
        },
      }),
    ).toEqual([ann.id]);
    expect(await ids({ structured: { emailAddressFilter: [{ values: ['cy@example.com'], match: 'all' }] } })).toEqual([cy.id]);
    expect(await ids({ structured: { integrationIDFilter: [{ integrationIDs: [{ integrationLinkType: 'custom', id: 'p-1' }], match: 'none' }] } })).toEqual([bob.id, cy.id]);
    expect(await ids({ freeText: 'young' })).toEqual([cy.id]);
    expect(await ids({ structured: { phoneNumberFilter: [{ values: ['+13605550000'], match: 'any' }] } })).toEqual([]);
  });

  it('pagination walks 10,000 contacts exactly once, even with writes mid-walk', async () => {
    const t = await sim({ organizations: [{ id: 'entity_ORG', accessId: 'aid_a', secretKey: 'sk_a', contacts: 10_000 }] });
    const original = new Set(t.sim.contacts().map((c) => c.id));
    expect(original.size).toBe(10_000);
    const seen: string[] = [];
    let token: string | undefined;
    let pages = 0;
    let deleted: string | undefined;
    do {
      const page = await t.api<ContactPage>('GET', `/contacts?pageSize=500${token ? `&paginationToken=${encodeURIComponent(token)}` : ''}`);
      expect(page.status).toBe(200);
      seen.push(...page.body.contacts.map((c) => c.id));
      token = page.body.paginationToken;
      expect(page.body.hasMore).toBe(token !== undefined);
      if (++pages === 5) {
        // Writes during the walk: a new contact (ids ascend, so it comes at the end) and a
        // deletion of one not yet seen.
        await createContact(t, { givenName: 'Late', familyName: 'Arrival' });
        deleted = [...original].find((id) => !seen.includes(id) && t.sim.contacts().find((c) => c.id === id)?.canDelete);
        expect((await t.api('DELETE', `/contacts/${deleted}`)).status).toBe(200);
      }
    } while (token);
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen).toHaveLength(10_000);
    expect(seen.filter((id) => original.has(id))).toHaveLength(9_999);
    expect(seen).not.toContain(deleted);
    const sorted = [...seen].sort();
    expect(seen).toEqual(sorted);
    const search = await t.api<ContactPage>('POST', '/contacts/search?pageSize=500', { body: {} });
    expect(search.body).toMatchObject({ totalCount: 10_000, hasMore: true });
  }, 120_000);

  it('seeded fake data is deterministic and includes shared numbers and existing links', async () => {
    const a = await sim({ seed: 5, organizations: [{ id: 'entity_ORG', accessId: 'aid_a', secretKey: 'sk_a', contacts: 300 }] });
    const b = await sim({ seed: 5, organizations: [{ id: 'entity_ORG', accessId: 'aid_a', secretKey: 'sk_a', contacts: 300 }] });
    expect(a.sim.contacts()).toEqual(b.sim.contacts().map((c) => ({ ...c, apiURL: c.apiURL.replace(b.url, a.url) })));
    const phones = a.sim.contacts().flatMap((c) => c.phoneNumbers.map((p) => p.value));
    expect(new Set(phones).size).toBeLessThan(phones.length);
    expect(a.sim.contacts().some((c) => c.integrationLinks.length > 0)).toBe(true);
    expect(a.sim.contacts().some((c) => !c.canDelete)).toBe(true);
  });
});

describe('conversations and staff actions', () => {
  it('inbound SMS from a saved, an unsaved and a shared number', async () => {
    const t = await sim();
    const ann = await createContact(t, { givenName: 'Ann', phoneNumbers: [{ value: '2065550001' }] });
    await createContact(t, { givenName: 'Bob', phoneNumbers: [{ value: '2065550002' }] });
    await createContact(t, { givenName: 'Bea', phoneNumbers: [{ value: '2065550002' }] });
    type Sms = { conversation: { id: string; type: string; externalParticipants: Record<string, unknown>[]; associatedContactIds: string[] }; item: { id: string; direction: string; author: Record<string, unknown> } };
    const saved = (await t.control<Sms>('POST', '/sms', { from: '206-555-0001', text: 'Running late' })).body;
    expect(saved.conversation.type).toBe('phone');
    expect(saved.conversation.externalParticipants).toEqual([
      {
        contact: ann.id,
        displayName: 'Ann',
        endpoint: { object: 'endpoint', id: '12065550001', channel: 'phone', displayValue: '(206) 555-0001', rawValue: '+12065550001', isInternal: false },
      },
    ]);
    expect(saved.item).toMatchObject({ direction: 'inbound', author: { displayName: 'Ann' } });
    expect(saved.item.author.id).toBeUndefined();
    const unsaved = (await t.control<Sms>('POST', '/sms', { from: '+13605559999', text: 'Who is this?' })).body;
    expect(unsaved.conversation.externalParticipants[0]).not.toHaveProperty('contact');
    expect(unsaved.conversation.associatedContactIds).toEqual([]);
    const shared = (await t.control<Sms>('POST', '/sms', { from: '(206) 555-0002', text: 'Hi' })).body;
    expect(shared.conversation.externalParticipants[0]).not.toHaveProperty('contact');
    const rawValue = (s: Sms) => (s.conversation.externalParticipants[0]!.endpoint as { rawValue: string }).rawValue;
    const find = async (phone: string) =>
      (await t.api<ContactPage>('POST', '/contacts/search', { body: { structured: { phoneNumberFilter: [{ values: [phone], match: 'any' }] } } })).body.totalCount;
    expect([await find(rawValue(unsaved)), await find(rawValue(shared))]).toEqual([0, 2]);
    // A second text lands in the same conversation.
    const again = (await t.control<Sms>('POST', '/sms', { from: '2065550001', text: 'Here now' })).body;
    expect(again.conversation.id).toBe(saved.conversation.id);
    const items = await t.api<{ conversationItems: { id: string }[]; totalCount: number }>('GET', `/conversations/${saved.conversation.id}/items?order=oldest_first`);
    expect(items.body.conversationItems.map((i) => i.id)).toEqual([saved.item.id, again.item.id]);
    expect((await t.control('POST', '/sms', { from: '12', text: 'x' })).status).toBe(400);
    expect((await t.control<{ message: string }>('POST', '/sms', { text: 'x' })).body.message).toMatch(/from/);
  });

  it('GET conversation is wrapped, items wrapped; a posted message carries our access id and request id', async () => {
    const { t, receiver } = await simWithReceiver();
    const ann = await createContact(t, { givenName: 'Ann', phoneNumbers: [{ value: '2065550001' }] });
    const sms = (await t.control<{ conversation: { id: string } }>('POST', '/sms', { from: '2065550001', text: 'Hello' })).body;
    const got = await t.api<{ conversation: { id: string; associatedContactIds: string[] } }>('GET', `/conversations/${sms.conversation.id}`);
    expect(got.body.conversation).toMatchObject({ id: sms.conversation.id, associatedContactIds: [ann.id] });
    const posted = await t.api<{ requestId: string }>('POST', `/conversations/${sms.conversation.id}/messages`, {
      body: { body: [{ type: 'text', value: 'See you at 3' }] },
    });
    expect(posted.status).toBe(200);
    expect(posted.body.requestId).toMatch(/^asyncRequest_/);
    await t.sim.settle();
    const echo = receiver.received.find((r) => r.json.type === 'conversationItem.created' && r.json.data.object.requestId === posted.body.requestId)!;
    expect(echo.json.data.object).toMatchObject({
      direction: 'outbound',
      text: 'See you at 3',
      author: { deviceInformation: { accessID: t.accessId } },
      conversation: { id: sms.conversation.id },
    });
    const itemId = echo.json.data.object.id as string;
    const item = await t.api<{ conversationItem: Record<string, unknown> }>('GET', `/conversationItems/${itemId}`);
    expect(item.body.conversationItem).toMatchObject({ id: itemId, requestId: posted.body.requestId });
    expect(item.body.conversationItem).not.toHaveProperty('conversation');
    expect((await t.api('POST', '/conversations/t_nope/messages', { body: { body: [{ type: 'text', value: 'x' }] } })).status).toBe(400);
    const list = await t.api<{ conversations: unknown[] }>('GET', '/conversations?orderBy=last_message&pageSize=200');
    expect(list.body.conversations).toHaveLength(1);
  });

  it('merge via the control API: survivor keeps and gains links; contact.merged carries deletedContactIds', async () => {
    const { t, receiver } = await simWithReceiver();
    const a = await createContact(t, { givenName: 'Ann', phoneNumbers: [{ value: '2065550001' }] });
    const b = await createContact(t, { givenName: 'Ann', familyName: 'Lee', emailAddresses: [{ value: 'ann@example.com' }] });
    await t.api('POST', `/contacts/${a.id}/integrationlinks`, { body: { type: 'custom', externalId: 'p-1', url: 'https://spry.example/1' } });
    await t.api('POST', `/contacts/${b.id}/integrationlinks`, { body: { type: 'custom', externalId: 'p-2', url: 'https://spry.example/2' } });
    const merged = await t.control<Contact>('POST', '/contacts/merge', { survivorId: a.id, mergedId: b.id });
    expect(merged.status).toBe(200);
    expect(merged.body.integrationLinks.map((l) => [l.externalId, l.contactId])).toEqual([
      ['p-1', a.id],
      ['p-2', a.id],
    ]);
    expect(merged.body.emailAddresses).toEqual([expect.objectContaining({ value: 'ann@example.com' })]);
    expect((await t.api('GET', `/contacts/${b.id}`)).status).toBe(404);
    await t.sim.settle();
    const event = receiver.received.find((r) => r.json.type === 'contact.merged')!;
    expect(event.json.data.object.id).toBe(a.id);
    expect(event.json.data.deletedContactIds).toEqual([b.id]);
    expect(t.sim.openapi.validateSchema('contact', event.json.data.object)).toEqual([]);
    expect((await t.control('POST', '/contacts/merge', { survivorId: a.id, mergedId: 'entity_nope' })).status).toBe(400);
  });

  it('staff edits, secure messages, notes and calls emit the documented events', async () => {
    const { t, receiver } = await simWithReceiver();
    const ann = await createContact(t, { givenName: 'Ann', phoneNumbers: [{ value: '2065550001' }] });
    const edited = await t.control<Contact>('PATCH', `/contacts/${ann.id}`, { familyName: 'Lee' });
    expect(edited.body.displayName).toBe('Ann Lee');
    expect((await t.control<{ message: string }>('PATCH', `/contacts/${ann.id}`, { gender: 'x' })).status).toBe(400);
    const secure = (await t.control<{ conversation: { id: string; type: string }; item: { author: { id: string } } }>('POST', '/secure-messages', { contactId: ann.id, text: 'Hi' })).body;
    expect([secure.conversation.type, secure.item.author.id]).toEqual(['secure', ann.id]);
    const note = await t.control<{ item: { isInternalNote: boolean; direction: string } }>('POST', '/notes', { conversationId: secure.conversation.id, text: 'Called back' });
    expect(note.body.item).toMatchObject({ isInternalNote: true, direction: 'none' });
    const call = await t.control<{ item: { event: { type: string } } }>('POST', '/calls', { phone: '2065550001', direction: 'inbound', durationSeconds: 30 });
    expect(call.body.item.event.type).toBe('inboundCall');
    await t.control('DELETE', `/contacts/${ann.id}`);
    await t.sim.settle();
    expect(receiver.received.map((r) => r.json.type)).toEqual([
      'contact.created',
      'contact.updated',
      'conversation.created',
      'conversationItem.created',
      'conversationItem.created',
      'conversation.created',
      'conversationItem.created',
      'contact.deleted',
    ]);
    for (const r of receiver.received) expectSpecShaped(t, r.json.type, r.json.data.object);
  });

  it('items edited, deleted and restored, a conversation deleted: each emits its event and the API hides what is deleted', async () => {
    const { t, receiver } = await simWithReceiver();
    type Pair = { conversation: { id: string }; item: { id: string } };
    const first = (await t.control<Pair>('POST', '/sms', { from: '2065550001', text: 'Runing late' })).body;
    const second = (await t.control<Pair>('POST', '/sms', { from: '2065550001', text: 'Here now' })).body;
    const call = (await t.control<Pair>('POST', '/calls', { phone: '2065550001' })).body;
    const itemIds = async () =>
      (await t.api<{ conversationItems: { id: string }[] }>('GET', `/conversations/${first.conversation.id}/items?order=oldest_first`)).body.conversationItems.map((i) => i.id);

    await t.clock.advance(2_000);
    const edited = await t.control<{ text: string; modifiedAt: string; createdAt: string }>('PATCH', `/conversation-items/${first.item.id}`, { text: 'Running late' });
    expect(edited.body).toMatchObject({ text: 'Running late', createdAt: '2025-06-02T09:00:00Z', modifiedAt: '2025-06-02T09:00:02Z' });
    expect((await t.control('DELETE', `/conversation-items/${second.item.id}`)).status).toBe(200);
    expect((await t.api('GET', `/conversationItems/${second.item.id}`)).status).toBe(404);
    expect(await itemIds()).toEqual([first.item.id, call.item.id]);
    expect((await t.control('DELETE', `/conversation-items/${second.item.id}`)).status).toBe(400); // already deleted
    expect((await t.control<{ id: string }>('POST', `/conversation-items/${second.item.id}/restore`)).body.id).toBe(second.item.id);
    expect(await itemIds()).toEqual([first.item.id, second.item.id, call.item.id]);
    expect((await t.control('POST', `/conversation-items/${first.item.id}/restore`)).status).toBe(400); // not deleted

    // Through the API: a call cannot be deleted, a message can (200 {requestId}).
    expect((await t.api<{ type: string }>('DELETE', `/conversationItems/${call.item.id}`)).body.type).toBe('NOT_DELETABLE');
    const removed = await t.api<{ requestId: string }>('DELETE', `/conversationItems/${first.item.id}`);
    expect([removed.status, removed.body.requestId]).toEqual([200, expect.stringMatching(/^asyncRequest_/)]);
    expect((await t.api('DELETE', `/conversationItems/${first.item.id}`)).status).toBe(404);

    expect((await t.control('DELETE', `/conversations/${first.conversation.id}`)).status).toBe(200);
    expect((await t.api('GET', `/conversations/${first.conversation.id}`)).status).toBe(404);
    expect((await t.api('GET', `/conversationItems/${second.item.id}`)).status).toBe(404);
    expect((await t.control('DELETE', `/conversations/${first.conversation.id}`)).status).toBe(400);
    const again = (await t.control<Pair>('POST', '/sms', { from: '2065550001', text: 'Hello?' })).body;
    expect(again.conversation.id).not.toBe(first.conversation.id);

    await t.sim.settle();
    const seen = receiver.received.map((r) => [r.json.type, r.json.data.object.id]);
    expect(seen).toEqual([
      ['conversation.created', first.conversation.id],
      ['conversationItem.created', first.item.id],
      ['conversationItem.created', second.item.id],
      ['conversationItem.created', call.item.id],
      ['conversationItem.updated', first.item.id],
      ['conversationItem.deleted', second.item.id],
      ['conversationItem.restored', second.item.id],
      ['conversationItem.deleted', first.item.id],
      ['conversation.deleted', first.conversation.id],
      ['conversation.created', again.conversation.id],
      ['conversationItem.created', again.item.id],
    ]);
    const body = (type: string) => receiver.received.find((r) => r.json.type === type)!.json.data.object;
    expect(body('conversationItem.updated')).toMatchObject({ text: 'Running late', conversationId: first.conversation.id, conversation: { id: first.conversation.id } });
    expect(body('conversationItem.deleted')).toMatchObject({ text: 'Here now', conversation: { id: first.conversation.id } });
    expect(body('conversation.deleted')).toMatchObject({ id: first.conversation.id, type: 'phone' });
    for (const r of receiver.received) expectSpecShaped(t, r.json.type, r.json.data.object);
  });

  it('scheduled messages: scheduled in the app or through the API, edited, deleted, sent; each emits its event', async () => {
    const { t, receiver } = await simWithReceiver();
    const ann = await createContact(t, { givenName: 'Ann' });
    const secure = (await t.control<{ conversation: { id: string } }>('POST', '/secure-messages', { contactId: ann.id, text: 'Hi' })).body.conversation;
    type Scheduled = { id: string; text?: string; scheduledToSendAt: string; sentConversationItemId?: string; message: { text: string } };
    const later = '2025-06-02T10:00:00Z';
    const byStaff = await t.control<Scheduled>('POST', '/scheduled-messages', { conversationId: secure.id, text: 'Reminder: visit at 3', sendAt: later });
    expect(byStaff.status).toBe(201);
    expect(byStaff.body).toMatchObject({ id: expect.stringMatching(/^scm_/), scheduledToSendAt: later, message: { text: 'Reminder: visit at 3' } });
    expect((await t.control('POST', '/scheduled-messages', { conversationId: secure.id, text: 'x', sendAt: new Date(START - 1000).toISOString() })).status).toBe(400);
    const viaApi = await t.api<{ scheduledMessage: Scheduled }>('POST', `/conversations/${secure.id}/scheduledmessages`, {
      body: { message: { body: [{ type: 'text', value: 'Bring your insurance card' }] }, sendAt: later },
    });
    expect(viaApi.status, viaApi.raw).toBe(201);
    const edited = await t.control<Scheduled>('PATCH', `/scheduled-messages/${byStaff.body.id}`, { text: 'Reminder: visit at 4' });
    expect(edited.body.message.text).toBe('Reminder: visit at 4');
    const listed = await t.api<{ scheduledMessages: Scheduled[] }>('GET', `/conversations/${secure.id}/scheduledmessages`);
    expect(listed.body.scheduledMessages.map((m) => m.id)).toEqual([byStaff.body.id, viaApi.body.scheduledMessage.id]);
    expect((await t.api('DELETE', `/scheduledmessages/${viaApi.body.scheduledMessage.id}`)).status).toBe(200);
    expect((await t.api('DELETE', `/scheduledmessages/${viaApi.body.scheduledMessage.id}`)).status).toBe(404);

    const sent = await t.control<{ item: { id: string; text: string; direction: string }; scheduledMessage: Scheduled }>('POST', `/scheduled-messages/${byStaff.body.id}/send`);
    expect(sent.body.item).toMatchObject({ text: 'Reminder: visit at 4', direction: 'outbound' });
    expect(sent.body.scheduledMessage.sentConversationItemId).toBe(sent.body.item.id);
    expect((await t.api<{ conversationItem: { id: string } }>('GET', `/conversationItems/${sent.body.item.id}`)).status).toBe(200);
    expect((await t.control('POST', `/scheduled-messages/${byStaff.body.id}/send`)).status).toBe(400); // already sent
    expect((await t.api<{ scheduledMessages: unknown[]; totalCount: number }>('GET', '/scheduledmessages')).body).toMatchObject({ scheduledMessages: [], totalCount: 0 });

    await t.sim.settle();
    const scheduledEvents = receiver.received.filter((r) => r.json.type.startsWith('scheduledMessage.') || r.json.data.object.id === sent.body.item.id);
    expect(scheduledEvents.map((r) => [r.json.type, r.json.data.object.id])).toEqual([
      ['scheduledMessage.created', byStaff.body.id],
      ['scheduledMessage.created', viaApi.body.scheduledMessage.id],
      ['scheduledMessage.updated', byStaff.body.id],
      ['scheduledMessage.deleted', viaApi.body.scheduledMessage.id],
      ['conversationItem.created', sent.body.item.id],
      ['scheduledMessage.sent', byStaff.body.id],
    ]);
    expect(scheduledEvents.at(-1)!.json.data.object).toMatchObject({ sentConversationItemId: sent.body.item.id });
    for (const r of receiver.received) expectSpecShaped(t, r.json.type, r.json.data.object);
  });

  it('webhook payloads carry null where Spruce examples do: associatedContactIds when none, buttons', async () => {
    const { t, receiver } = await simWithReceiver();
    await t.control('POST', '/sms', { from: '+13605559999', text: 'Who is this?' });
    await t.sim.settle();
    const [created, item] = receiver.received.map((r) => r.json.data.object);
    expect(created!.associatedContactIds).toBeNull();
    expect(item).toMatchObject({ buttons: null, conversationId: created!.id, conversation: { id: created!.id, associatedContactIds: null } });
    // REST keeps the spec's lists.
    const got = await t.api<{ conversationItem: { buttons: unknown } }>('GET', `/conversationItems/${item!.id as string}`);
    expect(got.body.conversationItem.buttons).toEqual([]);
  });

  it('reset returns to the seeded state and clears logs', async () => {
    const t = await sim({ organizations: [{ id: 'entity_ORG', accessId: 'aid_a', secretKey: 'sk_a', contacts: 20 }] });
    const before = t.sim.contacts();
    await createContact(t, { givenName: 'Extra' });
    await t.api('GET', '/contacts?pageSize=0');
    expect((await t.control('POST', '/reset')).status).toBe(200);
    expect(t.sim.contacts()).toEqual(before);
    expect([t.sim.requestLog.length, t.sim.violations.length, t.sim.events.length]).toEqual([0, 0, 0]);
    const state = await t.control<{ counts: { contacts: number } }>('GET', '/state');
    expect(state.body.counts.contacts).toBe(20);
    expect(new Date(START).toISOString()).toBe((await t.control<{ iso: string }>('GET', '/clock')).body.iso);
  });
});

// Webhooks as documented: signed envelope, 5 s answer, retry every 2 min up to 10 attempts, at
// most 1000 events/min per endpoint (delayed, not dropped), a delivery log with 20 events per
// page for 30 days, pause/resume.
type LogEvent = { id: string; eventTime: string; data: string; delivery: { status: string; attempts: number; attemptLimit: number; deliveryTime?: string; nextAttemptTime?: string } };
type LogPage = { events: LogEvent[]; hasMore: boolean; paginationToken?: string };

async function setup(options: Parameters<typeof startSim>[0] = {}) {
  const t = await startSim({ organizations: [{ id: 'entity_ORG', accessId: 'aid_a', secretKey: 'sk_a', rateLimitPerMinute: 0 }], ...options });
  const receiver = await startReceiver();
  open.push({ t, receiver, noViolations: true });
  const endpoint = await addEndpoint(t, receiver.url);
  return { t, receiver, endpoint };
}

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
    // No event id, eventTime to the second, as Spruce's examples show.
    expect(delivery!.json).toEqual({
      object: 'event',
      type: 'contact.created',
      eventTime: '2025-06-02T09:00:00Z',
      data: { object: expect.objectContaining({ id: contact.body.id, displayName: 'Ann Lee', integrationLinks: [] }) },
    });
    const entries = (await log(t, endpoint.id)).events;
    expect(entries).toEqual([
      {
        object: 'event',
        id: expect.stringMatching(/^wev_/),
        eventTime: '2025-06-02T09:00:00Z',
        data: delivery!.raw,
        delivery: { status: 'delivered', attempts: 1, attemptLimit: 10, deliveryTime: '2025-06-02T09:00:00Z' },
      },
    ]);
  });

  it('two edits of one contact in one second give two events with the same type, object id and eventTime', async () => {
    const { t, receiver, endpoint } = await setup();
    const contact = await createContact(t, { givenName: 'Ann', phoneNumbers: [{ value: '2065550100' }] });
    expect((contact as Contact & { created: string }).created).toBe('2025-06-02T09:00:00Z'); // every timestamp to the second
    await t.clock.advance(400);
    await t.api('PATCH', `/contacts/${contact.id}`, { body: { phoneNumbers: [{ value: '2065550101' }] } });
    await t.clock.advance(400);
    await t.api('PATCH', `/contacts/${contact.id}`, { body: { phoneNumbers: [{ value: '2065550102' }] } });
    await t.sim.settle();
    const updates = receiver.received.filter((r) => r.json.type === 'contact.updated');
    expect(updates.map((r) => [r.json.id, r.json.eventTime, r.json.data.object.id])).toEqual([
      [undefined, '2025-06-02T09:00:00Z', contact.id],
      [undefined, '2025-06-02T09:00:00Z', contact.id],
    ]);
    expect(updates[0]!.raw).not.toBe(updates[1]!.raw);
    const entries = (await log(t, endpoint.id)).events;
    expect(new Set(entries.map((e) => e.id)).size).toBe(3);
    expect(entries.map((e) => e.data)).toEqual(receiver.received.map((r) => r.raw));
  });

  it('kinder payloads only on request: eventIds adds the log id, distinctEventTimes orders within a millisecond', async () => {
    const { t, receiver, endpoint } = await setup({ events: { eventIds: true, distinctEventTimes: true } });
    await createContact(t, { givenName: 'Ann' });
    await createContact(t, { givenName: 'Bob' });
    await t.sim.settle();
    const [a, b] = receiver.received.map((r) => r.json);
    expect(a!.eventTime).toMatch(/^2025-06-02T09:00:00\.\d{9}Z$/);
    expect(a!.eventTime < b!.eventTime).toBe(true);
    expect((await log(t, endpoint.id)).events.map((e) => [e.id, e.eventTime])).toEqual([
      [a!.id, a!.eventTime],
      [b!.id, b!.eventTime],
    ]);
    expect(a!.id).toMatch(/^wev_/);
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
    expect(entry.delivery).toEqual({ status: 'pending', attempts: 1, attemptLimit: 10, nextAttemptTime: '2025-06-02T09:02:00Z' });
    await t.clock.advance(119_000);
    await t.sim.settle();
    expect(receiver.received).toHaveLength(1);
    await t.clock.advance(1_000);
    await t.sim.settle();
    expect(receiver.received).toHaveLength(2);
    await t.sim.advance(60 * 60_000); // steps through every due retry on the way
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
      { status: 'pending', attempts: 0, attemptLimit: 10, nextAttemptTime: '2025-06-02T09:01:00Z' },
    ]);
    await t.clock.advance(59_999);
    await t.sim.settle();
    expect(receiver.received).toHaveLength(1000);
    await t.clock.advance(1);
    await t.sim.settle();
    expect(receiver.received).toHaveLength(1001);
    expect(receiver.received.at(-1)!.raw).toBe(t.sim.events[1000]!.body);
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
