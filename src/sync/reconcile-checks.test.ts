import { describe, expect, it } from 'vitest';
import { tenantSchema } from '../config/schema.ts';
import type { SpruceContact } from '../spruce/types.ts';
import type { ContactLink, LedgerEntry } from '../store/types.ts';
import { snapshotOfDesired, type OrgCatalog } from './contact-diff.ts';
import { desiredContact } from './desired-contact.ts';
import { patientFixture } from './fixtures/spry-records.ts';
import { checkPatient, type PatientObservation } from './reconcile-checks.ts';

const config = tenantSchema.parse({
  id: 't',
  spry: { baseUrl: 'https://spry.test', clientId: 'c', clientSecret: 's', organisationId: 74, webhookSecrets: ['w'], chartUrl: 'https://spry.test/p/{patientId}' },
  spruce: { baseUrl: 'https://spruce.test/v1', accessId: 'a', secretKey: 'k', webhookSecrets: ['w'] },
});
const catalog: OrgCatalog = { fieldIds: {}, tagIds: { Spry: 'tag_spry' } };
const patient = patientFixture({ patient_id: 5 });

/** A contact exactly as the sync would have written it for the patient. */
function contactOf(id: string, overrides: Partial<SpruceContact> = {}): SpruceContact {
  const desired = desiredContact({ patient, cases: [], nextAppointment: null }, { organisationId: 74, chartUrl: config.spry.chartUrl, policy: config.sync });
  const snap = snapshotOfDesired(desired, catalog);
  return {
    id,
    givenName: snap.givenName,
    middleName: snap.middleName,
    familyName: snap.familyName,
    dateOfBirth: snap.dateOfBirth,
    gender: snap.gender,
    phoneNumbers: snap.phoneNumbers,
    emailAddresses: snap.emailAddresses,
    tags: snap.tags,
    organizationContactFields: Object.entries(snap.fields).map(([name, value]) => ({ id: name, name, value })),
    integrationLinks: [{ type: 'custom', externalId: 'spry:74:5', contactId: id }],
    ...overrides,
  } as unknown as SpruceContact;
}

const link = (contactId: string): ContactLink => ({ tenantId: 't', patientId: 5, contactId, createdAt: 0, updatedAt: 0 });

function seen(overrides: Partial<PatientObservation>): PatientObservation {
  return { patient, link: null, carriers: [], ledger: null, leftDeleted: false, ...overrides };
}

const kinds = (o: PatientObservation) => checkPatient(config, catalog, o).map((f) => f.kind);

describe('checkPatient', () => {
  it('finds nothing when our linked contact carries the link and matches the patient', () => {
    expect(checkPatient(config, catalog, seen({ link: link('e1'), carriers: [contactOf('e1')] }))).toEqual([]);
  });

  it('a patient without any contact is missing, unless archived or left deleted by policy', () => {
    expect(kinds(seen({}))).toEqual(['missing']);
    expect(kinds(seen({ patient: { ...patient, status: 'ARCHIVED' } }))).toEqual([]);
    expect(kinds(seen({ leftDeleted: true }))).toEqual([]);
  });

  it('a link row to a contact Spruce no longer has is dangling; a lost integration link is found', () => {
    expect(kinds(seen({ link: link('gone'), linkedContact: null }))).toEqual(['dangling_link']);
    const stripped = contactOf('e1', { integrationLinks: [] });
    expect(checkPatient(config, catalog, seen({ link: link('e1'), linkedContact: stripped }))).toEqual([
      { kind: 'link_missing', patientId: 5, contactId: 'e1', actionable: true },
    ]);
  });

  it('keeps our linked contact among duplicates (else the lowest id) and names the others', () => {
    const duplicates = checkPatient(config, catalog, seen({ link: link('e2'), carriers: [contactOf('e1'), contactOf('e2')] }));
    expect(duplicates).toEqual([{ kind: 'duplicate_links', patientId: 5, contactId: 'e2', extraContactIds: ['e1'], actionable: true }]);
    const untracked = checkPatient(config, catalog, seen({ carriers: [contactOf('e1'), contactOf('e3')] }));
    expect(untracked.map((f) => [f.kind, f.contactId, f.extraContactIds])).toEqual([
      ['duplicate_links', 'e1', ['e3']],
      ['untracked', 'e1', undefined],
    ]);
  });

  it('reports drift by field name, from Spry and from edits in Spruce we never heard of', () => {
    const renamed = { ...patient, last_name: 'Renamed' };
    expect(checkPatient(config, catalog, seen({ patient: renamed, link: link('e1'), carriers: [contactOf('e1')] }))).toEqual([
      { kind: 'drift', patientId: 5, contactId: 'e1', fields: ['familyName'], actionable: true },
    ]);
    const written = contactOf('e1');
    const ledger: LedgerEntry<'spruce'> = {
      tenantId: 't',
      system: 'spruce',
      recordId: 'e1',
      hash: 'h',
      writtenAt: 0,
      fields: { ...snapshotOfDesired(desiredContact({ patient, cases: [], nextAppointment: null }, { organisationId: 74, chartUrl: config.spry.chartUrl, policy: config.sync }), catalog), fields: { 'Active Case': 'Knee' } },
    };
    const drift = checkPatient(config, catalog, seen({ link: link('e1'), carriers: [written], ledger }));
    expect(drift.map((f) => f.fields)).toEqual([['field:Active Case']]);
  });

  it('an archived patient with a contact is reported; it needs action only when the status is stale or contacts go', () => {
    const archived = { ...patient, status: 'ARCHIVED' as const };
    const current = contactOf('e1', {
      organizationContactFields: [{ id: 's', name: 'Spry Status', value: 'ARCHIVED' }, { id: 'i', name: 'Spry Patient ID', value: '5' }, { id: 'a', name: 'Address', value: '1 Main St, Apt 2, Seattle, WA 98101' }],
    });
    expect(checkPatient(config, catalog, seen({ patient: archived, link: link('e1'), carriers: [current] }))).toEqual([
      { kind: 'archived', patientId: 5, contactId: 'e1', actionable: false },
    ]);
    const stale = checkPatient(config, catalog, seen({ patient: archived, link: link('e1'), carriers: [contactOf('e1')] }));
    expect(stale.map((f) => [f.kind, f.actionable])).toEqual([
      ['archived', true],
      ['drift', true],
    ]);
  });
});
