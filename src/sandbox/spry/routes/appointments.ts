// Appointments: get [assumed], per-patient list from a time on [assumed], and the calendar
// events endpoint [doc] (one doctor's appointments in one clinic).
import type { FastifyInstance } from 'fastify';
import { organisationOf } from '../auth.ts';
import { invalidWith200, invalidWith400, ok, parsePaging, positiveInt, type SpryApiError } from '../envelope.ts';
import { numericId } from './common.ts';
import type { RouteDeps } from './deps.ts';

const DAY = 86_400_000;

/**
 * [assumed] The doc does not give the date format of start_date/end_date: the simulator takes a
 * date `YYYY-MM-DD` (whole UTC days, both ends inclusive) or epoch seconds (inclusive).
 */
function calendarBound(value: string | undefined, name: string, end: boolean, fail: (m: string) => SpryApiError): number {
  if (!value) throw fail(`${name} is required`);
  if (/^\d+$/.test(value)) return Number(value) * 1000 + (end ? 1 : 0);
  const day = /^\d{4}-\d{2}-\d{2}$/.test(value) ? Date.parse(`${value}T00:00:00Z`) : NaN;
  if (!Number.isFinite(day)) throw fail(`${name} must be a date YYYY-MM-DD or epoch seconds`);
  return end ? day + DAY : day;
}

export function registerAppointmentRoutes(app: FastifyInstance, { records }: RouteDeps): void {
  app.get<{ Querystring: Record<string, string | undefined> }>('/apis/v1/appointment/calendar/events', async (request) => {
    const q = request.query;
    // Like Spry's other v1 endpoints, a bad calendar query is answered HTTP 200 with code 4001.
    const fail = invalidWith200;
    const startMs = calendarBound(q.start_date, 'start_date', false, fail);
    const endMs = calendarBound(q.end_date, 'end_date', true, fail);
    if (endMs <= startMs) throw fail('end_date must not be before start_date');
    const doctorId = positiveInt(q.doctor_id, 'doctor_id', undefined, fail);
    const clinicId = positiveInt(q.clinic_id, 'clinic_id', undefined, fail);
    if (q.practice_id !== undefined && !/^\d+$/.test(q.practice_id)) throw fail('practice_id must be an integer');
    const paging = parsePaging(q, fail);
    return ok(records.calendar(organisationOf(request), { doctorId, clinicId, startMs, endMs }, paging));
  });

  app.get<{ Params: { id: string } }>('/apis/v1/appointment/:id', async (request) => {
    const id = numericId(request.params.id, 'appointment_id');
    return ok(records.requireAppointment(organisationOf(request), id));
  });

  app.get<{ Querystring: Record<string, string | undefined> }>('/apis/v1/appointment', async (request) => {
    const q = request.query;
    const patientId = positiveInt(q.patient_id, 'patient_id', undefined, invalidWith400);
    let fromS = 0;
    if (q.from !== undefined && q.from !== '') {
      if (!/^\d{1,12}$/.test(q.from)) throw invalidWith400('from must be epoch seconds');
      fromS = Number(q.from);
    }
    const paging = parsePaging(q, invalidWith400);
    return ok(records.listAppointments(organisationOf(request), patientId, fromS, paging));
  });
}
