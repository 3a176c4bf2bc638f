// What Spry staff do in the EMR, scripted: register and edit patients, book and move
// appointments, open and update cases. Each change emits the webhook Spry would send. Used by
// the control API and directly by tests (`simulator.staff`). Bad input throws ValidationError;
// an unknown record throws RecordError('not_found').
import type { z } from 'zod';
import type { Clock } from '../../clock.ts';
import type { SpryAppointment, SpryAppointmentStatus, SpryCase, SpryPatient } from '../../spry/types.ts';
import { RecordError, type SpryRecords } from './records.ts';
import { emptyAddress } from './seed-data.ts';
import {
  appointmentStatusSchema,
  bookAppointmentSchema,
  openCaseSchema,
  parse,
  rescheduleAppointmentSchema,
  staffPatientEditSchema,
  staffPatientRegisterSchema,
  updateCaseSchema,
  ValidationError,
} from './validation.ts';

export type RegisterPatientInput = z.input<typeof staffPatientRegisterSchema>;
export type EditPatientInput = z.input<typeof staffPatientEditSchema>;
export type BookAppointmentInput = z.input<typeof bookAppointmentSchema>;
export type RescheduleAppointmentInput = z.input<typeof rescheduleAppointmentSchema>;
export type OpenCaseInput = z.input<typeof openCaseSchema>;
export type UpdateCaseInput = z.input<typeof updateCaseSchema>;

const seconds = (ms: number) => String(Math.floor(ms / 1000));

export class SpryStaff {
  private insuranceCardSeq = 90_000_000;

  constructor(
    private readonly records: SpryRecords,
    private readonly clock: Clock,
  ) {}

  private today(): string {
    return new Date(this.clock.now()).toISOString().slice(0, 10);
  }

  private checkClinic(organisationId: number, clinicId: number | undefined): void {
    if (clinicId === undefined) return;
    if (!this.records.org(organisationId).seed.clinics.some((c) => c.clinic_id === clinicId)) {
      throw new ValidationError(`clinic_id: ${clinicId} is not a clinic of organisation ${organisationId}`);
    }
  }

  private checkBirthDate(date: string | undefined): void {
    if (date && date > this.today()) throw new ValidationError('date_of_birth: must not be in the future');
  }

  /** A new patient (emits patient.created). */
  registerPatient(organisationId: number, input: RegisterPatientInput): SpryPatient {
    const fields = parse(staffPatientRegisterSchema, input);
    this.checkClinic(organisationId, fields.clinic_id);
    this.checkBirthDate(fields.date_of_birth);
    const org = this.records.org(organisationId);
    return this.records.createPatient(organisationId, {
      first_name: fields.first_name,
      middle_name: fields.middle_name ?? '',
      last_name: fields.last_name,
      suffix: fields.suffix ?? '',
      alias: fields.alias ?? null,
      date_of_birth: fields.date_of_birth,
      sex: fields.sex ?? 'UNKNOWN',
      mobile: fields.mobile ?? null,
      secondary_contact: fields.secondary_contact ?? null,
      email_address: fields.email_address ?? null,
      address: fields.address ?? emptyAddress(),
      status: fields.status ?? 'ACTIVE',
      clinic_id: fields.clinic_id ?? org.seed.clinics[0]!.clinic_id,
    });
  }

  /** Any field, including status (emits patient.updated when something changed). */
  editPatient(organisationId: number, patientId: number, input: EditPatientInput): SpryPatient {
    const changes = parse(staffPatientEditSchema, input);
    this.checkClinic(organisationId, changes.clinic_id);
    this.checkBirthDate(changes.date_of_birth);
    return this.records.changePatient(organisationId, patientId, changes).patient;
  }

  archivePatient(organisationId: number, patientId: number): SpryPatient {
    return this.editPatient(organisationId, patientId, { status: 'ARCHIVED' });
  }

  inactivatePatient(organisationId: number, patientId: number): SpryPatient {
    return this.editPatient(organisationId, patientId, { status: 'INACTIVE' });
  }

  activatePatient(organisationId: number, patientId: number): SpryPatient {
    return this.editPatient(organisationId, patientId, { status: 'ACTIVE' });
  }

  /** Emits appointment.created. Clinic, doctor and case default to the patient's own. */
  bookAppointment(organisationId: number, input: BookAppointmentInput): SpryAppointment {
    const fields = parse(bookAppointmentSchema, input);
    const patient = this.records.requirePatient(organisationId, fields.patient_id);
    const { clinic, doctor } = this.clinicAndDoctor(organisationId, fields.clinic_id ?? patient.clinic_id, fields.doctor_id);
    const cases = this.records.casesOf(organisationId, patient.patient_id);
    let linked: SpryCase | null = null;
    if (fields.spry_case_id) {
      linked = cases.find((c) => c.spry_case_id === fields.spry_case_id) ?? null;
      if (!linked) throw new ValidationError(`spry_case_id: not a case of patient ${patient.patient_id}`);
    } else if (fields.spry_case_id === undefined) {
      linked = [...cases].reverse().find((c) => c.treatment_status === 'ACTIVE') ?? null;
    }
    const start = fields.date_time;
    const end = start + (fields.duration_minutes ?? 45) * 60_000;
    return this.records.createAppointment(organisationId, {
      patient_id: patient.patient_id,
      doctor_id: doctor.doctor_id,
      clinic_id: clinic.clinic_id,
      spry_case_id: linked?.spry_case_id ?? null,
      case_title: linked?.case_title ?? null,
      category_id: fields.category_id ?? 2,
      date_time: seconds(start),
      end_date_time: seconds(end),
      check_in_time: null,
      in_progress_at: null,
      check_out_time: null,
      comments: fields.comments ?? null,
      tele_health_url: fields.tele_health_url ?? null,
      status: 'CONFIRMED',
      doctor_name: doctor.name,
      clinic_name: clinic.name,
    });
  }

  /** New time (and optionally doctor/clinic); keeps the duration unless given. Emits appointment.updated. */
  rescheduleAppointment(organisationId: number, appointmentId: number, input: RescheduleAppointmentInput): SpryAppointment {
    const fields = parse(rescheduleAppointmentSchema, input);
    const current = this.records.requireAppointment(organisationId, appointmentId);
    if (current.status !== 'CONFIRMED') {
      throw new ValidationError(`only a CONFIRMED appointment can be rescheduled (this one is ${current.status})`);
    }
    const { clinic, doctor } = this.clinicAndDoctor(
      organisationId,
      fields.clinic_id ?? current.clinic_id,
      fields.doctor_id ?? (fields.clinic_id === undefined ? current.doctor_id : undefined),
    );
    const duration = fields.duration_minutes
      ? fields.duration_minutes * 60_000
      : (Number(current.end_date_time) - Number(current.date_time)) * 1000;
    return this.records.changeAppointment(organisationId, appointmentId, {
      date_time: seconds(fields.date_time),
      end_date_time: seconds(fields.date_time + duration),
      clinic_id: clinic.clinic_id,
      clinic_name: clinic.name,
      doctor_id: doctor.doctor_id,
      doctor_name: doctor.name,
    }).appointment;
  }

  /** Emits appointment.cancelled (nothing when it already was). */
  cancelAppointment(organisationId: number, appointmentId: number): SpryAppointment {
    return this.records.changeAppointment(organisationId, appointmentId, { status: 'CANCELLED' }, 'appointment.cancelled')
      .appointment;
  }

  checkInAppointment(organisationId: number, appointmentId: number): SpryAppointment {
    const current = this.records.requireAppointment(organisationId, appointmentId);
    if (current.status !== 'CONFIRMED') {
      throw new ValidationError(`only a CONFIRMED appointment can be checked in (this one is ${current.status})`);
    }
    return this.setAppointmentStatus(organisationId, appointmentId, 'PATIENT_CHECKIN');
  }

  /** Moves an appointment along (start, complete, no-show …), stamping the times Spry stamps. */
  setAppointmentStatus(organisationId: number, appointmentId: number, status: SpryAppointmentStatus): SpryAppointment {
    const next = parse(appointmentStatusSchema, status);
    if (next === 'CANCELLED') return this.cancelAppointment(organisationId, appointmentId);
    const current = this.records.requireAppointment(organisationId, appointmentId);
    const now = seconds(this.clock.now());
    const changes: Partial<SpryAppointment> = { status: next };
    if (next === 'PATIENT_CHECKIN') changes.check_in_time = now;
    if (next === 'IN_PROGRESS') {
      changes.in_progress_at = now;
      changes.check_in_time = current.check_in_time ?? now;
    }
    if (next === 'COMPLETED') {
      changes.check_out_time = now;
      changes.in_progress_at = current.in_progress_at ?? now;
      changes.check_in_time = current.check_in_time ?? now;
    }
    return this.records.changeAppointment(organisationId, appointmentId, changes).appointment;
  }

  /** Emits case.created. */
  openCase(organisationId: number, input: OpenCaseInput): SpryCase {
    const fields = parse(openCaseSchema, input);
    this.records.requirePatient(organisationId, fields.patient_id);
    return this.records.createCase(organisationId, {
      patient_id: fields.patient_id,
      case_title: fields.case_title,
      specialization: fields.specialization ?? null,
      treatment_status: fields.treatment_status ?? 'ACTIVE',
      referring_physician_details: fields.referring_physician_details
        ? {
            first_name: fields.referring_physician_details.first_name,
            last_name: fields.referring_physician_details.last_name,
            npi: fields.referring_physician_details.npi ?? null,
            ref_physician_id: fields.referring_physician_details.ref_physician_id ?? 0,
            fax_number: fields.referring_physician_details.fax_number ?? null,
            phone_number: fields.referring_physician_details.phone_number ?? null,
          }
        : null,
      icd_codes: fields.icd_codes ?? [],
      insurance_card_list: (fields.insurance_card_list ?? []).map((card) => ({
        ...card,
        insurance_card_id: card.insurance_card_id ?? ++this.insuranceCardSeq,
        plan_start_date: card.plan_start_date ?? null,
        plan_end_date: card.plan_end_date ?? null,
      })),
      payment_mode: fields.payment_mode ?? null,
      treatment_start_date: fields.treatment_start_date ?? this.today(),
      date_of_injury: fields.date_of_injury ?? null,
    });
  }

  /** Emits case.updated when something changed (e.g. treatment_status DISCHARGED). */
  updateCase(organisationId: number, spryCaseId: string, input: UpdateCaseInput): SpryCase {
    const fields = parse(updateCaseSchema, input);
    const { referring_physician_details: ref, insurance_card_list: cards, ...rest } = fields;
    const changes: Parameters<SpryRecords['changeCase']>[2] = { ...rest };
    if (ref !== undefined) {
      changes.referring_physician_details = ref && {
        first_name: ref.first_name,
        last_name: ref.last_name,
        npi: ref.npi ?? null,
        ref_physician_id: ref.ref_physician_id ?? 0,
        fax_number: ref.fax_number ?? null,
        phone_number: ref.phone_number ?? null,
      };
    }
    if (cards !== undefined) {
      changes.insurance_card_list = cards.map((card) => ({
        ...card,
        insurance_card_id: card.insurance_card_id ?? ++this.insuranceCardSeq,
        plan_start_date: card.plan_start_date ?? null,
        plan_end_date: card.plan_end_date ?? null,
      }));
    }
    return this.records.changeCase(organisationId, spryCaseId, changes).case;
  }

  private clinicAndDoctor(organisationId: number, clinicId: number, doctorId: number | undefined) {
    const { clinics, doctors } = this.records.org(organisationId).seed;
    const clinic = clinics.find((c) => c.clinic_id === clinicId);
    if (!clinic) throw new ValidationError(`clinic_id: ${clinicId} is not a clinic of organisation ${organisationId}`);
    const doctor =
      doctorId === undefined
        ? doctors.find((d) => d.clinic_id === clinic.clinic_id)
        : doctors.find((d) => d.doctor_id === doctorId);
    if (!doctor) throw new RecordError('not_found', `Doctor ${doctorId} not found`);
    if (doctor.clinic_id !== clinic.clinic_id) {
      throw new ValidationError(`doctor_id: doctor ${doctor.doctor_id} does not work at clinic ${clinic.clinic_id}`);
    }
    return { clinic, doctor };
  }
}
