// Spry's response envelope: `{code: 2000, data, message: "Success"}` on success and
// `{code, message}` on failure, on every endpoint, whatever the HTTP status.
import type { SpryPage } from '../../spry/types.ts';

/** Envelope codes the simulator answers with (docs/sandbox-spry.md lists them). */
export const CODE = {
  SUCCESS: 2000,
  BAD_REQUEST: 4000,
  VALIDATION: 4001,
  FORBIDDEN: 4003,
  NOT_FOUND: 4004,
  UNAUTHORIZED: 4010,
  INVALID_CLIENT: 4011,
  RATE_LIMITED: 4029,
  INTERNAL: 5000,
} as const;

export interface SuccessEnvelope<T> {
  code: 2000;
  data: T;
  message: 'Success';
}

export interface ErrorEnvelope {
  code: number;
  message: string;
  /** A stable machine-readable name, on the subscription API (e.g. INVALID_API_VERSION). */
  error?: string;
}

export function ok<T>(data: T): SuccessEnvelope<T> {
  return { code: CODE.SUCCESS, data, message: 'Success' };
}

/** An API failure: the HTTP status and the envelope it is answered with. */
export class SpryApiError extends Error {
  constructor(
    readonly httpStatus: number,
    readonly code: number,
    message: string,
    readonly error?: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'SpryApiError';
  }

  toEnvelope(): ErrorEnvelope {
    return this.error ? { code: this.code, message: this.message, error: this.error } : { code: this.code, message: this.message };
  }
}

export const notFound = (what: string) => new SpryApiError(404, CODE.NOT_FOUND, `${what} not found`);

/**
 * A validation failure answered with HTTP 200 and code 4001: what Spry's older write endpoints
 * do, and why a client must check `code` and not only the status.
 */
export const invalidWith200 = (message: string) => new SpryApiError(200, CODE.VALIDATION, message);

/** A validation failure answered with HTTP 400 and code 4001 (list queries). */
export const invalidWith400 = (message: string) => new SpryApiError(400, CODE.VALIDATION, message);

/** The body the fault injector answers with, so injected failures look like Spry's own. */
export function faultErrorBody(status: number, kind: 'error' | 'rate_limited'): ErrorEnvelope {
  if (kind === 'rate_limited') return { code: CODE.RATE_LIMITED, message: 'Too many requests' };
  if (status >= 500) return { code: 5000 + (status - 500), message: 'Service temporarily unavailable' };
  return { code: CODE.BAD_REQUEST, message: `Request failed with status ${status}` };
}

export const MAX_PAGE_SIZE = 500;
export const DEFAULT_PAGE_SIZE = 20;

export interface Paging {
  page: number;
  size: number;
}

/**
 * `page` is 1-based; `size` defaults to 20 and is capped at 500 (a larger size is served as
 * 500, and `pages` says so). Anything not a positive integer is a 4001.
 */
export function parsePaging(query: Record<string, unknown>, fail: (message: string) => SpryApiError): Paging {
  const page = positiveInt(query.page, 'page', 1, fail);
  const size = Math.min(positiveInt(query.size, 'size', DEFAULT_PAGE_SIZE, fail), MAX_PAGE_SIZE);
  return { page, size };
}

export function positiveInt(
  value: unknown,
  name: string,
  fallback: number | undefined,
  fail: (message: string) => SpryApiError,
): number {
  if (value === undefined || value === '') {
    if (fallback === undefined) throw fail(`${name} is required`);
    return fallback;
  }
  const text = String(value);
  if (!/^\d+$/.test(text) || Number(text) < 1 || !Number.isSafeInteger(Number(text))) {
    throw fail(`${name} must be a positive integer`);
  }
  return Number(text);
}

export function toPage<T>(total: number, paging: Paging, content: T[]): SpryPage<T> {
  return {
    total,
    pages: Math.ceil(total / paging.size),
    current: paging.page,
    no_of_records: content.length,
    is_paged: true,
    content,
  };
}

/** Pages an in-memory list. */
export function pageOf<T>(items: readonly T[], paging: Paging): SpryPage<T> {
  const start = (paging.page - 1) * paging.size;
  return toPage(items.length, paging, items.slice(start, start + paging.size));
}
