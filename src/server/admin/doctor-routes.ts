// `POST /tenants/{id}/doctor`: the same read-only checks as `spruce-sync doctor`, run now by the
// service against the tenant's live Spry and Spruce, answered as JSON (ids, counts and status
// codes only). POST because it calls out to both systems; it changes nothing in either.
import type { FastifyPluginAsync } from 'fastify';
import type { TenantDoctorReport } from '../../doctor/types.ts';
import { AdminError } from '../../errors.ts';
import { requireTenant, type AdminContext } from '../../operations/context.ts';
import * as s from './schemas.ts';

export type DoctorRunner = (tenantId: string) => Promise<TenantDoctorReport>;

const checkResult = {
  type: 'object',
  properties: {
    check: { type: 'string', description: 'stable id, e.g. spry.patients.page' },
    status: { type: 'string', enum: ['ok', 'warn', 'fail', 'skip'] },
    message: { type: 'string', description: 'what was found: ids, counts, status codes' },
    action: { type: 'string', description: 'what to do about a warn or fail' },
    assumption: { type: 'string', description: 'on warn and fail: the assumption of docs/vendor-contract.md that did not hold' },
  },
  required: ['check', 'status', 'message'],
} as const;

const doctorReport = {
  type: 'object',
  properties: {
    tenantId: { type: 'string' },
    startedAt: { type: 'integer', description: 'epoch ms' },
    ok: { type: 'boolean', description: 'no check failed (warnings allowed)' },
    checks: { type: 'array', items: checkResult },
  },
  required: ['tenantId', 'startedAt', 'ok', 'checks'],
} as const;

export const doctorRoutes: FastifyPluginAsync<{ ctx: AdminContext; doctor?: DoctorRunner }> = async (app, { ctx, doctor }) => {
  app.post<{ Params: { tenantId: string } }>(
    '/tenants/:tenantId/doctor',
    {
      schema: {
        summary: "Check, read-only, our assumptions about the tenant's Spry and Spruce against the live systems (as `spruce-sync doctor`)",
        params: s.tenantParams,
        body: { type: ['object', 'null'], additionalProperties: false },
        response: { 200: doctorReport, ...s.errors },
      },
    },
    async (request) => {
      const { tenantId } = request.params;
      requireTenant(ctx, tenantId);
      if (!doctor) throw new AdminError('not_available', 'doctor is not available in this build');
      const report = await doctor(tenantId);
      ctx.logger?.info({ tenantId, ok: report.ok, by: 'admin-api' }, 'doctor run');
      return report;
    },
  );
};
