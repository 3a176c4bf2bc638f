// A pool that keeps a copy of every answer it carries (status, headers, body text), so that
// the doctor can call Spry and Spruce through their ordinary clients and still see what came
// over the wire: the envelope before it is unwrapped, fields before they are defaulted, the
// `Date` and rate-limit headers. Copies stay in memory for one doctor run and are never
// printed; checks read their shape, never their values.
import type { IncomingHttpHeaders } from 'node:http';
import { Agent, type Dispatcher } from 'undici';

export interface Exchange {
  method: string;
  /** Path and query as sent, below the origin. */
  path: string;
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
  /** Epoch ms (our clock) when the request went out and when the answer's headers arrived. */
  sentAt: number;
  answeredAt: number;
}

/** Bodies beyond this are cut (a doctor reads one small page at a time). */
const BODY_LIMIT = 512 * 1024;

export class WireTap {
  readonly dispatcher: Dispatcher;
  private readonly agent: Agent;
  private readonly exchanges: Exchange[] = [];

  constructor(options: { now?: () => number; timeoutMs?: number } = {}) {
    const now = options.now ?? Date.now;
    const timeout = options.timeoutMs ?? 15_000;
    this.agent = new Agent({ connections: 4, connect: { timeout: Math.min(timeout, 5_000) }, headersTimeout: timeout, bodyTimeout: timeout });
    const record = (exchange: Exchange) => this.exchanges.push(exchange);
    this.dispatcher = this.agent.compose((dispatch) => (opts, handler) => dispatch(opts, new TapHandler(handler, opts, now, record)));
  }

  /** How many answers have been seen so far; pass it to `since` to get the ones after. */
  mark(): number {
    return this.exchanges.length;
  }

  since(mark: number): Exchange[] {
    return this.exchanges.slice(mark);
  }

  all(): readonly Exchange[] {
    return this.exchanges;
  }

  async close(): Promise<void> {
    await this.agent.close();
  }
}

class TapHandler implements Dispatcher.DispatchHandler {
  private status = 0;
  private headers: IncomingHttpHeaders = {};
  private readonly chunks: Buffer[] = [];
  private size = 0;
  private readonly sentAt: number;
  private answeredAt = 0;

  constructor(
    private readonly inner: Dispatcher.DispatchHandler,
    private readonly opts: Dispatcher.DispatchOptions,
    private readonly now: () => number,
    private readonly record: (exchange: Exchange) => void,
  ) {
    this.sentAt = now();
  }

  onRequestStart(controller: Dispatcher.DispatchController, context: unknown): void {
    this.inner.onRequestStart?.(controller, context);
  }

  onResponseStart(controller: Dispatcher.DispatchController, statusCode: number, headers: IncomingHttpHeaders, statusMessage?: string): void {
    this.status = statusCode;
    this.headers = headers;
    this.answeredAt = this.now();
    this.inner.onResponseStart?.(controller, statusCode, headers, statusMessage);
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.size < BODY_LIMIT) {
      this.chunks.push(chunk);
      this.size += chunk.length;
    }
    this.inner.onResponseData?.(controller, chunk);
  }

  onResponseEnd(controller: Dispatcher.DispatchController, trailers: IncomingHttpHeaders): void {
    this.record({
      method: this.opts.method,
      path: this.opts.path,
      status: this.status,
      headers: this.headers,
      body: Buffer.concat(this.chunks).subarray(0, BODY_LIMIT).toString('utf8'),
      sentAt: this.sentAt,
      answeredAt: this.answeredAt,
    });
    this.inner.onResponseEnd?.(controller, trailers);
  }

  onResponseError(controller: Dispatcher.DispatchController, error: Error): void {
    this.inner.onResponseError?.(controller, error);
  }
}
