// Spry EMR record shapes and the client the sync depends on (../shared/docs/spry-api.md).
// Fields marked [assumed] there are our chosen contract; each call sits behind one method.

export type SprySex = 'MALE' | 'FEMALE' | 'OTHER' | 'UNKNOWN';
export type SpryPatientStatus = 'ACTIVE' | 'INACTIVE' | 'ARCHIVED';
export type SpryAppointmentStatus =
  | 'CONFIRMED'
  | 'PATIENT_CHECKIN'
  | 'IN_PROGRESS'
  | 'COMPLETED'
  | 'CANCELLED'
  | 'NO_SHOW';

export interface SpryAddress {
  line1: string | null;
  line2: string | null;
  landmark: string | null;
  city: string | null;
  state: string | null;
  postal_code: string | null;
}

export interface SpryPatient {
  patient_id: number;
  first_name: string;
  middle_name: string | null;
  last_name: string;
  suffix: string | null;
  alias: string | null;
  name: string;
  date_of_birth: string; // YYYY-MM-DD
  sex: SprySex;
  mobile: string | null; // E.164
  secondary_contact: string | null; // E.164
  email_address: string | null;
  address: SpryAddress | null;
  status: SpryPatientStatus;
  clinic_id: number;
  updated_date: string; // ISO-8601
}

export type SpryPatientPatch = Partial<
  Pick<
    SpryPatient,
    | 'first_name'
    | 'last_name'
    | 'middle_name'
    | 'date_of_birth'
    | 'sex'
    | 'mobile'
    | 'secondary_contact'
    | 'email_address'
    | 'address'
  >
>;

export interface SpryAppointment {
  appointment_id: number;
  patient_id: number;
  doctor_id: number;
  clinic_id: number;
  spry_case_id: string | null;
  case_title: string | null;
  category_id: number | null;
  date_time: string; // epoch seconds, as a string
  end_date_time: string; // epoch seconds, as a string
  check_in_time: string | null;
  in_progress_at: string | null;
  check_out_time: string | null;
  comments: string | null;
  tele_health_url: string | null;
  status: SpryAppointmentStatus;
  doctor_name: string;
  clinic_name: string;
}

export interface SpryReferringPhysician {
  first_name: string;
  last_name: string;
  npi: string | null;
  ref_physician_id: number;
  fax_number: string | null;
  phone_number: string | null;
}

export interface SpryInsuranceCard {
  insurance_card_id: number;
  insurance_payer: { name: string; payer_id: string };
  insurance_number: string;
  plan_start_date: string | null;
  plan_end_date: string | null;
  insurance_card_type: 'PRIMARY' | 'SECONDARY' | 'TERTIARY';
}

export interface SpryCase {
  spry_case_id: string; // SPRY_CASE_<hex>
  patient_id: number;
  case_title: string;
  specialization: string | null;
  treatment_status: 'ACTIVE' | 'DISCHARGED';
  created_date: string;
  updated_date: string;
  referring_physician_details: SpryReferringPhysician | null;
  icd_codes: { code: string; description: string; revision: string }[];
  insurance_card_list: SpryInsuranceCard[];
  payment_mode: string | null;
  treatment_start_date: string | null;
  date_of_injury: string | null;
}

export interface SpryPage<T> {
  total: number;
  pages: number;
  current: number;
  no_of_records: number;
  is_paged: boolean;
  content: T[];
}

export type SpryCommunicationKind = 'MESSAGE' | 'CALL' | 'NOTE' | 'FAX';

export interface SpryCommunicationInput {
  channel: 'SPRUCE';
  direction: 'INBOUND' | 'OUTBOUND';
  kind: SpryCommunicationKind;
  occurred_at: string; // ISO-8601
  summary: string; // ≤ 2000 chars
  external_id: string;
}

export interface SpryCommunication extends SpryCommunicationInput {
  communication_id: number;
  patient_id: number;
  created_date: string;
}

export type SpryEventType =
  | 'patient.created'
  | 'patient.updated'
  | 'appointment.created'
  | 'appointment.updated'
  | 'appointment.cancelled'
  | 'case.created'
  | 'case.updated';

export const SPRY_EVENT_TYPES: readonly SpryEventType[] = [
  'patient.created',
  'patient.updated',
  'appointment.created',
  'appointment.updated',
  'appointment.cancelled',
  'case.created',
  'case.updated',
];

/** The minimized webhook envelope, api_version 2026-06-11: ids and a status, no PHI. */
export interface SpryWebhookEnvelope {
  event_id: string;
  event_type: string;
  api_version: string;
  timestamp: number;
  data: {
    organisation_id: number;
    patient_id?: number;
    appointment_id?: number;
    spry_case_id?: string | null;
    clinic_id?: number;
    status?: string;
    treatment_status?: string;
  };
  test?: boolean;
}

export const SPRY_API_VERSION = '2026-06-11';

export interface SprySubscription {
  id: string;
  name: string;
  event_types: string[];
  notification_url: string;
  api_version: string;
  is_active: boolean;
  created_date: string;
}

export interface SpryListPatientsQuery {
  page: number;
  size: number;
  status?: SpryPatientStatus;
  updatedSince?: string; // ISO-8601
}

/** What the sync needs from Spry. One method per call, so an [assumed] endpoint changes in one place. */
export interface SpryApi {
  /** The patient, or null when Spry says it does not exist. */
  getPatient(patientId: number): Promise<SpryPatient | null>;
  listPatients(query: SpryListPatientsQuery): Promise<SpryPage<SpryPatient>>;
  patchPatient(patientId: number, patch: SpryPatientPatch): Promise<SpryPatient>;
  getAppointment(appointmentId: number): Promise<SpryAppointment | null>;
  /** The patient's appointments from `fromEpochSeconds` on, ordered by date_time. */
  listPatientAppointments(
    patientId: number,
    query: { fromEpochSeconds: number; page: number; size: number },
  ): Promise<SpryPage<SpryAppointment>>;
  getCase(caseId: string): Promise<SpryCase | null>;
  listPatientCases(patientId: number): Promise<SpryCase[]>;
  /** Idempotent on external_id: a repeat returns the existing record. */
  recordCommunication(patientId: number, input: SpryCommunicationInput): Promise<SpryCommunication>;
  listSubscriptions(): Promise<SprySubscription[]>;
  createSubscription(input: {
    name: string;
    event_types: string[];
    notification_url: string;
    api_version: string;
  }): Promise<SprySubscription & { signature_key: string }>;
}
