// `setup` for one tenant: our webhook registrations with Spry and Spruce made when missing
// (webhook-registration.ts), their ids remembered, and the signing secrets they hand out once
// kept in the store's kv state, sealed with the database encryption key when one is set. The
// service reads its secrets from the config; these are where the operator fetches them from.
import { createCipher } from '../store/cipher.ts';
import type { Store } from '../store/types.ts';
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

export async function runSetup(ctx: TenantContext, options: { publicUrl: string; encryptionKey?: string }): Promise<SetupResult> {
  const tenantId = ctx.config.id;
  const registered = await ensureWebhookRegistrations({ spry: ctx.spry, spruce: ctx.spruce, publicUrl: options.publicUrl, tenantId });
  const vault = secretVault(ctx.store, tenantId, options.encryptionKey);
  // Store first, so a secret shown only once cannot be lost between the answer and the print.
  if (registered.spry.signatureKey) await vault.put(SETUP_KEYS.spryKey, registered.spry.signatureKey);
  if (registered.spruce.signingSecret) await vault.put(SETUP_KEYS.spruceSecret, registered.spruce.signingSecret);
  await ctx.store.setState(tenantId, SETUP_KEYS.sprySubscriptionId, registered.spry.subscription.id);
  await ctx.store.setState(tenantId, SETUP_KEYS.spruceEndpointId, registered.spruce.endpoint.id);
  return {
    ...registered,
    secrets: {
      spry: registered.spry.signatureKey ?? (await vault.get(SETUP_KEYS.spryKey)),
      spruce: registered.spruce.signingSecret ?? (await vault.get(SETUP_KEYS.spruceSecret)),
    },
    sealed: vault.sealed,
  };
}

/** kv values sealed with the database key (AES-256-GCM), or as they are without one. */
export function secretVault(store: Store, tenantId: string, encryptionKey?: string) {
  const cipher = createCipher(encryptionKey);
  const context = (key: string) => `state.${tenantId}.${key}`;
  return {
    sealed: cipher.encrypting,
    async put(key: string, secret: string): Promise<void> {
      await store.setState(tenantId, key, cipher.seal(Buffer.from(secret, 'utf8'), context(key)).toString('base64'));
    },
    async get(key: string): Promise<string | undefined> {
      const stored = await store.getState(tenantId, key);
      return stored ? cipher.open(Buffer.from(stored, 'base64'), context(key)).toString('utf8') : undefined;
    },
  };
}
