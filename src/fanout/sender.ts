// One HTTP attempt of one delivery: POST the body with the Standard Webhooks headers, within a
// timeout, without following redirects, through a connection pool whose DNS lookups are
// guarded (url-guard.ts). Never throws: every way it can end is an outcome with a code.
//
// What is kept of the answer: status, latency, Retry-After and a snippet of the body: its JSON
// structure with code-like values, free text masked (scrubSnippet), capped. For messages that
// carry PHI no snippet is kept at all, so a receiver that echoes the payload cannot make us
// store it a second time.
import { performance } from 'node:perf_hooks';
import { isIP } from 'node:net';
import { Agent, request, type Dispatcher } from 'undici';
import { headerValue, parseRetryAfter } from '../http/retry-after.ts';
import { addressProblem, guardedLookup, type AddressPolicy, type Resolve } from './url-guard.ts';

export interface SendResult {
  status: number | null;
  latencyMs: number;
  /** `HTTP_<status>` for non-2xx, `TIMEOUT`, `NETWORK`, `ADDRESS_REFUSED`; null on success. */
  errorCode: string | null;
  /** Seconds the endpoint asked us to wait (429 or 503 with Retry-After). */
  retryAfterSeconds?: number;
  snippet: string | null;
}

export interface SendRequest {
  url: string;
  headers: Record<string, string>;
  body: string;
  /** The message carries PHI: keep no snippet. */
  phi: boolean;
  policy: AddressPolicy;
  now: number;
}

export type Send = (request: SendRequest) => Promise<SendResult>;

export interface SenderOptions {
  timeoutMs: number;
  snippetBytes: number;
  resolve?: Resolve;
  userAgent?: string;
}

const CONTENT_TYPE = 'application/json';

export class WebhookSender {
  private readonly agents = new Map<string, Agent>();

  constructor(private readonly options: SenderOptions) {}

  readonly send: Send = async (req) => {
    const started = performance.now();
    const elapsed = () => Math.round(performance.now() - started);
    let url: URL;
    try {
      url = new URL(req.url);
    } catch {
      return { status: null, latencyMs: 0, errorCode: 'BAD_URL', snippet: null };
    }
    const host = url.hostname.replace(/^\[|\]$/g, '');
    if (isIP(host) && addressProblem(host, req.policy)) {
      return { status: null, latencyMs: 0, errorCode: 'ADDRESS_REFUSED', snippet: null };
    }
    try {
      const response = await request(url, {
        method: 'POST',
        headers: {
          'content-type': CONTENT_TYPE,
          'user-agent': this.options.userAgent ?? 'spruce-sync-webhooks/1',
          ...req.headers,
        },
        body: req.body,
        dispatcher: this.agentFor(req.policy),
        signal: AbortSignal.timeout(this.options.timeoutMs),
        headersTimeout: this.options.timeoutMs,
        bodyTimeout: this.options.timeoutMs,
      });
      const raw = await readCapped(response.body, 4_096);
      const status = response.statusCode;
      const retryAfterSeconds = parseRetryAfter(headerValue(response.headers, 'retry-after'), req.now);
      return {
        status,
        latencyMs: elapsed(),
        errorCode: status >= 200 && status < 300 ? null : `HTTP_${status}`,
        ...(retryAfterSeconds !== undefined ? { retryAfterSeconds } : {}),
        snippet: req.phi || this.options.snippetBytes === 0 ? null : scrubSnippet(raw, this.options.snippetBytes),
      };
    } catch (error) {
      return { status: null, latencyMs: elapsed(), errorCode: errorCodeOf(error), snippet: null };
    }
  };

  async close(): Promise<void> {
    const agents = [...this.agents.values()];
    this.agents.clear();
    await Promise.allSettled(agents.map((agent) => agent.close()));
  }

  /** One pool per address policy (per tenant, in practice); undici keeps connections per origin. */
  private agentFor(policy: AddressPolicy): Dispatcher {
    const key = `${policy.allowLoopback}|${policy.allowedNetworks.join(',')}`;
    let agent = this.agents.get(key);
    if (!agent) {
      agent = new Agent({
        connect: { lookup: guardedLookup(policy, this.options.resolve), timeout: Math.min(this.options.timeoutMs, 10_000) },
        keepAliveTimeout: 30_000,
        connections: 32,
      });
      this.agents.set(key, agent);
    }
    return agent;
  }
}

async function readCapped(body: Dispatcher.ResponseData['body'], limit: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    const buffer = chunk as Buffer;
    if (size < limit) chunks.push(buffer.subarray(0, limit - size));
    size += buffer.length;
    // Read on (and drop) so the connection can be reused; stop reading huge answers.
    if (size > 64 * 1024) {
      body.destroy();
      break;
    }
  }
  return Buffer.concat(chunks).toString('utf8');
}

const CODE_WORDS = new Set(['ok', 'error', 'errors', 'success', 'failed', 'failure', 'invalid', 'accepted', 'received', 'duplicate', 'ignored', 'unauthorized', 'forbidden']);
const CODE = [/^[a-z][a-z0-9]*(?:[_.-][a-z0-9]+)+$/, /^[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+$/];

function isCode(text: string): boolean {
  return text.length <= 64 && (CODE_WORDS.has(text.toLowerCase()) || CODE.some((re) => re.test(text)));
}

/** Keeps a JSON answer's shape: keys, booleans, small numbers and code-like strings; the rest masked. */
function skeleton(value: unknown, depth = 0): unknown {
  if (depth > 4) return '[…]';
  if (value === null || typeof value === 'boolean') return value;
  if (typeof value === 'number') return Number.isInteger(value) && Math.abs(value) < 1000 ? value : '[number]';
  if (typeof value === 'string') return isCode(value) ? value : '[text]';
  if (Array.isArray(value)) return value.slice(0, 3).map((v) => skeleton(v, depth + 1));
  if (typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value as Record<string, unknown>)
        .slice(0, 12)
        .map(([k, v]) => [/^[A-Za-z_][A-Za-z0-9_.-]{0,39}$/.test(k) && !/\d{3}/.test(k) ? k : '[key]', skeleton(v, depth + 1)]),
    );
  }
  return '[?]';
}

/**
 * What the attempt log keeps of an answer, so that it holds no PHI whatever the receiver sends:
 * a JSON answer's structure with codes (`{"error":"invalid_signature","message":"[text]"}`), free
 * text masked; any other body only as its size. Capped at the configured bytes.
 */
export function scrubSnippet(text: string, limit = 256): string | null {
  const trimmed = text.trim();
  if (trimmed === '') return null;
  let shown: string;
  try {
    shown = JSON.stringify(skeleton(JSON.parse(trimmed)));
  } catch {
    shown = `[non-JSON answer, ${Buffer.byteLength(trimmed)} bytes]`;
  }
  return shown.length > limit ? `${shown.slice(0, Math.max(0, limit - 1))}…` : shown;
}

function errorCodeOf(error: unknown): string {
  for (let e: unknown = error, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: string; name?: string }).code;
    const name = (e as { name?: string }).name;
    if (code === 'ADDRESS_REFUSED') return 'ADDRESS_REFUSED';
    if (name === 'TimeoutError' || name === 'AbortError' || code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT' || code === 'UND_ERR_CONNECT_TIMEOUT') {
      return 'TIMEOUT';
    }
  }
  return 'NETWORK';
}
