// Spry → Spruce mapping: from the current Spry records, the Spruce contact we want. A pure
// function, so the same records always give the same contact (and the same hash).
import type { SyncPolicy } from '../config/schema.ts';
import type { SpryAppointment, SpryCase, SpryPatient } from '../spry/types.ts';

export type SpruceGender = 'unknown' | 'male' | 'female' | 'other';

/** The contact as we want it, in Spruce's terms, with fields and tags by name. */
export interface DesiredContact {
  givenName: string;
  middleName: string;
  familyName: string;
  dateOfBirth: string;
  gender: SpruceGender;
  phoneNumbers: { label: string; value: string }[];
  emailAddresses: { label: string; value: string }[];
  /** Organization contact field name → value ('' = empty). */
  fields: Record<string, string>;
  tags: string[];
  link: { type: 'custom'; externalId: string; url: string };
}

export interface SpryRecords {
  patient: SpryPatient;
  cases: SpryCase[];
  /** The patient's next upcoming appointment, if any. */
  nextAppointment: SpryAppointment | null;
}

export interface MappingContext {
  organisationId: number;
  chartUrl: string;
  policy: SyncPolicy;
}

const GENDERS: Record<string, SpruceGender> = { MALE: 'male', FEMALE: 'female', OTHER: 'other' };

/** The integration link's external id: stable, unique across Spry organisations. */
export function spryExternalId(organisationId: number, patientId: number): string {
  return `spry:${organisationId}:${patientId}`;
}

export function desiredContact(records: SpryRecords, context: MappingContext): DesiredContact {
  const { patient } = records;
  const { policy } = context;
  const names = policy.fieldNames;
  const activeCase = pickActiveCase(records.cases);
  const phoneNumbers: DesiredContact['phoneNumbers'] = [];
  if (patient.mobile) phoneNumbers.push({ label: 'Mobile', value: patient.mobile });
  if (patient.secondary_contact && patient.secondary_contact !== patient.mobile) {
    phoneNumbers.push({ label: 'Secondary', value: patient.secondary_contact });
  }
  return {
    givenName: patient.first_name ?? '',
    middleName: patient.middle_name ?? '',
    familyName: patient.last_name ?? '',
    dateOfBirth: patient.date_of_birth ?? '',
    gender: GENDERS[patient.sex] ?? 'unknown',
    phoneNumbers,
    emailAddresses: patient.email_address ? [{ label: 'Email', value: patient.email_address }] : [],
    fields: {
      [names.spryPatientId]: String(patient.patient_id),
      [names.spryStatus]: patient.status,
      [names.address]: formatAddress(patient),
      [names.activeCase]: activeCase?.case_title ?? '',
      [names.referringPhysician]: formatReferringPhysician(activeCase),
      [names.primaryInsurance]: formatPrimaryInsurance(activeCase),
      [names.nextAppointment]: formatAppointment(records.nextAppointment, policy),
    },
    tags: [policy.tag],
    link: {
      type: 'custom',
      externalId: spryExternalId(context.organisationId, patient.patient_id),
      url: context.chartUrl.replaceAll('{patientId}', String(patient.patient_id)),
    },
  };
}

/** The most recently updated ACTIVE case; none when every case is discharged. */
function pickActiveCase(cases: SpryCase[]): SpryCase | undefined {
  return cases
    .filter((c) => c.treatment_status === 'ACTIVE')
    .sort((a, b) => b.updated_date.localeCompare(a.updated_date) || a.spry_case_id.localeCompare(b.spry_case_id))[0];
}

function formatAddress(patient: SpryPatient): string {
  const a = patient.address;
  if (!a) return '';
  const cityLine = [a.city, [a.state, a.postal_code].filter(Boolean).join(' ')].filter(Boolean).join(', ');
  return [a.line1, a.line2, cityLine].filter((part) => part && part.trim()).join(', ');
}

function formatReferringPhysician(activeCase: SpryCase | undefined): string {
  const doctor = activeCase?.referring_physician_details;
  if (!doctor) return '';
  const name = [doctor.first_name, doctor.last_name].filter(Boolean).join(' ');
  return doctor.npi ? `${name} (NPI ${doctor.npi})` : name;
}

function formatPrimaryInsurance(activeCase: SpryCase | undefined): string {
  const card = activeCase?.insurance_card_list.find((c) => c.insurance_card_type === 'PRIMARY');
  if (!card) return '';
  return card.insurance_number ? `${card.insurance_payer.name} (${card.insurance_number})` : card.insurance_payer.name;
}

/** "2026-12-01 09:30 (Riverside Clinic)" in the clinic's own time zone. */
function formatAppointment(appointment: SpryAppointment | null, policy: SyncPolicy): string {
  if (!appointment) return '';
  const zone = policy.clinicTimezones[String(appointment.clinic_id)] ?? policy.timezone;
  const parts = new Intl.DateTimeFormat('en-CA', {
    timeZone: zone,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    hourCycle: 'h23',
  }).formatToParts(new Date(Number(appointment.date_time) * 1000));
  const part = (type: string) => parts.find((p) => p.type === type)?.value ?? '';
  const when = `${part('year')}-${part('month')}-${part('day')} ${part('hour')}:${part('minute')}`;
  return appointment.clinic_name ? `${when} (${appointment.clinic_name})` : when;
}

/** Appointments that still lie ahead for the patient. */
export function isUpcoming(appointment: SpryAppointment, nowMs: number): boolean {
  return (
    Number(appointment.date_time) * 1000 >= nowMs &&
    (appointment.status === 'CONFIRMED' || appointment.status === 'PATIENT_CHECKIN' || appointment.status === 'IN_PROGRESS')
  );
}
