// Webhook subscriptions of one organisation: the signing key is shown once (on create and on
// rotate) and never again; a rotation keeps the previous key signing for a day, so a receiver
// can switch keys without losing deliveries.
import { randomBytes } from 'node:crypto';
import type { Clock } from '../../clock.ts';
import { SPRY_API_VERSION, type SprySubscription } from '../../spry/types.ts';
import { CODE, SpryApiError } from './envelope.ts';
import type { SpryRecords } from './records.ts';

export const SUPPORTED_API_VERSIONS: readonly string[] = [SPRY_API_VERSION];

/** After a rotation the previous key keeps signing (as a second `v1` entry) this long. */
export const ROTATION_OVERLAP_MS = 24 * 60 * 60 * 1000;

export interface StoredSubscription {
  organisationId: number;
  subscription: SprySubscription;
  signatureKey: string;
  previousKey: { key: string; expiresAtMs: number } | null;
}

export type SubscriptionWithKey = SprySubscription & { signature_key: string };

export function newSignatureKey(): string {
  return `spry_whsec_${randomBytes(32).toString('hex')}`;
}

/** The keys a delivery at `nowMs` is signed with: the current one first. */
export function signingKeys(stored: StoredSubscription, nowMs: number): string[] {
  const keys = [stored.signatureKey];
  if (stored.previousKey && nowMs < stored.previousKey.expiresAtMs) keys.push(stored.previousKey.key);
  return keys;
}

function assertApiVersion(version: string): void {
  if (!SUPPORTED_API_VERSIONS.includes(version)) {
    throw new SpryApiError(
      400,
      CODE.BAD_REQUEST,
      `INVALID_API_VERSION: api_version '${version}' is not supported (supported: ${SUPPORTED_API_VERSIONS.join(', ')})`,
      'INVALID_API_VERSION',
    );
  }
}

export class SubscriptionService {
  constructor(
    private readonly records: SpryRecords,
    private readonly clock: Clock,
  ) {}

  private store(organisationId: number): Map<string, StoredSubscription> {
    return this.records.org(organisationId).subscriptions;
  }

  list(organisationId: number, isActive?: boolean): SprySubscription[] {
    return [...this.store(organisationId).values()]
      .map((s) => s.subscription)
      .filter((s) => isActive === undefined || s.is_active === isActive)
      .map((s) => structuredClone(s));
  }

  /** The stored record (with keys), for delivery. */
  stored(organisationId: number, id: string): StoredSubscription {
    const stored = this.store(organisationId).get(id);
    if (!stored) throw new SpryApiError(404, CODE.NOT_FOUND, 'Subscription not found', 'SUBSCRIPTION_NOT_FOUND');
    return stored;
  }

  get(organisationId: number, id: string): SprySubscription {
    return structuredClone(this.stored(organisationId, id).subscription);
  }

  create(
    organisationId: number,
    input: { name: string; event_types: string[]; notification_url: string; api_version?: string; is_active?: boolean },
  ): SubscriptionWithKey {
    const apiVersion = input.api_version ?? SPRY_API_VERSION;
    assertApiVersion(apiVersion);
    const subscription: SprySubscription = {
      id: `sub_${randomBytes(12).toString('hex')}`,
      name: input.name,
      event_types: input.event_types,
      notification_url: input.notification_url,
      api_version: apiVersion,
      is_active: input.is_active ?? true,
      created_date: new Date(this.clock.now()).toISOString(),
    };
    const stored: StoredSubscription = { organisationId, subscription, signatureKey: newSignatureKey(), previousKey: null };
    this.store(organisationId).set(subscription.id, stored);
    return { ...structuredClone(subscription), signature_key: stored.signatureKey };
  }

  update(
    organisationId: number,
    id: string,
    patch: Partial<Pick<SprySubscription, 'name' | 'event_types' | 'notification_url' | 'api_version' | 'is_active'>>,
  ): SprySubscription {
    const stored = this.stored(organisationId, id);
    if (patch.api_version !== undefined) assertApiVersion(patch.api_version);
    stored.subscription = { ...stored.subscription, ...structuredClone(patch) };
    return structuredClone(stored.subscription);
  }

  delete(organisationId: number, id: string): void {
    this.stored(organisationId, id);
    this.store(organisationId).delete(id);
  }

  rotate(organisationId: number, id: string): SubscriptionWithKey & { previous_key_expires_at: string } {
    const stored = this.stored(organisationId, id);
    const expiresAtMs = this.clock.now() + ROTATION_OVERLAP_MS;
    // Only one previous key: rotating twice within a day retires the oldest at once.
    stored.previousKey = { key: stored.signatureKey, expiresAtMs };
    stored.signatureKey = newSignatureKey();
    return {
      ...structuredClone(stored.subscription),
      signature_key: stored.signatureKey,
      previous_key_expires_at: new Date(expiresAtMs).toISOString(),
    };
  }
}
