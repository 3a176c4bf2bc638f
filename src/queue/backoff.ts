// How long a failed job waits before its next try. One formula for every job: exponential
// growth with full jitter (so many jobs failing together do not retry together), bounded by a
// cap; when the remote system said how long to wait (Retry-After), that wins, within the cap.
import { SyncError } from '../errors.ts';

export interface BackoffOptions {
  /** The shortest wait and the unit of growth. Default 1 s. */
  baseMs?: number;
  /** The longest wait, Retry-After included. Default 10 min. */
  capMs?: number;
  /** Source of jitter in [0, 1); injectable so tests can pin it. */
  random?: () => number;
}

export const DEFAULT_BACKOFF = { baseMs: 1_000, capMs: 600_000 } as const;

/**
 * The wait after the `attempt`-th failed try (1 = the first): a uniform draw in
 * [base, min(cap, base · 2^attempt)], or the error's `retryAfterSeconds` capped at `cap`.
 */
export function backoffDelay(attempt: number, options: BackoffOptions = {}, error?: unknown): number {
  const baseMs = options.baseMs ?? DEFAULT_BACKOFF.baseMs;
  const capMs = Math.max(baseMs, options.capMs ?? DEFAULT_BACKOFF.capMs);
  const retryAfterSeconds = error instanceof SyncError ? error.retryAfterSeconds : undefined;
  if (retryAfterSeconds !== undefined && Number.isFinite(retryAfterSeconds)) {
    return Math.min(capMs, Math.max(0, Math.round(retryAfterSeconds * 1000)));
  }
  // 2^attempt overflows to Infinity for huge attempts, which min() then caps.
  const ceilingMs = Math.min(capMs, baseMs * 2 ** Math.max(1, attempt));
  const random = options.random ?? Math.random;
  return Math.round(baseMs + random() * (ceilingMs - baseMs));
}
