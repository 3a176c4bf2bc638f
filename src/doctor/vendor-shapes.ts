// The fields of Spry's and Spruce's answers that our code reads (src/spry/types.ts,
// src/sync/desired-contact.ts, src/sync/catch-up.ts), as the doctor checks them. Each shape
// is one entry of docs/vendor-contract.md.
import { nullable, type Shape } from './shape.ts';

export const SPRY_PAGE: Shape = {
  total: 'integer',
  pages: 'integer',
  current: 'integer',
  content: 'array',
};

export const SPRY_PATIENT: Shape = {
  patient_id: 'integer',
  first_name: 'string',
  middle_name: nullable('string'),
  last_name: 'string',
  date_of_birth: 'date',
  sex: { oneOf: ['MALE', 'FEMALE', 'OTHER', 'UNKNOWN'] },
  mobile: nullable('string'),
  secondary_contact: nullable('string'),
  email_address: nullable('string'),
  address: nullable('object'),
  status: { oneOf: ['ACTIVE', 'INACTIVE', 'ARCHIVED'] },
  clinic_id: 'integer',
  updated_date: 'time',
};

export const SPRY_CASE: Shape = {
  spry_case_id: 'string',
  patient_id: 'integer',
  case_title: 'string',
  treatment_status: { oneOf: ['ACTIVE', 'DISCHARGED'] },
  updated_date: 'time',
  referring_physician_details: nullable('object'),
  insurance_card_list: 'array',
};

export const SPRY_APPOINTMENT: Shape = {
  appointment_id: 'integer',
  patient_id: 'integer',
  clinic_id: 'integer',
  spry_case_id: nullable('string'),
  date_time: 'epoch-seconds-text',
  status: { oneOf: ['CONFIRMED', 'PATIENT_CHECKIN', 'IN_PROGRESS', 'COMPLETED', 'CANCELLED', 'NO_SHOW'] },
  clinic_name: nullable('string'),
};

export const SPRY_SUBSCRIPTION: Shape = {
  id: 'string',
  event_types: 'array',
  notification_url: 'string',
  api_version: 'string',
  is_active: 'boolean',
};

/** One entry of Spruce's webhook delivery log. */
export const SPRUCE_LOGGED_EVENT: Shape = {
  id: 'string',
  eventTime: 'time',
  data: 'string',
  delivery: { rule: 'object', optional: true },
};

/** The event inside a log entry's `data` (and every live delivery). */
export const SPRUCE_EVENT: Shape = {
  object: 'string',
  type: 'string',
  eventTime: 'time',
  data: 'object',
};
