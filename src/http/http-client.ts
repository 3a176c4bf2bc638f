// The one way this service calls out over HTTP: a keep-alive undici pool with connect, headers
// and body timeouts, JSON in and out, a limiter asked before every attempt, failures classified
// at this boundary, and every attempt reported through `onCall`.
//
// Retries are ours rather than undici's RetryAgent because their waits must run on the injected
// clock and a 429 must hold back every caller (the limiter does that), not just the one request.
import { performance } from 'node:perf_hooks';
import type { IncomingHttpHeaders } from 'node:http';
import { Agent, request, type Dispatcher } from 'undici';
import { systemClock, type Clock } from '../clock.ts';
import { SyncError } from '../errors.ts';
import { networkError, statusError, unparsableAnswer, workStopped } from './classify.ts';
import { headerValue, parseRetryAfter } from './retry-after.ts';
import type { OnCall, Priority, RemoteSystem, RequestLimiter, ResponseObservation } from './types.ts';

export type HttpMethod = 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';

export interface HttpRequest {
  method: HttpMethod;
  /** Path template below the base URL, e.g. `/contacts/{contactId}`; reported as the route. */
  path: string;
  params?: Record<string, string | number>;
  query?: Record<string, string | number | boolean | null | undefined>;
  headers?: Record<string, string>;
  json?: unknown;
  form?: Record<string, string>;
  /** Statuses handed back to the caller instead of raised (e.g. 404 read as "absent"). */
  accept?: readonly number[];
  /**
   * Whether a network error or 5xx may be sent again: the request changes nothing twice
   * (GET, an idempotency key, an external id). Default: GET only. 429s are always retried,
   * since the server did not act on them.
   */
  retrySafe?: boolean;
  priority?: Priority;
  /** Identifiers for error messages (never PHI). */
  ids?: Record<string, string | number>;
  signal?: AbortSignal;
  /**
   * Ends a wait for the limiter's slot or for a retry, never a request already sent: the call
   * then fails with WORK_STOPPED and nothing was sent (a service stopping, a backfill interrupted).
   */
  stopWaiting?: AbortSignal;
}

export interface HttpResponse<T = unknown> {
  status: number;
  headers: IncomingHttpHeaders;
  /** Parsed JSON; undefined when the body was empty. */
  body: T | undefined;
  requestId?: string;
}

export interface RetryPolicy {
  /** Attempts in all, the first included. Default 3. */
  attempts: number;
  /** First backoff after a network error or 5xx; doubles each time. Default 250. */
  baseDelayMs: number;
  maxDelayMs: number;
  /** A 429 asking for a longer wait is raised at once, for the job queue to reschedule. Default 30. */
  maxRetryAfterSeconds: number;
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 3, baseDelayMs: 250, maxDelayMs: 5_000, maxRetryAfterSeconds: 30 };

export interface HttpClientOptions {
  system: RemoteSystem;
  baseUrl: string;
  limiter: RequestLimiter;
  clock?: Clock;
  /** Per attempt: connect, headers and body each, and the whole exchange. Default 15 000. */
  timeoutMs?: number;
  /** Default: the smaller of timeoutMs and 5 000. */
  connectTimeoutMs?: number;
  /** A pool shared with other clients; default: one of our own, closed by close(). */
  dispatcher?: Dispatcher;
  onCall?: OnCall;
  /** Response header carrying the remote correlation id. */
  requestIdHeader?: string;
  /** A safe detail (error type, numeric code) to put in error messages; never free text. */
  errorDetail?: (body: unknown) => string | undefined;
  retry?: Partial<RetryPolicy>;
}

type Attempt<T> = { ok: true; response: HttpResponse<T> } | { ok: false; error: SyncError };

export class HttpClient {
  private readonly options: HttpClientOptions;
  private readonly clock: Clock;
  private readonly timeoutMs: number;
  private readonly dispatcher: Dispatcher;
  private readonly ownsDispatcher: boolean;
  private readonly retry: RetryPolicy;
  private readonly baseUrl: string;

  constructor(options: HttpClientOptions) {
    this.options = options;
    this.clock = options.clock ?? systemClock;
    this.timeoutMs = options.timeoutMs ?? 15_000;
    this.retry = { ...DEFAULT_RETRY, ...options.retry };
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.ownsDispatcher = !options.dispatcher;
    this.dispatcher =
      options.dispatcher ??
      new Agent({
        keepAliveTimeout: 30_000,
        keepAliveMaxTimeout: 60_000,
        connections: 32,
        connect: { timeout: options.connectTimeoutMs ?? Math.min(this.timeoutMs, 5_000) },
        headersTimeout: this.timeoutMs,
        bodyTimeout: this.timeoutMs,
        maxResponseSize: 32 * 1024 * 1024,
      });
  }

  async request<T = unknown>(req: HttpRequest): Promise<HttpResponse<T>> {
    const route = `${req.method} ${req.path}`;
    const url = this.url(req);
    const waitSignal = req.signal && req.stopWaiting ? AbortSignal.any([req.signal, req.stopWaiting]) : (req.signal ?? req.stopWaiting);
    /** A wait ended by `stopWaiting` (and not by `signal`): the call was not sent. */
    const stoppedWaiting = () => req.stopWaiting?.aborted === true && req.signal?.aborted !== true;
    for (let attempt = 1; ; attempt++) {
      let permit;
      try {
        permit = await this.options.limiter.acquire(req.priority ?? 'live', waitSignal);
      } catch (error) {
        if (stoppedWaiting()) throw workStopped(this.options.system, route, req.ids);
        const aborted = req.signal?.aborted ?? false;
        // Already classified: a circuit breaker in front of the limiter refused the call.
        if (error instanceof SyncError && !aborted) throw error;
        throw networkError(error, { system: this.options.system, route, ids: req.ids, timedOut: false, aborted });
      }
      const outcome = await this.attempt<T>(req, url, route, (answer) => permit.release(answer));
      if (outcome.ok) return outcome.response;
      const delayMs = this.retryDelay(req, outcome.error, attempt);
      if (delayMs === undefined) throw outcome.error;
      if (delayMs > 0) {
        await this.clock.sleep(delayMs, waitSignal).catch(() => Promise.reject(stoppedWaiting() ? workStopped(this.options.system, route, req.ids) : outcome.error));
      }
    }
  }

  /** Closes the pool this client created (a shared one is its owner's to close). */
  async close(): Promise<void> {
    if (this.ownsDispatcher) await this.dispatcher.close();
  }

  private async attempt<T>(
    req: HttpRequest,
    url: string,
    route: string,
    release: (answer: ResponseObservation) => void,
  ): Promise<Attempt<T>> {
    const { system } = this.options;
    const started = performance.now();
    const deadline = AbortSignal.timeout(this.timeoutMs);
    const signal = req.signal ? AbortSignal.any([req.signal, deadline]) : deadline;
    const { body, contentType } = encodeBody(req);
    let status: number;
    let headers: IncomingHttpHeaders;
    let text: string;
    try {
      const res = await request(url, {
        method: req.method,
        headers: {
          accept: 'application/json',
          'user-agent': 'spruce-sync',
          ...(contentType ? { 'content-type': contentType } : {}),
          ...req.headers,
        },
        body,
        signal,
        dispatcher: this.dispatcher,
      });
      status = res.statusCode;
      headers = res.headers;
      text = await res.body.text();
    } catch (cause) {
      release({});
      const error = networkError(cause, {
        system,
        route,
        ids: req.ids,
        timedOut: deadline.aborted,
        aborted: req.signal?.aborted ?? false,
      });
      this.report(req, route, 0, started, undefined, error);
      return { ok: false, error };
    }

    const requestId = this.options.requestIdHeader ? headerValue(headers, this.options.requestIdHeader) : undefined;
    const retryAfterSeconds = status === 429 ? parseRetryAfter(headerValue(headers, 'retry-after'), this.clock.now()) : undefined;
    release({ status, headers, retryAfterSeconds });

    const parsed = parseJson(text);
    const success = status >= 200 && status < 300;
    let error: SyncError | undefined;
    if (success && !parsed.ok) {
      error = unparsableAnswer({ system, route, status, requestId, ids: req.ids });
    } else if (!success && !req.accept?.includes(status)) {
      const detail = parsed.ok ? this.options.errorDetail?.(parsed.value) : undefined;
      error = statusError({ system, route, status, requestId, retryAfterSeconds, ids: req.ids, detail });
    }
    this.report(req, route, status, started, requestId, error);
    if (error) return { ok: false, error };
    return { ok: true, response: { status, headers, body: parsed.ok ? (parsed.value as T) : undefined, requestId } };
  }

  /** Milliseconds to wait before the next attempt, or undefined to give up. */
  private retryDelay(req: HttpRequest, error: SyncError, attempt: number): number | undefined {
    if (attempt >= this.retry.attempts || !error.retryable || req.signal?.aborted) return undefined;
    if (error.status === 429) {
      // The limiter holds every caller until the pause ends; waiting here too would double it.
      const wait = error.retryAfterSeconds ?? 0;
      return wait <= this.retry.maxRetryAfterSeconds ? 0 : undefined;
    }
    if (!(req.retrySafe ?? req.method === 'GET')) return undefined;
    const ceiling = Math.min(this.retry.maxDelayMs, this.retry.baseDelayMs * 2 ** (attempt - 1));
    return Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
  }

  private report(
    req: HttpRequest,
    route: string,
    status: number,
    started: number,
    requestId: string | undefined,
    error: SyncError | undefined,
  ): void {
    const onCall = this.options.onCall;
    if (!onCall) return;
    try {
      onCall({
        system: this.options.system,
        method: req.method,
        route,
        status,
        durationMs: performance.now() - started,
        ...(requestId ? { requestId } : {}),
        ...(error ? { error: error.code } : {}),
      });
    } catch {
      // A metrics hook must never fail the call it observes.
    }
  }

  private url(req: HttpRequest): string {
    const path = req.path.replace(/\{(\w+)\}/g, (_, name: string) => {
      const value = req.params?.[name];
      if (value === undefined) throw new TypeError(`missing path parameter ${name} for ${req.path}`);
      return encodeURIComponent(String(value));
    });
    const query = new URLSearchParams();
    for (const [key, value] of Object.entries(req.query ?? {})) {
      if (value !== undefined && value !== null) query.set(key, String(value));
    }
    const qs = query.toString();
    return `${this.baseUrl}${path}${qs ? `?${qs}` : ''}`;
  }
}

function encodeBody(req: HttpRequest): { body?: string; contentType?: string } {
  if (req.form) return { body: new URLSearchParams(req.form).toString(), contentType: 'application/x-www-form-urlencoded' };
  if (req.json !== undefined) return { body: JSON.stringify(req.json), contentType: 'application/json' };
  return {};
}

function parseJson(text: string): { ok: true; value: unknown } | { ok: false } {
  if (text.trim() === '') return { ok: true, value: undefined };
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch {
    return { ok: false };
  }
}
