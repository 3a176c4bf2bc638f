// Input rules for what the API and the staff actions accept. The API schemas are strict: a field
// the endpoint does not let a client change (status, patient_id, name …) is refused, not
// silently ignored, so a client bug shows up in the sandbox rather than in production.
import { z } from 'zod';
import { SPRY_EVENT_TYPES } from '../../spry/types.ts';

export class ValidationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ValidationError';
  }
}

/** Parses or throws a ValidationError whose message names every offending field. */
export function parse<T extends z.ZodType>(schema: T, input: unknown): z.output<T> {
  const result = schema.safeParse(input ?? {});
  if (result.success) return result.data;
  const message = result.error.issues
    .map((issue) => (issue.path.length ? `${issue.path.join('.')}: ${issue.message}` : issue.message))
    .join('; ');
  throw new ValidationError(message);
}

const name = z.string().trim().min(1, 'must not be empty').max(100);
const optionalText = (max: number) => z.string().trim().max(max).nullable();
/** A text field the doc does not mark nullable: null (or absence) is stored as "". */
const blankable = (max: number) =>
  z
    .string()
    .trim()
    .max(max)
    .nullable()
    .transform((v) => v ?? '');
const phone = z.e164('must be an E.164 phone number such as +14155550123').nullable();
const isoDate = z.iso
  .date('must be a date YYYY-MM-DD')
  .refine((value) => value >= '1900-01-01', 'must be after 1900-01-01');

export const sexSchema = z.enum(['MALE', 'FEMALE', 'OTHER', 'UNKNOWN']);
export const patientStatusSchema = z.enum(['ACTIVE', 'INACTIVE', 'ARCHIVED']);

export const addressSchema = z
  .object({
    line1: blankable(200).optional(),
    line2: blankable(200).optional(),
    landmark: blankable(200).optional(),
    city: blankable(100).optional(),
    state: blankable(50).optional(),
    postal_code: blankable(20).optional(),
  })
  .strict()
  // The address is replaced as a whole: keys left out become "".
  .transform((a) => ({
    line1: a.line1 ?? '',
    line2: a.line2 ?? '',
    landmark: a.landmark ?? '',
    city: a.city ?? '',
    state: a.state ?? '',
    postal_code: a.postal_code ?? '',
  }));

const patientFields = {
  first_name: name,
  last_name: name,
  middle_name: blankable(100),
  date_of_birth: isoDate,
  sex: sexSchema,
  mobile: phone,
  secondary_contact: phone,
  email_address: z.email('must be an email address').max(254).nullable(),
  // The record always has an address object; null clears every part.
  address: addressSchema.nullable().transform((a) => a ?? { line1: '', line2: '', landmark: '', city: '', state: '', postal_code: '' }),
};

/** `PATCH /apis/v1/patient/:id`: the fields the doc lists, each optional. */
export const apiPatientPatchSchema = z.object(patientFields).partial().strict();

/** Staff can also change what the API cannot. */
export const staffPatientEditSchema = z
  .object({
    ...patientFields,
    suffix: blankable(20),
    alias: optionalText(100),
    status: patientStatusSchema,
    clinic_id: z.number().int().positive(),
  })
  .partial()
  .strict();

export const staffPatientRegisterSchema = staffPatientEditSchema.extend({
  first_name: name,
  last_name: name,
  date_of_birth: isoDate,
});

export const communicationSchema = z
  .object({
    channel: z.literal('SPRUCE'),
    direction: z.enum(['INBOUND', 'OUTBOUND']),
    kind: z.enum(['MESSAGE', 'CALL', 'NOTE', 'FAX']),
    occurred_at: z.iso.datetime({ offset: true, message: 'must be an ISO-8601 date-time' }),
    summary: z.string().min(1, 'must not be empty').max(2000, 'must be at most 2000 characters'),
    external_id: z.string().min(1, 'must not be empty').max(255),
  })
  .strict();

const eventTypes = z
  .array(z.enum(SPRY_EVENT_TYPES as [string, ...string[]]))
  .min(1, 'must list at least one event type')
  .transform((types) => [...new Set(types)]);
const notificationUrl = z.url({ protocol: /^https?$/, message: 'must be an http(s) URL' });

export const subscriptionCreateSchema = z
  .object({
    name: z.string().trim().min(1).max(200),
    event_types: eventTypes,
    notification_url: notificationUrl,
    api_version: z.string().optional(),
    is_active: z.boolean().optional(),
  })
  .strict();

export const subscriptionPatchSchema = z
  .object({
    name: z.string().trim().min(1).max(200),
    event_types: eventTypes,
    notification_url: notificationUrl,
    api_version: z.string(),
    is_active: z.boolean(),
  })
  .partial()
  .strict();

/** Epoch seconds (number or digits) or an ISO-8601 date-time; returns epoch ms. */
export const instantSchema = z.union([z.number(), z.string()]).transform((value, ctx) => {
  const text = String(value).trim();
  const ms = /^\d+$/.test(text) ? Number(text) * 1000 : /^\d{4}-\d{2}-\d{2}T/.test(text) ? Date.parse(text) : NaN;
  if (!Number.isFinite(ms)) {
    ctx.addIssue({ code: 'custom', message: 'must be epoch seconds or an ISO-8601 date-time' });
    return z.NEVER;
  }
  return ms;
});

export const appointmentStatusSchema = z.enum([
  'CONFIRMED',
  'PATIENT_CHECKIN',
  'IN_PROGRESS',
  'COMPLETED',
  'CANCELLED',
  'NO_SHOW',
]);

export const bookAppointmentSchema = z
  .object({
    patient_id: z.number().int(),
    date_time: instantSchema,
    duration_minutes: z.number().int().min(5).max(480).optional(),
    doctor_id: z.number().int().optional(),
    clinic_id: z.number().int().optional(),
    spry_case_id: z.string().nullable().optional(),
    category_id: z.number().int().nullable().optional(),
    comments: optionalText(1000).optional(),
    tele_health_url: z.url().nullable().optional(),
  })
  .strict();

export const rescheduleAppointmentSchema = z
  .object({
    date_time: instantSchema,
    duration_minutes: z.number().int().min(5).max(480).optional(),
    doctor_id: z.number().int().optional(),
    clinic_id: z.number().int().optional(),
  })
  .strict();

export const appointmentStatusChangeSchema = z.object({ status: appointmentStatusSchema }).strict();

const referringPhysicianSchema = z
  .object({
    first_name: name,
    last_name: name,
    npi: z.string().regex(/^\d{10}$/, 'must be 10 digits').nullable().optional(),
    ref_physician_id: z.number().int().optional(),
    fax_number: phone.optional(),
    phone_number: phone.optional(),
  })
  .strict();

const icdCodeSchema = z
  .object({ code: z.string().min(3).max(10), description: z.string().min(1).max(300), revision: z.string().default('ICD-10') })
  .strict();

const insuranceCardSchema = z
  .object({
    insurance_card_id: z.number().int().optional(),
    insurance_payer: z.object({ name: z.string().min(1), payer_id: z.string().min(1) }).strict(),
    insurance_number: z.string().min(1).max(50),
    plan_start_date: isoDate.nullable().optional(),
    plan_end_date: isoDate.nullable().optional(),
    insurance_card_type: z.enum(['PRIMARY', 'SECONDARY', 'TERTIARY']),
  })
  .strict();

const caseFields = {
  case_title: z.string().trim().min(1).max(200),
  specialization: optionalText(100),
  treatment_status: z.enum(['ACTIVE', 'DISCHARGED']),
  referring_physician_details: referringPhysicianSchema.nullable(),
  icd_codes: z.array(icdCodeSchema),
  insurance_card_list: z.array(insuranceCardSchema),
  payment_mode: optionalText(50),
  treatment_start_date: isoDate.nullable(),
  date_of_injury: isoDate.nullable(),
};

export const openCaseSchema = z
  .object(caseFields)
  .partial()
  .extend({ patient_id: z.number().int(), case_title: caseFields.case_title })
  .strict();

export const updateCaseSchema = z.object(caseFields).partial().strict();
