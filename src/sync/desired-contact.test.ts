import { describe, expect, it } from 'vitest';
import { syncPolicySchema } from '../config/schema.ts';
import { desiredContact, isUpcoming, spryExternalId } from './desired-contact.ts';
import { appointmentFixture, caseFixture, patientFixture } from './fixtures/spry-records.ts';

const policy = syncPolicySchema.parse({ timezone: 'America/New_York', clinicTimezones: { '3': 'America/Los_Angeles' } });
const context = { organisationId: 74, chartUrl: 'https://spry.test/patients/{patientId}', policy };

describe('desiredContact', () => {
  it('maps demographics, phones, email, fields, tag and link', () => {
    const desired = desiredContact(
      { patient: patientFixture(), cases: [caseFixture()], nextAppointment: appointmentFixture() },
      context,
    );
    expect(desired).toMatchObject({
      givenName: 'Testa',
      middleName: 'Q',
      familyName: 'Example',
      dateOfBirth: '1980-02-29',
      gender: 'female',
      phoneNumbers: [
        { label: 'Mobile', value: '+12065550100' },
        { label: 'Secondary', value: '+12065550101' },
      ],
      emailAddresses: [{ label: 'Email', value: 'testa@example.test' }],
      tags: ['Spry'],
      link: { type: 'custom', externalId: 'spry:74:1201', url: 'https://spry.test/patients/1201' },
    });
    expect(desired.fields).toEqual({
      'Spry Patient ID': '1201',
      'Spry Status': 'ACTIVE',
      Address: '1 Main St, Apt 2, Seattle, WA 98101',
      'Active Case': 'Left knee ACL rehab',
      'Referring Physician': 'Rex Ferrer (NPI 1234567890)',
      'Primary Insurance': 'Acme Health (AH-77)',
      'Next Appointment': '2026-12-01 09:30 (Riverside PT)',
    });
  });

  it('maps sex to gender and leaves absent data empty', () => {
    for (const [sex, gender] of [['MALE', 'male'], ['OTHER', 'other'], ['UNKNOWN', 'unknown']] as const) {
      const desired = desiredContact(
        { patient: patientFixture({ sex, mobile: null, secondary_contact: null, email_address: null, address: null, middle_name: null }), cases: [], nextAppointment: null },
        context,
      );
      expect(desired.gender).toBe(gender);
      expect(desired.phoneNumbers).toEqual([]);
      expect(desired.emailAddresses).toEqual([]);
      expect(desired.middleName).toBe('');
      expect(desired.fields['Address']).toBe('');
      expect(desired.fields['Active Case']).toBe('');
      expect(desired.fields['Next Appointment']).toBe('');
    }
  });

  it('uses the newest active case and the tenant time zone when the clinic has none', () => {
    const desired = desiredContact(
      {
        patient: patientFixture(),
        cases: [
          caseFixture({ spry_case_id: 'SPRY_CASE_old', case_title: 'Old', updated_date: '2026-01-01T00:00:00Z' }),
          caseFixture({ spry_case_id: 'SPRY_CASE_new', case_title: 'New', updated_date: '2026-11-01T00:00:00Z', referring_physician_details: null, insurance_card_list: [] }),
          caseFixture({ spry_case_id: 'SPRY_CASE_done', case_title: 'Done', treatment_status: 'DISCHARGED', updated_date: '2026-11-20T00:00:00Z' }),
        ],
        nextAppointment: appointmentFixture({ clinic_id: 99 }),
      },
      context,
    );
    expect(desired.fields['Active Case']).toBe('New');
    expect(desired.fields['Referring Physician']).toBe('');
    expect(desired.fields['Primary Insurance']).toBe('');
    expect(desired.fields['Next Appointment']).toBe('2026-12-01 12:30 (Riverside PT)');
  });

  it('honours renamed fields and tag', () => {
    const renamed = syncPolicySchema.parse({ tag: 'From Spry', fieldNames: { spryPatientId: 'EMR ID' } });
    const desired = desiredContact({ patient: patientFixture(), cases: [], nextAppointment: null }, { ...context, policy: renamed });
    expect(desired.tags).toEqual(['From Spry']);
    expect(desired.fields['EMR ID']).toBe('1201');
    expect(desired.fields['Spry Patient ID']).toBeUndefined();
  });

  it('builds external ids and tells upcoming appointments', () => {
    expect(spryExternalId(7, 42)).toBe('spry:7:42');
    const at = Number(appointmentFixture().date_time) * 1000;
    expect(isUpcoming(appointmentFixture(), at - 1)).toBe(true);
    expect(isUpcoming(appointmentFixture(), at + 1)).toBe(false);
    expect(isUpcoming(appointmentFixture({ status: 'CANCELLED' }), at - 1)).toBe(false);
  });
});
