// /tenants as data: add a clinic, change it, disable / enable it, remove it, read its definition
// (secrets shown as set, never as values). The body schemas are the config tenant's own schema,
// so the API and the config file accept exactly the same fields.
import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import { tenantSchema } from '../../config/schema.ts';
import type { TenantAdmin } from '../../tenants/tenant-admin.ts';
import { AdminError } from '../../errors.ts';
import type { AdminContext } from '../../operations/context.ts';
import * as s from './schemas.ts';

type JsonSchema = Record<string, unknown>;

/** Drops the keys named from a JSON schema, at every depth. */
function without(schema: unknown, keys: readonly string[]): unknown {
  if (Array.isArray(schema)) return schema.map((item) => without(item, keys));
  if (!schema || typeof schema !== 'object') return schema;
  return Object.fromEntries(
    Object.entries(schema)
      .filter(([key]) => !keys.includes(key))
      // `properties` maps field names to schemas: a field may be called like a keyword.
      .map(([key, value]) => [key, key === 'properties' ? Object.fromEntries(Object.entries(value as JsonSchema).map(([k, v]) => [k, without(v, keys)])) : without(value, keys)]),
  );
}

// zod's formats (uri, includes) are checked by zod itself after the door; ajv does not know them.
const tenantBody = without(z.toJSONSchema(tenantSchema, { io: 'input', target: 'draft-7' }), ['$schema', 'format']) as JsonSchema;
// An edit names only what changes: nothing is required, and no default may fill in the rest.
const tenantPatch = without(tenantBody, ['required', 'default']) as JsonSchema;

const change = {
  type: 'object',
  properties: { tenant: s.tenantView, warnings: { type: 'array', items: { type: 'string' } } },
  required: ['tenant', 'warnings'],
} as const;

const one = { type: 'object', properties: { tenant: s.tenantView }, required: ['tenant'] } as const;

const overlapQuery = {
  type: 'object',
  properties: {
    overlapMinutes: {
      type: 'integer',
      minimum: 0,
      maximum: 43_200,
      description: 'how long a replaced webhook secret stays valid beside the new one (default 1440)',
    },
  },
  additionalProperties: false,
} as const;

type Params = { Params: { tenantId: string } };

export const tenantDirectoryRoutes: FastifyPluginAsync<{ ctx: AdminContext }> = async (app, { ctx }) => {
  const admin = (): TenantAdmin => {
    if (!ctx.tenantAdmin) throw new AdminError('not_available', 'the tenant directory is served by a running service');
    return ctx.tenantAdmin;
  };

  app.post(
    '/tenants',
    {
      schema: {
        summary: 'Add a tenant (the fields of a config tenant); it runs on every instance within seconds. An unreachable vendor is a warning.',
        body: tenantBody,
        response: { 201: change, ...s.errors },
      },
    },
    async (request, reply) => {
      const added = await admin().add(request.body);
      return reply.code(201).send(added);
    },
  );

  app.patch<Params & { Querystring: { overlapMinutes?: number } }>(
    '/tenants/:tenantId',
    {
      schema: {
        summary: 'Change a tenant added through the API (objects merge, lists replace); a replaced webhook secret stays valid for the overlap',
        params: s.tenantParams,
        querystring: overlapQuery,
        body: tenantPatch,
        response: { 200: change, ...s.errors },
      },
    },
    async (request) => admin().update(request.params.tenantId, request.body, { overlapMinutes: request.query.overlapMinutes }),
  );

  app.delete<Params>(
    '/tenants/:tenantId',
    {
      schema: {
        summary: "Remove a tenant added through the API: its webhooks get 404, its PHI is purged after the retention period, its audit trail stays",
        params: s.tenantParams,
        response: { 200: one, ...s.errors },
      },
    },
    async (request) => ({ tenant: await admin().remove(request.params.tenantId) }),
  );

  for (const status of ['disabled', 'enabled'] as const) {
    const action = status === 'disabled' ? 'disable' : 'enable';
    app.post<Params>(
      `/tenants/:tenantId/${action}`,
      {
        schema: {
          summary:
            status === 'disabled'
              ? 'Disable a tenant: its webhooks are still verified and stored (2xx); nothing is sent out until it is enabled'
              : 'Enable a tenant: its waiting jobs are claimed again',
          params: s.tenantParams,
          response: { 200: one, ...s.errors },
        },
      },
      async (request) => {
        const tenant = await admin().setStatus(request.params.tenantId, status);
        if (status === 'enabled') ctx.onQueued?.(tenant.id);
        return { tenant };
      },
    );
  }
};
