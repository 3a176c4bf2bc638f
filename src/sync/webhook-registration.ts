// Our webhook registrations with both systems: the Spry subscription and the Spruce endpoint
// that point at this service. Used by `spruce-sync setup` against the real systems and by the
// sandbox against the simulators. Idempotent: what already points at our URL is found and
// kept, never registered twice (a second registration would double every delivery).
import type { SpruceApi, SpruceWebhookEndpoint } from '../spruce/types.ts';
import { SPRY_API_VERSION, SPRY_EVENT_TYPES, type SpryApi, type SprySubscription } from '../spry/types.ts';

export const REGISTRATION_NAME = 'spruce-sync';

/** Where each system delivers to, for one tenant of a service reachable at `publicUrl`. */
export function webhookUrls(publicUrl: string, tenantId: string): { spry: string; spruce: string } {
  const base = publicUrl.replace(/\/+$/, '');
  return { spry: `${base}/webhooks/spry/${tenantId}`, spruce: `${base}/webhooks/spruce/${tenantId}` };
}

export interface SpryRegistration {
  subscription: SprySubscription;
  /** True when this call created it. */
  created: boolean;
  /** The signing key: Spry shows it only in the answer that creates the subscription. */
  signatureKey?: string;
  /** Event types we need that an existing subscription does not send (left for the operator). */
  missingEventTypes: string[];
}

export interface SpruceRegistration {
  endpoint: SpruceWebhookEndpoint;
  created: boolean;
  /** Shown only in the answer that creates the endpoint. */
  signingSecret?: string;
}

export async function ensureSprySubscription(spry: SpryApi, url: string): Promise<SpryRegistration> {
  const existing = (await spry.listSubscriptions()).filter((s) => s.notification_url === url);
  // An active one wins; an inactive one is still ours (someone paused it on purpose).
  const found = existing.find((s) => s.is_active) ?? existing[0];
  if (found) {
    const missingEventTypes = SPRY_EVENT_TYPES.filter((type) => !found.event_types.includes(type));
    return { subscription: found, created: false, missingEventTypes };
  }
  const created = await spry.createSubscription({
    name: REGISTRATION_NAME,
    event_types: [...SPRY_EVENT_TYPES],
    notification_url: url,
    api_version: SPRY_API_VERSION,
  });
  const { signature_key: signatureKey, ...subscription } = created;
  return { subscription, created: true, signatureKey, missingEventTypes: [] };
}

export async function ensureSpruceEndpoint(spruce: SpruceApi, url: string): Promise<SpruceRegistration> {
  const found = (await spruce.listWebhookEndpoints()).find((e) => e.url === url);
  if (found) return { endpoint: found, created: false };
  const endpoint = await spruce.createWebhookEndpoint({ name: REGISTRATION_NAME, url });
  const signingSecret = endpoint.signingSecrets?.find((s) => s.value)?.value;
  return { endpoint, created: true, signingSecret };
}

export interface Registrations {
  urls: { spry: string; spruce: string };
  spry: SpryRegistration;
  spruce: SpruceRegistration;
}

export async function ensureWebhookRegistrations(deps: {
  spry: SpryApi;
  spruce: SpruceApi;
  publicUrl: string;
  tenantId: string;
}): Promise<Registrations> {
  const urls = webhookUrls(deps.publicUrl, deps.tenantId);
  const spry = await ensureSprySubscription(deps.spry, urls.spry);
  const spruce = await ensureSpruceEndpoint(deps.spruce, urls.spruce);
  return { urls, spry, spruce };
}
