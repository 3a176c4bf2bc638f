// Webhook endpoints API and the per-endpoint delivery log.
import { notFound } from './errors.ts';
import type { ApiRequest, Handler } from './handler.ts';
import type { StoredEndpoint } from './state.ts';
import { createEndpoint, renderEndpoint } from './webhook-endpoints.ts';

function endpointOf(req: ApiRequest): StoredEndpoint {
  const endpoint = req.org.endpoints.get(req.params.endpointId!);
  if (!endpoint) throw notFound('webhook endpoint');
  return endpoint;
}

export const webhookHandlers: Record<string, Handler> = {
  ListWebhookEndpoints(_s, req) {
    return { status: 200, body: { endpoints: [...req.org.endpoints.values()].map((e) => renderEndpoint(e)) } };
  },

  // 200, not 201, and the only time the signing secret's value is shown [spec].
  CreateWebhookEndpoint({ ctx, events }, req) {
    const endpoint = createEndpoint(ctx, req.org, req.body as { name: string; url: string });
    events.registerEndpoint(endpoint.id, endpoint.secret);
    return { status: 200, body: { endpoint: renderEndpoint(endpoint, { withSecret: true }) } };
  },

  WebhookEndpoint(_s, req) {
    return { status: 200, body: { endpoint: renderEndpoint(endpointOf(req)) } };
  },

  DeleteWebhookEndpoint(_s, req) {
    req.org.endpoints.delete(endpointOf(req).id);
    return { status: 200 };
  },

  /**
   * Pausing stops delivery of new events (they are still logged, with delivery status
   * `paused`); resuming does NOT replay them [ours]: a receiver catches up from the log.
   */
  ModifyWebhookEndpointPaused(_s, req) {
    const endpoint = endpointOf(req);
    endpoint.paused = req.query.paused as boolean;
    return { status: 200, body: { paused: endpoint.paused } };
  },

  ListWebhookEndpointEvents({ events }, req) {
    const endpoint = endpointOf(req);
    return { status: 200, body: events.listLog(endpoint.id, req.query as { startTime?: string; endTime?: string; paginationToken?: string }) };
  },
};
