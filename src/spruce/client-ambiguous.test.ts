// The Spruce client against the Spruce simulator when a write commits and its answer is lost:
// the retry is refused with 422 (the key is used up), and the client reads the resource back
// instead of failing or writing twice.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ControlledClock } from '../clock.ts';
import type { AmbiguousMode } from '../sandbox/faults.ts';
import { createSpruceSimulator, type SpruceSimulator } from '../sandbox/spruce/index.ts';
import { SpruceClient, type SpruceClientOptions } from './client.ts';

let sim: SpruceSimulator;
let baseUrl: string;
const clients: SpruceClient[] = [];

beforeAll(async () => {
  // Flowing: the client's backoff and the simulator's hang both run on it.
  sim = await createSpruceSimulator({ clock: new ControlledClock(), organizations: [{ id: 'entity_AMBIG', accessId: 'aid_a', secretKey: 'sk_a', rateLimitPerMinute: 10_000 }] });
  baseUrl = await sim.listen();
});
afterAll(async () => {
  await sim.close();
});
afterEach(async () => {
  sim.faults.clear();
  await Promise.all(clients.splice(0).map((c) => c.close()));
});

function client(overrides: Partial<SpruceClientOptions> = {}): SpruceClient {
  const c = new SpruceClient({ baseUrl, accessId: 'aid_a', secretKey: 'sk_a', clock: sim.clock, retry: { baseDelayMs: 10, maxDelayMs: 20 }, ...overrides });
  clients.push(c);
  return c;
}

const route = (method: string, template: string) => sim.requestLog.filter((r) => r.route === `${method} ${template}`);
const lostAnswers = (method: string, template: string) => route(method, template).filter((r) => r.status === 0 || r.status >= 500).length;

const modes: { mode: AmbiguousMode; hangMs?: number; timeoutMs?: number }[] = [
  { mode: 'reset' },
  { mode: 'error' },
  // The simulator holds the answer far longer than the client waits: the client times out.
  { mode: 'hang', hangMs: 600_000, timeoutMs: 300 },
];

describe.each(modes)('SpruceClient after a lost answer ($mode)', ({ mode, hangMs, timeoutMs }) => {
  const lose = (match: string) => sim.faults.setRouteFaults([{ match, ambiguousRate: 1, ambiguousMode: mode, hangMs }]);

  it('a PATCH: the retry gets 422 and the contact is read back, changed once', async () => {
    const c = client({ timeoutMs });
    const contact = sim.staff.createContact({ givenName: 'Before', familyName: 'Patch' });
    lose('PATCH /v1/contacts/*');
    const updated = await c.updateContact(contact.id, { givenName: 'After' });
    expect(updated).toMatchObject({ id: contact.id, givenName: 'After' });
    const patches = route('PATCH', '/v1/contacts/{contactId}').slice(-2);
    expect(patches.map((r) => r.status)).toEqual([mode === 'error' ? 502 : 0, 422]);
    // A later PATCH of other values is not refused for the first one's key.
    sim.faults.clear();
    expect((await c.updateContact(contact.id, { givenName: 'Later' })).givenName).toBe('Later');
    expect((await c.updateContact(contact.id, { givenName: 'After' })).givenName).toBe('After');
  });

  it('an integration link: the retry gets 422 and the links are read back; one link', async () => {
    const c = client({ timeoutMs });
    const contact = sim.staff.createContact({ givenName: 'Link', familyName: 'Me' });
    lose('POST /v1/contacts/*/integrationlinks');
    const links = await c.createIntegrationLink(contact.id, { type: 'custom', externalId: `spry:1:${mode}`, url: 'https://spry.test/1' }, { idempotencyKey: `k-link-${mode}` });
    expect(links.filter((l) => l.externalId === `spry:1:${mode}`)).toHaveLength(1);
    expect(lostAnswers('POST', '/v1/contacts/{contactId}/integrationlinks')).toBeGreaterThan(0);
    expect(sim.contacts().find((x) => x.id === contact.id)!.integrationLinks).toHaveLength(1);
  });

  it('a tag and a field: read back from the listing after the 422', async () => {
    const c = client({ timeoutMs });
    lose('POST /v1/contacts/tags');
    const tag = await c.createTag(`tag-${mode}`);
    expect(tag).toMatchObject({ value: `tag-${mode}`, id: expect.any(String) });
    lose('POST /v1/contacts/fields');
    const field = await c.createContactField(`Field ${mode}`);
    expect(field).toMatchObject({ name: `Field ${mode}`, id: expect.any(String) });
    expect((await c.listTags()).filter((t) => t.value === `tag-${mode}`)).toHaveLength(1);
    expect(route('POST', '/v1/contacts/tags').slice(-1)[0]!.status).toBe(422);
  });

  it('a create: the 422 is handed to the caller, which alone can search for what landed', async () => {
    const c = client({ timeoutMs });
    const before = sim.contacts().length;
    lose('POST /v1/contacts');
    await expect(c.createContact({ givenName: 'Once', category: 'patient' }, { idempotencyKey: `k-create-${mode}` })).rejects.toMatchObject({
      code: 'SPRUCE_IDEMPOTENCY_REPLAY',
    });
    expect(sim.contacts().length).toBe(before + 1);
  });
});

describe('SpruceClient: a link key reused after its link was removed', () => {
  it('creates the link again with a key of its own', async () => {
    const c = client();
    const contact = sim.staff.createContact({ givenName: 'Re', familyName: 'Link' });
    const link = { type: 'custom' as const, externalId: 'spry:1:again', url: 'https://spry.test/again' };
    await c.createIntegrationLink(contact.id, link, { idempotencyKey: 'k-again' });
    await c.deleteIntegrationLink(contact.id, 'custom', link.externalId);
    const links = await c.createIntegrationLink(contact.id, link, { idempotencyKey: 'k-again' });
    expect(links.map((l) => l.externalId)).toEqual([link.externalId]);
    expect(route('POST', '/v1/contacts/{contactId}/integrationlinks').slice(-2).map((r) => r.status)).toEqual([422, 201]);
  });
});
