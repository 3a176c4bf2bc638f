// The HTTP app: webhook ingress and health. Each feature is an encapsulated plugin.
import Fastify, { type FastifyInstance } from 'fastify';
import type { Clock } from '../clock.ts';
import type { Config } from '../config/schema.ts';
import type { Logger } from '../observe/logger.ts';
import type { Store } from '../store/types.ts';
import { healthRoutes } from './health-routes.ts';
import { webhookRoutes, type IngestOutcome } from './webhook-routes.ts';

export interface AppDependencies {
  config: Config;
  store: Store;
  clock: Clock;
  logger: Logger;
  onQueued: (tenantId: string) => void;
  onIngestOutcome?: (source: 'spry' | 'spruce', outcome: IngestOutcome) => void;
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
  await app.register(healthRoutes, { store: deps.store });
  await app.register(webhookRoutes, {
    tenants: new Map(deps.config.tenants.map((t) => [t.id, t])),
    store: deps.store,
    clock: deps.clock,
    logger: deps.logger,
    bodyLimitBytes: deps.config.server.bodyLimitBytes,
    coalesceMs: deps.config.workers.coalesceMs,
    maxAttempts: deps.config.workers.maxAttempts,
    onQueued: deps.onQueued,
    onOutcome: deps.onIngestOutcome,
  });
  app.setErrorHandler((error: { statusCode?: number; code?: string; message: string }, _request, reply) => {
    const status = error.statusCode && error.statusCode >= 400 ? error.statusCode : 500;
    if (status >= 500) deps.logger.error({ code: error.code }, 'request failed');
    // Fastify's own messages (too large, bad params) hold no PHI; ours never do.
    return reply.code(status).send({ error: error.code ?? 'error', message: status >= 500 ? 'internal error' : error.message });
  });
  return app;
}
