// GET /metrics: the Prometheus exposition. Open like /healthz (scrapers rarely carry tokens);
// it holds ids, enums and numbers only. Restrict it at the network edge if that matters.
import type { FastifyPluginAsync } from 'fastify';
import type { SyncMetrics } from '../observe/metrics.ts';

export const metricsRoutes: FastifyPluginAsync<{ metrics: SyncMetrics }> = async (app, { metrics }) => {
  app.get('/metrics', async (_request, reply) => {
    const { contentType, body } = await metrics.text();
    return reply.type(contentType).header('cache-control', 'no-store').send(body);
  });
};
