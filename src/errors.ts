// Errors carry a stable code and the ids involved, never PHI, and say at the boundary where
// they are raised whether trying again could help.

export type ErrorCode =
  | 'SPRY_AUTH_FAILED'
  | 'SPRY_NOT_FOUND'
  | 'SPRY_RATE_LIMITED'
  | 'SPRY_UNAVAILABLE'
  | 'SPRY_REJECTED'
  /** Spry answered something that is not a Spry answer: wrong base URL, a route that moved, a changed shape. */
  | 'SPRY_CONTRACT_MISMATCH'
  | 'SPRUCE_AUTH_FAILED'
  | 'SPRUCE_NOT_FOUND'
  | 'SPRUCE_RATE_LIMITED'
  | 'SPRUCE_UNAVAILABLE'
  | 'SPRUCE_REJECTED'
  | 'SPRUCE_IDEMPOTENCY_REPLAY'
  | 'NETWORK_TIMEOUT'
  | 'NETWORK_ERROR'
  | 'CONFIG_INVALID'
  | 'UNSEALED_VALUE'
  | 'PAYLOAD_INVALID'
  | 'STORE_UNAVAILABLE'
  | 'SYNC_CONFLICT'
  | 'SYNC_FAILED'
  | 'UNEXPECTED';

export interface SyncErrorDetails {
  /** Whether the same call may succeed later (network, 5xx, 429) or never will (4xx). */
  retryable: boolean;
  /** HTTP status of the failed call, when there was one. */
  status?: number;
  /** Spruce's `s-request-id`, or another correlation id of the remote system. */
  requestId?: string;
  /** Seconds the remote system asked us to wait (Retry-After). */
  retryAfterSeconds?: number;
  /** Identifiers only (tenant, patient id, contact id, event id): never PHI. */
  ids?: Record<string, string | number>;
  cause?: unknown;
}

export class SyncError extends Error {
  readonly code: ErrorCode;
  readonly retryable: boolean;
  readonly status?: number;
  readonly requestId?: string;
  readonly retryAfterSeconds?: number;
  readonly ids: Record<string, string | number>;

  constructor(code: ErrorCode, message: string, details: SyncErrorDetails) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'SyncError';
    this.code = code;
    this.retryable = details.retryable;
    this.status = details.status;
    this.requestId = details.requestId;
    this.retryAfterSeconds = details.retryAfterSeconds;
    this.ids = details.ids ?? {};
  }
}

export function isRetryable(error: unknown): boolean {
  return error instanceof SyncError ? error.retryable : true;
}

export function errorCode(error: unknown): ErrorCode {
  return error instanceof SyncError ? error.code : 'UNEXPECTED';
}
