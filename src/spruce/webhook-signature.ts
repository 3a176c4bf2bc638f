// Spruce signs each delivery with `X-Spruce-Signature` = base64(HMAC-SHA256(signing secret as
// UTF-8, raw body)). There is no timestamp, so replays are caught by deduplication, not here.
import { createHmac, timingSafeEqual } from 'node:crypto';

export type SpruceVerifyResult = { ok: true } | { ok: false; reason: 'missing' | 'malformed' | 'mismatch' };

export interface VerifySpruceWebhookInput {
  rawBody: Buffer;
  header: string | undefined;
  /** The endpoint's signing secrets (more than one while rotating). */
  secrets: string[];
}

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

export function verifySpruceWebhook(input: VerifySpruceWebhookInput): SpruceVerifyResult {
  const { rawBody, header, secrets } = input;
  if (header === undefined || header.trim() === '') return { ok: false, reason: 'missing' };
  const value = header.trim();
  if (!BASE64.test(value) || value.length % 4 !== 0) return { ok: false, reason: 'malformed' };
  const given = Buffer.from(value, 'base64');
  for (const secret of secrets) {
    const expected = createHmac('sha256', Buffer.from(secret, 'utf8')).update(rawBody).digest();
    if (given.length === expected.length && timingSafeEqual(given, expected)) return { ok: true };
  }
  return { ok: false, reason: 'mismatch' };
}
