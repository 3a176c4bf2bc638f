// Cases (plans of care) [doc]: get by spry_case_id. The per-patient list is in patients.ts.
import type { FastifyInstance } from 'fastify';
import { organisationOf } from '../auth.ts';
import { ok } from '../envelope.ts';
import type { RouteDeps } from './deps.ts';

export function registerCaseRoutes(app: FastifyInstance, { records }: RouteDeps): void {
  app.get<{ Params: { id: string } }>('/apis/soap-enrichment/v1/patientCase/:id', async (request) => {
    return ok(records.requireCase(organisationOf(request), request.params.id));
  });
}
