// Fan-out: the clinic's other systems subscribe to our events; each matching event becomes one
// delivery per subscription, sent by the Standard Webhooks convention and retried on its own
// schedule. These are the records the fan-out store keeps (its own tables, both adapters).
//
// Times are epoch milliseconds. Message data may hold PHI (Spruce events): adapters seal it at
// rest when a key is configured; nothing here is ever logged but ids, codes and counts.

import type { ResealOptions, ResealReport } from '../store/sql/reseal.ts';
import type { PayloadFilter } from './filter.ts';

export type SubscriptionStatus = 'active' | 'paused' | 'disabled';

/** Where a message came from: a source event as received, one of our sync events, or a test. */
export type MessageSource = 'spry' | 'spruce' | 'sync' | 'test';

export interface SigningSecret {
  /** `whsec_<base64>`: the bytes after the prefix, base64-decoded, are the HMAC key. */
  secret: string;
  createdAt: number;
  /** Set when a newer secret replaced it: it keeps signing until then (the overlap window). */
  expiresAt: number | null;
}

/** What the breaker and the operator know about an endpoint's recent answers. */
export interface SubscriptionHealth {
  /** Failed attempts since the last success. */
  consecutiveFailures: number;
  /** The first failure after the last success (null while healthy). */
  failingSince: number | null;
  lastSuccessAt: number | null;
  lastFailureAt: number | null;
  /** When a "disabled" alert went out that has not been resolved yet. */
  alertedAt: number | null;
}

export interface Subscription {
  /** `sub_…` */
  id: string;
  tenantId: string;
  url: string;
  description: string | null;
  /** Exact names or wildcards (`patient.*`, `spry.*`, `*`); see event-types.ts. */
  eventTypes: string[];
  filter: PayloadFilter | null;
  /** The payload version pinned at creation; changes only through an upgrade. */
  version: string;
  /** Spruce source events carry PHI and reach only subscriptions that allow it. */
  allowPhi: boolean;
  /** Waits before the 2nd, 3rd, … attempt (ms), jittered. */
  retrySchedule: number[];
  /** Requests per second to this endpoint; 0 = no limit. */
  ratePerSecond: number;
  /** Requests in flight at once to this endpoint. */
  maxInFlight: number;
  /** Events about one patient are delivered one at a time, in order. */
  ordered: boolean;
  status: SubscriptionStatus;
  /** Why it is paused or disabled: `operator`, `endpoint_failing`. */
  statusReason: string | null;
  /** Newest first. Sealed at rest. */
  secrets: SigningSecret[];
  health: SubscriptionHealth;
  createdAt: number;
  updatedAt: number;
}

export interface NewMessage {
  tenantId: string;
  source: MessageSource;
  /** Full name, e.g. `spry.patient.updated`, `spruce.conversationItem.created`, `sync.contact.created`. */
  type: string;
  /** Unique per (tenant, source): the inbox event key, or a key derived from the sync outcome. */
  dedupeKey: string;
  occurredAt: number;
  /** When it entered the fan-out (for source events: when we received them). */
  createdAt: number;
  /** Ids only: patientId, contactId, itemId, … */
  subject: Record<string, string | number>;
  /** Deliveries with the same key go out one at a time, in order (e.g. `patient:123`). */
  orderKey: string | null;
  /** True for Spruce source events: only `allowPhi` subscriptions receive them. */
  phi: boolean;
  /** The body's `data`: the source event as received, or the sync event's ids. */
  data: unknown;
}

export interface Message extends NewMessage {
  /** `msg_…`: the `webhook-id` of every delivery of this message. */
  id: string;
}

export type DeliveryStatus = 'pending' | 'delivered' | 'failed';

export interface Delivery {
  id: number;
  subscriptionId: string;
  tenantId: string;
  messageId: string;
  /** The message's type, for listings. */
  type: string;
  orderKey: string | null;
  /** Payload version the body is rendered in (the subscription's at fan-out time). */
  version: string;
  status: DeliveryStatus;
  /** Every try, rate-limited and probe tries included. */
  attempts: number;
  /** Position in the retry schedule: failures that count against it. */
  retryStep: number;
  nextAttemptAt: number;
  firstAttemptAt: number | null;
  lastStatus: number | null;
  lastError: string | null;
  createdAt: number;
  updatedAt: number;
  deliveredAt: number | null;
}

export interface ClaimedDelivery extends Delivery {
  message: Message;
}

export type AttemptOutcome = 'delivered' | 'failed' | 'rate_limited';

/** One try of one delivery, kept for the operator. No PHI: see sender.ts for the snippet rules. */
export interface DeliveryAttempt {
  id: number;
  deliveryId: number;
  subscriptionId: string;
  tenantId: string;
  messageId: string;
  attemptedAt: number;
  /** HTTP status; null when there was no answer. */
  statusCode: number | null;
  latencyMs: number;
  outcome: AttemptOutcome;
  /** `HTTP_503`, `TIMEOUT`, `NETWORK`, `ADDRESS_REFUSED`, … */
  errorCode: string | null;
  /** The start of the answer's body, capped; never for PHI messages. */
  responseSnippet: string | null;
  /** `scheduled`, `probe` (breaker half-open), `replay`. */
  trigger: string;
}

export type NewAttempt = Omit<DeliveryAttempt, 'id'>;

export interface ClaimOptions {
  subscriptionId: string;
  workerId: string;
  now: number;
  leaseMs: number;
  limit: number;
  /** Only the oldest pending delivery of each order key is claimable. */
  ordered: boolean;
}

/** The end of one try: the delivery's next state and the attempt's record. */
export interface Settlement {
  deliveryId: number;
  workerId: string;
  status: DeliveryStatus;
  retryStep: number;
  nextAttemptAt: number;
  attempt: NewAttempt;
}

export interface DeliveryQuery {
  subscriptionId: string;
  status?: DeliveryStatus;
  /** Created at or after. */
  since?: number;
  /** Created before. */
  until?: number;
  /** Keyset paging: deliveries with id < before, newest first. */
  before?: number;
  limit: number;
}

export interface DeliveryCounts {
  pending: number;
  delivered: number;
  failed: number;
}

export interface FanoutStore {
  /** Creates or upgrades the fan-out tables (tracked in `fanout_migrations`). */
  migrate(): Promise<void>;
  close(): Promise<void>;
  /** `spruce-sync rekey`: every sealed value (subscription secrets, message data) moved to the current key. */
  resealAll(options?: ResealOptions): Promise<ResealReport>;

  insertSubscription(subscription: Subscription): Promise<void>;
  getSubscription(id: string): Promise<Subscription | null>;
  listSubscriptions(tenantId?: string): Promise<Subscription[]>;
  /** Writes the settings, status and secrets (not the health, which the dispatcher owns). */
  updateSubscription(subscription: Subscription): Promise<void>;
  updateHealth(id: string, health: SubscriptionHealth, now: number): Promise<void>;
  /** Pause, resume, disable: the status alone, so concurrent settings changes are kept. */
  setSubscriptionStatus(id: string, status: SubscriptionStatus, reason: string | null, now: number): Promise<boolean>;
  /** Removes the subscription with its deliveries and attempts. */
  deleteSubscription(id: string): Promise<boolean>;

  /**
   * Stores messages and their deliveries, one transaction per batch. A message already stored
   * (same tenant, source and dedupe key) is left alone with its deliveries: `inserted: false`.
   */
  insertMessages(batch: { message: Message; deliveries: { subscriptionId: string; version: string }[] }[], now: number): Promise<{ inserted: boolean }[]>;

  /**
   * Claims due pending deliveries of an active subscription, leasing each until now + leaseMs.
   * Ordered: only deliveries with no older pending delivery of the same order key.
   */
  claimDeliveries(options: ClaimOptions): Promise<ClaimedDelivery[]>;
  /** Records the attempt; updates the delivery only while `workerId` holds its lease. */
  settleDelivery(settlement: Settlement, now: number): Promise<boolean>;
  /** The earliest next attempt among pending deliveries of the subscription. */
  nextDueAt(subscriptionId: string): Promise<number | null>;
  /** Makes every pending delivery of the subscription due now (recovery, re-enable); returns how many moved. */
  expedite(subscriptionId: string, now: number): Promise<number>;

  getDelivery(id: number): Promise<Delivery | null>;
  listDeliveries(query: DeliveryQuery): Promise<Delivery[]>;
  listAttempts(deliveryId: number): Promise<DeliveryAttempt[]>;
  deliveryCounts(subscriptionId: string): Promise<DeliveryCounts>;
  /** Sends the delivery again (same webhook-id) with a fresh schedule; false when unknown or in flight. */
  replayDelivery(id: number, now: number): Promise<boolean>;
  /** Every failed delivery of the subscription created in [since, until) becomes pending again. */
  replayFailed(subscriptionId: string, since: number, until: number, now: number): Promise<number>;
  /** Retention: removes settled deliveries (and their attempts) settled before `olderThan`, then orphaned messages. */
  prune(olderThan: number): Promise<{ deliveries: number; messages: number }>;
  /** Retention (retention.attemptDays): removes attempts made before `olderThan`, in short batches; returns how many. */
  pruneAttempts(options: { olderThan: number; batchSize?: number }): Promise<number>;
  /**
   * A removed tenant's purge (after the retention period): its subscriptions (with their signing
   * secrets), messages (their data may be PHI), deliveries and attempts, in one transaction.
   * Returns how many rows of each went; a second call finds nothing.
   */
  purgeTenant(tenantId: string): Promise<FanoutPurge>;
}

export interface FanoutPurge {
  subscriptions: number;
  messages: number;
  deliveries: number;
  attempts: number;
}
