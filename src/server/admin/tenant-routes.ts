// /tenants: health per tenant (with the last hour's activity for the charts), a patient's
// timeline, and pause / resume of a tenant or one direction.
import type { FastifyPluginAsync } from 'fastify';
import { requireTenant, type AdminContext } from '../../operations/context.ts';
import type { Direction } from '../../operations/directions.ts';
import { tenantHealth } from '../../operations/health.ts';
import * as s from './schemas.ts';
import { patientTimeline } from '../../operations/timeline.ts';

const healthQuery = {
  type: 'object',
  properties: {
    minutes: { type: 'integer', minimum: 5, maximum: 1440, default: 60 },
    bucketMinutes: { type: 'integer', minimum: 1, maximum: 60, default: 1 },
  },
  additionalProperties: false,
} as const;

const pauseBody = {
  type: ['object', 'null'],
  properties: { direction: { ...s.direction, description: 'omit to pause or resume the whole tenant' } },
  additionalProperties: false,
} as const;

const pauseAnswer = {
  type: 'object',
  properties: { tenantId: { type: 'string' }, paused: s.pauseState },
  required: ['tenantId', 'paused'],
} as const;

const timelineItem = {
  type: 'object',
  properties: {
    kind: { type: 'string', enum: ['event', 'attempt', 'audit'] },
    at: s.epochMs,
    event: s.eventWithoutAttempts,
    eventId: { type: 'integer' },
    jobKey: { type: 'string' },
    attempt: s.attempt,
    audit: s.auditRecord,
  },
  required: ['kind', 'at'],
} as const;

type HealthQuery = { minutes: number; bucketMinutes: number };

// Each tenant's health is several queries (~0.6 s for 1,000 tenants on PostgreSQL): a caller
// that does not need them all at once pages. Without `limit`, every tenant, as before.
const listQuery = {
  ...healthQuery,
  properties: {
    ...healthQuery.properties,
    limit: { type: 'integer', minimum: 1, maximum: 1000, description: 'tenants per page (in id order); every tenant when omitted' },
    offset: s.offset,
  },
} as const;

type ListQuery = HealthQuery & { limit?: number; offset: number };

export const tenantRoutes: FastifyPluginAsync<{ ctx: AdminContext }> = async (app, { ctx }) => {
  app.get<{ Querystring: ListQuery }>(
    '/tenants',
    {
      schema: {
        summary: 'Every tenant with its health and recent activity, in id order; paged with limit and offset',
        querystring: listQuery,
        response: {
          200: {
            type: 'object',
            properties: { tenants: { type: 'array', items: s.tenantHealth }, total: { type: 'integer' }, offset: { type: 'integer' } },
            required: ['tenants', 'total', 'offset'],
          },
          ...s.errors,
        },
      },
    },
    async (request) => {
      const { limit, offset, ...window } = request.query;
      // Sources and statuses only: no tenant's secrets are unsealed for the list.
      const directory = new Map((await ctx.store.listTenantSummaries()).map((t) => [t.id, t]));
      const ids = [...ctx.tenantIds].sort();
      const page = ids.slice(offset, limit === undefined ? undefined : offset + limit);
      const health = await Promise.all(page.map((id) => tenantHealth(ctx, id, window)));
      return {
        tenants: health.map((h) => ({ ...h, source: directory.get(h.tenantId)?.source, status: directory.get(h.tenantId)?.status })),
        total: ids.length,
        offset,
      };
    },
  );

  app.get<{ Params: { tenantId: string }; Querystring: HealthQuery }>(
    '/tenants/:tenantId',
    { schema: { summary: "One tenant's health and recent activity", params: s.tenantParams, querystring: healthQuery, response: { 200: s.tenantHealth, ...s.errors } } },
    async (request) => {
      const health = await tenantHealth(ctx, request.params.tenantId, request.query);
      const view = ctx.tenantAdmin ? await ctx.tenantAdmin.show(request.params.tenantId) : undefined;
      return view ? { ...health, source: view.source, status: view.status, definition: view.definition } : health;
    },
  );

  app.get<{ Params: { tenantId: string }; Querystring: { patientId?: number; contactId?: string } }>(
    '/tenants/:tenantId/timeline',
    {
      schema: {
        summary: "A patient's timeline: events, attempts and audit entries, both directions, newest first",
        params: s.tenantParams,
        querystring: {
          type: 'object',
          properties: {
            patientId: { type: 'integer', minimum: 1, description: 'Spry patient id' },
            contactId: { type: 'string', minLength: 1, maxLength: 200, description: 'Spruce contact id' },
          },
          additionalProperties: false,
        },
        response: {
          200: {
            type: 'object',
            properties: {
              tenantId: { type: 'string' },
              patientId: { type: ['integer', 'null'] },
              contactId: { type: ['string', 'null'] },
              items: { type: 'array', items: timelineItem },
            },
            required: ['tenantId', 'patientId', 'contactId', 'items'],
          },
          ...s.errors,
        },
      },
    },
    async (request) => patientTimeline(ctx, request.params.tenantId, request.query),
  );

  for (const action of ['pause', 'resume'] as const) {
    app.post<{ Params: { tenantId: string }; Body: { direction?: Direction } | null }>(
      `/tenants/:tenantId/${action}`,
      {
        schema: {
          summary:
            action === 'pause'
              ? 'Pause a tenant or one direction: webhooks are still accepted and stored; their jobs wait'
              : 'Resume a tenant or one direction: waiting jobs drain in order',
          params: s.tenantParams,
          body: pauseBody,
          response: { 200: pauseAnswer, ...s.errors },
        },
      },
      async (request) => {
        const { tenantId } = request.params;
        requireTenant(ctx, tenantId);
        const scope = request.body?.direction ?? 'all';
        const paused = action === 'pause' ? await ctx.pauses.pause(tenantId, scope, 'admin-api') : await ctx.pauses.resume(tenantId, scope, 'admin-api');
        ctx.logger?.info({ tenantId, scope, action, by: 'admin-api' }, `tenant ${action}d`);
        if (action === 'resume') ctx.onQueued?.(tenantId);
        return { tenantId, paused };
      },
    );
  }
};
