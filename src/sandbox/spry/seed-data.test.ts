import { describe, expect, it } from 'vitest';
import {
  buildOrganisation,
  caseSkeletons,
  generateAppointments,
  generateCases,
  generatePatient,
  npiFor,
  patientIdOfAppointment,
  patientIdOfCase,
  patientMeta,
} from './seed-data.ts';
import { randomFor } from './random.ts';

const REFERENCE = Date.UTC(2026, 5, 11, 15, 30);
const org = (seed = 1, patients = 1000) => buildOrganisation({ seed, organisationId: 74, patients, referenceMs: REFERENCE });

function luhnValid(npi: string): boolean {
  const digits = `80840${npi}`;
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = Number(digits[digits.length - 1 - i]);
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 === 0;
}

describe('seeded Spry data', () => {
  it('builds 2–4 named clinics with doctors, deterministically per seed', () => {
    const a = org(1);
    expect(a.clinics.length).toBeGreaterThanOrEqual(2);
    expect(a.clinics.length).toBeLessThanOrEqual(4);
    expect(new Set(a.clinics.map((c) => c.name)).size).toBe(a.clinics.length);
    for (const clinic of a.clinics) expect(a.doctors.filter((d) => d.clinic_id === clinic.clinic_id).length).toBeGreaterThanOrEqual(2);
    expect(org(1)).toEqual(a);
    expect(org(2).clinics).not.toEqual(a.clinics);
    expect(a.referenceMs).toBe(Date.UTC(2026, 5, 11));
  });

  it('makes the same patient from the same seed whatever the organisation size', () => {
    const id = org().firstPatientId + 17;
    expect(generatePatient(org(1, 50), id)).toEqual(generatePatient(org(1, 100_000), id));
    expect(generatePatient(org(2), id)).not.toEqual(generatePatient(org(1), id));
  });

  it('makes realistic patients: E.164 US phones, some nulls, mostly ACTIVE', () => {
    const o = org(1, 2000);
    const patients = Array.from({ length: 2000 }, (_, i) => generatePatient(o, o.firstPatientId + i));
    const share = (f: (p: (typeof patients)[number]) => boolean) => patients.filter(f).length / patients.length;
    for (const p of patients) {
      if (p.mobile) expect(p.mobile).toMatch(/^\+1[2-9]\d{2}[2-9]\d{6}$/);
      if (p.secondary_contact) expect(p.secondary_contact).toMatch(/^\+1\d{10}$/);
      if (p.email_address) expect(p.email_address).toMatch(/^[^@\s]+@example\.(com|net|org)$/);
      expect(p.date_of_birth).toMatch(/^\d{4}-\d{2}-\d{2}$/);
      expect(o.clinics.map((c) => c.clinic_id)).toContain(p.clinic_id);
      expect(p.name).toContain(p.first_name);
      expect(Date.parse(p.updated_date)).toBeLessThan(REFERENCE);
      // The cheap metadata the list filters use agrees with the full record.
      const meta = patientMeta(o, p.patient_id);
      expect([meta.status, meta.updatedMs, meta.clinicId, meta.sex]).toEqual([p.status, Date.parse(p.updated_date), p.clinic_id, p.sex]);
    }
    expect(share((p) => p.status === 'ACTIVE')).toBeGreaterThan(0.85);
    expect(share((p) => p.status === 'INACTIVE')).toBeGreaterThan(0.03);
    expect(share((p) => p.status === 'ARCHIVED')).toBeGreaterThan(0.01);
    expect(share((p) => p.mobile === null)).toBeGreaterThan(0.03);
    expect(share((p) => p.email_address === null)).toBeGreaterThan(0.08);
    expect(share((p) => p.secondary_contact !== null)).toBeGreaterThan(0.15);
    expect(new Set(patients.map((p) => p.last_name)).size).toBeGreaterThan(200);
  });

  it('makes cases with referring physicians (valid NPI), ICD codes and insurance cards', () => {
    const o = org();
    const cases = Array.from({ length: 300 }, (_, i) => generateCases(o, o.firstPatientId + i)).flat();
    expect(cases.length).toBeGreaterThan(200);
    for (const c of cases) {
      expect(c.spry_case_id).toMatch(/^SPRY_CASE_[0-9a-f]+$/);
      expect(patientIdOfCase(c.spry_case_id)).toBe(c.patient_id);
      expect(c.icd_codes.length).toBeGreaterThan(0);
      if (c.referring_physician_details?.npi) expect(luhnValid(c.referring_physician_details.npi)).toBe(true);
      if (c.payment_mode === 'INSURANCE') expect(c.insurance_card_list[0]?.insurance_card_type).toBe('PRIMARY');
    }
    expect(cases.some((c) => c.insurance_card_list.some((card) => card.insurance_card_type === 'SECONDARY'))).toBe(true);
    expect(cases.some((c) => c.treatment_status === 'ACTIVE')).toBe(true);
    expect(cases.some((c) => c.treatment_status === 'DISCHARGED')).toBe(true);
  });

  it('makes NPIs that pass the CMS check digit', () => {
    const random = randomFor(9);
    for (let i = 0; i < 200; i++) expect(luhnValid(npiFor(random))).toBe(true);
  });

  it('makes past and future appointments across clinics, ordered, linked to the patient’s cases', () => {
    const o = org();
    let past = 0;
    let future = 0;
    const clinics = new Set<number>();
    for (let i = 0; i < 300; i++) {
      const patientId = o.firstPatientId + i;
      const appointments = generateAppointments(o, patientId);
      const caseIds = caseSkeletons(o, patientId).map((c) => c.spry_case_id);
      const times = appointments.map((a) => Number(a.date_time));
      expect(times).toEqual([...times].sort((a, b) => a - b));
      for (const a of appointments) {
        expect(patientIdOfAppointment(a.appointment_id)).toBe(patientId);
        expect(Number(a.end_date_time)).toBeGreaterThan(Number(a.date_time));
        if (a.spry_case_id) expect(caseIds).toContain(a.spry_case_id);
        expect(o.doctors.find((d) => d.doctor_id === a.doctor_id)?.clinic_id).toBe(a.clinic_id);
        if (Number(a.date_time) * 1000 > REFERENCE) {
          future++;
          expect(['CONFIRMED', 'CANCELLED']).toContain(a.status);
        } else past++;
        clinics.add(a.clinic_id);
      }
    }
    expect(past).toBeGreaterThan(100);
    expect(future).toBeGreaterThan(30);
    expect(clinics.size).toBe(o.clinics.length);
  });

  it('builds an organisation of 100,000 patients at once and any of them on demand', () => {
    const started = performance.now();
    const o = org(1, 100_000);
    let inactive = 0;
    for (let i = 0; i < 100_000; i++) if (patientMeta(o, o.firstPatientId + i).status !== 'ACTIVE') inactive++;
    const last = generatePatient(o, o.firstPatientId + 99_999);
    expect(last.patient_id).toBe(o.firstPatientId + 99_999);
    expect(inactive).toBeGreaterThan(5_000);
    expect(performance.now() - started).toBeLessThan(3_000);
  });
});
