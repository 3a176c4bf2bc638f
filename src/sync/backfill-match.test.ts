import { describe, expect, it } from 'vitest';
import type { SpruceContact } from '../spruce/types.ts';
import { hasSpryLink, matchPatients } from './backfill-match.ts';
import { patientFixture } from './fixtures/spry-records.ts';

function contact(id: string, fields: { dob?: string; phone?: string; email?: string; link?: string } = {}): SpruceContact {
  return {
    id,
    dateOfBirth: fields.dob,
    phoneNumbers: fields.phone ? [{ id: `p-${id}`, label: 'Home', value: fields.phone, displayValue: fields.phone }] : [],
    emailAddresses: fields.email ? [{ id: `e-${id}`, label: '', value: fields.email }] : [],
    integrationLinks: fields.link ? [{ type: 'custom', externalId: fields.link, contactId: id }] : [],
  } as unknown as SpruceContact;
}

const patient = patientFixture({ patient_id: 1, date_of_birth: '1980-02-29', mobile: '+12065550100', secondary_contact: null, email_address: 'Testa@Example.test' });

describe('matchPatients', () => {
  it('matches the one contact with the birth date and a phone number, in any format', () => {
    const verdicts = matchPatients([patient], [contact('a', { dob: '1980-02-29', phone: '(206) 555-0100' }), contact('b', { dob: '1980-03-01', phone: '+12065550100' })]);
    expect(verdicts.get(1)).toMatchObject({ kind: 'one', by: 'phone', contact: { id: 'a' } });
  });

  it('matches by email (case-insensitive) and says when both matched', () => {
    expect(matchPatients([patient], [contact('a', { dob: '1980-02-29', email: 'testa@example.TEST' })]).get(1)).toMatchObject({ kind: 'one', by: 'email' });
    expect(matchPatients([patient], [contact('a', { dob: '1980-02-29', email: 'testa@example.test', phone: '2065550100' })]).get(1)).toMatchObject({ kind: 'one', by: 'phone+email' });
  });

  it('never guesses between two candidates', () => {
    const verdicts = matchPatients([patient], [contact('b', { dob: '1980-02-29', phone: '+12065550100' }), contact('a', { dob: '1980-02-29', email: 'testa@example.test' })]);
    expect(verdicts.get(1)).toEqual({ kind: 'ambiguous', contactIds: ['a', 'b'] });
  });

  it('calls a contact that fits two patients of the page ambiguous for both (twins sharing a number)', () => {
    const twin = patientFixture({ patient_id: 2, date_of_birth: '1980-02-29', mobile: '+12065550100', secondary_contact: null, email_address: null });
    const verdicts = matchPatients([patient, twin], [contact('a', { dob: '1980-02-29', phone: '+12065550100' })]);
    expect(verdicts.get(1)).toEqual({ kind: 'ambiguous', contactIds: ['a'] });
    expect(verdicts.get(2)).toEqual({ kind: 'ambiguous', contactIds: ['a'] });
  });

  it('leaves out other birth dates, contacts that already carry a Spry link, and patients without a birth date', () => {
    const linked = contact('a', { dob: '1980-02-29', phone: '+12065550100', link: 'spry:9:77' });
    expect(hasSpryLink(linked)).toBe(true);
    expect(matchPatients([patient], [linked, contact('b', { dob: '1981-02-28', phone: '+12065550100' })]).get(1)).toEqual({ kind: 'none' });
    const undated = patientFixture({ patient_id: 3, date_of_birth: '' });
    expect(matchPatients([undated], [contact('c', { dob: '', phone: '+12065550100' })]).get(3)).toEqual({ kind: 'none' });
  });
});
