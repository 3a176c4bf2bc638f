// Writes that commit and then lose their answer (the connection resets, nothing comes back until
// the connection drops, or a gateway answers 502), on every write route we use of both
// simulators, and tokens Spry expires early. Whatever is lost, both systems end as if every
// answer had arrived: one contact per patient with one link and the right fields, one chart
// entry per message, a write-back applied once, and no dead letter.
import { afterEach, describe, expect, it } from 'vitest';
import type { AmbiguousMode, RouteFault } from '../../src/sandbox/faults.ts';
import { spryExternalId } from '../../src/sync/desired-contact.ts';
import { advanceUntil, contactsOfPatient, eventually, quiesce, quiesceOnClock, SANDBOX_SPRY_ORG, startWorld, type World } from './support.ts';

let world: World | undefined;

afterEach(async () => {
  await world?.close();
  world = undefined;
});

/** Every Spruce write route the sync uses, by its fault pattern and request-log route. */
const SPRUCE_WRITES = [
  { match: 'POST /v1/contacts', route: 'POST /v1/contacts' },
  { match: 'PATCH /v1/contacts/*', route: 'PATCH /v1/contacts/{contactId}' },
  { match: 'POST /v1/contacts/*/integrationlinks', route: 'POST /v1/contacts/{contactId}/integrationlinks' },
  { match: 'POST /v1/contacts/tags', route: 'POST /v1/contacts/tags' },
  { match: 'POST /v1/contacts/fields', route: 'POST /v1/contacts/fields' },
];

/** Every Spry write route the sync uses (the token route too). */
const SPRY_WRITES = [
  { match: 'PATCH /apis/v1/patient/*', route: 'PATCH /apis/v1/patient/:id' },
  { match: 'POST /apis/v1/patient/*/communication', route: 'POST /apis/v1/patient/:id/communication' },
];

const MODES: AmbiguousMode[] = ['reset', 'hang', 'error'];

/** Answers lost on a route: dropped connections (reset, hang) or the injected 502. */
function lost(log: { route: string; status: number }[], route: string, mode: AmbiguousMode): number {
  return log.filter((r) => r.route === route && r.status === (mode === 'error' ? 502 : 0)).length;
}

function faults(routes: { match: string }[], mode: AmbiguousMode): RouteFault[] {
  // A hang holds the answer 5 s on the sandbox clock, then drops the connection.
  return routes.map(({ match }) => ({ match, ambiguousRate: 1, ambiguousMode: mode, hangMs: 5_000 }));
}

async function deadLetters(w: World): Promise<string[]> {
  return (await w.service.store.searchEvents({ status: 'dead', limit: 100 })).map((e) => `${e.type}: ${e.reason}`);
}

/** The contact of a patient as it should be: one, carrying one link of ours and its patient id. */
function contactIsRight(w: World, patientId: number): boolean {
  const patient = w.sandbox.spry.patient(SANDBOX_SPRY_ORG, patientId)!;
  const contacts = contactsOfPatient(w, patientId);
  if (contacts.length !== 1) return false;
  const [contact] = contacts;
  const ours = (contact!.integrationLinks ?? []).filter((l) => l.externalId === spryExternalId(SANDBOX_SPRY_ORG, patientId));
  const idField = (contact!.organizationContactFields ?? []).find((f) => f.name === 'Spry Patient ID');
  return ours.length === 1 && idField?.value === String(patientId) && contact!.familyName === patient.last_name && contact!.givenName === patient.first_name;
}

describe.each(MODES)('Spruce writes whose answers are lost (%s)', (mode) => {
  it('creates each contact once, links it once, patches it, and dead-letters nothing', async () => {
    world = await startWorld({ patients: 6 });
    const w = world;
    const ids = w.sandbox.spry.patientIds(SANDBOX_SPRY_ORG).slice(0, 3);
    // Every answer of every Spruce write we make is lost, from the first (the catalog's field
    // and tag) to the last: only a read-back after the retry's 422 can tell what happened.
    w.sandbox.spruce.faults.setRouteFaults(faults(SPRUCE_WRITES, mode));
    for (const id of ids) w.sandbox.spry.staff.editPatient(SANDBOX_SPRY_ORG, id, { alias: 'first' });
    await advanceUntil(w, () => ids.every((id) => contactIsRight(w, id)), { what: 'contacts created', maxSimulatedMs: 600_000 });
    await quiesce(w);

    // A Spry edit of a synced patient: a PATCH whose answer is lost as well.
    for (const id of ids) w.sandbox.spry.staff.editPatient(SANDBOX_SPRY_ORG, id, { last_name: `Later-${id}` });
    await advanceUntil(w, () => ids.every((id) => contactIsRight(w, id)), { what: 'contacts patched', maxSimulatedMs: 600_000 });
    await quiesce(w);

    const log = w.sandbox.spruce.requestLog;
    for (const { route } of SPRUCE_WRITES) {
      expect(lost(log, route, mode), `${route} lost answers`).toBeGreaterThan(0);
      expect(log.filter((r) => r.route === route && r.status === 422).length, `${route} 422s`).toBeGreaterThan(0);
    }
    // No contact was made twice, linked or not.
    expect(w.sandbox.spruce.contacts()).toHaveLength(ids.length);
    for (const id of ids) expect(contactIsRight(w, id)).toBe(true);
    expect(await deadLetters(w)).toEqual([]);
    expect(await w.service.store.searchEvents({ status: 'queued', limit: 10 })).toEqual([]);
    expect(w.sandbox.spruce.violations).toEqual([]);
  });
});

describe.each(MODES)('a Spruce DELETE whose answer is lost (%s)', (mode) => {
  it('deletes the contact of an archived patient once and forgets its link', async () => {
    world = await startWorld({ patients: 4, service: { tenant: { sync: { deleteArchivedContacts: true } } } });
    const w = world;
    const [patientId] = w.sandbox.spry.patientIds(SANDBOX_SPRY_ORG);
    w.sandbox.spry.staff.editPatient(SANDBOX_SPRY_ORG, patientId!, { alias: 'synced' });
    await advanceUntil(w, () => contactIsRight(w, patientId!), { what: 'the contact' });
    await quiesce(w);
    const route = 'DELETE /v1/contacts/{contactId}';
    w.sandbox.spruce.faults.setRouteFaults(faults([{ match: 'DELETE /v1/contacts/*' }], mode));
    w.sandbox.spry.staff.archivePatient(SANDBOX_SPRY_ORG, patientId!);
    await advanceUntil(w, async () => contactsOfPatient(w, patientId!).length === 0 && !(await w.service.store.getLinkByPatient(w.config.tenants[0]!.id, patientId!)), {
      what: 'the contact deleted',
    });
    await quiesce(w);
    const log = w.sandbox.spruce.requestLog;
    expect(lost(log, route, mode)).toBe(1);
    // The retry finds it gone (404), which is what the DELETE wanted.
    expect(log.filter((r) => r.route === route).map((r) => r.status).slice(-1)).toEqual([404]);
    expect(w.sandbox.spruce.contacts()).toHaveLength(0);
    expect(await deadLetters(w)).toEqual([]);
  });
});

describe.each(MODES)('Spry writes whose answers are lost (%s)', (mode) => {
  it('writes a staff edit back once and records each message once', async () => {
    world = await startWorld({ patients: 4 });
    const w = world;
    const [patientId] = w.sandbox.spry.patientIds(SANDBOX_SPRY_ORG);
    w.sandbox.spry.staff.editPatient(SANDBOX_SPRY_ORG, patientId!, { alias: 'synced' });
    await advanceUntil(w, () => contactIsRight(w, patientId!), { what: 'the contact' });
    await quiesce(w);
    const [contact] = contactsOfPatient(w, patientId!);
    const updatesBefore = w.sandbox.spry.events(SANDBOX_SPRY_ORG).filter((e) => e.event_type === 'patient.updated' && e.data.patient_id === patientId).length;

    // Every answer is lost until each route has lost at least one: the client retries, the job
    // retries, each time writing again what already landed.
    w.sandbox.spry.faults.setRouteFaults(faults(SPRY_WRITES, mode));
    w.sandbox.spruce.staff.editContact(contact!.id, { phoneNumbers: [{ label: 'Mobile', value: '(206) 555-0161' }] });
    const items = [
      w.sandbox.spruce.staff.receiveSecureMessage({ contactId: contact!.id, text: 'First' }).item,
      w.sandbox.spruce.staff.receiveSecureMessage({ contactId: contact!.id, text: 'Second' }).item,
    ];
    await advanceUntil(w, () => SPRY_WRITES.every(({ route }) => lost(w.sandbox.spry.requestLog, route, mode) > 0), { what: 'lost Spry answers' });
    w.sandbox.spry.faults.clear();

    const done = () =>
      w.sandbox.spry.patient(SANDBOX_SPRY_ORG, patientId!)?.mobile === '+12065550161' && w.sandbox.spry.communications(SANDBOX_SPRY_ORG, patientId!).length === 2;
    await advanceUntil(w, done, { what: 'write-back and chart entries', stepMs: 5_000 });
    await quiesceOnClock(w);

    const entries = w.sandbox.spry.communications(SANDBOX_SPRY_ORG, patientId!);
    expect(entries.map((e) => e.external_id).sort()).toEqual(items.map((i) => i.id).sort());
    expect(entries.map((e) => e.summary).sort()).toEqual(['First', 'Second']);
    // The write-back changed the patient once, however many PATCHes carried it.
    const updates = w.sandbox.spry.events(SANDBOX_SPRY_ORG).filter((e) => e.event_type === 'patient.updated' && e.data.patient_id === patientId);
    expect(updates.length - updatesBefore).toBe(1);
    expect(w.sandbox.spry.requestLog.filter((r) => r.route === SPRY_WRITES[0]!.route).length).toBeGreaterThan(1);
    expect(contactsOfPatient(w, patientId!)).toHaveLength(1);
    expect(w.sandbox.spruce.contacts().find((c) => c.id === contact!.id)?.phoneNumbers.map((p) => p.value)).toEqual(['+12065550161']);
    expect(await deadLetters(w)).toEqual([]);
    expect(w.sandbox.spruce.violations).toEqual([]);
  });
});

describe('Spry tokens expired before their time', () => {
  it('fetches a new token once and carries on, for reads and for the write-back', async () => {
    world = await startWorld({ patients: 4 });
    const w = world;
    const [patientId] = w.sandbox.spry.patientIds(SANDBOX_SPRY_ORG);
    const tokenRequests = () => w.sandbox.spry.requestLog.filter((r) => r.route === 'POST /apis/v2/oauth/token').length;
    const expired = () => w.sandbox.spry.requestLog.filter((r) => r.status === 401 && r.code === 4010).length;
    w.sandbox.spry.staff.editPatient(SANDBOX_SPRY_ORG, patientId!, { alias: 'synced' });
    await eventually(() => contactIsRight(w, patientId!), 10_000, 'the contact');
    await quiesce(w);
    const [contact] = contactsOfPatient(w, patientId!);

    // Long before expires_in runs out by our clock, Spry stops taking every token it issued.
    const tokensBefore = tokenRequests();
    w.sandbox.spry.expireTokens();
    w.sandbox.spry.staff.editPatient(SANDBOX_SPRY_ORG, patientId!, { last_name: 'AfterExpiry' });
    await eventually(() => contactIsRight(w, patientId!) && contactsOfPatient(w, patientId!)[0]!.familyName === 'AfterExpiry', 10_000, 'the Spry edit after expiry');
    await quiesce(w);
    expect(expired()).toBeGreaterThan(0);
    expect(tokenRequests() - tokensBefore).toBe(1);

    // And on the write path: the write-back's PATCH is refused, a new token fetched, the PATCH sent again.
    const refusedBefore = expired();
    w.sandbox.spry.expireTokens();
    w.sandbox.spruce.staff.editContact(contact!.id, { phoneNumbers: [{ label: 'Mobile', value: '(206) 555-0162' }] });
    await eventually(() => w.sandbox.spry.patient(SANDBOX_SPRY_ORG, patientId!)?.mobile === '+12065550162', 10_000, 'the write-back after expiry');
    await quiesce(w);
    expect(w.sandbox.spry.requestLog.filter((r) => r.route === 'PATCH /apis/v1/patient/:id' && r.status === 401 && r.code === 4010).length).toBe(1);
    expect(expired() - refusedBefore).toBeGreaterThan(0);
    expect(tokenRequests() - tokensBefore).toBe(2);
    expect(await deadLetters(w)).toEqual([]);
  });
});
