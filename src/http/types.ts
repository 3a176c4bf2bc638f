// The contracts of the outbound HTTP layer: what a call reports, and how a rate limiter is
// asked for permission and told what the remote system answered.
import type { IncomingHttpHeaders } from 'node:http';
import type { ErrorCode } from '../errors.ts';

export type RemoteSystem = 'spry' | 'spruce';

/** `live` is traffic a person is waiting for (webhooks); `bulk` is backfill and reconciliation. */
export type Priority = 'live' | 'bulk';

/** One HTTP exchange (every attempt, token fetches included). Ids and PHI never appear here. */
export interface CallReport {
  system: RemoteSystem;
  method: string;
  /** The path template, e.g. `GET /contacts/{contactId}`. */
  route: string;
  /** HTTP status; 0 when no response arrived (network error or timeout). */
  status: number;
  durationMs: number;
  requestId?: string;
  /** Set when the exchange failed, with the code it was classified as. */
  error?: ErrorCode;
}

export type OnCall = (report: CallReport) => void;

/** What a limiter learns from one granted request. */
export interface ResponseObservation {
  /** Absent when no response arrived. */
  status?: number;
  headers?: IncomingHttpHeaders;
  /** Parsed `Retry-After` of a 429, in seconds. */
  retryAfterSeconds?: number;
}

export interface Permit {
  /** Reports the outcome of the granted request; call exactly once. */
  release(observation: ResponseObservation): void;
}

export interface RequestLimiter {
  /** Resolves when one request of this priority may be sent. Rejects if `signal` aborts first. */
  acquire(priority: Priority, signal?: AbortSignal): Promise<Permit>;
}

/** A limiter that can say, without taking anything, how soon it would let a request go. */
export interface SlotForecast {
  /**
   * Milliseconds until a request of this priority could go (0 = now), judged from what this
   * instance last saw of the budget and the callers already waiting for it. No side effect.
   */
  nextSlotIn(priority: Priority): number;
}

/** A published budget's current window as this instance last saw it (operators' figures). */
export interface BudgetWindow {
  /** Requests per window. */
  limit: number;
  /** Left at the latest answer of this window. */
  remaining: number;
  /** Estimated end of the window, epoch ms. */
  endsAt: number;
}
