// The operator's functions on subscriptions, shared by the admin API and the CLI: add (the
// secret is shown once), list, change, pause/resume (resume also re-enables a disabled one),
// remove, rotate the secret, upgrade the payload version, send a test event, look at
// deliveries and attempts, and replay. Refusals are AdminErrors with PHI-free messages.
import { randomBytes } from 'node:crypto';
import type { Clock } from '../clock.ts';
import type { TenantConfig } from '../config/schema.ts';
import { AdminError } from '../errors.ts';
import type { FanoutConfig } from './config.ts';
import { patternProblem } from './event-types.ts';
import { parseFilter, type PayloadFilter } from './filter.ts';
import { testMessage, withId } from './messages.ts';
import { isPayloadVersion, LATEST_PAYLOAD_VERSION, PAYLOAD_VERSIONS } from './payload-versions.ts';
import { formatDuration, parseSchedule } from './retry-schedule.ts';
import { newSecret, rotate, signingSecrets } from './secrets.ts';
import type { Delivery, DeliveryAttempt, DeliveryCounts, DeliveryStatus, FanoutStore, Subscription, SubscriptionHealth } from './types.ts';
import { checkSubscriberUrl, type Resolve } from './url-guard.ts';

export interface SubscriptionInput {
  url: string;
  eventTypes: string[];
  description?: string | null;
  /** An object or JSON text (filter.ts). */
  filter?: unknown;
  allowPhi?: boolean;
  /** Durations (`5s`, `2m`, `1h`) or ms. */
  retrySchedule?: (string | number)[];
  ratePerSecond?: number;
  maxInFlight?: number;
  ordered?: boolean;
  /** Pin an older payload version; default the newest. */
  version?: string;
}

export type SubscriptionChange = Partial<Omit<SubscriptionInput, 'version'>>;

export interface SubscriptionView {
  id: string;
  tenantId: string;
  url: string;
  description: string | null;
  eventTypes: string[];
  filter: PayloadFilter | null;
  version: string;
  latestVersion: string;
  allowPhi: boolean;
  retrySchedule: string[];
  ratePerSecond: number;
  maxInFlight: number;
  ordered: boolean;
  status: Subscription['status'];
  statusReason: string | null;
  health: SubscriptionHealth;
  /** closed, open, half_open; null when this process runs no lane for it. */
  circuit: string | null;
  secrets: { signing: number; previousExpiresAt: number | null };
  deliveries: DeliveryCounts;
  createdAt: number;
  updatedAt: number;
}

export interface SubscriptionAdminOptions {
  store: FanoutStore;
  clock: Clock;
  tenants: readonly TenantConfig[];
  fanout: FanoutConfig;
  resolve?: Resolve;
  /** A subscription was created, changed or removed (null): the running engine picks it up. */
  onChange?: (subscription: Subscription | null, id: string) => void;
  /** Resolves the `subscription_disabled` alert when an operator re-enables. */
  onReenabled?: (subscription: Subscription) => void;
  circuitState?: (id: string) => string | null;
  /** Who acted, for the log (`admin-api`, `cli`). */
  logger?: { info: (fields: Record<string, unknown>, message: string) => void };
}

const MAX_TYPES = 50;

export class SubscriptionAdmin {
  constructor(private readonly options: SubscriptionAdminOptions) {}

  async add(tenantId: string, input: SubscriptionInput): Promise<{ subscription: SubscriptionView; secret: string }> {
    const tenant = this.tenant(tenantId);
    const existing = await this.options.store.listSubscriptions(tenantId);
    if (existing.length >= tenant.fanout.maxSubscriptions) {
      throw new AdminError('too_many_subscriptions', `tenant ${tenantId} already has ${existing.length} subscriptions (fanout.maxSubscriptions)`);
    }
    const version = input.version ?? LATEST_PAYLOAD_VERSION;
    if (!isPayloadVersion(version)) throw new AdminError('bad_request', `version: one of ${PAYLOAD_VERSIONS.join(', ')}`);
    const now = this.options.clock.now();
    const secret = newSecret();
    const defaults = this.options.fanout;
    const subscription: Subscription = {
      id: `sub_${randomBytes(12).toString('base64url')}`,
      tenantId,
      url: '',
      description: null,
      eventTypes: [],
      filter: null,
      version,
      allowPhi: false,
      retrySchedule: defaults.retrySchedule,
      ratePerSecond: defaults.ratePerSecond,
      maxInFlight: defaults.maxInFlight,
      ordered: true,
      status: 'active',
      statusReason: null,
      secrets: [{ secret, createdAt: now, expiresAt: null }],
      health: { consecutiveFailures: 0, failingSince: null, lastSuccessAt: null, lastFailureAt: null, alertedAt: null },
      createdAt: now,
      updatedAt: now,
    };
    const ready = await this.apply(subscription, { ...input }, tenant);
    await this.options.store.insertSubscription(ready);
    this.changed(ready);
    this.options.logger?.info({ tenantId, subscriptionId: ready.id }, 'subscription added');
    return { subscription: await this.view(ready), secret };
  }

  async list(tenantId: string): Promise<SubscriptionView[]> {
    this.tenant(tenantId);
    return Promise.all((await this.options.store.listSubscriptions(tenantId)).map((s) => this.view(s)));
  }

  async get(tenantId: string, id: string): Promise<SubscriptionView> {
    return this.view(await this.load(tenantId, id));
  }

  async update(tenantId: string, id: string, change: SubscriptionChange): Promise<SubscriptionView> {
    const current = await this.load(tenantId, id);
    const next = await this.apply({ ...current, updatedAt: this.options.clock.now() }, change, this.tenant(tenantId));
    await this.options.store.updateSubscription(next);
    this.changed(next);
    return this.view(next);
  }

  async pause(tenantId: string, id: string): Promise<SubscriptionView> {
    const current = await this.load(tenantId, id);
    if (current.status === 'active') await this.options.store.setSubscriptionStatus(id, 'paused', 'operator', this.options.clock.now());
    return this.reloaded(tenantId, id);
  }

  /** Resumes a paused subscription, or re-enables a disabled one (its backlog becomes due at once). */
  async resume(tenantId: string, id: string): Promise<SubscriptionView> {
    const current = await this.load(tenantId, id);
    const now = this.options.clock.now();
    if (current.status === 'disabled') {
      await this.options.store.updateHealth(id, { ...current.health, consecutiveFailures: 0, failingSince: null, alertedAt: null }, now);
      await this.options.store.expedite(id, now);
    }
    if (current.status !== 'active') await this.options.store.setSubscriptionStatus(id, 'active', null, now);
    const view = await this.reloaded(tenantId, id);
    if (current.status === 'disabled') this.options.onReenabled?.(current);
    return view;
  }

  async remove(tenantId: string, id: string): Promise<void> {
    await this.load(tenantId, id);
    await this.options.store.deleteSubscription(id);
    this.options.onChange?.(null, id);
    this.options.logger?.info({ tenantId, subscriptionId: id }, 'subscription removed');
  }

  /** A new secret, shown once; the previous ones keep signing for the overlap window. */
  async rotateSecret(tenantId: string, id: string, overlapMs?: number): Promise<{ secret: string; previousExpiresAt: number | null }> {
    const current = await this.load(tenantId, id);
    const now = this.options.clock.now();
    const overlap = overlapMs ?? this.options.fanout.rotationOverlapMs;
    if (!Number.isFinite(overlap) || overlap < 0 || overlap > 30 * 86_400_000) throw new AdminError('bad_request', 'overlap: 0 to 30 days');
    const secret = newSecret();
    const next = { ...current, secrets: rotate(current.secrets, secret, now, overlap), updatedAt: now };
    await this.options.store.updateSubscription(next);
    this.changed(next);
    this.options.logger?.info({ tenantId, subscriptionId: id }, 'subscription secret rotated');
    return { secret, previousExpiresAt: previousExpiry(next) };
  }

  /** Moves the subscription to a newer payload version (default the newest); deliveries created from now on use it. */
  async upgrade(tenantId: string, id: string, version: string = LATEST_PAYLOAD_VERSION): Promise<SubscriptionView> {
    const current = await this.load(tenantId, id);
    if (!isPayloadVersion(version)) throw new AdminError('bad_request', `version: one of ${PAYLOAD_VERSIONS.join(', ')}`);
    if (PAYLOAD_VERSIONS.indexOf(version) < PAYLOAD_VERSIONS.indexOf(current.version as never)) {
      throw new AdminError('downgrade', `version ${current.version} is newer than ${version}; versions only move forward`);
    }
    const next = { ...current, version, updatedAt: this.options.clock.now() };
    await this.options.store.updateSubscription(next);
    this.changed(next);
    return this.view(next);
  }

  /** Queues a `webhook.test` event for this subscription only. */
  async sendTest(tenantId: string, id: string): Promise<{ messageId: string }> {
    const current = await this.load(tenantId, id);
    const now = this.options.clock.now();
    const message = withId(testMessage(tenantId, id, now));
    await this.options.store.insertMessages([{ message, deliveries: [{ subscriptionId: id, version: current.version }] }], now);
    this.changed(current);
    return { messageId: message.id };
  }

  async deliveries(
    tenantId: string,
    id: string,
    query: { status?: DeliveryStatus; since?: number; until?: number; before?: number; limit: number },
  ): Promise<{ deliveries: Delivery[]; nextBefore: number | null }> {
    await this.load(tenantId, id);
    const deliveries = await this.options.store.listDeliveries({ subscriptionId: id, ...query });
    return { deliveries, nextBefore: deliveries.length === query.limit ? deliveries[deliveries.length - 1]!.id : null };
  }

  async attempts(tenantId: string, id: string, deliveryId: number): Promise<{ delivery: Delivery; attempts: DeliveryAttempt[] }> {
    const delivery = await this.delivery(tenantId, id, deliveryId);
    return { delivery, attempts: await this.options.store.listAttempts(deliveryId) };
  }

  /** Sends one delivery again (same webhook-id), whatever its state. */
  async replayOne(tenantId: string, id: string, deliveryId: number): Promise<{ replayed: number }> {
    await this.delivery(tenantId, id, deliveryId);
    if (!(await this.options.store.replayDelivery(deliveryId, this.options.clock.now()))) {
      throw new AdminError('in_flight', `delivery ${deliveryId} is being sent right now; try again in a moment`);
    }
    this.changed(await this.load(tenantId, id));
    return { replayed: 1 };
  }

  /** Every failed delivery created in [since, until) is sent again. */
  async replayFailed(tenantId: string, id: string, window: { since: number; until?: number }): Promise<{ replayed: number }> {
    const current = await this.load(tenantId, id);
    const now = this.options.clock.now();
    const replayed = await this.options.store.replayFailed(id, window.since, window.until ?? now + 1, now);
    this.changed(current);
    this.options.logger?.info({ tenantId, subscriptionId: id, replayed }, 'failed deliveries replayed');
    return { replayed };
  }

  // ------------------------------------------------------------------------------------------------

  private tenant(tenantId: string): TenantConfig {
    const tenant = this.options.tenants.find((t) => t.id === tenantId);
    if (!tenant) throw new AdminError('unknown_tenant', `no tenant ${tenantId}`);
    return tenant;
  }

  private async load(tenantId: string, id: string): Promise<Subscription> {
    this.tenant(tenantId);
    const subscription = await this.options.store.getSubscription(id);
    if (!subscription || subscription.tenantId !== tenantId) throw new AdminError('unknown_subscription', `no subscription ${id} for tenant ${tenantId}`);
    return subscription;
  }

  private async delivery(tenantId: string, id: string, deliveryId: number): Promise<Delivery> {
    await this.load(tenantId, id);
    const delivery = await this.options.store.getDelivery(deliveryId);
    if (!delivery || delivery.subscriptionId !== id) throw new AdminError('unknown_delivery', `no delivery ${deliveryId} for subscription ${id}`);
    return delivery;
  }

  private async reloaded(tenantId: string, id: string): Promise<SubscriptionView> {
    const subscription = await this.load(tenantId, id);
    this.changed(subscription);
    return this.view(subscription);
  }

  private changed(subscription: Subscription): void {
    this.options.onChange?.(subscription, subscription.id);
  }

  /** Validates and applies the given settings. */
  private async apply(base: Subscription, input: SubscriptionChange, tenant: TenantConfig): Promise<Subscription> {
    const next = { ...base };
    if (input.url !== undefined) {
      const verdict = await checkSubscriberUrl(input.url, { allowLoopback: tenant.fanout.allowLoopback, allowedNetworks: tenant.fanout.allowedNetworks }, this.options.resolve);
      if (!verdict.ok) throw new AdminError('bad_url', verdict.problem);
      next.url = verdict.url.toString();
    }
    if (!next.url) throw new AdminError('bad_request', 'url is required');
    if (input.eventTypes !== undefined) {
      const types = [...new Set(input.eventTypes.map((t) => t.trim()).filter((t) => t !== ''))];
      if (types.length === 0 || types.length > MAX_TYPES) throw new AdminError('bad_request', `eventTypes: 1 to ${MAX_TYPES} names or patterns`);
      for (const type of types) {
        const problem = patternProblem(type);
        if (problem) throw new AdminError('bad_request', `eventTypes: ${problem}`);
      }
      next.eventTypes = types;
    }
    if (next.eventTypes.length === 0) throw new AdminError('bad_request', 'eventTypes is required (e.g. spry.*, sync.contact.*)');
    if (input.description !== undefined) {
      if (input.description !== null && input.description.length > 500) throw new AdminError('bad_request', 'description: at most 500 characters');
      next.description = input.description || null;
    }
    if (input.filter !== undefined) {
      const parsed = parseFilter(input.filter);
      if (!parsed.ok) throw new AdminError('bad_request', parsed.problem);
      next.filter = parsed.filter;
    }
    if (input.allowPhi !== undefined) next.allowPhi = input.allowPhi;
    if (input.ordered !== undefined) next.ordered = input.ordered;
    if (input.retrySchedule !== undefined) {
      const parsed = parseSchedule(input.retrySchedule);
      if (!parsed.ok) throw new AdminError('bad_request', parsed.problem);
      next.retrySchedule = parsed.schedule;
    }
    if (input.ratePerSecond !== undefined) {
      if (!(input.ratePerSecond >= 0 && input.ratePerSecond <= 1_000)) throw new AdminError('bad_request', 'ratePerSecond: 0 (no limit) to 1000');
      next.ratePerSecond = input.ratePerSecond;
    }
    if (input.maxInFlight !== undefined) {
      if (!(Number.isInteger(input.maxInFlight) && input.maxInFlight >= 1 && input.maxInFlight <= 64)) {
        throw new AdminError('bad_request', 'maxInFlight: 1 to 64');
      }
      next.maxInFlight = input.maxInFlight;
    }
    return next;
  }

  private async view(s: Subscription): Promise<SubscriptionView> {
    return {
      id: s.id,
      tenantId: s.tenantId,
      url: s.url,
      description: s.description,
      eventTypes: s.eventTypes,
      filter: s.filter,
      version: s.version,
      latestVersion: LATEST_PAYLOAD_VERSION,
      allowPhi: s.allowPhi,
      retrySchedule: s.retrySchedule.map(formatDuration),
      ratePerSecond: s.ratePerSecond,
      maxInFlight: s.maxInFlight,
      ordered: s.ordered,
      status: s.status,
      statusReason: s.statusReason,
      health: s.health,
      circuit: this.options.circuitState?.(s.id) ?? null,
      secrets: { signing: signingSecrets(s.secrets, this.options.clock.now()).length, previousExpiresAt: previousExpiry(s) },
      deliveries: await this.options.store.deliveryCounts(s.id),
      createdAt: s.createdAt,
      updatedAt: s.updatedAt,
    };
  }
}

function previousExpiry(s: Subscription): number | null {
  const expiries = s.secrets.map((x) => x.expiresAt).filter((x): x is number => x !== null);
  return expiries.length > 0 ? Math.max(...expiries) : null;
}
