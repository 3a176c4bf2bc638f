// Reading one answer the way the doctor judges it: was it the vendor's answer at all (JSON, the
// envelope), and if not, which assumption does that break. Only status codes, content types,
// numeric codes and key names reach a message.
import { headerValue } from '../http/retry-after.ts';
import { isEnvelope, SPRY_OK } from '../spry/envelope.ts';
import type { Exchange } from './wire-tap.ts';

export type Reading =
  | { ok: true; data: unknown; envelope: boolean }
  | { ok: false; problem: 'no-answer' | 'not-json' | 'missing-path' | 'refused' | 'no-envelope' | 'code' | 'status'; detail: string };

export function parseBody(exchange: Exchange): { ok: true; value: unknown } | { ok: false } {
  if (exchange.body.trim() === '') return { ok: true, value: undefined };
  try {
    return { ok: true, value: JSON.parse(exchange.body) as unknown };
  } catch {
    return { ok: false };
  }
}

function contentType(exchange: Exchange): string {
  return (headerValue(exchange.headers, 'content-type') ?? 'none').split(';')[0]!.trim();
}

export function topLevelKeys(value: unknown): string {
  if (typeof value !== 'object' || value === null) return value === undefined ? 'empty body' : `a ${Array.isArray(value) ? 'list' : typeof value}`;
  if (Array.isArray(value)) return 'a bare list';
  const keys = Object.keys(value).slice(0, 8);
  return keys.length === 0 ? 'an empty object' : `keys ${keys.join(', ')}`;
}

/**
 * A Spry answer: `{code: 2000, data}` on success. A 404 or 405 without the envelope is a path
 * Spry does not have (a gateway answered, not Spry); with `envelopeOptional` a bare JSON body
 * is accepted as the data (the subscription API may answer without the envelope).
 */
export function readSpry(exchange: Exchange | undefined, options: { envelopeOptional?: boolean } = {}): Reading {
  if (!exchange) return { ok: false, problem: 'no-answer', detail: 'no answer' };
  const { status } = exchange;
  const parsed = parseBody(exchange);
  const body = parsed.ok ? parsed.value : undefined;
  const enveloped = parsed.ok && isEnvelope(body);
  if ((status === 404 || status === 405) && !enveloped) {
    return { ok: false, problem: 'missing-path', detail: `HTTP ${status} ${parsed.ok ? 'without Spry\'s envelope' : `(${contentType(exchange)}, not JSON)`}` };
  }
  if (status === 401 || status === 403) return { ok: false, problem: 'refused', detail: `HTTP ${status}` };
  if (!parsed.ok) return { ok: false, problem: 'not-json', detail: `HTTP ${status} with a body that is not JSON (${contentType(exchange)})` };
  if (enveloped) {
    if (body.code !== SPRY_OK) return { ok: false, problem: 'code', detail: `code ${body.code} (HTTP ${status})` };
    if (status < 200 || status >= 300) return { ok: false, problem: 'status', detail: `HTTP ${status} with code ${SPRY_OK}` };
    return { ok: true, data: body.data, envelope: true };
  }
  if (status < 200 || status >= 300) return { ok: false, problem: 'status', detail: `HTTP ${status} without Spry's envelope` };
  if (options.envelopeOptional && body !== undefined) return { ok: true, data: body, envelope: false };
  return { ok: false, problem: 'no-envelope', detail: `HTTP ${status} without Spry's {code, data} envelope (${topLevelKeys(body)})` };
}

/** A Spruce answer: plain JSON on 2xx, `{statusCode, type, message}` otherwise. */
export function readSpruce(exchange: Exchange | undefined): Reading {
  if (!exchange) return { ok: false, problem: 'no-answer', detail: 'no answer' };
  const { status } = exchange;
  const parsed = parseBody(exchange);
  const type = parsed.ok ? (parsed.value as { type?: unknown } | undefined)?.type : undefined;
  const spruceError = typeof type === 'string' && /^[A-Z_]{2,40}$/.test(type) ? ` ${type}` : '';
  if (status === 401 || status === 403) return { ok: false, problem: 'refused', detail: `HTTP ${status}${spruceError}` };
  if ((status === 404 || status === 405) && !spruceError) {
    return { ok: false, problem: 'missing-path', detail: `HTTP ${status} ${parsed.ok ? 'without Spruce\'s error shape' : `(${contentType(exchange)}, not JSON)`}` };
  }
  if (!parsed.ok) return { ok: false, problem: 'not-json', detail: `HTTP ${status} with a body that is not JSON (${contentType(exchange)})` };
  if (status < 200 || status >= 300) return { ok: false, problem: 'status', detail: `HTTP ${status}${spruceError}` };
  return { ok: true, data: parsed.value, envelope: false };
}
