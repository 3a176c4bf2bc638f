import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { contactsOfPatient, countRequests, eventually, quiesce, SANDBOX_SPRY_ORG, startWorld, type World } from './support.ts';

let world: World;

beforeEach(async () => {
  world = await startWorld({ patients: 10 });
});

afterEach(async () => {
  await world?.close();
});

const spryOf = () => world.sandbox.spry;
const spruceOf = () => world.sandbox.spruce;

describe('Spry → Spruce', () => {
  it('creates a linked contact for a new patient, then updates it, then does nothing when nothing changed', async () => {
    const patient = spryOf().staff.registerPatient(SANDBOX_SPRY_ORG, {
      first_name: 'Nova',
      last_name: 'Tester',
      date_of_birth: '1990-05-17',
      sex: 'FEMALE',
      mobile: '+12065550142',
      email_address: 'nova@example.test',
    });
    const [contact] = await eventually(() => {
      const found = contactsOfPatient(world, patient.patient_id);
      return found.length > 0 ? found : undefined;
    });
    expect(contact).toMatchObject({
      givenName: 'Nova',
      familyName: 'Tester',
      dateOfBirth: '1990-05-17',
      gender: 'female',
      category: 'patient',
    });
    expect(contact!.phoneNumbers.map((p) => [p.label, p.value])).toEqual([['Mobile', '+12065550142']]);
    expect(contact!.tags.map((t) => t.value)).toEqual(['Spry']);
    const fields = Object.fromEntries(contact!.organizationContactFields.map((f) => [f.name, f.value]));
    expect(fields['Spry Patient ID']).toBe(String(patient.patient_id));
    expect(fields['Spry Status']).toBe('ACTIVE');
    expect(contact!.integrationLinks).toEqual([
      expect.objectContaining({ type: 'custom', externalId: `spry:${SANDBOX_SPRY_ORG}:${patient.patient_id}`, url: expect.stringContaining(`/patients/${patient.patient_id}`) }),
    ]);
    await quiesce(world);

    // An edit in Spry reaches the same contact.
    spryOf().staff.editPatient(SANDBOX_SPRY_ORG, patient.patient_id, { last_name: 'Renamed' });
    await eventually(() => spruceOf().contacts().find((c) => c.id === contact!.id)?.familyName === 'Renamed');
    await quiesce(world);
    expect(contactsOfPatient(world, patient.patient_id)).toHaveLength(1);

    // A change that alters nothing we map makes no Spruce write at all.
    const writesBefore = countRequests(spruceOf().requestLog, /^(POST|PATCH|DELETE) /);
    const appointment = spryOf().staff.bookAppointment(SANDBOX_SPRY_ORG, { patient_id: patient.patient_id, date_time: new Date(Date.now() - 86_400_000).toISOString() });
    expect(appointment.appointment_id).toBeGreaterThan(0);
    await eventually(async () => (await world.service.store.searchEvents({ type: 'appointment.created', status: 'processed', limit: 5 })).length > 0);
    await quiesce(world);
    expect(countRequests(spruceOf().requestLog, /^(POST|PATCH|DELETE) /)).toBe(writesBefore);
    expect(spruceOf().violations).toEqual([]);
  });

  it('collapses a burst of 50 updates to one patient into one fetch and one write', async () => {
    const patientId = world.sandbox.spry.patientIds(SANDBOX_SPRY_ORG)[0]!;
    world.sandbox.spry.staff.editPatient(SANDBOX_SPRY_ORG, patientId, { alias: 'warm-up' });
    await eventually(() => contactsOfPatient(world, patientId).length === 1);
    await quiesce(world);

    const spryGetsBefore = countRequests(spryOf().requestLog, /^GET \/apis\/v1\/patient\/:id$/);
    const spruceWritesBefore = countRequests(spruceOf().requestLog, /^(POST|PATCH|DELETE) /);
    for (let i = 1; i <= 50; i++) spryOf().staff.editPatient(SANDBOX_SPRY_ORG, patientId, { last_name: `Burst${i}` });
    await eventually(() => contactsOfPatient(world, patientId)[0]?.familyName === 'Burst50');
    await quiesce(world);

    expect(countRequests(spryOf().requestLog, /^GET \/apis\/v1\/patient\/:id$/) - spryGetsBefore).toBe(1);
    expect(countRequests(spruceOf().requestLog, /^(POST|PATCH|DELETE) /) - spruceWritesBefore).toBe(1);
    const processed = await world.service.store.searchEvents({ patientId, status: 'processed', limit: 100 });
    expect(processed.length).toBeGreaterThanOrEqual(51);
    expect(spruceOf().violations).toEqual([]);
  });
});
