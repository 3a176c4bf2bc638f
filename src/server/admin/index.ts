// The operator's surface: the admin API under /admin/api (bearer token on every route) and the
// dashboard's static files under /admin. Registered only when an admin token is configured;
// without one, both answer 404 like any unknown path.
import type { FastifyPluginAsync } from 'fastify';
import { auditRoutes } from './audit-routes.ts';
import { bearerAuth } from './auth.ts';
import { adminErrorHandler } from './error-handler.ts';
import type { AdminContext } from '../../operations/context.ts';
import { dashboardRoutes } from './dashboard-routes.ts';
import { deadLetterRoutes } from './dead-letter-routes.ts';
import { doctorRoutes, type DoctorRunner } from './doctor-routes.ts';
import { eventRoutes } from './event-routes.ts';
import { buildOpenApi, type RouteRecord } from './openapi.ts';
import { operationRoutes } from './operation-routes.ts';
import type { AdminActions } from '../../operations/context.ts';
import { tenantDirectoryRoutes } from './tenant-directory-routes.ts';
import { tenantFiguresRoutes } from './tenant-figures-routes.ts';
import { tenantRoutes } from './tenant-routes.ts';
import type { TenantAdmin } from '../../tenants/tenant-admin.ts';
import { strictValidation } from './validation.ts';

export interface AdminOptions {
  token: string;
  ctx: AdminContext;
  actions?: AdminActions;
  /** Runs `doctor` for one tenant (the service supplies it; 501 without). */
  doctor?: DoctorRunner;
  /** Adds, changes and removes tenants (501 without). */
  tenantAdmin?: TenantAdmin;
}

export const ADMIN_API_PREFIX = '/admin/api';

const adminApi: FastifyPluginAsync<AdminOptions> = async (app, { token, ctx: baseCtx, actions, doctor, tenantAdmin }) => {
  const ctx = { ...baseCtx, tenantAdmin };
  const routes: RouteRecord[] = [];
  app.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) {
      // HEAD twins of GET routes are implied; they sit behind the same auth hook.
      if (method !== 'HEAD') routes.push({ method, url: route.url, schema: route.schema as RouteRecord['schema'] });
    }
  });
  app.addHook('onRequest', bearerAuth(token));
  strictValidation(app);
  app.setErrorHandler(adminErrorHandler(ctx.logger, 'admin request'));

  await app.register(tenantRoutes, { ctx });
  await app.register(tenantDirectoryRoutes, { ctx });
  await app.register(tenantFiguresRoutes, { ctx });
  await app.register(eventRoutes, { ctx });
  await app.register(deadLetterRoutes, { ctx });
  await app.register(auditRoutes, { ctx });
  await app.register(operationRoutes, { ctx, actions: actions ?? {} });
  await app.register(doctorRoutes, { ctx, doctor });

  let document: Record<string, unknown> | null = null;
  app.get(
    '/openapi.json',
    { schema: { summary: 'This description (OpenAPI 3.1)', response: { 200: { type: 'object', additionalProperties: true } } } },
    async () => (document ??= buildOpenApi(routes, { title: 'spruce-sync admin API', version: '1' })),
  );
};

export const adminPlugin: FastifyPluginAsync<AdminOptions> = async (app, options) => {
  await app.register(dashboardRoutes, { prefix: '/admin' });
  await app.register(adminApi, { ...options, prefix: ADMIN_API_PREFIX });
};

export type { AdminActions, AdminContext };
