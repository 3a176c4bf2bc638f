// [assumed] Conversation activity recorded on the chart, idempotent on external_id per patient:
// a repeat answers HTTP 200 with the record already stored (same communication_id).
import type { FastifyInstance } from 'fastify';
import { organisationOf } from '../auth.ts';
import { ok } from '../envelope.ts';
import { communicationSchema } from '../validation.ts';
import { numericId, validate } from './common.ts';
import type { RouteDeps } from './deps.ts';

export function registerCommunicationRoutes(app: FastifyInstance, { records }: RouteDeps): void {
  app.post<{ Params: { id: string } }>('/apis/v1/patient/:id/communication', async (request) => {
    const organisationId = organisationOf(request);
    const patientId = numericId(request.params.id, 'patient_id');
    records.requirePatient(organisationId, patientId);
    const input = validate(communicationSchema, request.body, 200);
    return ok(records.recordCommunication(organisationId, patientId, input).communication);
  });
}
