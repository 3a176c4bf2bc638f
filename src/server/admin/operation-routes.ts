// Long-running operations an operator starts: backfill and reconcile (hooks the service supplies;
// 501 without them; they answer at once and run in the background, their progress shows in the
// tenant's health from the kv state keys backfill.last / reconcile.last), and retention pruning.
import type { FastifyPluginAsync } from 'fastify';
import { AdminError, SyncError } from '../../errors.ts';
import { lastPruneReport } from '../../observe/retention.ts';
import { requireTenant, type AdminActions, type AdminContext } from '../../operations/context.ts';
import * as s from './schemas.ts';

const loose = { type: 'object', additionalProperties: true } as const;

export const operationRoutes: FastifyPluginAsync<{ ctx: AdminContext; actions: AdminActions }> = async (app, { ctx, actions }) => {
  for (const operation of ['backfill', 'reconcile'] as const) {
    app.post<{ Params: { tenantId: string }; Body: Record<string, unknown> | null }>(
      `/tenants/:tenantId/${operation}`,
      {
        schema: {
          summary: `Start a ${operation} of the tenant; follow it in the tenant's health (${operation})`,
          params: s.tenantParams,
          body: { type: ['object', 'null'], additionalProperties: true },
          response: {
            202: { type: 'object', properties: { tenantId: { type: 'string' }, started: loose }, required: ['tenantId', 'started'] },
            ...s.errors,
          },
        },
      },
      async (request, reply) => {
        const { tenantId } = request.params;
        requireTenant(ctx, tenantId);
        const start = actions[operation];
        if (!start) throw new AdminError('not_available', `${operation} is not available in this build`);
        const started = await start(tenantId, request.body ?? {}).catch((error: unknown) => {
          if (error instanceof SyncError && error.code === 'PAYLOAD_INVALID') throw new AdminError('bad_request', error.message);
          if (error instanceof SyncError && error.code === 'SYNC_CONFLICT') throw new AdminError('already_running', error.message);
          throw error;
        });
        ctx.logger?.info({ tenantId, operation, by: 'admin-api' }, `${operation} started`);
        return reply.code(202).send({ tenantId, started });
      },
    );
  }

  app.get(
    '/retention',
    {
      schema: {
        summary: 'The last retention run',
        response: { 200: { type: 'object', properties: { last: { anyOf: [s.pruneReport, { type: 'null' }] } }, required: ['last'] }, ...s.errors },
      },
    },
    async () => ({ last: await lastPruneReport(ctx.store) }),
  );

  app.post(
    '/retention/prune',
    { schema: { summary: 'Prune processed payloads older than the retention age now, and report', response: { 200: s.pruneReport, ...s.errors } } },
    async () => {
      if (!actions.prune) throw new AdminError('not_available', 'pruning is not configured');
      return actions.prune();
    },
  );
};
