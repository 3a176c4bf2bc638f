// The HTTP app: webhook ingress, health, metrics, and the admin API with its dashboard (when an
// admin token is configured). Each feature is an encapsulated plugin.
import Fastify, { type FastifyInstance } from 'fastify';
import type { Clock } from '../clock.ts';
import type { Config, TenantConfig } from '../config/schema.ts';
import type { TenantAdmin } from '../tenants/tenant-admin.ts';
import type { Logger } from '../observe/logger.ts';
import type { IngestLoad } from './ingest-load.ts';
import { watchSignatureFailures } from '../observe/alerts-webhooks.ts';
import type { SyncMetrics } from '../observe/metrics.ts';
import type { NewInboundEvent, Store } from '../store/types.ts';
import type { SubscriptionAdmin } from '../fanout/subscriptions.ts';
import { configDoctor } from '../doctor/run-doctor.ts';
import { adminPlugin, ADMIN_API_PREFIX, type AdminActions, type AdminContext } from './admin/index.ts';
import { subscriptionRoutes } from './admin/subscription-routes.ts';
import { PauseControl } from '../operations/pause.ts';
import { healthRoutes } from './health-routes.ts';
import { metricsRoutes } from './metrics-routes.ts';
import { webhookRoutes, type IngestOutcome } from './webhook-routes.ts';

export interface AppDependencies {
  config: Config;
  store: Store;
  clock: Clock;
  logger: Logger;
  onQueued: (tenantId: string) => void;
  onIngestOutcome?: (source: 'spry' | 'spruce', outcome: IngestOutcome) => void;
  /** A webhook refused for its signature (alerts). */
  onSignatureFailure?: (tenantId: string, source: 'spry' | 'spruce') => void;
  /** Serves GET /metrics when given. */
  metrics?: SyncMetrics;
  /** The workers' pause state (admin API); default: read and written through the store only. */
  pauses?: PauseControl;
  /** Operations the admin API can start (backfill, reconcile, prune). */
  adminActions?: AdminActions;
  /** A new inbound event was stored (the fan-out takes it from there). */
  onStored?: (event: NewInboundEvent, id: number) => void;
  /** Event subscriptions, served beside the admin API (docs/fanout.md). */
  subscriptions?: SubscriptionAdmin;
  /** Counts the webhook deliveries in hand (the workers step back during a burst). */
  ingestLoad?: IngestLoad;
  /** The tenants webhooks are accepted for, kept current by the tenant registry; default: the config's. */
  tenants?: ReadonlyMap<string, TenantConfig>;
  /** Their ids (the admin API's tenants), kept current likewise. */
  tenantIds?: readonly string[];
  /** Adds, changes and removes tenants (admin API); without it the directory routes answer 501. */
  tenantAdmin?: TenantAdmin;
  /** What limits each tenant's calls now (the per-tenant figures' budgets and circuits). */
  tenantLimits?: AdminContext['tenantLimits'];
}

export async function buildApp(deps: AppDependencies): Promise<FastifyInstance> {
  const app = Fastify({
    // Request logs would carry URLs only, but bodies never reach the logger.
    logger: false,
    bodyLimit: deps.config.server.bodyLimitBytes,
    // Webhook senders give us 5–10 s; a connection that idles longer is not theirs.
    connectionTimeout: 30_000,
    keepAliveTimeout: 65_000,
  });
  if (deps.onSignatureFailure) watchSignatureFailures(app, deps.onSignatureFailure);
  await app.register(healthRoutes, { store: deps.store });
  if (deps.metrics) await app.register(metricsRoutes, { metrics: deps.metrics });
  await app.register(webhookRoutes, {
    tenants: deps.tenants ?? new Map(deps.config.tenants.map((t) => [t.id, t])),
    store: deps.store,
    clock: deps.clock,
    logger: deps.logger,
    bodyLimitBytes: deps.config.server.bodyLimitBytes,
    coalesceMs: deps.config.workers.coalesceMs,
    maxAttempts: deps.config.workers.maxAttempts,
    onQueued: deps.onQueued,
    onOutcome: deps.onIngestOutcome,
    onStored: deps.onStored,
    load: deps.ingestLoad,
  });
  const adminToken = deps.config.admin.token;
  if (adminToken) {
    const tenantIds = deps.tenantIds ?? deps.config.tenants.map((t) => t.id);
    await app.register(adminPlugin, {
      token: adminToken,
      actions: deps.adminActions,
      tenantAdmin: deps.tenantAdmin,
      doctor: configDoctor(deps.config, deps.clock),
      ctx: {
        store: deps.store,
        clock: deps.clock,
        tenantIds,
        pauses: deps.pauses ?? new PauseControl({ store: deps.store, clock: deps.clock, tenantIds }),
        onQueued: deps.onQueued,
        logger: deps.logger,
        tenantLimits: deps.tenantLimits,
      },
    });
    if (deps.subscriptions) {
      await app.register(subscriptionRoutes, { token: adminToken, admin: deps.subscriptions, logger: deps.logger, prefix: ADMIN_API_PREFIX });
    }
  }
  app.setErrorHandler((error: { statusCode?: number; code?: string; message: string }, _request, reply) => {
    const status = error.statusCode && error.statusCode >= 400 ? error.statusCode : 500;
    if (status >= 500) deps.logger.error({ code: error.code }, 'request failed');
    // Fastify's own messages (too large, bad params) hold no PHI; ours never do.
    return reply.code(status).send({ error: error.code ?? 'error', message: status >= 500 ? 'internal error' : error.message });
  });
  return app;
}
