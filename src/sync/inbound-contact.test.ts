import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { SpruceContact } from '../spruce/types.ts';
import { spryExternalId } from './desired-contact.ts';
import { caseFixture, patientFixture } from './fixtures/spry-records.ts';
import { ORGANISATION_ID, syncHarness, TENANT_ID, type HarnessOptions, type SyncHarness } from './fixtures/sync-harness.ts';
import { handleContactEvents } from './inbound-contact.ts';
import { jobKey } from './tasks.ts';
import { syncPatient } from './sync-patient.ts';

const PATIENT = 1201;
const OTHER_PATIENT = 1202;

let h: SyncHarness;

async function open(options: HarnessOptions = {}): Promise<void> {
  await h?.close();
  h = await syncHarness(options);
  for (const id of [PATIENT, OTHER_PATIENT]) {
    h.spry.patients.set(id, patientFixture({ patient_id: id, mobile: `+1206555${id}`, secondary_contact: null, email_address: `p${id}@example.test` }));
    h.spry.cases.set(id, [caseFixture({ patient_id: id })]);
  }
}

/** Syncs the patient (creating its contact) and returns the contact as Spruce holds it. */
async function synced(patientId = PATIENT): Promise<SpruceContact> {
  const { contactId } = await syncPatient(h.ctx, patientId);
  return structuredClone(h.spruce.contacts.get(contactId!)!);
}

/** Patient syncs waiting in the queue, by patient id. */
async function queuedPatientSyncs(): Promise<number[]> {
  const jobs = await h.store.claimJobs({ workerId: 'test', now: h.clock.now() + 60_000, leaseMs: 1000, limit: 50 });
  return jobs.filter((j) => j.task === 'spry.patient').map((j) => Number(j.params.patientId)).sort();
}

async function auditActions(recordId: string): Promise<string[]> {
  const entries = await h.store.searchAudit({ tenantId: TENANT_ID, recordId, limit: 100 });
  return entries.map((e) => `${e.action}${e.detail?.reason ? `:${String(e.detail.reason)}` : ''}`);
}

async function receive(type: string, contact: SpruceContact, extra?: { deletedContactIds?: string[] }): Promise<void> {
  await handleContactEvents(h.ctx, [await h.receiveSpruce(type, { ...contact }, extra)]);
}

beforeEach(async () => {
  await open();
});

afterEach(async () => {
  await h.close();
});

describe('handleContactEvents', () => {
  it('drops the echo of our own write: no Spry call, no sync queued', async () => {
    const contact = await synced();
    h.spry.calls.length = 0;
    h.spruce.calls.length = 0;

    await receive('contact.updated', contact);

    expect(h.spry.calls).toEqual([]);
    expect(h.spruce.calls).toEqual([]);
    expect(await queuedPatientSyncs()).toEqual([]);
    expect(await auditActions(contact.id)).toContain('echo');
  });

  it('takes an event that shows a write still in flight for an echo', async () => {
    const contact = await synced();
    // Spruce announced a PATCH before its answer reached us: only the intent knows it yet.
    h.spry.patients.get(PATIENT)!.first_name = 'Tess';
    const intent = await h.store.getLedger(TENANT_ID, 'spruce', contact.id);
    await h.store.putLedger({ ...intent!, system: 'spruce-intent', fields: { ...intent!.fields, givenName: 'Tess' } });
    const announced = h.spruce.editContact(contact.id, (c) => (c.givenName = 'Tess'));
    h.spruce.calls.length = 0;

    await receive('contact.updated', announced);

    expect(h.spry.writes).toEqual([]);
    expect(await queuedPatientSyncs()).toEqual([]);
    // The picture is the write in flight: no read of the contact to be sure.
    expect(h.spruce.calls).toEqual([]);
  });

  it('writes a staff edit of the phones back to Spry and queues the patient sync', async () => {
    const contact = await synced();
    const edited = h.spruce.editContact(contact.id, (c) => {
      c.phoneNumbers = [{ id: 'p1', label: 'Mobile', value: '+12065559999', displayValue: '(206) 555-9999' }];
    });

    await receive('contact.updated', edited);

    expect(h.spry.patches).toEqual([{ patientId: PATIENT, patch: { mobile: '+12065559999', secondary_contact: null } }]);
    expect(h.spry.patients.get(PATIENT)!.mobile).toBe('+12065559999');
    expect(await queuedPatientSyncs()).toEqual([PATIENT]);
    // The ledger now holds the edited phones, so the same event again is an echo.
    h.spry.patches.length = 0;
    await receive('contact.updated', edited);
    expect(h.spry.patches).toEqual([]);
  });

  it('writes nothing back when the tenant turned write-back off, and lets the sync restore the field', async () => {
    await open({ inbound: { writeBack: false } });
    const contact = await synced();
    const edited = h.spruce.editContact(contact.id, (c) => (c.emailAddresses = [{ id: 'e1', label: 'Email', value: 'new@example.test' }]));

    await receive('contact.updated', edited);

    expect(h.spry.writes).toEqual([]);
    expect(await queuedPatientSyncs()).toEqual([PATIENT]);
    const restored = await syncPatient(h.ctx, PATIENT);
    expect(restored.changed).toEqual(['emailAddresses']);
    expect(h.spruce.contacts.get(contact.id)!.emailAddresses.map((e) => e.value)).toEqual([`p${PATIENT}@example.test`]);
  });

  it('does not write a Spry-owned field back; the queued sync puts it right', async () => {
    const contact = await synced();
    const edited = h.spruce.editContact(contact.id, (c) => (c.familyName = 'Changed-In-Spruce'));

    await receive('contact.updated', edited);

    expect(h.spry.writes).toEqual([]);
    expect(await auditActions(contact.id)).toContain('revert_queued');
    expect(await queuedPatientSyncs()).toEqual([PATIENT]);
    const reverted = await syncPatient(h.ctx, PATIENT);
    expect(reverted.changed).toEqual(['familyName']);
    expect(h.spruce.contacts.get(contact.id)!.familyName).toBe('Example');
  });

  it('acts on the contact as it is now, not on a stale picture in a delayed event', async () => {
    const contact = await synced();
    const stalePicture = h.spruce.editContact(contact.id, (c) => (c.emailAddresses = [{ id: 'e1', label: 'Email', value: 'old@example.test' }]));
    // Staff put it back before the delayed event arrived.
    h.spruce.editContact(contact.id, (c) => (c.emailAddresses = contact.emailAddresses));

    await receive('contact.updated', stalePicture);

    expect(h.spry.writes).toEqual([]);
    expect(await auditActions(contact.id)).toContain('echo');
  });

  it('skips an event older than one already applied', async () => {
    const contact = await synced();
    const older = await h.receiveSpruce('contact.updated', { ...contact, familyName: 'Older' });
    const newer = await h.receiveSpruce('contact.updated', { ...contact });
    await handleContactEvents(h.ctx, [newer]);

    await handleContactEvents(h.ctx, [older]);

    expect(await auditActions(contact.id)).toContain('skip:stale');
    expect(await queuedPatientSyncs()).toEqual([]);
  });

  it('links a contact that carries our integration link but is not in our link table', async () => {
    const contact = h.spruce.addContact({
      givenName: 'Testa',
      integrationLinks: [{ type: 'custom', externalId: spryExternalId(ORGANISATION_ID, PATIENT), contactId: '' }],
    });

    await receive('contact.created', h.spruce.contacts.get(contact.id)!);

    expect(await h.store.getLinkByContact(TENANT_ID, contact.id)).toMatchObject({ patientId: PATIENT });
    // No ledger yet: the sync compares with the live contact.
    expect(await queuedPatientSyncs()).toEqual([PATIENT]);
  });

  it('leaves a hand-made contact alone unless matching is on, then links the one patient it matches', async () => {
    const handMade = h.spruce.addContact({ givenName: 'Testa', dateOfBirth: '1980-02-29', phoneNumbers: [{ label: 'Mobile', value: `+1206555${PATIENT}` }] });
    await receive('contact.created', h.spruce.contacts.get(handMade.id)!);
    expect(await h.store.getLinkByContact(TENANT_ID, handMade.id)).toBeNull();

    await open({ inbound: { matchUnlinkedContacts: true } });
    const again = h.spruce.addContact({ givenName: 'Testa', dateOfBirth: '1980-02-29', phoneNumbers: [{ label: 'Mobile', value: `+1206555${PATIENT}` }] });
    await receive('contact.created', h.spruce.contacts.get(again.id)!);

    expect(await h.store.getLinkByContact(TENANT_ID, again.id)).toMatchObject({ patientId: PATIENT });
    expect(await queuedPatientSyncs()).toEqual([PATIENT]);
  });

  describe('contact.deleted', () => {
    it('forgets the link and queues the patient to be created again', async () => {
      const contact = await synced();
      h.spruce.contacts.delete(contact.id);

      await receive('contact.deleted', contact);

      expect(await h.store.getLinkByPatient(TENANT_ID, PATIENT)).toBeNull();
      expect(await queuedPatientSyncs()).toEqual([PATIENT]);
    });

    it('ignores a contact we never linked', async () => {
      const stranger = h.spruce.addContact({ givenName: 'Someone' });
      await receive('contact.deleted', stranger);
      expect(await queuedPatientSyncs()).toEqual([]);
    });
  });

  describe('contact.merged', () => {
    it('moves the merged-away contact’s link to the survivor', async () => {
      const linked = await synced();
      const survivor = h.spruce.addContact({ givenName: 'Testa', familyName: 'Example' });
      h.spruce.contacts.delete(linked.id);

      await receive('contact.merged', h.spruce.contacts.get(survivor.id)!, { deletedContactIds: [linked.id] });

      expect(await h.store.getLinkByPatient(TENANT_ID, PATIENT)).toMatchObject({ contactId: survivor.id });
      expect(await h.store.getLinkByContact(TENANT_ID, linked.id)).toBeNull();
      expect(await queuedPatientSyncs()).toEqual([PATIENT]);
    });

    it('keeps links one to one when two linked contacts merge: the other patient is released', async () => {
      const kept = await synced(PATIENT);
      const mergedAway = await synced(OTHER_PATIENT);
      // Spruce's merge carries both integration links over to the survivor.
      const survivor = h.spruce.editContact(kept.id, (c) => {
        c.integrationLinks = [...c.integrationLinks, ...mergedAway.integrationLinks.map((l) => ({ ...l, contactId: kept.id }))];
      });
      h.spruce.contacts.delete(mergedAway.id);

      await receive('contact.merged', survivor, { deletedContactIds: [mergedAway.id] });

      expect(await h.store.getLinkByContact(TENANT_ID, kept.id)).toMatchObject({ patientId: PATIENT });
      expect(await h.store.getLinkByPatient(TENANT_ID, OTHER_PATIENT)).toBeNull();
      expect(h.spruce.contacts.get(kept.id)!.integrationLinks.map((l) => l.externalId)).toEqual([spryExternalId(ORGANISATION_ID, PATIENT)]);
      expect(await auditActions(kept.id)).toContain('merge_conflict');
      expect(await queuedPatientSyncs()).toEqual([PATIENT, OTHER_PATIENT]);
      // The released patient gets a contact of its own again, under a new create key.
      const recreated = await syncPatient(h.ctx, OTHER_PATIENT);
      expect(recreated.outcome).toBe('created');
      expect(recreated.contactId).not.toBe(kept.id);
    });

    it('does not let a merged-away contact’s edit, handled late (its job retried), undo a later edit of the survivor', async () => {
      const mobile = (n: number) => ({ id: 'p1', label: 'Mobile', value: `+1206555030${n}`, displayValue: `(206) 555-030${n}` });
      const original = await synced();
      // Staff edit the contact; its event's job fails on an ambiguous Spry answer and waits to retry.
      const edited = h.spruce.editContact(original.id, (c) => (c.phoneNumbers = [mobile(2)]));
      const lateEdit = await h.receiveSpruce('contact.updated', { ...edited });
      // Staff make a duplicate by hand and merge ours into it: the duplicate survives, with our link and fields.
      const duplicate = h.spruce.addContact({ givenName: edited.givenName, familyName: edited.familyName, phoneNumbers: [mobile(2)] });
      const survivor = h.spruce.editContact(duplicate.id, (c) => {
        c.integrationLinks = edited.integrationLinks.map((l) => ({ ...l, contactId: duplicate.id }));
        c.customContactFields = edited.customContactFields;
      });
      h.spruce.contacts.delete(original.id);
      await receive('contact.merged', survivor, { deletedContactIds: [original.id] });
      await syncPatient(h.ctx, PATIENT);
      // Then staff set the survivor's mobile, which is written back.
      await receive('contact.updated', h.spruce.editContact(duplicate.id, (c) => (c.phoneNumbers = [mobile(0)])));
      expect(h.spry.patients.get(PATIENT)!.mobile).toBe('+12065550300');

      // The retry of the merged-away contact's edit comes last: the survivor already says what holds.
      h.spry.patches.length = 0;
      await handleContactEvents(h.ctx, [lateEdit]);

      expect(h.spry.patches).toEqual([]);
      expect(h.spry.patients.get(PATIENT)!.mobile).toBe('+12065550300');
      expect(await h.store.getLinkByPatient(TENANT_ID, PATIENT)).toMatchObject({ contactId: duplicate.id });
      expect(await auditActions(original.id)).toContain('skip:merged_away');
    });

    it('hands the patient on through two merges in a row, keeping a staff edit made before them', async () => {
      const mobile = { id: 'p1', label: 'Mobile', value: '+12065550300', displayValue: '(206) 555-0300' };
      const original = await synced();
      // Staff edit our contact, then merge it into a duplicate and that into another: their events wait.
      const edited = h.spruce.editContact(original.id, (c) => (c.phoneNumbers = [mobile]));
      const copyOf = (from: SpruceContact) =>
        h.spruce.addContact({
          givenName: from.givenName,
          familyName: from.familyName,
          phoneNumbers: [mobile],
          integrationLinks: from.integrationLinks,
        });
      const first = copyOf(edited);
      h.spruce.contacts.delete(original.id);
      const second = copyOf(first);
      h.spruce.contacts.delete(first.id);
      const lateEdit = await h.receiveSpruce('contact.updated', { ...edited });

      // The first merge is handled when its survivor is already gone: the second survivor takes over.
      await receive('contact.merged', first, { deletedContactIds: [original.id] });
      await receive('contact.merged', h.spruce.contacts.get(second.id)!, { deletedContactIds: [first.id] });
      await handleContactEvents(h.ctx, [lateEdit]);

      expect(await h.store.getLinkByPatient(TENANT_ID, PATIENT)).toMatchObject({ contactId: second.id });
      expect(h.spry.patients.get(PATIENT)!.mobile).toBe('+12065550300');
      await syncPatient(h.ctx, PATIENT);
      expect(h.spruce.contacts.get(second.id)!.phoneNumbers.map((p) => p.value)).toEqual(['+12065550300']);
    });
  });

  it('queues the sync under the patient job key ingest uses', async () => {
    const contact = await synced();
    const edited = h.spruce.editContact(contact.id, (c) => (c.givenName = 'Changed'));
    await receive('contact.updated', edited);
    const jobs = await h.store.claimJobs({ workerId: 'test', now: h.clock.now(), leaseMs: 1000, limit: 50 });
    expect(jobs.find((j) => j.task === 'spry.patient')?.key).toBe(jobKey('spry.patient', { patientId: PATIENT }, { organisationId: ORGANISATION_ID }));
  });
});
