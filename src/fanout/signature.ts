// Standard Webhooks signatures: `webhook-signature: v1,<base64 HMAC-SHA256>` over
// `<webhook-id>.<webhook-timestamp>.<body>`, keyed with the secret's decoded bytes. With several
// secrets signing (a rotation's overlap), the header lists one `v1,…` per secret, space-separated;
// a receiver accepts the delivery when any of them verifies.
import { createHmac } from 'node:crypto';
import { secretKey } from './secrets.ts';

export function sign(secret: string, id: string, timestampSeconds: number, body: string): string {
  return createHmac('sha256', secretKey(secret)).update(`${id}.${timestampSeconds}.${body}`, 'utf8').digest('base64');
}

export function signatureHeader(secrets: readonly string[], id: string, timestampSeconds: number, body: string): string {
  return secrets.map((secret) => `v1,${sign(secret, id, timestampSeconds, body)}`).join(' ');
}

/** The three Standard Webhooks headers of one attempt. */
export interface WebhookHeaders {
  'webhook-id': string;
  'webhook-timestamp': string;
  'webhook-signature': string;
}

export function webhookHeaders(secrets: readonly string[], id: string, nowMs: number, body: string): WebhookHeaders {
  const timestamp = Math.floor(nowMs / 1000);
  return {
    'webhook-id': id,
    'webhook-timestamp': String(timestamp),
    'webhook-signature': signatureHeader(secrets, id, timestamp, body),
  };
}
