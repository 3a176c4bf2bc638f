// Failures are classified once, here at the boundary: the code says what happened, `retryable`
// whether the same call may succeed later. Messages name the route template and status only:
// never ids in the path, never a response body (it may carry PHI).
import { SyncError, type ErrorCode } from '../errors.ts';
import type { RemoteSystem } from './types.ts';

const PREFIX: Record<RemoteSystem, 'SPRY' | 'SPRUCE'> = { spry: 'SPRY', spruce: 'SPRUCE' };
const NAME: Record<RemoteSystem, string> = { spry: 'Spry', spruce: 'Spruce' };

export interface StatusContext {
  system: RemoteSystem;
  route: string;
  status: number;
  requestId?: string;
  retryAfterSeconds?: number;
  ids?: Record<string, string | number>;
  /** A safe detail such as an error type or numeric code; never free text from the remote. */
  detail?: string;
}

export function codeForStatus(system: RemoteSystem, status: number): { code: ErrorCode; retryable: boolean } {
  const prefix = PREFIX[system];
  if (status === 429) return { code: `${prefix}_RATE_LIMITED`, retryable: true };
  // 408: the server gave up waiting for our request; sending it again is what it asks for.
  if (status >= 500 || status === 408) return { code: `${prefix}_UNAVAILABLE`, retryable: true };
  if (status === 401 || status === 403) return { code: `${prefix}_AUTH_FAILED`, retryable: false };
  if (status === 404) return { code: `${prefix}_NOT_FOUND`, retryable: false };
  return { code: `${prefix}_REJECTED`, retryable: false };
}

export function statusError(ctx: StatusContext): SyncError {
  const { code, retryable } = codeForStatus(ctx.system, ctx.status);
  const detail = ctx.detail ? ` ${ctx.detail}` : '';
  return new SyncError(code, `${NAME[ctx.system]} ${ctx.route} answered ${ctx.status}${detail}`, {
    retryable,
    status: ctx.status,
    requestId: ctx.requestId,
    retryAfterSeconds: ctx.retryAfterSeconds,
    ids: ctx.ids,
  });
}

/**
 * A success status with a body that is not JSON. From Spry that is no Spry answer at all (a web
 * page where the API should be: a wrong base URL or a proxy), which asking again will not mend;
 * Spruce's is left retryable as before.
 */
export function unparsableAnswer(ctx: Omit<StatusContext, 'detail' | 'retryAfterSeconds'>): SyncError {
  const message = `${NAME[ctx.system]} ${ctx.route} answered ${ctx.status} with a body that is not JSON`;
  const details = { status: ctx.status, requestId: ctx.requestId, ids: ctx.ids };
  return ctx.system === 'spry'
    ? new SyncError('SPRY_CONTRACT_MISMATCH', message, { ...details, retryable: false })
    : new SyncError('SPRUCE_UNAVAILABLE', message, { ...details, retryable: true });
}

const TIMEOUT_CODES = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'ETIMEDOUT']);

export interface NetworkContext {
  system: RemoteSystem;
  route: string;
  ids?: Record<string, string | number>;
  /** Our own deadline fired (as opposed to the caller aborting). */
  timedOut: boolean;
  aborted: boolean;
}

export function networkError(error: unknown, ctx: NetworkContext): SyncError {
  const errCode = (error as { code?: unknown } | null)?.code;
  const codeText = typeof errCode === 'string' ? errCode : undefined;
  const timeout = ctx.timedOut || (codeText !== undefined && TIMEOUT_CODES.has(codeText));
  const what = timeout ? 'timed out' : ctx.aborted ? 'was aborted' : `failed${codeText ? ` (${codeText})` : ''}`;
  return new SyncError(timeout ? 'NETWORK_TIMEOUT' : 'NETWORK_ERROR', `${NAME[ctx.system]} ${ctx.route} ${what}`, {
    retryable: true,
    ids: ctx.ids,
    cause: error,
  });
}

/** A call whose wait for its turn was ended (its work stopped) before it was sent. */
export function workStopped(system: RemoteSystem, route: string, ids: Record<string, string | number> | undefined): SyncError {
  return new SyncError('WORK_STOPPED', `${NAME[system]} ${route} was not sent: its work stopped while it waited for its turn`, { retryable: true, ids });
}

/** Only words an API would use as an error type, so free text (possibly PHI) never gets through. */
export function safeToken(value: unknown): string | undefined {
  if (typeof value === 'number' && Number.isInteger(value)) return String(value);
  if (typeof value === 'string' && /^[A-Za-z][A-Za-z0-9_.-]{0,63}$/.test(value)) return value;
  return undefined;
}
