// /healthz: the process is up. /readyz: the store answers, so webhooks can be accepted.
import type { FastifyPluginAsync } from 'fastify';
import type { StoreLifecycle } from '../store/ports.ts';

const statusBody = {
  type: 'object',
  properties: { status: { type: 'string' } },
  required: ['status'],
} as const;

export const healthRoutes: FastifyPluginAsync<{ store: Pick<StoreLifecycle, 'ping'> }> = async (app, { store }) => {
  app.get('/healthz', { schema: { response: { 200: statusBody } } }, async () => ({ status: 'ok' }));
  app.get('/readyz', { schema: { response: { 200: statusBody, 503: statusBody } } }, async (_request, reply) => {
    try {
      await store.ping();
      return { status: 'ready' };
    } catch {
      return reply.code(503).send({ status: 'store unavailable' });
    }
  });
};
