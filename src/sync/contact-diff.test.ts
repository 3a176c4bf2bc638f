import { describe, expect, it } from 'vitest';
import { syncPolicySchema } from '../config/schema.ts';
import type { SpruceContact } from '../spruce/types.ts';
import { contactPatch, createBody, desiredHash, normalisePhone, snapshotOfContact, snapshotOfDesired, type OrgCatalog } from './contact-diff.ts';
import { desiredContact } from './desired-contact.ts';
import { caseFixture, patientFixture } from './fixtures/spry-records.ts';

const policy = syncPolicySchema.parse({});
const context = { organisationId: 74, chartUrl: 'https://spry.test/p/{patientId}', policy };
const catalog: OrgCatalog = {
  fieldIds: Object.fromEntries(Object.values(policy.fieldNames).map((name, i) => [name, `managedCustomField_${i}`])),
  tagIds: { Spry: 'tag_spry', VIP: 'tag_vip' },
};
const desired = desiredContact({ patient: patientFixture(), cases: [caseFixture()], nextAppointment: null }, context);

function liveContact(overrides: Partial<SpruceContact> = {}): SpruceContact {
  return {
    id: 'entity_1',
    object: 'contact',
    apiURL: 'https://api.test/contact/entity_1',
    appURL: 'https://app.test/contact/entity_1',
    canDelete: true,
    canEdit: true,
    category: 'patient',
    created: '2026-11-01T00:00:00Z',
    customContactFields: [],
    displayName: 'x',
    givenName: desired.givenName,
    middleName: desired.middleName,
    familyName: desired.familyName,
    dateOfBirth: desired.dateOfBirth,
    gender: 'female',
    phoneNumbers: [
      { id: 'p1', label: 'Mobile', value: '+12065550100', displayValue: '(206) 555-0100' },
      { id: 'p2', label: 'Secondary', value: '+12065550101', displayValue: '(206) 555-0101' },
    ],
    emailAddresses: [{ id: 'e1', label: 'Email', value: 'TESTA@example.test' }],
    organizationContactFields: Object.entries(desired.fields).map(([name, value]) => ({ id: catalog.fieldIds[name]!, name, value })),
    tags: [{ id: 'tag_vip', object: 'tag', value: 'VIP' }, { id: 'tag_spry', object: 'tag', value: 'Spry' }],
    integrationLinks: [],
    internalMemberIds: [],
    hasAccount: false,
    hasPendingInvite: false,
    ...overrides,
  } as SpruceContact;
}

describe('contactPatch', () => {
  it('finds nothing to change when Spruce already matches', () => {
    expect(contactPatch(desired, snapshotOfContact(liveContact()), catalog)).toEqual({ changed: [], patch: null });
  });

  it('patches only the fields that differ', () => {
    const live = liveContact({
      familyName: 'Other',
      phoneNumbers: [{ id: 'p1', label: 'Mobile', value: '+12065550199', displayValue: '' }],
      organizationContactFields: [{ id: catalog.fieldIds['Spry Status']!, name: 'Spry Status', value: 'INACTIVE' }],
    });
    const { changed, patch } = contactPatch(desired, snapshotOfContact(live), catalog);
    expect(patch).toEqual({
      familyName: 'Example',
      phoneNumbers: desired.phoneNumbers,
      organizationContactFields: Object.entries(desired.fields)
        .filter(([, value]) => value !== '')
        .map(([name, value]) => ({ id: catalog.fieldIds[name], value })),
    });
    expect(changed).toContain('familyName');
    expect(changed).toContain('field:Spry Status');
    // Empty in both: Spruce holds no value for Next Appointment and we want none.
    expect(changed).not.toContain('field:Next Appointment');
  });

  it('adds our tag while keeping the tags staff set', () => {
    const live = liveContact({ tags: [{ id: 'tag_vip', object: 'tag', value: 'VIP' }] });
    expect(contactPatch(desired, snapshotOfContact(live), catalog).patch).toEqual({ tagIds: ['tag_vip', 'tag_spry'] });
  });

  it('clears a removed middle name and phone list', () => {
    const next = desiredContact(
      { patient: patientFixture({ middle_name: null, mobile: null, secondary_contact: null }), cases: [caseFixture()], nextAppointment: null },
      context,
    );
    const { patch } = contactPatch(next, snapshotOfContact(liveContact()), catalog);
    expect(patch).toEqual({ middleName: '', phoneNumbers: [] });
  });

  it('treats the snapshot of what we wrote as equal to the desired contact', () => {
    const written = snapshotOfDesired(desired, catalog);
    expect(contactPatch(desired, written, catalog).patch).toBeNull();
  });
});

describe('createBody and hashing', () => {
  it('creates a patient with fields by id and our tag', () => {
    const body = createBody(desired, catalog);
    expect(body.category).toBe('patient');
    expect(body.tagIds).toEqual(['tag_spry']);
    expect(body.organizationContactFields).toContainEqual({ id: catalog.fieldIds['Spry Patient ID'], value: '1201' });
    expect(body.organizationContactFields!.some((f) => f.value === '')).toBe(false);
  });

  it('hashes equal contacts equally, whatever the key order, and differing ones differently', () => {
    const reordered = JSON.parse(JSON.stringify({ ...desired, fields: Object.fromEntries(Object.entries(desired.fields).reverse()) }));
    expect(desiredHash(reordered)).toBe(desiredHash(desired));
    expect(desiredHash({ ...desired, givenName: 'Other' })).not.toBe(desiredHash(desired));
  });

  it('normalises US phone formats alike', () => {
    expect(normalisePhone('(206) 555-1234')).toBe(normalisePhone('+12065551234'));
    expect(normalisePhone('206-555-1234')).toBe('12065551234');
  });

  it('fails loudly when a field id is unknown', () => {
    expect(() => createBody(desired, { fieldIds: {}, tagIds: {} })).toThrow(/field "Spry Patient ID"/);
  });
});
