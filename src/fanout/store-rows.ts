// Rows of the fan-out tables ↔ records, shared by the SQLite and PostgreSQL adapters. JSON
// columns arrive as text (SQLite) or already parsed (PostgreSQL jsonb); booleans as 0/1 or
// true/false. Message data and signing secrets are sealed at rest (cipher.ts).
import type { Cipher, SealContext } from '../store/cipher.ts';
import type { PayloadFilter } from './filter.ts';
import type { Delivery, DeliveryAttempt, Message, SigningSecret, Subscription } from './types.ts';

/** Sealed values are authenticated with their column and row (cipher.ts): ids are drawn before the insert. */
export function secretsContext(subscription: { tenantId: string; id: string }): SealContext {
  return { column: 'fanout_subscriptions.secrets', row: [subscription.tenantId, subscription.id] };
}

export function dataContext(message: { tenantId: string; id: string }): SealContext {
  return { column: 'fanout_messages.data', row: [message.tenantId, message.id] };
}

export interface SubscriptionRow {
  id: string;
  tenant_id: string;
  url: string;
  description: string | null;
  event_types: unknown;
  filter: unknown;
  version: string;
  allow_phi: number | boolean;
  retry_schedule: unknown;
  rate_per_second: number;
  max_in_flight: number;
  ordered: number | boolean;
  status: string;
  status_reason: string | null;
  secrets: Uint8Array;
  consecutive_failures: number;
  failing_since: number | null;
  last_success_at: number | null;
  last_failure_at: number | null;
  alerted_at: number | null;
  created_at: number;
  updated_at: number;
}

export interface MessageRow {
  id: string;
  tenant_id: string;
  source: string;
  dedupe_key: string;
  type: string;
  occurred_at: number;
  created_at: number;
  subject: unknown;
  order_key: string | null;
  phi: number | boolean;
  data: Uint8Array;
}

export interface DeliveryRow {
  id: number;
  subscription_id: string;
  tenant_id: string;
  message_id: string;
  type: string;
  order_key: string | null;
  version: string;
  status: string;
  attempts: number;
  retry_step: number;
  next_attempt_at: number;
  first_attempt_at: number | null;
  last_status: number | null;
  last_error: string | null;
  created_at: number;
  updated_at: number;
  delivered_at: number | null;
}

export interface AttemptRow {
  id: number;
  delivery_id: number;
  subscription_id: string;
  tenant_id: string;
  message_id: string;
  attempted_at: number;
  status_code: number | null;
  latency_ms: number;
  outcome: string;
  error_code: string | null;
  response_snippet: string | null;
  trigger: string;
}

const json = <T>(value: unknown): T => (typeof value === 'string' ? (JSON.parse(value) as T) : (value as T));

export function toSubscription(row: SubscriptionRow, cipher: Cipher): Subscription {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    url: row.url,
    description: row.description,
    eventTypes: json<string[]>(row.event_types),
    filter: row.filter === null ? null : json<PayloadFilter>(row.filter),
    version: row.version,
    allowPhi: Boolean(row.allow_phi),
    retrySchedule: json<number[]>(row.retry_schedule),
    ratePerSecond: Number(row.rate_per_second),
    maxInFlight: row.max_in_flight,
    ordered: Boolean(row.ordered),
    status: row.status as Subscription['status'],
    statusReason: row.status_reason,
    secrets: JSON.parse(cipher.open(Buffer.from(row.secrets), secretsContext({ tenantId: row.tenant_id, id: row.id })).toString('utf8')) as SigningSecret[],
    health: {
      consecutiveFailures: row.consecutive_failures,
      failingSince: row.failing_since,
      lastSuccessAt: row.last_success_at,
      lastFailureAt: row.last_failure_at,
      alertedAt: row.alerted_at,
    },
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

/** Named parameters of a subscription's settings (not its health). */
export function subscriptionParams(subscription: Subscription, cipher: Cipher) {
  return {
    id: subscription.id,
    tenantId: subscription.tenantId,
    url: subscription.url,
    description: subscription.description,
    eventTypes: JSON.stringify(subscription.eventTypes),
    filter: subscription.filter === null ? null : JSON.stringify(subscription.filter),
    version: subscription.version,
    allowPhi: subscription.allowPhi,
    retrySchedule: JSON.stringify(subscription.retrySchedule),
    ratePerSecond: subscription.ratePerSecond,
    maxInFlight: subscription.maxInFlight,
    ordered: subscription.ordered,
    status: subscription.status,
    statusReason: subscription.statusReason,
    secrets: cipher.seal(Buffer.from(JSON.stringify(subscription.secrets)), secretsContext(subscription)),
    createdAt: subscription.createdAt,
    updatedAt: subscription.updatedAt,
  };
}

export function toMessage(row: MessageRow, cipher: Cipher): Message {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    source: row.source as Message['source'],
    dedupeKey: row.dedupe_key,
    type: row.type,
    occurredAt: row.occurred_at,
    createdAt: row.created_at,
    subject: json<Record<string, string | number>>(row.subject),
    orderKey: row.order_key,
    phi: Boolean(row.phi),
    data: JSON.parse(cipher.open(Buffer.from(row.data), dataContext({ tenantId: row.tenant_id, id: row.id })).toString('utf8')) as unknown,
  };
}

export function messageParams(message: Message, cipher: Cipher) {
  return {
    id: message.id,
    tenantId: message.tenantId,
    source: message.source,
    dedupeKey: message.dedupeKey,
    type: message.type,
    occurredAt: message.occurredAt,
    createdAt: message.createdAt,
    subject: JSON.stringify(message.subject),
    orderKey: message.orderKey,
    phi: message.phi,
    data: cipher.seal(Buffer.from(JSON.stringify(message.data ?? null)), dataContext(message)),
  };
}

export function toDelivery(row: DeliveryRow): Delivery {
  return {
    id: row.id,
    subscriptionId: row.subscription_id,
    tenantId: row.tenant_id,
    messageId: row.message_id,
    type: row.type,
    orderKey: row.order_key,
    version: row.version,
    status: row.status as Delivery['status'],
    attempts: row.attempts,
    retryStep: row.retry_step,
    nextAttemptAt: row.next_attempt_at,
    firstAttemptAt: row.first_attempt_at,
    lastStatus: row.last_status,
    lastError: row.last_error,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    deliveredAt: row.delivered_at,
  };
}

export function toAttempt(row: AttemptRow): DeliveryAttempt {
  return {
    id: row.id,
    deliveryId: row.delivery_id,
    subscriptionId: row.subscription_id,
    tenantId: row.tenant_id,
    messageId: row.message_id,
    attemptedAt: row.attempted_at,
    statusCode: row.status_code,
    latencyMs: row.latency_ms,
    outcome: row.outcome as DeliveryAttempt['outcome'],
    errorCode: row.error_code,
    responseSnippet: row.response_snippet,
    trigger: row.trigger,
  };
}
