// Patients [assumed endpoints]: get, list (ordered by patient_id), partial PATCH.
import type { FastifyInstance } from 'fastify';
import { organisationOf } from '../auth.ts';
import { invalidWith200, invalidWith400, ok, parsePaging } from '../envelope.ts';
import { apiPatientPatchSchema, patientStatusSchema } from '../validation.ts';
import { numericId, validate } from './common.ts';
import type { RouteDeps } from './deps.ts';

export function registerPatientRoutes(app: FastifyInstance, { records, clock }: RouteDeps): void {
  app.get<{ Params: { id: string } }>('/apis/v1/patient/:id', async (request) => {
    const patientId = numericId(request.params.id, 'patient_id');
    return ok(records.requirePatient(organisationOf(request), patientId));
  });

  app.get<{ Querystring: Record<string, string | undefined> }>('/apis/v1/patient', async (request) => {
    const query = request.query;
    const paging = parsePaging(query, invalidWith400);
    const status = query.status ? validate(patientStatusSchema, query.status, 400) : undefined;
    let updatedSinceMs: number | undefined;
    if (query.updated_since !== undefined) {
      updatedSinceMs = /^\d{4}-\d{2}-\d{2}(T[^ ]+)?$/.test(query.updated_since) ? Date.parse(query.updated_since) : NaN;
      if (!Number.isFinite(updatedSinceMs)) throw invalidWith400('updated_since must be an ISO-8601 date-time');
    }
    return ok(records.listPatients(organisationOf(request), { status, updatedSinceMs }, paging));
  });

  app.patch<{ Params: { id: string } }>('/apis/v1/patient/:id', async (request) => {
    const organisationId = organisationOf(request);
    const patientId = numericId(request.params.id, 'patient_id');
    records.requirePatient(organisationId, patientId); // unknown patient: 404 before validation
    // Spry's v1 write endpoints report validation failures with HTTP 200 and code 4001.
    const patch = validate(apiPatientPatchSchema, request.body, 200);
    const today = new Date(clock.now()).toISOString().slice(0, 10);
    if (patch.date_of_birth && patch.date_of_birth > today) throw invalidWith200('date_of_birth: must not be in the future');
    return ok(records.changePatient(organisationId, patientId, patch).patient);
  });

  app.get<{ Params: { id: string } }>('/apis/v1/patient/:id/cases', async (request) => {
    const organisationId = organisationOf(request);
    const patientId = numericId(request.params.id, 'patient_id');
    records.requirePatient(organisationId, patientId);
    return ok(records.casesOf(organisationId, patientId));
  });
}
