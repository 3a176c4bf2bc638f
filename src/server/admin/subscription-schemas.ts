// JSON Schemas of the subscription routes (admin API). As in schemas.ts, response schemas are
// an allow-list: nothing unlisted (a secret after its one showing, a payload) can leak out.
import { errors, epochMs, nullableEpochMs, tenantId, time } from './schemas.ts';

export { errors };

export const subscriptionId = { type: 'string', pattern: '^sub_[A-Za-z0-9_-]{8,40}$' } as const;

export const subscriptionParams = {
  type: 'object',
  properties: { tenantId, subscriptionId },
  required: ['tenantId', 'subscriptionId'],
  additionalProperties: false,
} as const;

export const deliveryParams = {
  type: 'object',
  properties: { tenantId, subscriptionId, deliveryId: { type: 'integer', minimum: 1 } },
  required: ['tenantId', 'subscriptionId', 'deliveryId'],
  additionalProperties: false,
} as const;

const duration = { type: ['string', 'integer'], description: 'a duration such as 30s, 5m, 2h, or milliseconds' } as const;

const settings = {
  url: { type: 'string', minLength: 1, maxLength: 2000, description: 'https (http only to loopback when the tenant allows it)' },
  eventTypes: { type: 'array', minItems: 1, maxItems: 50, items: { type: 'string', minLength: 1, maxLength: 200 }, description: 'names or patterns: spry.*, patient.*, sync.contact.created' },
  description: { type: ['string', 'null'], maxLength: 500 },
  filter: { type: ['object', 'null'], additionalProperties: true, description: 'conditions on dotted paths (docs/fanout.md)' },
  allowPhi: { type: 'boolean', description: 'receive Spruce events, which contain PHI' },
  retrySchedule: { type: 'array', minItems: 1, maxItems: 20, items: duration },
  ratePerSecond: { type: 'number', minimum: 0, maximum: 1000 },
  maxInFlight: { type: 'integer', minimum: 1, maximum: 64 },
  ordered: { type: 'boolean', description: "one patient's events one at a time, in order (default true)" },
} as const;

export const createBody = {
  type: 'object',
  properties: { ...settings, version: { type: 'string', maxLength: 20, description: 'pin an older payload version; default the newest' } },
  required: ['url', 'eventTypes'],
  additionalProperties: false,
} as const;

export const changeBody = { type: 'object', properties: settings, additionalProperties: false } as const;

const health = {
  type: 'object',
  properties: {
    consecutiveFailures: { type: 'integer' },
    failingSince: nullableEpochMs,
    lastSuccessAt: nullableEpochMs,
    lastFailureAt: nullableEpochMs,
    alertedAt: nullableEpochMs,
  },
  required: ['consecutiveFailures', 'failingSince', 'lastSuccessAt', 'lastFailureAt', 'alertedAt'],
} as const;

export const subscriptionView = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    tenantId: { type: 'string' },
    url: { type: 'string' },
    description: { type: ['string', 'null'] },
    eventTypes: { type: 'array', items: { type: 'string' } },
    filter: { type: ['object', 'null'], additionalProperties: true },
    version: { type: 'string' },
    latestVersion: { type: 'string' },
    allowPhi: { type: 'boolean' },
    retrySchedule: { type: 'array', items: { type: 'string' } },
    ratePerSecond: { type: 'number' },
    maxInFlight: { type: 'integer' },
    ordered: { type: 'boolean' },
    status: { type: 'string', enum: ['active', 'paused', 'disabled'] },
    statusReason: { type: ['string', 'null'] },
    health,
    circuit: { type: ['string', 'null'] },
    secrets: {
      type: 'object',
      properties: { signing: { type: 'integer' }, previousExpiresAt: nullableEpochMs },
      required: ['signing', 'previousExpiresAt'],
    },
    deliveries: {
      type: 'object',
      properties: { pending: { type: 'integer' }, delivered: { type: 'integer' }, failed: { type: 'integer' } },
      required: ['pending', 'delivered', 'failed'],
    },
    createdAt: epochMs,
    updatedAt: epochMs,
  },
  required: ['id', 'tenantId', 'url', 'eventTypes', 'version', 'status', 'health', 'secrets', 'deliveries', 'createdAt', 'updatedAt'],
} as const;

export const delivery = {
  type: 'object',
  properties: {
    id: { type: 'integer' },
    subscriptionId: { type: 'string' },
    messageId: { type: 'string', description: 'the webhook-id' },
    type: { type: 'string' },
    orderKey: { type: ['string', 'null'] },
    version: { type: 'string' },
    status: { type: 'string', enum: ['pending', 'delivered', 'failed'] },
    attempts: { type: 'integer' },
    retryStep: { type: 'integer' },
    nextAttemptAt: epochMs,
    firstAttemptAt: nullableEpochMs,
    lastStatus: { type: ['integer', 'null'] },
    lastError: { type: ['string', 'null'] },
    createdAt: epochMs,
    updatedAt: epochMs,
    deliveredAt: nullableEpochMs,
  },
  required: ['id', 'messageId', 'type', 'status', 'attempts', 'nextAttemptAt', 'createdAt'],
} as const;

export const attempt = {
  type: 'object',
  properties: {
    id: { type: 'integer' },
    attemptedAt: epochMs,
    statusCode: { type: ['integer', 'null'] },
    latencyMs: { type: 'integer' },
    outcome: { type: 'string', enum: ['delivered', 'failed', 'rate_limited'] },
    errorCode: { type: ['string', 'null'] },
    responseSnippet: { type: ['string', 'null'], description: 'capped and scrubbed; never for PHI events' },
    trigger: { type: 'string' },
  },
  required: ['id', 'attemptedAt', 'statusCode', 'latencyMs', 'outcome', 'errorCode', 'responseSnippet', 'trigger'],
} as const;

export const deliveryQuery = {
  type: 'object',
  properties: {
    status: { type: 'string', enum: ['pending', 'delivered', 'failed'] },
    since: { ...time, description: `created at or after: ${time.description}` },
    until: { ...time, description: `created before: ${time.description}` },
    before: { type: 'integer', minimum: 1, description: 'keyset paging: the nextBefore of the previous page' },
    limit: { type: 'integer', minimum: 1, maximum: 500, default: 50 },
  },
  additionalProperties: false,
} as const;

export const replayWindow = {
  type: 'object',
  properties: {
    since: { ...time, description: `failed deliveries created at or after: ${time.description}` },
    until: { ...time, description: `… and before: ${time.description} (default now)` },
  },
  required: ['since'],
  additionalProperties: false,
} as const;

export const replayed = { type: 'object', properties: { replayed: { type: 'integer' } }, required: ['replayed'] } as const;
