// The simulator's records and the only code that changes them. A seeded record is rebuilt from
// the seed until it first changes; from then on the changed copy is kept. Every change that Spry
// would announce emits its webhook event here, so the API and the staff actions cannot forget to.
import type {
  SpryAppointment,
  SpryCase,
  SpryCommunication,
  SpryCommunicationInput,
  SpryEventType,
  SpryPage,
  SpryPatient,
  SpryPatientStatus,
  SpryWebhookEnvelope,
} from '../../spry/types.ts';
import type { Clock } from '../../clock.ts';
import { pageOf, toPage, type Paging } from './envelope.ts';
import {
  APPOINTMENTS_PER_PATIENT_LIMIT,
  appointmentId,
  caseId,
  fullName,
  generateAppointments,
  generateCases,
  generatePatient,
  isSeededPatient,
  patientIdOfAppointment,
  patientIdOfCase,
  patientMeta,
  type OrganisationSeed,
} from './seed-data.ts';
import { randomFor } from './random.ts';
import type { StoredSubscription } from './subscriptions.ts';

export type EventData = SpryWebhookEnvelope['data'];
export type Emit = (organisationId: number, type: SpryEventType, data: EventData) => void;

/** Thrown for a request a real Spry would refuse: unknown record or invalid change. */
export class RecordError extends Error {
  constructor(
    readonly kind: 'not_found' | 'invalid',
    message: string,
  ) {
    super(message);
    this.name = 'RecordError';
  }
}

export class OrgState {
  /** Patients changed or registered since the seed: the full current record. */
  readonly patients = new Map<number, SpryPatient>();
  /** Ids registered after the seed, ascending. */
  readonly registeredIds: number[] = [];
  /** Per patient, the current appointments once any of them changed (sorted by date_time). */
  readonly appointments = new Map<number, SpryAppointment[]>();
  readonly cases = new Map<number, SpryCase[]>();
  /** Per patient, by external_id. */
  readonly communications = new Map<number, Map<string, SpryCommunication>>();
  readonly subscriptions = new Map<string, StoredSubscription>();
  nextPatientId: number;

  constructor(readonly seed: OrganisationSeed) {
    this.nextPatientId = seed.firstPatientId + seed.patientCount;
  }
}

export interface PatientFilter {
  status?: SpryPatientStatus;
  updatedSinceMs?: number;
}

export interface CalendarQuery {
  doctorId: number;
  clinicId: number;
  startMs: number;
  endMs: number;
}

const byDateTime = (a: SpryAppointment, b: SpryAppointment) =>
  Number(a.date_time) - Number(b.date_time) || a.appointment_id - b.appointment_id;

function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

export class SpryRecords {
  private orgs = new Map<number, OrgState>();
  private communicationSeq = 0;

  constructor(
    private readonly seeds: OrganisationSeed[],
    private readonly clock: Clock,
    private readonly emit: Emit,
  ) {
    this.reset();
  }

  reset(): void {
    this.orgs = new Map(this.seeds.map((seed) => [seed.organisationId, new OrgState(seed)]));
    this.communicationSeq = 0;
  }

  organisationIds(): number[] {
    return [...this.orgs.keys()];
  }

  org(organisationId: number): OrgState {
    const org = this.orgs.get(organisationId);
    if (!org) throw new RecordError('not_found', `Organisation ${organisationId} not found`);
    return org;
  }

  hasOrg(organisationId: number): boolean {
    return this.orgs.has(organisationId);
  }

  private nowIso(): string {
    return new Date(this.clock.now()).toISOString();
  }

  // ---- patients ----

  patient(organisationId: number, patientId: number): SpryPatient | undefined {
    const org = this.org(organisationId);
    const changed = org.patients.get(patientId);
    if (changed) return structuredClone(changed);
    return isSeededPatient(org.seed, patientId) ? generatePatient(org.seed, patientId) : undefined;
  }

  requirePatient(organisationId: number, patientId: number): SpryPatient {
    const patient = this.patient(organisationId, patientId);
    if (!patient) throw new RecordError('not_found', 'Patient not found');
    return patient;
  }

  patientCount(organisationId: number): number {
    const org = this.org(organisationId);
    return org.seed.patientCount + org.registeredIds.length;
  }

  /** Every patient id of the organisation, ascending. */
  *patientIds(organisationId: number): Generator<number> {
    const org = this.org(organisationId);
    const end = org.seed.firstPatientId + org.seed.patientCount;
    for (let id = org.seed.firstPatientId; id < end; id++) yield id;
    yield* org.registeredIds;
  }

  /** Filtered, ordered by patient_id. Only the page's records are built. */
  listPatients(organisationId: number, filter: PatientFilter, paging: Paging): SpryPage<SpryPatient> {
    const org = this.org(organisationId);
    const start = (paging.page - 1) * paging.size;
    const end = start + paging.size;
    const filtering = filter.status !== undefined || filter.updatedSinceMs !== undefined;
    if (!filtering) {
      // Ids are dense: page straight into them.
      const total = this.patientCount(organisationId);
      const ids: number[] = [];
      for (let i = start; i < Math.min(end, total); i++) {
        ids.push(i < org.seed.patientCount ? org.seed.firstPatientId + i : org.registeredIds[i - org.seed.patientCount]!);
      }
      return toPage(
        total,
        paging,
        ids.map((id) => this.requirePatient(organisationId, id)),
      );
    }
    let total = 0;
    const pageIds: number[] = [];
    for (const id of this.patientIds(organisationId)) {
      const changed = org.patients.get(id);
      const meta = changed
        ? { status: changed.status, updatedMs: Date.parse(changed.updated_date) }
        : patientMeta(org.seed, id);
      if (filter.status !== undefined && meta.status !== filter.status) continue;
      if (filter.updatedSinceMs !== undefined && meta.updatedMs < filter.updatedSinceMs) continue;
      if (total >= start && total < end) pageIds.push(id);
      total++;
    }
    return toPage(
      total,
      paging,
      pageIds.map((id) => this.requirePatient(organisationId, id)),
    );
  }

  /**
   * Applies already-validated field values. Returns whether anything changed: only a real change
   * bumps `updated_date` and emits `patient.updated`.
   */
  changePatient(
    organisationId: number,
    patientId: number,
    changes: Partial<Omit<SpryPatient, 'patient_id' | 'name' | 'updated_date'>>,
  ): { patient: SpryPatient; changed: boolean } {
    const current = this.requirePatient(organisationId, patientId);
    const next: SpryPatient = { ...current, ...structuredClone(changes) };
    next.name = fullName(next);
    if (sameJson(next, current)) return { patient: current, changed: false };
    next.updated_date = this.nowIso();
    this.org(organisationId).patients.set(patientId, next);
    this.emit(organisationId, 'patient.updated', { organisation_id: organisationId, patient_id: patientId, status: next.status });
    return { patient: structuredClone(next), changed: true };
  }

  createPatient(
    organisationId: number,
    fields: Omit<SpryPatient, 'patient_id' | 'name' | 'updated_date'>,
  ): SpryPatient {
    const org = this.org(organisationId);
    const patientId = org.nextPatientId++;
    const patient: SpryPatient = { patient_id: patientId, ...structuredClone(fields), name: '', updated_date: this.nowIso() };
    patient.name = fullName(patient);
    org.patients.set(patientId, patient);
    org.registeredIds.push(patientId);
    this.emit(organisationId, 'patient.created', { organisation_id: organisationId, patient_id: patientId, status: patient.status });
    return structuredClone(patient);
  }

  // ---- appointments ----

  private appointmentList(organisationId: number, patientId: number): SpryAppointment[] {
    const org = this.org(organisationId);
    const changed = org.appointments.get(patientId);
    if (changed) return changed;
    return isSeededPatient(org.seed, patientId) ? generateAppointments(org.seed, patientId) : [];
  }

  /** A patient's appointments, ordered by date_time. */
  appointmentsOf(organisationId: number, patientId: number): SpryAppointment[] {
    return structuredClone(this.appointmentList(organisationId, patientId));
  }

  appointment(organisationId: number, id: number): SpryAppointment | undefined {
    const patientId = patientIdOfAppointment(id);
    if (!this.patient(organisationId, patientId)) return undefined;
    const found = this.appointmentList(organisationId, patientId).find((a) => a.appointment_id === id);
    return found ? structuredClone(found) : undefined;
  }

  requireAppointment(organisationId: number, id: number): SpryAppointment {
    const appointment = this.appointment(organisationId, id);
    if (!appointment) throw new RecordError('not_found', 'Appointment not found');
    return appointment;
  }

  listAppointments(organisationId: number, patientId: number, fromS: number, paging: Paging): SpryPage<SpryAppointment> {
    this.requirePatient(organisationId, patientId);
    const from = this.appointmentList(organisationId, patientId).filter((a) => Number(a.date_time) >= fromS);
    return structuredClone(pageOf(from, paging));
  }

  /** One doctor's appointments in one clinic that start within [startMs, endMs). */
  calendar(organisationId: number, query: CalendarQuery, paging: Paging): SpryPage<SpryAppointment> {
    const matches: SpryAppointment[] = [];
    for (const patientId of this.patientIds(organisationId)) {
      for (const a of this.appointmentList(organisationId, patientId)) {
        const at = Number(a.date_time) * 1000;
        if (a.doctor_id === query.doctorId && a.clinic_id === query.clinicId && at >= query.startMs && at < query.endMs) {
          matches.push(a);
        }
      }
    }
    matches.sort(byDateTime);
    return structuredClone(pageOf(matches, paging));
  }

  private materialiseAppointments(organisationId: number, patientId: number): SpryAppointment[] {
    const org = this.org(organisationId);
    let list = org.appointments.get(patientId);
    if (!list) {
      list = this.appointmentList(organisationId, patientId);
      org.appointments.set(patientId, list);
    }
    return list;
  }

  createAppointment(organisationId: number, fields: Omit<SpryAppointment, 'appointment_id'>): SpryAppointment {
    const list = this.materialiseAppointments(organisationId, fields.patient_id);
    const used = list.map((a) => a.appointment_id % 1000);
    const n = Math.max(0, ...used) + 1;
    if (n > APPOINTMENTS_PER_PATIENT_LIMIT) {
      throw new RecordError('invalid', `The simulator keeps at most ${APPOINTMENTS_PER_PATIENT_LIMIT} appointments per patient`);
    }
    const appointment: SpryAppointment = { appointment_id: appointmentId(fields.patient_id, n), ...structuredClone(fields) };
    list.push(appointment);
    list.sort(byDateTime);
    this.emit(organisationId, 'appointment.created', appointmentEventData(organisationId, appointment));
    return structuredClone(appointment);
  }

  /** Applies validated changes; emits `event` (updated or cancelled) only when something changed. */
  changeAppointment(
    organisationId: number,
    id: number,
    changes: Partial<Omit<SpryAppointment, 'appointment_id' | 'patient_id'>>,
    event: 'appointment.updated' | 'appointment.cancelled' = 'appointment.updated',
  ): { appointment: SpryAppointment; changed: boolean } {
    const current = this.requireAppointment(organisationId, id);
    const list = this.materialiseAppointments(organisationId, current.patient_id);
    const index = list.findIndex((a) => a.appointment_id === id);
    const next = { ...list[index]!, ...structuredClone(changes) };
    if (sameJson(next, list[index])) return { appointment: current, changed: false };
    list[index] = next;
    list.sort(byDateTime);
    this.emit(organisationId, event, appointmentEventData(organisationId, next));
    return { appointment: structuredClone(next), changed: true };
  }

  // ---- cases ----

  private caseList(organisationId: number, patientId: number): SpryCase[] {
    const org = this.org(organisationId);
    const changed = org.cases.get(patientId);
    if (changed) return changed;
    return isSeededPatient(org.seed, patientId) ? generateCases(org.seed, patientId) : [];
  }

  casesOf(organisationId: number, patientId: number): SpryCase[] {
    return structuredClone(this.caseList(organisationId, patientId));
  }

  case(organisationId: number, spryCaseId: string): SpryCase | undefined {
    const patientId = patientIdOfCase(spryCaseId);
    if (patientId === undefined || !this.patient(organisationId, patientId)) return undefined;
    const found = this.caseList(organisationId, patientId).find((c) => c.spry_case_id === spryCaseId);
    return found ? structuredClone(found) : undefined;
  }

  requireCase(organisationId: number, spryCaseId: string): SpryCase {
    const found = this.case(organisationId, spryCaseId);
    if (!found) throw new RecordError('not_found', 'Case not found');
    return found;
  }

  private materialiseCases(organisationId: number, patientId: number): SpryCase[] {
    const org = this.org(organisationId);
    let list = org.cases.get(patientId);
    if (!list) {
      list = this.caseList(organisationId, patientId);
      org.cases.set(patientId, list);
    }
    return list;
  }

  createCase(
    organisationId: number,
    fields: Omit<SpryCase, 'spry_case_id' | 'created_date' | 'updated_date'>,
  ): SpryCase {
    const list = this.materialiseCases(organisationId, fields.patient_id);
    const index = list.length + 1;
    if (index > 255) throw new RecordError('invalid', 'The simulator keeps at most 255 cases per patient');
    const org = this.org(organisationId);
    const now = this.nowIso();
    const created: SpryCase = {
      spry_case_id: caseId(fields.patient_id, index, randomFor(org.seed.seed, organisationId, fields.patient_id, 99, index)),
      ...structuredClone(fields),
      created_date: now,
      updated_date: now,
    };
    list.push(created);
    this.emit(organisationId, 'case.created', caseEventData(organisationId, created));
    return structuredClone(created);
  }

  changeCase(
    organisationId: number,
    spryCaseId: string,
    changes: Partial<Omit<SpryCase, 'spry_case_id' | 'patient_id' | 'created_date' | 'updated_date'>>,
  ): { case: SpryCase; changed: boolean } {
    const current = this.requireCase(organisationId, spryCaseId);
    const list = this.materialiseCases(organisationId, current.patient_id);
    const index = list.findIndex((c) => c.spry_case_id === spryCaseId);
    const next: SpryCase = { ...list[index]!, ...structuredClone(changes) };
    if (sameJson(next, list[index])) return { case: current, changed: false };
    next.updated_date = this.nowIso();
    list[index] = next;
    this.emit(organisationId, 'case.updated', caseEventData(organisationId, next));
    return { case: structuredClone(next), changed: true };
  }

  // ---- chart communications ----

  /** Idempotent on external_id per patient: a repeat returns the stored record unchanged. */
  recordCommunication(
    organisationId: number,
    patientId: number,
    input: SpryCommunicationInput,
  ): { communication: SpryCommunication; created: boolean } {
    this.requirePatient(organisationId, patientId);
    const org = this.org(organisationId);
    let byExternalId = org.communications.get(patientId);
    if (!byExternalId) {
      byExternalId = new Map();
      org.communications.set(patientId, byExternalId);
    }
    const existing = byExternalId.get(input.external_id);
    if (existing) return { communication: structuredClone(existing), created: false };
    const communication: SpryCommunication = {
      communication_id: ++this.communicationSeq,
      patient_id: patientId,
      ...structuredClone(input),
      created_date: this.nowIso(),
    };
    byExternalId.set(input.external_id, communication);
    return { communication: structuredClone(communication), created: true };
  }

  communicationsOf(organisationId: number, patientId: number): SpryCommunication[] {
    return structuredClone([...(this.org(organisationId).communications.get(patientId)?.values() ?? [])]);
  }
}

export function appointmentEventData(organisationId: number, a: SpryAppointment): EventData {
  return {
    organisation_id: organisationId,
    appointment_id: a.appointment_id,
    patient_id: a.patient_id,
    spry_case_id: a.spry_case_id,
    clinic_id: a.clinic_id,
    status: a.status,
  };
}

export function caseEventData(organisationId: number, c: SpryCase): EventData {
  return {
    organisation_id: organisationId,
    spry_case_id: c.spry_case_id,
    patient_id: c.patient_id,
    treatment_status: c.treatment_status,
  };
}
