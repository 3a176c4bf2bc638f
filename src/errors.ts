// Every error spruce-sync raises carries a stable code from one catalog (below), the ids
// involved and never PHI, and says at the boundary where it is raised whether trying again
// could help. Modelled on Fastify's lib/errors.js: each code once, with the HTTP status we
// answer with (where a request can fail with it), whether it is retryable, and a safe message.

interface ErrorSpec {
  /** The status the service answers with when a request fails with this code. */
  readonly statusCode?: number;
  /** The default: whether the same work may succeed later. A raiser may know better. */
  readonly retryable: boolean;
  /** Says what happened without ids or data: safe for any log, answer or report. */
  readonly message: string;
}

export const ERRORS = {
  // Remote systems, classified where the call is made (src/http/classify.ts).
  SPRY_AUTH_FAILED: { retryable: false, message: 'Spry refused our credentials' },
  SPRY_NOT_FOUND: { retryable: false, message: 'Spry has no such record' },
  SPRY_RATE_LIMITED: { retryable: true, message: 'Spry asked us to slow down' },
  SPRY_UNAVAILABLE: { retryable: true, message: 'Spry is unavailable' },
  SPRY_REJECTED: { retryable: false, message: 'Spry refused the request' },
  /** Spry answered something that is not a Spry answer: wrong base URL, a route that moved, a changed shape. */
  SPRY_CONTRACT_MISMATCH: { retryable: false, message: 'Spry answered something that is not a Spry answer' },
  SPRUCE_AUTH_FAILED: { retryable: false, message: 'Spruce refused our credentials' },
  SPRUCE_NOT_FOUND: { retryable: false, message: 'Spruce has no such record' },
  SPRUCE_RATE_LIMITED: { retryable: true, message: 'Spruce asked us to slow down' },
  SPRUCE_UNAVAILABLE: { retryable: true, message: 'Spruce is unavailable' },
  SPRUCE_REJECTED: { retryable: false, message: 'Spruce refused the request' },
  SPRUCE_IDEMPOTENCY_REPLAY: { retryable: false, message: 'Spruce has seen this idempotency key: an earlier attempt landed' },
  NETWORK_TIMEOUT: { retryable: true, message: 'the remote system did not answer in time' },
  NETWORK_ERROR: { retryable: true, message: 'the remote system could not be reached' },

  // Ours.
  CONFIG_INVALID: { retryable: false, message: 'the configuration is not valid' },
  /** A stored value not sealed although an encryption key is configured (run spruce-sync rekey). */
  UNSEALED_VALUE: { retryable: false, message: 'a stored value is not sealed although an encryption key is configured' },
  PAYLOAD_INVALID: { retryable: false, message: 'the input is not valid' },
  STORE_UNAVAILABLE: { retryable: true, message: 'the database is unavailable' },
  SYNC_CONFLICT: { retryable: true, message: 'the records changed under the sync; it runs again' },
  SYNC_FAILED: { retryable: true, message: 'the sync failed' },
  /** A worker's run whose job lease another worker took over: that worker settles the job. */
  LEASE_LOST: { retryable: true, message: 'the job lease was lost to another worker' },
  /** A call still waiting for its turn (a rate window, a retry) when its work was stopped: not sent. */
  WORK_STOPPED: { retryable: true, message: 'the work was stopped while the call waited for its turn; nothing was sent' },
  /** A bad command-line option or config file: printed as it is, exit code 1. */
  CLI_USAGE: { retryable: false, message: 'the command cannot run as given' },
  UNEXPECTED: { statusCode: 500, retryable: true, message: 'internal error' },

  // Refusals of a request (admin API, CLI, webhooks): the code is the answer's `error` field.
  bad_request: { statusCode: 400, retryable: false, message: 'the request is not valid' },
  bad_url: { statusCode: 400, retryable: false, message: 'the URL is not allowed' },
  bad_payload: { statusCode: 400, retryable: false, message: 'the webhook body is not valid' },
  bad_signature: { statusCode: 401, retryable: false, message: 'the webhook signature does not verify' },
  unauthorized: { statusCode: 401, retryable: false, message: 'a valid admin bearer token is required' },
  wrong_organisation: { statusCode: 403, retryable: false, message: 'the event belongs to another Spry organisation' },
  not_found: { statusCode: 404, retryable: false, message: 'no such file' },
  unknown_tenant: { statusCode: 404, retryable: false, message: 'no such tenant' },
  unknown_event: { statusCode: 404, retryable: false, message: 'no such event' },
  unknown_subscription: { statusCode: 404, retryable: false, message: 'no such subscription' },
  unknown_delivery: { statusCode: 404, retryable: false, message: 'no such delivery' },
  not_dead: { statusCode: 409, retryable: false, message: 'only dead letters can be replayed' },
  already_running: { statusCode: 409, retryable: true, message: 'the operation is already running' },
  too_many_subscriptions: { statusCode: 409, retryable: false, message: 'the tenant has as many subscriptions as it may' },
  downgrade: { statusCode: 409, retryable: false, message: 'versions only move forward' },
  in_flight: { statusCode: 409, retryable: true, message: 'the delivery is being sent right now' },
  invalid_tenant: { statusCode: 400, retryable: false, message: 'the tenant definition is not valid' },
  tenant_exists: { statusCode: 409, retryable: false, message: 'a tenant with this id exists, or existed' },
  config_tenant: { statusCode: 409, retryable: false, message: 'the tenant comes from the config file: change it there' },
  not_available: { statusCode: 501, retryable: false, message: 'not available in this build' },
  store_failed: { statusCode: 503, retryable: true, message: 'the event could not be stored; retry later' },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ERRORS;

/** The codes a request can be refused with: those with an HTTP status of 4xx or 5xx. */
export type RefusalCode = { [K in ErrorCode]: (typeof ERRORS)[K] extends { statusCode: number } ? K : never }[ErrorCode];

export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && Object.hasOwn(ERRORS, code);
}

export function statusOf(code: RefusalCode): number {
  return ERRORS[code].statusCode;
}

export interface SyncErrorDetails {
  /** Whether the same call may succeed later (network, 5xx, 429) or never will (4xx). Default: the catalog's. */
  retryable?: boolean;
  /** HTTP status of the failed call to a remote system, when there was one. */
  status?: number;
  /** Spruce's `s-request-id`, or another correlation id of the remote system. */
  requestId?: string;
  /** Seconds the remote system asked us to wait (Retry-After). */
  retryAfterSeconds?: number;
  /** Identifiers only (tenant, patient id, contact id, event id): never PHI. */
  ids?: Record<string, string | number>;
  cause?: unknown;
}

/** The one error class: a catalog code, a PHI-free message, and the ids involved. */
export class SyncError extends Error {
  readonly code: ErrorCode;
  readonly retryable: boolean;
  readonly status?: number;
  readonly requestId?: string;
  readonly retryAfterSeconds?: number;
  readonly ids: Record<string, string | number>;

  constructor(code: ErrorCode, message: string = ERRORS[code].message, details: SyncErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'SyncError';
    this.code = code;
    this.retryable = details.retryable ?? ERRORS[code].retryable;
    this.status = details.status;
    this.requestId = details.requestId;
    this.retryAfterSeconds = details.retryAfterSeconds;
    this.ids = details.ids ?? {};
  }
}

/**
 * An operator's request refused (admin API, CLI, fan-out administration): a clear, PHI-free
 * message, answered with the code's HTTP status.
 */
export class AdminError extends SyncError {
  declare readonly code: RefusalCode;
  readonly statusCode: number;

  constructor(code: RefusalCode, message: string = ERRORS[code].message) {
    super(code, message);
    this.name = 'AdminError';
    this.statusCode = statusOf(code);
  }
}

export function isRetryable(error: unknown): boolean {
  return error instanceof SyncError ? error.retryable : true;
}

/** Whether `error` is a call of stopped work (`signal` aborted) that gave up waiting for its turn, unsent. */
export function stoppedWhileWaiting(error: unknown, signal: AbortSignal | undefined): boolean {
  return signal?.aborted === true && error instanceof SyncError && error.code === 'WORK_STOPPED';
}

/**
 * The catalog code of any error: a SyncError's own, else `fallback`. Use it wherever a code
 * goes into a log line, a stored job or a report; another library's `code` is not ours to
 * promise stable, and its message may hold data.
 */
export function errorCode(error: unknown, fallback: ErrorCode = 'UNEXPECTED'): ErrorCode {
  return error instanceof SyncError ? error.code : fallback;
}
