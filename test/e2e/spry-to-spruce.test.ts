import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { contactsOfPatient, countRequests, eventually, quiesce, SANDBOX_SPRY_ORG, startWorld, type World } from './support.ts';

let world: World;

beforeEach(async () => {
  // A coalescing window wider than the default 100 ms: on a loaded CI machine the 50 deliveries
  // of the burst test can spread over more than 100 ms, which is not what that test is about.
  world = await startWorld({ patients: 10, service: { config: { workers: { coalesceMs: 500 } } } });
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

  it('refreshes the patient on appointment and case events', async () => {
    const patientId = spryOf().patientIds(SANDBOX_SPRY_ORG)[1]!;
    spryOf().staff.editPatient(SANDBOX_SPRY_ORG, patientId, { alias: 'warm-up' });
    await eventually(() => contactsOfPatient(world, patientId).length === 1);
    await quiesce(world);
    const field = (name: string) => contactsOfPatient(world, patientId)[0]!.organizationContactFields.find((f) => f.name === name)?.value;

    // Booked far ahead: it is the next appointment whatever the seed booked before.
    const at = new Date(world.sandbox.clock.now() + 2 * 86_400_000);
    at.setUTCHours(15, 0, 0, 0);
    spryOf().staff.bookAppointment(SANDBOX_SPRY_ORG, { patient_id: patientId, date_time: at.toISOString() });
    await eventually(() => field('Next Appointment')?.startsWith(at.toLocaleDateString('en-CA', { timeZone: 'America/New_York' })));

    spryOf().staff.openCase(SANDBOX_SPRY_ORG, { patient_id: patientId, case_title: 'Rotator cuff rehab' });
    await eventually(() => field('Active Case') === 'Rotator cuff rehab');
    await quiesce(world);
    expect(contactsOfPatient(world, patientId)).toHaveLength(1);
  });

  it('keeps the contact of an archived patient and marks its status', async () => {
    const patientId = spryOf().patientIds(SANDBOX_SPRY_ORG)[2]!;
    spryOf().staff.editPatient(SANDBOX_SPRY_ORG, patientId, { alias: 'warm-up' });
    await eventually(() => contactsOfPatient(world, patientId).length === 1);
    spryOf().staff.archivePatient(SANDBOX_SPRY_ORG, patientId);
    await eventually(() => contactsOfPatient(world, patientId)[0]?.organizationContactFields.some((f) => f.name === 'Spry Status' && f.value === 'ARCHIVED'));
    await quiesce(world);
    expect(contactsOfPatient(world, patientId)).toHaveLength(1);
  });

  it('adopts a contact that already carries our link instead of creating another', async () => {
    const patientId = spryOf().patientIds(SANDBOX_SPRY_ORG)[3]!;
    const existing = spruceOf().staff.createContact({ givenName: 'Pre', familyName: 'Existing' });
    const credentials = spruceOf().credentials()[0]!;
    const response = await fetch(`${world.sandbox.spruceUrl}/contacts/${existing.id}/integrationlinks`, {
      method: 'POST',
      headers: { authorization: credentials.authorization, 'content-type': 'application/json' },
      body: JSON.stringify({ type: 'custom', externalId: `spry:${SANDBOX_SPRY_ORG}:${patientId}`, url: 'https://spry.example/patients/x' }),
    });
    expect(response.status).toBe(201);
    spryOf().staff.editPatient(SANDBOX_SPRY_ORG, patientId, { alias: 'adopt me' });
    const patient = spryOf().patient(SANDBOX_SPRY_ORG, patientId)!;
    await eventually(() => spruceOf().contacts().find((c) => c.id === existing.id)?.familyName === patient.last_name);
    await quiesce(world);
    expect(contactsOfPatient(world, patientId).map((c) => c.id)).toEqual([existing.id]);
    expect(spruceOf().violations).toEqual([]);
  });
});

describe('Spry → Spruce with deleteArchivedContacts', () => {
  it('deletes the contact of an archived patient when the tenant opts in', async () => {
    // This tenant opts in: replace the default world (the file's afterEach closes this one).
    await world.close();
    world = await startWorld({ patients: 3, service: { tenant: { sync: { deleteArchivedContacts: true } } } });
    const patientId = world.sandbox.spry.patientIds(SANDBOX_SPRY_ORG)[0]!;
    world.sandbox.spry.staff.editPatient(SANDBOX_SPRY_ORG, patientId, { alias: 'warm-up' });
    await eventually(() => contactsOfPatient(world, patientId).length === 1);
    world.sandbox.spry.staff.archivePatient(SANDBOX_SPRY_ORG, patientId);
    await eventually(() => contactsOfPatient(world, patientId).length === 0);
    await quiesce(world);
    expect(await world.service.store.getLinkByPatient(world.config.tenants[0]!.id, patientId)).toBeNull();
  });
});
