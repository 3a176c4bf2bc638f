// A morning at a small clinic, scripted against the simulators: new patients, edits, bookings,
// a case, a phone edit in Spruce and messages from patients. The demo runs it; so does the
// demo's own test.
import type { Sandbox } from './environment.ts';
import { SANDBOX_SPRY_ORG } from './environment.ts';

export interface ActivityReport {
  registered: number[];
  edited: number[];
  messagesFrom: number[];
}

/** Spry-side activity: registrations, edits, bookings, a case. Returns the patients touched. */
export function clinicMorning(sandbox: Sandbox, existing: number[]): ActivityReport {
  const { staff } = sandbox.spry;
  const org = SANDBOX_SPRY_ORG;
  const registered = [
    staff.registerPatient(org, { first_name: 'Avery', last_name: 'Demo', date_of_birth: '1987-03-14', sex: 'FEMALE', mobile: '+15555550101', email_address: 'avery.demo@example.test' }),
    staff.registerPatient(org, { first_name: 'Jordan', last_name: 'Sample', date_of_birth: '1975-11-02', sex: 'MALE', mobile: '+15555550102' }),
    staff.registerPatient(org, { first_name: 'Riley', last_name: 'Example', date_of_birth: '2001-07-30', sex: 'OTHER', email_address: 'riley.example@example.test' }),
  ].map((p) => p.patient_id);
  const inAWeek = new Date(sandbox.clock.now() + 7 * 86_400_000).toISOString();
  staff.bookAppointment(org, { patient_id: registered[0]!, date_time: inAWeek });
  staff.openCase(org, { patient_id: registered[1]!, case_title: 'Lower back pain' });
  const edited = existing.slice(0, 3);
  for (const id of edited) staff.editPatient(org, id, { alias: `Seen ${new Date(sandbox.clock.now()).toISOString().slice(0, 10)}` });
  return { registered, edited, messagesFrom: [] };
}

/** Spruce-side activity once contacts exist: a phone edit and patient messages. */
export function frontDeskAfternoon(sandbox: Sandbox, contactIds: string[]): { phoneEdited?: string; messaged: string[] } {
  const { staff } = sandbox.spruce;
  const messaged: string[] = [];
  const [first, second] = contactIds;
  let phoneEdited: string | undefined;
  if (first) {
    staff.editContact(first, { phoneNumbers: [{ label: 'Mobile', value: '+15555550199' }] });
    phoneEdited = first;
  }
  if (second) {
    staff.receiveSecureMessage({ contactId: second, text: 'Running ten minutes late for my appointment.' });
    messaged.push(second);
  }
  staff.receiveSms({ from: '+15555550100', text: 'Hi, is the clinic open on Saturday?' });
  return { phoneEdited, messaged };
}
