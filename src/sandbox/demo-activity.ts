// A day at a small clinic, scripted against the simulators: in Spry, new patients, a booking, a
// case and edits of what we sync (phone, email, address, name); in Spruce, a front-desk phone
// edit, a secure message from a patient and a text from an unknown number. Each action says
// what should then be true on the far side, so the demo (and its test) can check it there.
import type { FieldNames } from '../config/schema.ts';
import type { SpruceContact } from '../spruce/types.ts';
import { snapshotOfContact } from '../sync/contact-diff.ts';
import type { Sandbox } from './environment.ts';
import { SANDBOX_SPRY_ORG } from './environment.ts';

/** A change in one system and how to tell, in the other, that it arrived. */
export interface Expectation {
  /** What was done, without PHI: "patient 74000001: phone changed in Spry". */
  label: string;
  patientId: number;
}

export interface SpryExpectation extends Expectation {
  /** Whether the patient's Spruce contact shows the change. */
  shownBy(contact: SpruceContact): boolean;
}

export interface ClinicMorning {
  registered: number[];
  /** Edits of existing charts, one per synced field kind, then the booking and the case. */
  expectations: SpryExpectation[];
}

/** Fields the edits touch, by what the sync maps them to (src/sync/desired-contact.ts). */
const EDITS = {
  phone: '+15555550111',
  email: 'new.address@example.test',
  address: { line1: '12 Harbour Street', city: 'Portland', state: 'ME', postal_code: '04101' },
  familyName: 'Rivera-Demo',
} as const;

const digits = (value: string) => value.replace(/\D/g, '');

/** Spry-side activity: registrations, a booking, a case and four chart edits of synced fields. */
export function clinicMorning(sandbox: Sandbox, existing: number[], fieldNames: FieldNames): ClinicMorning {
  const { staff } = sandbox.spry;
  const org = SANDBOX_SPRY_ORG;
  const registered = [
    staff.registerPatient(org, { first_name: 'Avery', last_name: 'Demo', date_of_birth: '1987-03-14', sex: 'FEMALE', mobile: '+15555550101', email_address: 'avery.demo@example.test' }),
    staff.registerPatient(org, { first_name: 'Jordan', last_name: 'Sample', date_of_birth: '1975-11-02', sex: 'MALE', mobile: '+15555550102' }),
    staff.registerPatient(org, { first_name: 'Riley', last_name: 'Example', date_of_birth: '2001-07-30', sex: 'OTHER', email_address: 'riley.example@example.test' }),
  ].map((p) => p.patient_id);
  const [booked, withCase] = registered as [number, number, number];
  const inAWeek = new Date(sandbox.clock.now() + 7 * 86_400_000).toISOString();
  staff.bookAppointment(org, { patient_id: booked, date_time: inAWeek });
  const caseTitle = 'Lower back pain';
  staff.openCase(org, { patient_id: withCase, case_title: caseTitle });

  const [phone, email, address, name] = existing as [number, number, number, number];
  staff.editPatient(org, phone, { mobile: EDITS.phone });
  staff.editPatient(org, email, { email_address: EDITS.email });
  staff.editPatient(org, address, { address: EDITS.address });
  staff.editPatient(org, name, { last_name: EDITS.familyName });
  const field = (contact: SpruceContact, key: string) => snapshotOfContact(contact).fields[key] ?? '';
  const expectations: SpryExpectation[] = [
    {
      label: `patient ${phone}: mobile phone changed`,
      patientId: phone,
      shownBy: (c) => (c.phoneNumbers ?? []).some((p) => digits(p.value) === digits(EDITS.phone)),
    },
    { label: `patient ${email}: email changed`, patientId: email, shownBy: (c) => (c.emailAddresses ?? []).some((e) => e.value === EDITS.email) },
    { label: `patient ${address}: address changed`, patientId: address, shownBy: (c) => field(c, fieldNames.address).startsWith(EDITS.address.line1) },
    { label: `patient ${name}: last name changed`, patientId: name, shownBy: (c) => c.familyName === EDITS.familyName },
    { label: `patient ${booked}: appointment booked`, patientId: booked, shownBy: (c) => field(c, fieldNames.nextAppointment) !== '' },
    { label: `patient ${withCase}: case opened`, patientId: withCase, shownBy: (c) => field(c, fieldNames.activeCase) === caseTitle },
  ];
  return { registered, expectations };
}

export interface FrontDeskAfternoon {
  /** The patient whose phone staff changed in Spruce, and the number Spry should now hold. */
  phoneEdit?: { patientId: number; contactId: string; mobile: string };
  /** The patient who sent a secure message (a chart entry expected). */
  message?: { patientId: number; contactId: string };
  /** A text from a number no contact has: expected to stay unmatched. */
  unknownSmsFrom: string;
}

/**
 * Spruce-side activity once contacts exist: a phone edit (written back to Spry), a secure
 * message (recorded on the chart) and an SMS from a number nobody has (left unmatched).
 * `linked` pairs patients with their contacts; the first two are used.
 */
export function frontDeskAfternoon(sandbox: Sandbox, linked: { patientId: number; contactId: string }[]): FrontDeskAfternoon {
  const { staff } = sandbox.spruce;
  const [first, second] = linked;
  const result: FrontDeskAfternoon = { unknownSmsFrom: '+15555550100' };
  if (first) {
    const mobile = '+15555550199';
    staff.editContact(first.contactId, { phoneNumbers: [{ label: 'Mobile', value: mobile }] });
    result.phoneEdit = { ...first, mobile };
  }
  if (second) {
    staff.receiveSecureMessage({ contactId: second.contactId, text: 'Running ten minutes late for my appointment.' });
    result.message = second;
  }
  staff.receiveSms({ from: result.unknownSmsFrom, text: 'Hi, is the clinic open on Saturday?' });
  return result;
}
