// Feeds signature failures of webhook deliveries to the alert monitor. The webhook routes answer
// 401 for a bad signature and for nothing else, so the response status tells it, per tenant,
// without touching the ingest path itself.
import type { FastifyInstance } from 'fastify';

const WEBHOOK_ROUTES: Record<string, 'spry' | 'spruce'> = {
  '/webhooks/spry/:tenantId': 'spry',
  '/webhooks/spruce/:tenantId': 'spruce',
};

/** Call before the webhook routes are registered, so the hook covers them. */
export function watchSignatureFailures(app: FastifyInstance, onFailure: (tenantId: string, source: 'spry' | 'spruce') => void): void {
  app.addHook('onResponse', async (request, reply) => {
    if (reply.statusCode !== 401) return;
    const source = WEBHOOK_ROUTES[request.routeOptions.url ?? ''];
    const tenantId = (request.params as { tenantId?: unknown } | undefined)?.tenantId;
    if (source && typeof tenantId === 'string') onFailure(tenantId, source);
  });
}
