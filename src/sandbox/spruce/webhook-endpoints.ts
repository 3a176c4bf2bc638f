// Webhook destination endpoints: create (the signing secret is shown only then), list, get,
// delete, pause/resume. No per-type filter: an endpoint gets every event of its organization.
import type { SpruceWebhookEndpoint } from '../../spruce/types.ts';
import { iso, type SimContext } from './context.ts';
import { badParameter } from './errors.ts';
import type { OrgState, StoredEndpoint } from './state.ts';

const LOOPBACK = /^(localhost|127(?:\.\d{1,3}){3}|\[::1\])$/i;

/**
 * Spruce accepts HTTPS URLs only [doc]. The sandbox also accepts `http://` to a loopback host
 * (127.0.0.0/8, localhost, [::1]) so that local tests and the demo can receive webhooks [ours,
 * a deliberate deviation].
 */
export function checkEndpointUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw badParameter('url must be an absolute URL');
  }
  if (url.protocol === 'https:') return raw;
  if (url.protocol === 'http:' && LOOPBACK.test(url.hostname)) return raw;
  throw badParameter('url must use https (the sandbox also accepts http:// to a loopback host)');
}

export function renderEndpoint(endpoint: StoredEndpoint, options: { withSecret?: boolean } = {}): SpruceWebhookEndpoint {
  return {
    object: 'webhookEndpoint',
    id: endpoint.id,
    name: endpoint.name,
    url: endpoint.url,
    // [ours] `active` or `paused`; the spec leaves the values open.
    status: endpoint.paused ? 'paused' : 'active',
    createdAt: iso(endpoint.createdAt),
    // The secret's value is populated only in the response to the creation [spec]; later it
    // comes back empty.
    signingSecrets: [{ id: endpoint.secretId, value: options.withSecret ? endpoint.secret : '' }],
  };
}

export function createEndpoint(ctx: SimContext, org: OrgState, input: { name: string; url: string }): StoredEndpoint {
  const endpoint: StoredEndpoint = {
    id: ctx.ids.ulid('wde'),
    orgId: org.id,
    name: input.name,
    url: checkEndpointUrl(input.url),
    createdAt: ctx.clock.now(),
    paused: false,
    secretId: ctx.ids.ulid('wss'),
    secret: ctx.ids.secret(),
  };
  org.endpoints.set(endpoint.id, endpoint);
  return endpoint;
}
