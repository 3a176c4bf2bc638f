// JSON Schemas of the admin API, shared by the route plugins and the OpenAPI description.
// Response schemas double as an allow-list: Fastify serializes only the properties named here,
// so nothing unlisted (a payload, say) can leak into an answer.
import { DIRECTION_NAMES } from '../../operations/directions.ts';
import { ATTENTION_REASONS } from '../../operations/tenant-figures.ts';

export const tenantId = { type: 'string', pattern: '^[a-z0-9-]+$', maxLength: 100 } as const;
export const time = {
  type: 'string',
  maxLength: 40,
  description: 'ISO 8601 time (e.g. 2024-05-01T10:00:00Z) or epoch milliseconds',
} as const;
export const epochMs = { type: 'integer', description: 'epoch milliseconds' } as const;
export const nullableEpochMs = { type: ['integer', 'null'], description: 'epoch milliseconds' } as const;
export const direction = { type: 'string', enum: DIRECTION_NAMES } as const;
export const eventStatus = { type: 'string', enum: ['queued', 'processed', 'dead', 'ignored', 'test'] } as const;
export const limit = (max: number, fallback: number) => ({ type: 'integer', minimum: 1, maximum: max, default: fallback }) as const;
/** Offset paging: how many of the ordered list to skip. */
export const offset = { type: 'integer', minimum: 0, maximum: 1_000_000, default: 0 } as const;
export const before = { type: 'integer', minimum: 1, description: 'keyset paging: the nextBefore of the previous page' } as const;

export const errorBody = {
  type: 'object',
  properties: { error: { type: 'string' }, message: { type: 'string' } },
  required: ['error', 'message'],
} as const;

export const errors = { '4xx': errorBody, '5xx': errorBody } as const;

export const tenantParams = {
  type: 'object',
  properties: { tenantId },
  required: ['tenantId'],
  additionalProperties: false,
} as const;

/** Free-form objects (backfill progress, audit detail): ids, counts and codes by contract. */
const looseObject = { type: 'object', additionalProperties: true } as const;

export const pauseState = {
  type: 'object',
  properties: {
    all: { type: 'boolean' },
    directions: { type: 'array', items: direction },
    changedAt: nullableEpochMs,
    changedBy: { type: ['string', 'null'] },
  },
  required: ['all', 'directions', 'changedAt', 'changedBy'],
} as const;

export const activityBucket = {
  type: 'object',
  properties: {
    start: epochMs,
    received: { type: 'integer' },
    processed: { type: 'integer' },
    dead: { type: 'integer' },
    lagMsAvg: { type: ['integer', 'null'] },
    lagMsMax: { type: ['integer', 'null'] },
  },
  required: ['start', 'received', 'processed', 'dead', 'lagMsAvg', 'lagMsMax'],
} as const;

export const tenantHealth = {
  type: 'object',
  properties: {
    tenantId: { type: 'string' },
    paused: pauseState,
    queue: {
      type: 'object',
      properties: {
        waitingJobs: { type: 'integer' },
        runningJobs: { type: 'integer' },
        deadJobs: { type: 'integer' },
        queuedEvents: { type: 'integer' },
        deadEvents: { type: 'integer' },
        oldestQueuedAt: nullableEpochMs,
        oldestQueuedAgeMs: { type: ['integer', 'null'] },
      },
      required: ['waitingJobs', 'runningJobs', 'deadJobs', 'queuedEvents', 'deadEvents', 'oldestQueuedAt', 'oldestQueuedAgeMs'],
    },
    window: {
      type: 'object',
      properties: {
        minutes: { type: 'integer' },
        received: { type: 'integer' },
        processed: { type: 'integer' },
        dead: { type: 'integer' },
        throughputPerMinute: { type: 'number' },
        attempts: { type: 'integer' },
        failedAttempts: { type: 'integer' },
        errorRate: { type: ['number', 'null'] },
        lagMsAvg: { type: ['integer', 'null'] },
        lagMsMax: { type: ['integer', 'null'] },
      },
      required: ['minutes', 'received', 'processed', 'dead', 'throughputPerMinute', 'attempts', 'failedAttempts', 'errorRate', 'lagMsAvg', 'lagMsMax'],
    },
    activity: { type: 'array', items: activityBucket },
    backfill: { anyOf: [looseObject, { type: 'null' }] },
    backfillDryRun: { anyOf: [looseObject, { type: 'null' }], description: 'the last dry run started from the admin API (its summary, once it finished)' },
    reconcile: { anyOf: [looseObject, { type: 'null' }] },
    source: { type: 'string', enum: ['config', 'api'], description: 'config: from the config file (change it there); api: added through the admin API or CLI' },
    status: { type: 'string', enum: ['enabled', 'disabled'] },
    definition: { ...looseObject, description: 'the fields of a config tenant; secrets show as *** or { set: true }' },
  },
  required: ['tenantId', 'paused', 'queue', 'window', 'activity', 'backfill', 'reconcile'],
} as const;

/** A tenant in the directory; its secrets show as `***` / `{ set: true }`, never as values. */
export const tenantView = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    source: { type: 'string', enum: ['config', 'api'] },
    status: { type: 'string', enum: ['enabled', 'disabled'] },
    createdAt: epochMs,
    updatedAt: epochMs,
    removedAt: nullableEpochMs,
    definition: looseObject,
  },
  required: ['id', 'source', 'status', 'createdAt', 'updatedAt', 'removedAt', 'definition'],
} as const;

export const attempt = {
  type: 'object',
  properties: {
    startedAt: epochMs,
    finishedAt: epochMs,
    outcome: { type: 'string', enum: ['succeeded', 'retrying', 'dead'] },
    errorCode: { type: ['string', 'null'] },
    requestId: { type: ['string', 'null'], description: "the remote system's request id (Spruce s-request-id)" },
  },
  required: ['startedAt', 'finishedAt', 'outcome', 'errorCode', 'requestId'],
} as const;

const subject = {
  type: 'object',
  additionalProperties: { type: ['string', 'number'] },
  description: 'ids only (patientId, contactId, appointmentId, itemId, …)',
} as const;

const eventProperties = {
  id: { type: 'integer' },
  tenantId: { type: 'string' },
  source: { type: 'string', enum: ['spry', 'spruce'] },
  type: { type: 'string' },
  status: eventStatus,
  eventKey: { type: 'string' },
  occurredAt: epochMs,
  receivedAt: epochMs,
  updatedAt: epochMs,
  patientId: { type: ['integer', 'null'] },
  contactId: { type: ['string', 'null'] },
  subject,
  jobKey: { type: ['string', 'null'] },
  reason: { type: ['string', 'null'], description: 'stable error code and a PHI-free message' },
  payloadPruned: { type: 'boolean' },
} as const;

export const eventWithoutAttempts = {
  type: 'object',
  properties: eventProperties,
  required: Object.keys(eventProperties),
} as const;

export const event = {
  type: 'object',
  properties: { ...eventProperties, attempts: { type: 'array', items: attempt } },
  required: [...Object.keys(eventProperties), 'attempts'],
} as const;

export const auditRecord = {
  type: 'object',
  properties: {
    id: { type: 'integer' },
    at: epochMs,
    tenantId: { type: 'string' },
    system: { type: 'string', enum: ['spry', 'spruce', 'spruce-sync'], description: 'spruce-sync: an operator change to a tenant (recordType tenant)' },
    recordType: { type: 'string' },
    recordId: { type: 'string' },
    action: { type: 'string' },
    eventId: { type: ['integer', 'null'] },
    detail: { ...looseObject, description: 'field names, ids and codes; never values' },
  },
  required: ['id', 'at', 'tenantId', 'system', 'recordType', 'recordId', 'action'],
} as const;

export const deadLetter = {
  type: 'object',
  properties: {
    id: { type: 'integer' },
    tenantId: { type: 'string' },
    key: { type: 'string' },
    task: { type: 'string' },
    direction: { anyOf: [direction, { type: 'null' }] },
    params: subject,
    attempts: { type: 'integer' },
    maxAttempts: { type: 'integer' },
    lastError: { type: ['string', 'null'] },
    errorCode: { type: ['string', 'null'] },
    diedAt: epochMs,
    deadEvents: { type: 'integer' },
  },
  required: ['id', 'tenantId', 'key', 'task', 'direction', 'params', 'attempts', 'maxAttempts', 'lastError', 'errorCode', 'diedAt', 'deadEvents'],
} as const;

export const pruneReport = {
  type: 'object',
  properties: {
    olderThan: epochMs,
    events: { type: 'integer' },
    bytes: { type: 'integer' },
    attemptsOlderThan: epochMs,
    attempts: { type: 'integer', description: 'Job attempts deleted' },
    fanoutAttempts: { type: 'integer', description: 'Fan-out delivery attempts deleted' },
    audit: {
      type: 'object',
      description: 'The audit archive run (only with retention.auditArchiveAfterDays)',
      properties: {
        file: { type: ['string', 'null'] },
        archived: { type: 'integer' },
        deleted: { type: 'integer' },
        beforeAt: epochMs,
      },
      required: ['file', 'archived', 'deleted', 'beforeAt'],
    },
    startedAt: epochMs,
    durationMs: { type: 'integer' },
  },
  required: ['olderThan', 'events', 'bytes', 'startedAt', 'durationMs'],
} as const;

/** One tenant's figures (GET /tenant-figures): ids, counts and times only. */
export const tenantFigures = {
  type: 'object',
  properties: {
    tenantId: { type: 'string' },
    source: { type: ['string', 'null'], enum: ['config', 'api', null], description: 'null: not in the tenant directory' },
    status: { type: 'string', enum: ['enabled', 'disabled'] },
    paused: {
      type: 'object',
      properties: { all: { type: 'boolean' }, directions: { type: 'array', items: direction } },
      required: ['all', 'directions'],
    },
    waitingJobs: { type: 'integer', description: 'due or scheduled, unclaimed' },
    runningJobs: { type: 'integer' },
    deadJobs: { type: 'integer', description: 'dead letters (replayable)' },
    oldestWaitingAgeMs: { type: ['integer', 'null'], description: 'age of the oldest due, unclaimed job' },
    limits: {
      type: ['array', 'null'],
      description: "what limits the tenant's calls now; null where no workers run (the limits live in the service's memory)",
      items: {
        type: 'object',
        properties: {
          limit: { type: 'string', description: 'spruce_budget, spry_budget, spruce_circuit, spry_circuit' },
          readyInMs: { type: 'integer', description: "until this limit lets the tenant's next live call go (0 = now)" },
          circuit: { type: ['string', 'null'], enum: ['closed', 'open', 'half_open', null] },
          window: {
            type: ['object', 'null'],
            description: "Spruce's published budget in its current window, as this instance last saw it",
            properties: {
              limit: { type: 'integer' },
              used: { type: 'integer' },
              remaining: { type: 'integer' },
              endsInMs: { type: 'integer' },
            },
            required: ['limit', 'used', 'remaining', 'endsInMs'],
          },
        },
        required: ['limit', 'readyInMs', 'circuit', 'window'],
      },
    },
    readyInMs: { type: ['integer', 'null'], description: 'the longest of the limits' },
    attention: {
      type: 'array',
      items: { type: 'string', enum: ATTENTION_REASONS },
      description: 'why the tenant needs a look, most urgent first; empty when all is well',
    },
  },
  required: ['tenantId', 'source', 'status', 'paused', 'waitingJobs', 'runningJobs', 'deadJobs', 'oldestWaitingAgeMs', 'limits', 'readyInMs', 'attention'],
} as const;

export const tenantFiguresPage = {
  type: 'object',
  properties: {
    at: epochMs,
    total: { type: 'integer', description: 'every tenant' },
    needAttention: { type: 'integer', description: 'tenants with at least one attention reason' },
    matched: { type: 'integer', description: 'tenants the filter kept' },
    offset: { type: 'integer' },
    limit: { type: 'integer' },
    tenants: { type: 'array', items: tenantFigures },
  },
  required: ['at', 'total', 'needAttention', 'matched', 'offset', 'limit', 'tenants'],
} as const;
