// GET /tenant-figures: every tenant's backlog, dead letters, oldest waiting job, budgets and
// circuits, those that need attention first, filtered and paged on the server (the Clinics page
// and the overview at 1,000 tenants). Not under /tenants/: "figures" is a valid tenant id.
import type { FastifyPluginAsync } from 'fastify';
import type { AdminContext } from '../../operations/context.ts';
import { tenantFigures, type TenantFiguresQuery } from '../../operations/tenant-figures.ts';
import * as s from './schemas.ts';

const figuresQuery = {
  type: 'object',
  properties: {
    search: { type: 'string', maxLength: 100, description: 'part of a tenant id' },
    attention: { type: 'boolean', default: false, description: 'only tenants that need attention' },
    limit: s.limit(1000, 50),
    offset: s.offset,
  },
  additionalProperties: false,
} as const;

export const tenantFiguresRoutes: FastifyPluginAsync<{ ctx: AdminContext }> = async (app, { ctx }) => {
  app.get<{ Querystring: TenantFiguresQuery }>(
    '/tenant-figures',
    {
      schema: {
        summary: 'Per tenant: backlog, dead letters, oldest waiting job, what limits its calls (budgets, circuits) and why it needs attention; those that do first',
        querystring: figuresQuery,
        response: { 200: s.tenantFiguresPage, ...s.errors },
      },
    },
    async (request) => tenantFigures(ctx, request.query),
  );
};
