// Spry signs each delivery: `X-Sprypt-Signature: t=<epoch s>,v1=<hex>[,v1=<hex>…]`, where v1 is
// the lowercase hex HMAC-SHA256 of `t + "." + raw body` keyed by the subscription's
// signature_key. During a rotation both keys are valid, and any v1 entry may match.
import { createHmac, timingSafeEqual } from 'node:crypto';

export type SpryVerifyResult =
  | { ok: true; timestamp: number }
  | { ok: false; reason: 'missing' | 'malformed' | 'expired' | 'mismatch' };

export interface VerifySpryWebhookInput {
  rawBody: Buffer;
  header: string | undefined;
  /** The current signature key and, during a rotation, the previous one. */
  secrets: string[];
  /** Epoch ms. */
  now: number;
  toleranceSeconds?: number;
}

export function verifySpryWebhook(input: VerifySpryWebhookInput): SpryVerifyResult {
  const { rawBody, header, secrets, now, toleranceSeconds = 300 } = input;
  if (header === undefined || header.trim() === '') return { ok: false, reason: 'missing' };
  const parsed = parseHeader(header);
  if (!parsed) return { ok: false, reason: 'malformed' };
  if (Math.abs(now / 1000 - parsed.timestamp) > toleranceSeconds) return { ok: false, reason: 'expired' };

  // `t.` and the body fed one after the other: the same MAC as over their concatenation, without the copy.
  const prefix = `${parsed.timestamp}.`;
  for (const secret of secrets) {
    const expected = createHmac('sha256', secret).update(prefix, 'utf8').update(rawBody).digest();
    for (const candidate of parsed.signatures) {
      if (candidate.length === expected.length && timingSafeEqual(candidate, expected)) {
        return { ok: true, timestamp: parsed.timestamp };
      }
    }
  }
  return { ok: false, reason: 'mismatch' };
}

function parseHeader(header: string): { timestamp: number; signatures: Buffer[] } | undefined {
  let timestamp: number | undefined;
  const signatures: Buffer[] = [];
  for (const part of header.split(',')) {
    const eq = part.indexOf('=');
    if (eq < 0) return undefined;
    const key = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    if (key === 't') {
      if (timestamp !== undefined || !/^\d{1,12}$/.test(value)) return undefined;
      timestamp = Number(value);
    } else if (key === 'v1') {
      // Hex only (either case); anything else could never match and marks a broken header.
      if (!/^[0-9a-fA-F]+$/.test(value) || value.length % 2 !== 0) return undefined;
      signatures.push(Buffer.from(value, 'hex'));
    }
    // Other schemes (v0, future versions) are ignored, as with Stripe-style headers.
  }
  if (timestamp === undefined || signatures.length === 0) return undefined;
  return { timestamp, signatures };
}
