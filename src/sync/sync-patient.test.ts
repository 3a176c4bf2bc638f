import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SyncError } from '../errors.ts';
import { spryExternalId } from './desired-contact.ts';
import { handleContactEvents } from './inbound-contact.ts';
import { caseFixture, patientFixture } from './fixtures/spry-records.ts';
import { ORGANISATION_ID, syncHarness, TENANT_ID, type HarnessOptions, type SyncHarness } from './fixtures/sync-harness.ts';
import { syncPatient } from './sync-patient.ts';

const PATIENT = 1201;
const externalId = spryExternalId(ORGANISATION_ID, PATIENT);

let h: SyncHarness;

async function open(options: HarnessOptions = {}): Promise<SyncHarness> {
  await h?.close();
  h = await syncHarness(options);
  h.spry.patients.set(PATIENT, patientFixture({ patient_id: PATIENT }));
  h.spry.cases.set(PATIENT, [caseFixture({ patient_id: PATIENT })]);
  return h;
}

/** Clears the call logs, so a test sees only what the next run does. */
function forgetCalls(): void {
  h.spruce.calls.length = 0;
  h.spry.calls.length = 0;
}

beforeEach(async () => {
  await open();
});

afterEach(async () => {
  await h.close();
});

describe('syncPatient', () => {
  it('creates the contact, links it both ways and records what it wrote', async () => {
    const result = await syncPatient(h.ctx, PATIENT, 7);

    expect(result.outcome).toBe('created');
    const contact = h.spruce.contacts.get(result.contactId!)!;
    expect(contact.givenName).toBe('Testa');
    expect(contact.integrationLinks.map((l) => l.externalId)).toEqual([externalId]);
    expect(contact.organizationContactFields.find((f) => f.name === 'Spry Patient ID')?.value).toBe(String(PATIENT));
    expect(contact.tags.map((t) => t.value)).toEqual(['Spry']);
    expect(h.spruce.writes.filter((w) => w === 'createContact')).toHaveLength(1);
    expect(await h.store.getLinkByPatient(TENANT_ID, PATIENT)).toMatchObject({ contactId: contact.id });
    const ledger = await h.store.getLedger(TENANT_ID, 'spruce', contact.id);
    expect(ledger?.hash).not.toBe('');
    const audit = await h.store.searchAudit({ tenantId: TENANT_ID, limit: 50 });
    expect(audit.map((a) => a.action)).toEqual(expect.arrayContaining(['read', 'create', 'link']));
    expect(audit.every((a) => a.eventId === 7)).toBe(true);
  });

  it('spends no Spruce call at all when nothing changed', async () => {
    const created = await syncPatient(h.ctx, PATIENT);
    forgetCalls();

    const again = await syncPatient(h.ctx, PATIENT);

    expect(again).toEqual({ outcome: 'unchanged', contactId: created.contactId, changed: [] });
    expect(h.spruce.calls).toEqual([]);
    expect(h.spry.calls.sort()).toEqual(['getPatient', 'listPatientAppointments', 'listPatientCases']);
  });

  it('links a contact that already carries our integration link instead of creating one', async () => {
    const existing = h.spruce.addContact({
      givenName: 'Testa',
      familyName: 'Example',
      integrationLinks: [{ type: 'custom', externalId, contactId: '', url: 'https://spry.test/patients/1201' }],
    });

    const result = await syncPatient(h.ctx, PATIENT);

    expect(result).toMatchObject({ outcome: 'linked', contactId: existing.id });
    expect(h.spruce.writes).not.toContain('createContact');
    expect(h.spruce.writes).not.toContain('createIntegrationLink');
    // What the contact lacked was written in one PATCH.
    expect(h.spruce.writes.filter((w) => w === 'updateContact')).toHaveLength(1);
    expect(h.spruce.contacts.get(existing.id)!.phoneNumbers.map((p) => p.value)).toEqual(['+12065550100', '+12065550101']);
    expect(await h.store.getLinkByContact(TENANT_ID, existing.id)).toMatchObject({ patientId: PATIENT });
  });

  it('patches only what changed in Spry, diffed against the ledger without reading the contact', async () => {
    const { contactId } = await syncPatient(h.ctx, PATIENT);
    h.spry.patients.get(PATIENT)!.mobile = '+12065550199';
    forgetCalls();

    const result = await syncPatient(h.ctx, PATIENT);

    expect(result).toEqual({ outcome: 'updated', contactId, changed: ['phoneNumbers'] });
    expect(h.spruce.calls).toEqual(['updateContact']);
    expect(h.spruce.contacts.get(contactId!)!.phoneNumbers[0]!.value).toBe('+12065550199');
    // The next run sees the new state as ours.
    forgetCalls();
    expect((await syncPatient(h.ctx, PATIENT)).outcome).toBe('unchanged');
    expect(h.spruce.calls).toEqual([]);
  });

  it('reports a patient Spry no longer has and writes nothing', async () => {
    h.spry.patients.delete(PATIENT);

    const result = await syncPatient(h.ctx, PATIENT);

    expect(result).toEqual({ outcome: 'patient_missing', changed: [] });
    expect(h.spruce.writes).toEqual([]);
  });

  describe('archived patients', () => {
    it('deletes the contact when the tenant asks for it', async () => {
      await open({ sync: { deleteArchivedContacts: true } });
      const { contactId } = await syncPatient(h.ctx, PATIENT);
      h.spry.patients.get(PATIENT)!.status = 'ARCHIVED';

      const result = await syncPatient(h.ctx, PATIENT);

      expect(result).toEqual({ outcome: 'deleted', contactId, changed: [] });
      expect(h.spruce.contacts.has(contactId!)).toBe(false);
      expect(await h.store.getLinkByPatient(TENANT_ID, PATIENT)).toBeNull();
    });

    it('leaves a contact Spruce does not allow to delete', async () => {
      await open({ sync: { deleteArchivedContacts: true } });
      const { contactId } = await syncPatient(h.ctx, PATIENT);
      h.spruce.editContact(contactId!, (c) => (c.canDelete = false));
      h.spry.patients.get(PATIENT)!.status = 'ARCHIVED';

      const result = await syncPatient(h.ctx, PATIENT);

      expect(result).toEqual({ outcome: 'unchanged', contactId, changed: [] });
      expect(h.spruce.contacts.has(contactId!)).toBe(true);
      expect(h.spruce.writes).not.toContain('deleteContact');
    });

    it('only updates the status field when the tenant keeps archived contacts', async () => {
      const { contactId } = await syncPatient(h.ctx, PATIENT);
      h.spry.patients.get(PATIENT)!.status = 'ARCHIVED';

      const result = await syncPatient(h.ctx, PATIENT);

      expect(result).toEqual({ outcome: 'updated', contactId, changed: ['field:Spry Status'] });
      expect(h.spruce.contacts.get(contactId!)!.organizationContactFields.find((f) => f.name === 'Spry Status')?.value).toBe('ARCHIVED');
    });
  });

  describe('a contact deleted in Spruce', () => {
    it('is created again under a new idempotency key after its deletion event', async () => {
      const first = await syncPatient(h.ctx, PATIENT);
      const deleted = h.spruce.contacts.get(first.contactId!)!;
      h.spruce.contacts.delete(deleted.id);
      const event = await h.receiveSpruce('contact.deleted', { ...deleted });
      await handleContactEvents(h.ctx, [event]);
      expect(await h.store.getLinkByPatient(TENANT_ID, PATIENT)).toBeNull();

      const second = await syncPatient(h.ctx, PATIENT);

      expect(second.outcome).toBe('created');
      expect(second.contactId).not.toBe(first.contactId);
      expect([...h.spruce.seenKeys].filter((k) => k.startsWith('spruce-sync:create:'))).toEqual([
        `spruce-sync:create:${externalId}:0`,
        `spruce-sync:create:${externalId}:1`,
      ]);
    });

    it('without its event: the PATCH finds it gone, the create key is spent, and the retry creates it afresh', async () => {
      const first = await syncPatient(h.ctx, PATIENT);
      h.spruce.contacts.delete(first.contactId!);
      h.spry.patients.get(PATIENT)!.last_name = 'Renamed';

      const failure = await syncPatient(h.ctx, PATIENT).catch((error: unknown) => error);

      // The earlier create's key is answered 422 and nothing carries the link: retry, new key.
      expect(failure).toBeInstanceOf(SyncError);
      expect(failure).toMatchObject({ code: 'SYNC_CONFLICT', retryable: true });
      expect(await h.store.getLinkByPatient(TENANT_ID, PATIENT)).toBeNull();

      const retried = await syncPatient(h.ctx, PATIENT);
      expect(retried.outcome).toBe('created');
      expect(h.spruce.contacts.get(retried.contactId!)!.familyName).toBe('Renamed');
      expect(h.spruce.contacts.size).toBe(1);
    });

    it('is left gone when the tenant says so', async () => {
      await open({ inbound: { onContactDeleted: 'leave' } });
      const first = await syncPatient(h.ctx, PATIENT);
      const deleted = h.spruce.contacts.get(first.contactId!)!;
      h.spruce.contacts.delete(deleted.id);
      await handleContactEvents(h.ctx, [await h.receiveSpruce('contact.deleted', { ...deleted })]);

      const result = await syncPatient(h.ctx, PATIENT);

      expect(result).toEqual({ outcome: 'unchanged', changed: [] });
      expect(h.spruce.contacts.size).toBe(0);
    });
  });

  it('finds the contact of an interrupted create by its Spry Patient ID field instead of creating twice', async () => {
    // A first run's create landed, but it died before adding the integration link or our link row.
    const catalog = await h.ctx.catalog.get();
    const landed = h.spruce.addContact({
      givenName: 'Testa',
      organizationContactFields: [{ id: catalog.fieldIds['Spry Patient ID']!, value: String(PATIENT) }],
    });
    h.spruce.seenKeys.add(`spruce-sync:create:${externalId}:0`);

    const result = await syncPatient(h.ctx, PATIENT);

    expect(result).toMatchObject({ outcome: 'linked', contactId: landed.id });
    expect(h.spruce.contacts.size).toBe(1);
    expect(h.spruce.contacts.get(landed.id)!.integrationLinks.map((l) => l.externalId)).toEqual([externalId]);
  });
});
