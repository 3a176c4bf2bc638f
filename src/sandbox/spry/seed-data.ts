// Seeded fake data for the Spry simulator. Nothing is generated up front: each patient, its
// cases and its appointments are a pure function of (seed, organisation, patient id), so an
// organisation of 100,000 patients "exists" at once and costs memory only for what changes.
// The cheap fields a list filter needs (status, updated date, clinic) come from a plain PRNG;
// names and addresses come from faker only when a record is actually read.
import { Faker, base, en, en_US, type Randomizer } from '@faker-js/faker';
import type {
  SpryAddress,
  SpryAppointment,
  SpryAppointmentStatus,
  SpryCase,
  SpryInsuranceCard,
  SpryPatient,
  SpryPatientStatus,
  SprySex,
} from '../../spry/types.ts';
import { seededRandom } from '../faults.ts';
import { APPOINTMENT_COMMENTS, AREA_CODES, CATEGORY_IDS, CLINIC_SUFFIXES, CONDITIONS, PAYERS } from './catalog.ts';
import { hash32, hex, int, pick, randomFor, weighted, type Random } from './random.ts';

const DAY = 86_400_000;

export interface SpryClinic {
  clinic_id: number;
  name: string;
  city: string;
  state: string;
}

export interface SpryDoctor {
  doctor_id: number;
  first_name: string;
  last_name: string;
  name: string;
  clinic_id: number;
}

export interface OrganisationSeed {
  seed: number;
  organisationId: number;
  name: string;
  clinics: SpryClinic[];
  doctors: SpryDoctor[];
  /** Ids firstPatientId … firstPatientId + patientCount − 1 are the seeded patients. */
  firstPatientId: number;
  patientCount: number;
  /** UTC midnight of the day the simulator started: seeded dates are offsets from it. */
  referenceMs: number;
}

/** Fields a list filter needs, without building the whole record. */
export interface PatientMeta {
  status: SpryPatientStatus;
  updatedMs: number;
  clinicId: number;
  sex: SprySex;
}

export interface CaseSkeleton {
  spry_case_id: string;
  index: number;
  condition: (typeof CONDITIONS)[number];
  treatment_status: 'ACTIVE' | 'DISCHARGED';
  createdMs: number;
}

// One faker instance on a cheap randomizer: reseeding faker's default Mersenne Twister costs
// ~20 µs, which would dominate generating 100k patients.
let current: Random = seededRandom(1);
const randomizer: Randomizer = {
  next: () => current(),
  seed: (seed) => {
    current = seededRandom(Array.isArray(seed) ? hash32(...seed) : seed);
  },
};
const faker = new Faker({ locale: [en_US, en, base], randomizer });
/** Draws from the same stream as faker, for the choices faker has no helper for. */
const fakerRandom: Random = () => current();

function fakerFor(...parts: number[]): Faker {
  faker.seed(hash32(...parts));
  return faker;
}

// Purposes mixed into the hashes, so each stream is independent of the others.
const P_META = 1;
const P_PERSON = 2;
const P_APPTS = 3;
const P_CASES = 4;
const P_CASE_DETAIL = 5;
const P_ORG = 6;

/** A patient's first id for an organisation: ids never collide across organisations. */
export function firstPatientIdFor(organisationId: number): number {
  return organisationId * 1_000_000 + 1;
}

export function buildOrganisation(input: {
  seed: number;
  organisationId: number;
  name?: string;
  patients: number;
  referenceMs: number;
}): OrganisationSeed {
  const { seed, organisationId } = input;
  const f = fakerFor(seed, organisationId, P_ORG);
  const random = fakerRandom;
  const clinicCount = int(random, 2, 4);
  const clinics: SpryClinic[] = [];
  const cities = new Set<string>();
  for (let k = 1; k <= clinicCount; k++) {
    let city = f.location.city();
    while (cities.has(city)) city = f.location.city();
    cities.add(city);
    clinics.push({
      clinic_id: organisationId * 100 + k,
      name: `${city} ${pick(random, CLINIC_SUFFIXES)}`,
      city,
      state: f.location.state({ abbreviated: true }),
    });
  }
  const doctors: SpryDoctor[] = [];
  for (const clinic of clinics) {
    const perClinic = int(random, 2, 3);
    for (let k = 0; k < perClinic; k++) {
      const first = f.person.firstName();
      const last = f.person.lastName();
      doctors.push({
        doctor_id: organisationId * 1000 + doctors.length + 1,
        first_name: first,
        last_name: last,
        name: `${first} ${last}, DPT`,
        clinic_id: clinic.clinic_id,
      });
    }
  }
  return {
    seed,
    organisationId,
    name: input.name ?? `${f.person.lastName()} Physical Therapy Group`,
    clinics,
    doctors,
    firstPatientId: firstPatientIdFor(organisationId),
    patientCount: input.patients,
    referenceMs: Math.floor(input.referenceMs / DAY) * DAY,
  };
}

export function isSeededPatient(org: OrganisationSeed, patientId: number): boolean {
  return (
    Number.isInteger(patientId) && patientId >= org.firstPatientId && patientId < org.firstPatientId + org.patientCount
  );
}

export function patientMeta(org: OrganisationSeed, patientId: number): PatientMeta {
  const random = randomFor(org.seed, org.organisationId, patientId, P_META);
  const status = weighted<SpryPatientStatus>(random, [
    ['ACTIVE', 90],
    ['INACTIVE', 7],
    ['ARCHIVED', 3],
  ]);
  const updatedMs = org.referenceMs - int(random, 1, 730) * DAY + int(random, 0, DAY / 1000 - 1) * 1000;
  const clinicId = pick(random, org.clinics).clinic_id;
  const sex = weighted<SprySex>(random, [
    ['FEMALE', 52],
    ['MALE', 45],
    ['OTHER', 2],
    ['UNKNOWN', 1],
  ]);
  return { status, updatedMs, clinicId, sex };
}

export function usPhone(random: Random): string {
  const area = pick(random, AREA_CODES);
  let exchange = int(random, 200, 999);
  if (exchange % 100 === 11 || exchange === 555) exchange += 1; // N11 and 555 are not real exchanges
  const line = int(random, 0, 9999).toString().padStart(4, '0');
  return `+1${area}${exchange}${line}`;
}

function isoDate(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

export function emptyAddress(): SpryAddress {
  return { line1: '', line2: '', landmark: '', city: '', state: '', postal_code: '' };
}

export function fullName(p: Pick<SpryPatient, 'first_name' | 'middle_name' | 'last_name' | 'suffix'>): string {
  return [p.first_name, p.middle_name, p.last_name, p.suffix].filter((part) => part).join(' ');
}

export function generatePatient(org: OrganisationSeed, patientId: number): SpryPatient {
  const meta = patientMeta(org, patientId);
  const f = fakerFor(org.seed, org.organisationId, patientId, P_PERSON);
  const random = fakerRandom;
  const sexType = meta.sex === 'MALE' ? 'male' : meta.sex === 'FEMALE' ? 'female' : undefined;
  const first_name = f.person.firstName(sexType);
  const last_name = f.person.lastName();
  const middleRoll = random();
  const middle_name =
    middleRoll < 0.35 ? f.person.firstName(sexType) : middleRoll < 0.5 ? `${f.string.alpha({ casing: 'upper' })}.` : '';
  const suffix = meta.sex === 'MALE' && random() < 0.05 ? pick(random, ['Jr.', 'Sr.', 'II', 'III']) : '';
  const alias = random() < 0.08 ? f.person.firstName(sexType) : null;
  // Ages 4–94 on the reference day; the year range is fixed so the seed alone decides it.
  const dobMs = Date.UTC(1931, 0, 1) + int(random, 0, 365 * 90) * DAY;
  const mobile = random() < 0.92 ? usPhone(random) : null;
  const secondary_contact = random() < 0.25 ? usPhone(random) : null;
  const email_address =
    random() < 0.85
      ? f.internet
          .email({ firstName: first_name, lastName: last_name, provider: pick(random, ['example.com', 'example.net', 'example.org']) })
          .toLowerCase()
      : null;
  // The doc marks only alias, mobile, secondary_contact and email_address as nullable: absent
  // middle names, suffixes and address parts are empty strings, and the address is always there.
  const address =
    random() < 0.98
      ? {
          line1: f.location.streetAddress(),
          line2: random() < 0.2 ? f.location.secondaryAddress() : '',
          landmark: random() < 0.03 ? `Near ${f.location.street()}` : '',
          city: f.location.city(),
          state: f.location.state({ abbreviated: true }),
          postal_code: f.location.zipCode('#####'),
        }
      : emptyAddress();
  const patient: SpryPatient = {
    patient_id: patientId,
    first_name,
    middle_name,
    last_name,
    suffix,
    alias,
    name: '',
    date_of_birth: isoDate(dobMs),
    sex: meta.sex,
    mobile,
    secondary_contact,
    email_address,
    address,
    status: meta.status,
    clinic_id: meta.clinicId,
    updated_date: new Date(meta.updatedMs).toISOString(),
  };
  patient.name = fullName(patient);
  return patient;
}

/** Case ids encode the patient and a per-patient index, so a case can be found from its id alone. */
export function caseId(patientId: number, index: number, random: Random): string {
  return `SPRY_CASE_${patientId.toString(16).padStart(12, '0')}${index.toString(16).padStart(2, '0')}${hex(random, 6)}`;
}

export function patientIdOfCase(spryCaseId: string): number | undefined {
  const match = /^SPRY_CASE_([0-9a-f]{12})([0-9a-f]{2})[0-9a-f]{6}$/.exec(spryCaseId);
  return match ? parseInt(match[1]!, 16) : undefined;
}

export function caseSkeletons(org: OrganisationSeed, patientId: number): CaseSkeleton[] {
  const meta = patientMeta(org, patientId);
  const random = randomFor(org.seed, org.organisationId, patientId, P_CASES);
  const count = weighted(random, [
    [0, 15],
    [1, 60],
    [2, 20],
    [3, 5],
  ]);
  const out: CaseSkeleton[] = [];
  let createdMs = org.referenceMs - int(random, 30, 900) * DAY;
  for (let index = 1; index <= count; index++) {
    const last = index === count;
    out.push({
      spry_case_id: caseId(patientId, index, random),
      index,
      condition: pick(random, CONDITIONS),
      treatment_status: last && meta.status === 'ACTIVE' && random() < 0.85 ? 'ACTIVE' : 'DISCHARGED',
      createdMs,
    });
    createdMs = Math.min(org.referenceMs - DAY, createdMs + int(random, 20, 200) * DAY);
  }
  return out;
}

/** Luhn check digit over the "80840" prefix, as CMS defines the NPI. */
export function npiFor(random: Random): string {
  const body = `${pick(random, ['1', '2'])}${int(random, 0, 99_999_999).toString().padStart(8, '0')}`;
  const digits = `80840${body}`;
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = Number(digits[digits.length - 1 - i]);
    if (i % 2 === 0) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return `${body}${(10 - (sum % 10)) % 10}`;
}

export function generateCases(org: OrganisationSeed, patientId: number): SpryCase[] {
  return caseSkeletons(org, patientId).map((skeleton) => {
    const f = fakerFor(org.seed, org.organisationId, patientId, P_CASE_DETAIL, skeleton.index);
    const random = fakerRandom;
    const paymentMode = weighted(random, [
      ['INSURANCE', 75],
      ['SELF_PAY', 10],
      ['WORKERS_COMPENSATION', 8],
      ['PERSONAL_INJURY', 7],
    ]);
    const year = new Date(skeleton.createdMs).getUTCFullYear();
    const card = (type: SpryInsuranceCard['insurance_card_type']): SpryInsuranceCard => ({
      insurance_card_id: hash32(org.seed, patientId, skeleton.index, type.length) % 9_000_000 + 1_000_000,
      insurance_payer: { ...pick(random, PAYERS) },
      insurance_number: `${f.string.alpha({ length: 3, casing: 'upper' })}${f.string.numeric(9)}`,
      plan_start_date: `${year}-01-01`,
      plan_end_date: random() < 0.7 ? `${year}-12-31` : null,
      insurance_card_type: type,
    });
    const cards: SpryInsuranceCard[] = [];
    if (paymentMode === 'INSURANCE') {
      cards.push(card('PRIMARY'));
      if (random() < 0.3) cards.push(card('SECONDARY'));
    }
    const updatedMs = Math.min(org.referenceMs - 1000, skeleton.createdMs + int(random, 0, 60) * DAY);
    return {
      spry_case_id: skeleton.spry_case_id,
      patient_id: patientId,
      case_title: skeleton.condition.title,
      specialization: skeleton.condition.specialization,
      treatment_status: skeleton.treatment_status,
      created_date: new Date(skeleton.createdMs).toISOString(),
      updated_date: new Date(updatedMs).toISOString(),
      referring_physician_details:
        random() < 0.85
          ? {
              first_name: f.person.firstName(),
              last_name: f.person.lastName(),
              npi: npiFor(random),
              ref_physician_id: int(random, 10_000, 99_999),
              fax_number: random() < 0.6 ? usPhone(random) : null,
              phone_number: usPhone(random),
            }
          : null,
      icd_codes: skeleton.condition.icd.map(([code, description]) => ({ code, description, revision: 'ICD-10' })),
      insurance_card_list: cards,
      payment_mode: paymentMode,
      treatment_start_date: isoDate(skeleton.createdMs),
      date_of_injury: random() < 0.7 ? isoDate(skeleton.createdMs - int(random, 3, 60) * DAY) : null,
    };
  });
}

/** Appointment ids encode the patient (id = patient_id × 1000 + n). */
export const APPOINTMENTS_PER_PATIENT_LIMIT = 999;

export function appointmentId(patientId: number, n: number): number {
  return patientId * 1000 + n;
}

export function patientIdOfAppointment(appointmentIdValue: number): number {
  return Math.floor(appointmentIdValue / 1000);
}

/**
 * Weekday clinic hours in 15-minute slots: 8:00–17:45 US Eastern standard time (13:00–22:45
 * UTC). The simulator keeps no per-clinic time zone.
 */
function slotOn(dayMs: number, random: Random): number {
  const weekday = new Date(dayMs).getUTCDay();
  const shift = weekday === 6 ? 2 : weekday === 0 ? 1 : 0;
  return dayMs + shift * DAY + int(random, 13 * 4, 22 * 4 + 3) * 15 * 60_000;
}

export function generateAppointments(org: OrganisationSeed, patientId: number): SpryAppointment[] {
  const meta = patientMeta(org, patientId);
  const cases = caseSkeletons(org, patientId);
  const random = randomFor(org.seed, org.organisationId, patientId, P_APPTS);
  const active = meta.status === 'ACTIVE';
  const count = random() < 0.1 ? 0 : int(random, 1, active ? 8 : 4);
  const drafts: Omit<SpryAppointment, 'appointment_id'>[] = [];
  for (let k = 0; k < count; k++) {
    const future = active && random() < 0.3;
    const day = org.referenceMs + (future ? int(random, 1, 45) : -int(random, 1, 365)) * DAY;
    const start = slotOn(day, random);
    const end = start + pick(random, [30, 45, 60]) * 60_000;
    const clinicId = random() < 0.8 ? meta.clinicId : pick(random, org.clinics).clinic_id;
    const clinic = org.clinics.find((c) => c.clinic_id === clinicId)!;
    const doctor = pick(
      random,
      org.doctors.filter((d) => d.clinic_id === clinicId),
    );
    const linked = cases.length > 0 && random() < 0.85 ? cases[cases.length - 1]! : null;
    const status: SpryAppointmentStatus = future
      ? weighted<SpryAppointmentStatus>(random, [
          ['CONFIRMED', 90],
          ['CANCELLED', 10],
        ])
      : weighted<SpryAppointmentStatus>(random, [
          ['COMPLETED', 80],
          ['NO_SHOW', 7],
          ['CANCELLED', 13],
        ]);
    const s = (ms: number) => String(Math.floor(ms / 1000));
    const completed = status === 'COMPLETED';
    drafts.push({
      patient_id: patientId,
      doctor_id: doctor.doctor_id,
      clinic_id: clinicId,
      spry_case_id: linked?.spry_case_id ?? null,
      case_title: linked?.condition.title ?? null,
      category_id: pick(random, CATEGORY_IDS),
      date_time: s(start),
      end_date_time: s(end),
      check_in_time: completed ? s(start - int(random, 2, 15) * 60_000) : null,
      in_progress_at: completed ? s(start) : null,
      check_out_time: completed ? s(end) : null,
      comments: pick(random, APPOINTMENT_COMMENTS),
      tele_health_url: random() < 0.05 ? `https://telehealth.sprypt.com/room/${hex(random, 16)}` : null,
      status,
      doctor_name: doctor.name,
      clinic_name: clinic.name,
    });
  }
  drafts.sort((a, b) => Number(a.date_time) - Number(b.date_time));
  return drafts.map((draft, i) => ({ appointment_id: appointmentId(patientId, i + 1), ...draft }));
}
