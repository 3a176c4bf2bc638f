// Spruce → Spry: edits staff make in Spruce, conversation activity on the chart, and no echo
// of our own writes in either direction.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ControlledClock } from '../../src/clock.ts';
import { autoAdvance } from '../../src/http/test-support.ts';
import { spruceEventKey } from '../../src/ingest/spruce-envelope.ts';
import { signSpruceBody } from '../../src/sandbox/spruce/index.ts';
import { catchUp } from '../../src/sync/catch-up.ts';
import { advanceUntil, contactsOfPatient, countRequests, eventually, quiesce, SANDBOX_SPRY_ORG, startWorld, type World } from './support.ts';

let world: World;

beforeEach(async () => {
  world = await startWorld({ patients: 6 });
});

afterEach(async () => {
  await world?.close();
});

const spry = () => world.sandbox.spry;
const spruce = () => world.sandbox.spruce;
const spryPatches = () => countRequests(spry().requestLog, /^PATCH \/apis\/v1\/patient\/:id$/);
const spruceWrites = () => countRequests(spruce().requestLog, /^(POST|PATCH|DELETE) \/v1\/contacts/);

/** Syncs a patient into Spruce and waits until everything is quiet; returns its contact id. */
async function linkedContact(patientId: number): Promise<string> {
  spry().staff.editPatient(SANDBOX_SPRY_ORG, patientId, { alias: 'synced' });
  const [contact] = await eventually(() => {
    const found = contactsOfPatient(world, patientId);
    return found.length === 1 ? found : undefined;
  });
  await quiesce(world);
  return contact!.id;
}

/** A signed Spruce delivery posted to the tenant's webhook route, as Spruce would send it. */
function postToSpruceRoute(body: string): Promise<Response> {
  const url = `${world.service.url}/webhooks/spruce/${world.config.tenants[0]!.id}`;
  const headers = { 'content-type': 'application/json', 'x-spruce-signature': signSpruceBody(world.secrets.spruceWebhook, body) };
  return fetch(url, { method: 'POST', headers, body });
}

function patientIds(): number[] {
  return spry().patientIds(SANDBOX_SPRY_ORG);
}

describe('Spruce → Spry', () => {
  it('writes a Spruce phone edit back to Spry exactly once, then goes quiet', async () => {
    const patientId = patientIds()[0]!;
    const contactId = await linkedContact(patientId);
    const patchesBefore = spryPatches();
    const spruceWritesBefore = spruceWrites();

    spruce().staff.editContact(contactId, { phoneNumbers: [{ label: 'Mobile', value: '(206) 555-0177' }] });
    await eventually(() => spry().patient(SANDBOX_SPRY_ORG, patientId)?.mobile === '+12065550177');
    await quiesce(world);

    expect(spryPatches() - patchesBefore).toBe(1);
    // Spry's patient.updated comes back to us; it matches what Spruce already holds: no write.
    expect(spruceWrites() - spruceWritesBefore).toBe(0);
    expect(spruce().violations).toEqual([]);
  });

  it('syncs a Spry edit to Spruce once and does not echo it back to Spry', async () => {
    const patientId = patientIds()[1]!;
    const contactId = await linkedContact(patientId);
    const patchesBefore = spryPatches();
    const spruceWritesBefore = spruceWrites();

    spry().staff.editPatient(SANDBOX_SPRY_ORG, patientId, { last_name: 'Echoless', mobile: '+12065550188' });
    await eventually(() => spruce().contacts().find((c) => c.id === contactId)?.familyName === 'Echoless');
    await quiesce(world);

    expect(spruceWrites() - spruceWritesBefore).toBe(1);
    expect(spryPatches() - patchesBefore).toBe(0);
    const echoes = await world.service.store.searchAudit({ recordId: contactId, limit: 100 });
    expect(echoes.some((a) => a.action === 'echo')).toBe(true);
  });

  it('never writes back a picture of the contact older than our later write (late Spruce events)', async () => {
    const patientId = patientIds()[3]!;
    const contactId = await linkedContact(patientId);
    // Spruce delays events beyond 1000 a minute: here its announcements of our next two writes
    // are held back (dropped, still in its delivery log) and arrive later, through catch-up.
    spruce().faults.setDeliveryFaults({ dropRate: 1 });
    spry().staff.editPatient(SANDBOX_SPRY_ORG, patientId, { mobile: '+12065550101' });
    await eventually(() => spruce().contacts().find((c) => c.id === contactId)?.phoneNumbers?.[0]?.value === '+12065550101');
    await quiesce(world);
    spry().staff.editPatient(SANDBOX_SPRY_ORG, patientId, { mobile: '+12065550102' });
    await eventually(() => spruce().contacts().find((c) => c.id === contactId)?.phoneNumbers?.[0]?.value === '+12065550102');
    await quiesce(world);
    spruce().faults.setDeliveryFaults({});
    const late = spruce().events.slice(-2).map((e) => spruceEventKey(JSON.parse(e.body) as Record<string, unknown>));
    const patchesBefore = spryPatches();
    const spruceWritesBefore = spruceWrites();

    // The event showing +1 206 555 0101 now arrives after we wrote +1 206 555 0102.
    const ctx = world.service.contexts.get(world.config.tenants[0]!.id)!;
    await catchUp(ctx);
    world.service.pool.notify();
    await quiesce(world);
    const inbox = await world.service.store.searchEvents({ tenantId: ctx.config.id, source: 'spruce', limit: 20 });
    expect(inbox.filter((e) => late.includes(e.eventKey)).map((e) => e.status)).toEqual(['processed', 'processed']);

    expect(spry().patient(SANDBOX_SPRY_ORG, patientId)?.mobile).toBe('+12065550102');
    expect(spryPatches() - patchesBefore).toBe(0);
    expect(spruceWrites() - spruceWritesBefore).toBe(0);
    const audit = await world.service.store.searchAudit({ recordId: contactId, limit: 100 });
    expect(audit.filter((a) => a.action === 'echo').map((a) => a.detail)).toContainEqual({ of: 'earlier_write' });
    expect(spruce().violations).toEqual([]);
  });

  it('writes back a Spruce edit that puts a number back to what our last finished write held (found by the property test)', async () => {
    const patientId = patientIds()[5]!;
    const contactId = await linkedContact(patientId);
    const original = spry().patient(SANDBOX_SPRY_ORG, patientId)!.mobile!;
    // A field Spry owns edited in Spruce: the sync writes the contact back (and records its intent).
    const lastName = spry().patient(SANDBOX_SPRY_ORG, patientId)!.last_name;
    spruce().staff.editContact(contactId, { familyName: 'NotSprys' });
    await eventually(() => spruce().contacts().find((c) => c.id === contactId)?.familyName === lastName);
    await quiesce(world);
    spruce().staff.editContact(contactId, { phoneNumbers: [{ label: 'Mobile', value: '+12065550161' }] });
    await eventually(() => spry().patient(SANDBOX_SPRY_ORG, patientId)?.mobile === '+12065550161');
    await quiesce(world);
    // Back to the number of that finished write: an edit, not the echo of a write in flight.
    spruce().staff.editContact(contactId, { phoneNumbers: [{ label: 'Mobile', value: original }] });
    await eventually(() => spry().patient(SANDBOX_SPRY_ORG, patientId)?.mobile === original);
    await quiesce(world);
    expect(spry().patient(SANDBOX_SPRY_ORG, patientId)?.mobile).toBe(original);
  });

  it('keeps a Spruce edit made just before a merge, when the merge is handled first (found by the property test)', async () => {
    const patientId = patientIds()[5]!;
    const contactId = await linkedContact(patientId);
    const original = spry().patient(SANDBOX_SPRY_ORG, patientId)!.mobile;
    spruce().faults.setDeliveryFaults({ dropRate: 1 });
    const emittedBefore = spruce().events.length;
    spruce().staff.editContact(contactId, { phoneNumbers: [{ label: 'Mobile', value: '+12065550171' }] });
    const current = spruce().contacts().find((c) => c.id === contactId)!;
    const duplicate = spruce().staff.createContact({ givenName: current.givenName, familyName: current.familyName, phoneNumbers: [{ label: 'Mobile', value: '+12065550171' }] });
    spruce().staff.mergeContacts(contactId, duplicate.id);
    spruce().faults.setDeliveryFaults({});
    const emitted = spruce().events.slice(emittedBefore);
    const bodyOf = (type: string) => emitted.find((e) => e.type === type && (JSON.parse(e.body) as { data: { object: { id: string } } }).data.object.id === contactId)!.body;
    // The merge arrives and is handled before the edit that came just before it.
    expect((await postToSpruceRoute(bodyOf('contact.merged'))).status).toBe(200);
    await quiesce(world);
    expect((await postToSpruceRoute(bodyOf('contact.updated'))).status).toBe(200);
    await quiesce(world);
    expect(original).not.toBe('+12065550171');
    expect(spry().patient(SANDBOX_SPRY_ORG, patientId)?.mobile).toBe('+12065550171');
    expect(spruce().contacts().find((c) => c.id === contactId)?.phoneNumbers[0]?.value).toBe('+12065550171');
  });

  it('annotates the chart when a message is edited, deleted, restored and deleted again, once per change however often Spruce delivers', async () => {
    const patientId = patientIds()[4]!;
    const contactId = await linkedContact(patientId);
    spruce().faults.setDeliveryFaults({ duplicateRate: 1, reorderWindowMs: 300 });
    const chart = () => spry().communications(SANDBOX_SPRY_ORG, patientId);
    const { item } = spruce().staff.receiveSecureMessage({ contactId, text: 'Running late' });
    await eventually(() => chart().length === 1);
    const steps: [() => void, string][] = [
      [() => spruce().staff.editConversationItem(item.id, { text: 'Running 10 min late' }), '(edited in Spruce) Running 10 min late'],
      [() => spruce().staff.deleteConversationItem(item.id), 'Message deleted in Spruce.'],
      [() => spruce().staff.restoreConversationItem(item.id), '(restored in Spruce) Running 10 min late'],
      [() => spruce().staff.deleteConversationItem(item.id), 'Message deleted in Spruce.'],
    ];
    for (const [i, [act, summary]] of steps.entries()) {
      act();
      await eventually(() => chart().length === i + 2 && chart().at(-1)!.summary === summary, 15_000, summary);
      await quiesce(world);
    }
    expect(chart().map((c) => c.external_id)).toEqual([item.id, ...steps.map(() => expect.stringMatching(new RegExp(`^${item.id}:(updated|deleted|restored):[0-9a-f]{16}$`)))]);
    expect(new Set(chart().map((c) => c.external_id)).size).toBe(5);

    // Several changes in one second, delivered twice and out of order: the last word still agrees.
    spruce().staff.restoreConversationItem(item.id);
    spruce().staff.editConversationItem(item.id, { text: 'On my way' });
    spruce().staff.deleteConversationItem(item.id);
    spruce().staff.restoreConversationItem(item.id);
    await eventually(() => chart().at(-1)!.summary.endsWith('On my way'), 15_000);
    await quiesce(world);
    expect(chart().at(-1)!.summary).toMatch(/^\((restored|edited) in Spruce\) On my way$/);
    expect(chart().filter((c) => c.external_id === item.id)).toHaveLength(1);
  });

  it('keeps an edit of the surviving duplicate handled before the merge that made it ours (found by the property test)', async () => {
    const patientId = patientIds()[3]!;
    const contactId = await linkedContact(patientId);
    spruce().faults.setDeliveryFaults({ dropRate: 1 });
    const emittedBefore = spruce().events.length;
    const current = spruce().contacts().find((c) => c.id === contactId)!;
    const duplicate = spruce().staff.createContact({ givenName: current.givenName, familyName: current.familyName, phoneNumbers: current.phoneNumbers.map((p) => ({ label: p.label ?? 'Mobile', value: p.value })) });
    spruce().staff.mergeContacts(duplicate.id, contactId);
    await world.sandbox.clock.advance(1_000);
    spruce().staff.editContact(duplicate.id, { phoneNumbers: [{ label: 'Mobile', value: '+12065550181' }] });
    spruce().faults.setDeliveryFaults({});
    const emitted = spruce().events.slice(emittedBefore);
    const bodyOf = (type: string) => emitted.find((e) => e.type === type && (JSON.parse(e.body) as { data: { object: { id: string } } }).data.object.id === duplicate.id)!.body;
    // The edit (newer) is handled while the duplicate is nobody's; the merge (older) comes after.
    expect((await postToSpruceRoute(bodyOf('contact.updated'))).status).toBe(200);
    await quiesce(world);
    expect((await postToSpruceRoute(bodyOf('contact.merged'))).status).toBe(200);
    await quiesce(world);
    expect((await world.service.store.getLinkByPatient(world.config.tenants[0]!.id, patientId))?.contactId).toBe(duplicate.id);
    expect(spry().patient(SANDBOX_SPRY_ORG, patientId)?.mobile).toBe('+12065550181');
    expect(contactsOfPatient(world, patientId).map((c) => c.id)).toEqual([duplicate.id]);
  });

  it('puts right a Spruce edit of a field Spry owns, without writing it to Spry', async () => {
    const patientId = patientIds()[2]!;
    const contactId = await linkedContact(patientId);
    const original = spry().patient(SANDBOX_SPRY_ORG, patientId)!.last_name;
    const patchesBefore = spryPatches();

    spruce().staff.editContact(contactId, { familyName: 'EditedInSpruce' });
    await eventually(() => spruce().contacts().find((c) => c.id === contactId)?.familyName === original);
    await quiesce(world);
    expect(spry().patient(SANDBOX_SPRY_ORG, patientId)!.last_name).toBe(original);
    expect(spryPatches() - patchesBefore).toBe(0);
  });

  it('leaves one linked contact per patient after staff merge two contacts', async () => {
    const [a, b] = patientIds();
    const contactA = await linkedContact(a!);
    const contactB = await linkedContact(b!);
    // Staff merge B into A: two patients, one contact. A keeps it; B gets its own again.
    spruce().staff.mergeContacts(contactA, contactB);
    await eventually(() => contactsOfPatient(world, b!).length === 1 && contactsOfPatient(world, b!)[0]!.id !== contactB);
    await quiesce(world);
    expect(contactsOfPatient(world, a!).map((c) => c.id)).toEqual([contactA]);
    expect(contactsOfPatient(world, b!)).toHaveLength(1);
    expect((await world.service.store.getLinkByPatient(world.config.tenants[0]!.id, a!))?.contactId).toBe(contactA);
    expect((await world.service.store.getLinkByPatient(world.config.tenants[0]!.id, b!))?.contactId).toBe(contactsOfPatient(world, b!)[0]!.id);

    // A hand-made duplicate of A merged into A: the survivor simply keeps the one link.
    const duplicate = spruce().staff.createContact({ givenName: 'Dup', familyName: 'Licate' });
    spruce().staff.mergeContacts(contactA, duplicate.id);
    await quiesce(world);
    expect(contactsOfPatient(world, a!).map((c) => c.id)).toEqual([contactA]);
    expect(spruce().violations).toEqual([]);
  });

  it('recreates the contact of an active patient when staff delete it', async () => {
    const patientId = patientIds()[3]!;
    const contactId = await linkedContact(patientId);
    spruce().staff.deleteContact(contactId);
    await eventually(() => contactsOfPatient(world, patientId).length === 1 && contactsOfPatient(world, patientId)[0]!.id !== contactId);
    await quiesce(world);
    expect(contactsOfPatient(world, patientId)).toHaveLength(1);
  });

  it('records messages on the chart: from a saved contact, not from an unknown or a shared number', async () => {
    const [first, second, third] = patientIds();
    const contactId = await linkedContact(first!);
    await linkedContact(second!);
    await linkedContact(third!);
    const mobileOf = (id: number) => spry().patient(SANDBOX_SPRY_ORG, id)!.mobile;

    // A saved contact texts in: recorded once on the chart.
    spry().staff.editPatient(SANDBOX_SPRY_ORG, first!, { mobile: '+12065550111' });
    await eventually(() => spruce().contacts().find((c) => c.id === contactId)?.phoneNumbers[0]?.value === '+12065550111');
    await quiesce(world);
    spruce().staff.receiveSms({ from: '+12065550111', text: 'See you Tuesday' });
    await eventually(() => spry().communications(SANDBOX_SPRY_ORG, first!).length === 1);
    const [entry] = spry().communications(SANDBOX_SPRY_ORG, first!);
    expect(entry).toMatchObject({ channel: 'SPRUCE', direction: 'INBOUND', kind: 'MESSAGE', summary: 'See you Tuesday' });

    // An unsaved number: nothing on any chart.
    spruce().staff.receiveSms({ from: '+12065550999', text: 'Who is this?' });
    // Two linked contacts sharing one number: ambiguous, nothing recorded.
    spry().staff.editPatient(SANDBOX_SPRY_ORG, second!, { mobile: '+12065550222' });
    spry().staff.editPatient(SANDBOX_SPRY_ORG, third!, { mobile: '+12065550222' });
    await eventually(() => spruce().contacts().filter((c) => c.phoneNumbers.some((p) => p.value === '+12065550222')).length === 2);
    await quiesce(world);
    spruce().staff.receiveSms({ from: '+12065550222', text: 'Shared phone' });
    await quiesce(world);
    expect(spry().communications(SANDBOX_SPRY_ORG, second!)).toHaveLength(0);
    expect(spry().communications(SANDBOX_SPRY_ORG, third!)).toHaveLength(0);
    const unmatched = (await world.service.store.searchAudit({ limit: 1000 })).filter((a) => a.action === 'unmatched');
    expect(unmatched.length).toBe(2);
    expect(mobileOf(first!)).toBe('+12065550111');

    // A secure message and an internal note: the message is recorded, the note is not (default).
    spruce().staff.receiveSecureMessage({ contactId, text: 'Thanks!' });
    spruce().staff.postInternalNote({ contactIds: [contactId], text: 'Staff only' });
    await eventually(() => spry().communications(SANDBOX_SPRY_ORG, first!).length === 2);
    await quiesce(world);
    expect(spry().communications(SANDBOX_SPRY_ORG, first!).map((c) => c.summary)).toEqual(['See you Tuesday', 'Thanks!']);
  });

  it('changes nothing extra when Spruce duplicates and reorders deliveries', async () => {
    const patientId = patientIds()[4]!;
    const contactId = await linkedContact(patientId);
    spruce().faults.setDeliveryFaults({ duplicateRate: 1, reorderWindowMs: 300 });
    const patchesBefore = spryPatches();
    spruce().staff.editContact(contactId, { emailAddresses: [{ label: 'Email', value: 'first@example.test' }] });
    spruce().staff.editContact(contactId, { emailAddresses: [{ label: 'Email', value: 'second@example.test' }] });
    spruce().staff.receiveSecureMessage({ contactId, text: 'Hello twice?' });
    await eventually(() => spry().patient(SANDBOX_SPRY_ORG, patientId)?.email_address === 'second@example.test' && spry().communications(SANDBOX_SPRY_ORG, patientId).length === 1, 15_000);
    await quiesce(world);
    expect(spry().patient(SANDBOX_SPRY_ORG, patientId)!.email_address).toBe('second@example.test');
    expect(spry().communications(SANDBOX_SPRY_ORG, patientId)).toHaveLength(1);
    // At most one write per distinct edit; a stale (reordered) edit never overwrites a newer one.
    expect(spryPatches() - patchesBefore).toBeLessThanOrEqual(2);
    const stored = await world.service.store.searchEvents({ source: 'spruce', limit: 1000 });
    expect(new Set(stored.map((e) => e.eventKey)).size).toBe(stored.length);
    expect(spruce().violations).toEqual([]);
  });
});

describe('matching hand-made contacts (opt-in)', () => {
  it('links a contact to the one patient with its birth date and phone, and never guesses between two', async () => {
    await world.close();
    world = await startWorld({ patients: 6, service: { tenant: { inbound: { matchUnlinkedContacts: true } } } });
    // A seeded patient never synced (no event about it yet), with a mobile phone.
    const first = patientIds().find((id) => spry().patient(SANDBOX_SPRY_ORG, id)!.mobile)!;
    const [second, third] = patientIds().filter((id) => id !== first);
    const patient = spry().patient(SANDBOX_SPRY_ORG, first)!;
    expect(contactsOfPatient(world, first)).toHaveLength(0);

    const handMade = spruce().staff.createContact({ givenName: 'By', familyName: 'Hand', dateOfBirth: patient.date_of_birth, phoneNumbers: [{ value: patient.mobile! }] });
    await eventually(() => contactsOfPatient(world, first).some((c) => c.id === handMade.id));
    await quiesce(world);
    expect(contactsOfPatient(world, first).map((c) => c.id)).toEqual([handMade.id]);
    // The sync then made it the patient's contact in every respect.
    expect(spruce().contacts().find((c) => c.id === handMade.id)?.familyName).toBe(patient.last_name);

    // Two patients share a birth date and phone: the contact is left alone, and listed.
    const dob = '1970-01-01';
    spry().staff.editPatient(SANDBOX_SPRY_ORG, second!, { date_of_birth: dob, mobile: '+12065550302' });
    spry().staff.editPatient(SANDBOX_SPRY_ORG, third!, { date_of_birth: dob, mobile: '+12065550302' });
    await quiesce(world);
    const twin = spruce().staff.createContact({ givenName: 'Twin', familyName: 'Maybe', dateOfBirth: dob, phoneNumbers: [{ value: '+12065550302' }] });
    await quiesce(world);
    const audit = await world.service.store.searchAudit({ recordId: twin.id, limit: 10 });
    expect(audit).toContainEqual(expect.objectContaining({ action: 'unmatched_contact', detail: expect.objectContaining({ outcome: 'ambiguous', candidates: 2 }) }));
    expect(spruce().contacts().find((c) => c.id === twin.id)?.integrationLinks ?? []).toEqual([]);
    expect(spruce().violations).toEqual([]);
  });
});

describe('two edits of one contact within one second (Spruce sends no event id, eventTime to the second)', () => {
  /**
   * A world on a clock that moves only when told: ticking fast while things are set up, then
   * held and stepped 5 ms at a time, so "the same second" is certain on a loaded machine.
   */
  let stopTicking: (() => Promise<void>) | undefined;
  beforeEach(async () => {
    await world.close();
    const clock = new ControlledClock({ flowing: false });
    stopTicking = autoAdvance(clock, 5);
    world = await startWorld({ patients: 3, clock });
  });
  afterEach(async () => {
    // Closing the service waits on timers: let time move again.
    await stopTicking?.();
    stopTicking = autoAdvance(world.sandbox.clock, 5);
    await world.close();
    await stopTicking();
    stopTicking = undefined;
  });
  const inSteps = { stepMs: 5, maxSimulatedMs: 900 };
  const second = () => Math.floor(world.sandbox.clock.now() / 1000);

  /** A contact synced from Spry; then the clock held at the very start of a second. */
  async function linkedAtSecondStart(patientId: number): Promise<string> {
    spry().staff.editPatient(SANDBOX_SPRY_ORG, patientId, { alias: 'synced' });
    const [contact] = await eventually(() => (contactsOfPatient(world, patientId).length === 1 ? contactsOfPatient(world, patientId) : undefined));
    await quiesce(world);
    await stopTicking!();
    stopTicking = undefined;
    await world.sandbox.clock.advanceTo((second() + 1) * 1000 + 1);
    return contact!.id;
  }

  /** Brings the clock back to life, waits for quiet, then holds it again. */
  async function settleAll(): Promise<void> {
    stopTicking = autoAdvance(world.sandbox.clock, 5);
    await quiesce(world);
  }

  it('both reach Spry and the later value wins, on the strict sandbox', async () => {
    const patientId = patientIds()[0]!;
    const contactId = await linkedAtSecondStart(patientId);
    const startSecond = second();
    const emittedBefore = spruce().events.length;

    spruce().staff.editContact(contactId, { phoneNumbers: [{ label: 'Mobile', value: '+12065550141' }] });
    // The first edit is written back before the second happens: the second's event is all that
    // can bring its value, so an inbox that took it for a repeat of the first would lose it.
    await advanceUntil(world, () => spry().patient(SANDBOX_SPRY_ORG, patientId)?.mobile === '+12065550141', inSteps);
    spruce().staff.editContact(contactId, { phoneNumbers: [{ label: 'Mobile', value: '+12065550142' }] });
    await advanceUntil(world, () => spry().patient(SANDBOX_SPRY_ORG, patientId)?.mobile === '+12065550142', inSteps);
    expect(second()).toBe(startSecond);

    // What the old key (type, contact id, eventTime) merged: the two events agree on all three.
    const edits = spruce()
      .events.slice(emittedBefore)
      .map((e) => JSON.parse(e.body) as { id?: string; type: string; eventTime: string; data: { object: { id: string } } })
      .filter((e) => e.type === 'contact.updated' && e.data.object.id === contactId);
    expect(edits).toHaveLength(2);
    expect(edits.map((e) => e.id)).toEqual([undefined, undefined]);
    expect(edits[0]!.eventTime).toMatch(/T\d\d:\d\d:\d\dZ$/);
    expect(edits[1]!.eventTime).toBe(edits[0]!.eventTime);
    await settleAll();
    const inbox = await world.service.store.searchEvents({ source: 'spruce', contactId, type: 'contact.updated', limit: 50 });
    const keys = new Set(edits.map((e) => spruceEventKey(e as unknown as Record<string, unknown>)));
    expect(keys.size).toBe(2);
    expect(inbox.filter((e) => keys.has(e.eventKey)).map((e) => e.status)).toEqual(['processed', 'processed']);
    expect(spry().patient(SANDBOX_SPRY_ORG, patientId)?.mobile).toBe('+12065550142');
  });

  it('both reach Spry from an independent sender posting Spruce’s documented envelope; a re-serialised redelivery is a repeat', async () => {
    const patientId = patientIds()[1]!;
    const contactId = await linkedAtSecondStart(patientId);
    // The sandbox's own deliveries are off: only what this test posts arrives.
    spruce().faults.setDeliveryFaults({ dropRate: 1 });
    const eventTime = `${new Date(world.sandbox.clock.now()).toISOString().slice(0, 19)}Z`;
    const send = async (body: string) => expect((await postToSpruceRoute(body)).status).toBe(200);
    /** Spruce's example envelope (webhooks overview: no id), with the contact as the API shows it now. */
    const current = () => spruce().contacts().find((c) => c.id === contactId)!;
    const envelope = () => JSON.stringify({ eventTime, object: 'event', type: 'contact.updated', data: { object: current() } });

    spruce().staff.editContact(contactId, { phoneNumbers: [{ label: 'Mobile', value: '+12065550151' }] });
    await send(envelope());
    await advanceUntil(world, () => spry().patient(SANDBOX_SPRY_ORG, patientId)?.mobile === '+12065550151', inSteps);
    spruce().staff.editContact(contactId, { phoneNumbers: [{ label: 'Mobile', value: '+12065550152' }] });
    await send(envelope());
    await advanceUntil(world, () => spry().patient(SANDBOX_SPRY_ORG, patientId)?.mobile === '+12065550152', inSteps);
    // The same event again, its keys in another order and spaced out: a repeat, not a third event.
    const reordered = `{ "data": { "object": ${JSON.stringify(Object.fromEntries(Object.entries(current()).reverse()))} },\n  "type": "contact.updated", "object": "event", "eventTime": "${eventTime}" }`;
    await send(reordered);
    await settleAll();
    const inbox = await world.service.store.searchEvents({ source: 'spruce', contactId, type: 'contact.updated', limit: 50 });
    expect(inbox.filter((e) => e.occurredAt === Date.parse(eventTime)).map((e) => e.status)).toEqual(['processed', 'processed']);
    expect(spry().patient(SANDBOX_SPRY_ORG, patientId)?.mobile).toBe('+12065550152');
  });
});
