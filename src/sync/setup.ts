// `setup` for one tenant: our webhook registrations with Spry and Spruce made when missing
// (webhook-registration.ts), their ids remembered, and the signing secrets they hand out once
// kept in the store's kv state, sealed by the store with the database encryption key. The
// service reads its secrets from the config; these are where the operator fetches them from.
import { CATCH_UP_KEYS } from './catch-up.ts';
import type { TenantContext } from './tenant-context.ts';
import { ensureWebhookRegistrations, type Registrations } from './webhook-registration.ts';

export const SETUP_KEYS = {
  spryKey: 'setup.spry.signatureKey',
  spruceSecret: 'setup.spruce.signingSecret',
  spruceEndpointId: CATCH_UP_KEYS.endpointId,
  sprySubscriptionId: 'spry.subscriptionId',
} as const;

export interface SetupResult extends Registrations {
  /** The secrets known now: handed out by this run, or stored by an earlier one. */
  secrets: { spry?: string; spruce?: string };
  /** Whether the store holds them sealed (an encryption key is configured). */
  sealed: boolean;
}

export async function runSetup(ctx: TenantContext, options: { publicUrl: string }): Promise<SetupResult> {
  const tenantId = ctx.config.id;
  const registered = await ensureWebhookRegistrations({ spry: ctx.spry, spruce: ctx.spruce, publicUrl: options.publicUrl, tenantId });
  const { store } = ctx;
  // Store first, so a secret shown only once cannot be lost between the answer and the print.
  if (registered.spry.signatureKey) await store.setSecret(tenantId, SETUP_KEYS.spryKey, registered.spry.signatureKey);
  if (registered.spruce.signingSecret) await store.setSecret(tenantId, SETUP_KEYS.spruceSecret, registered.spruce.signingSecret);
  await ctx.store.setState(tenantId, SETUP_KEYS.sprySubscriptionId, registered.spry.subscription.id);
  await ctx.store.setState(tenantId, SETUP_KEYS.spruceEndpointId, registered.spruce.endpoint.id);
  return {
    ...registered,
    secrets: {
      spry: registered.spry.signatureKey ?? (await store.getSecret(tenantId, SETUP_KEYS.spryKey)) ?? undefined,
      spruce: registered.spruce.signingSecret ?? (await store.getSecret(tenantId, SETUP_KEYS.spruceSecret)) ?? undefined,
    },
    sealed: store.encryptsAtRest,
  };
}

/** The state rows that hold secrets (rekey seals any left in plaintext from before a key was set). */
export const SECRET_STATE_KEYS = [SETUP_KEYS.spryKey, SETUP_KEYS.spruceSecret] as const;
