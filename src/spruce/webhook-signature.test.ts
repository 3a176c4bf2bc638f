import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { verifySpruceWebhook } from './webhook-signature.ts';

const body = Buffer.from(JSON.stringify({ object: 'event', type: 'contact.updated', eventTime: '2026-01-01T00:00:00Z', data: { object: { id: 'entity_1' } } }));

/** The signature as Spruce documents it, computed by hand. */
function sign(secret: string, raw: Buffer = body): string {
  return createHmac('sha256', Buffer.from(secret, 'utf8')).update(raw).digest('base64');
}

describe('verifySpruceWebhook', () => {
  it('accepts a valid signature', () => {
    expect(verifySpruceWebhook({ rawBody: body, header: sign('whsec_a'), secrets: ['whsec_a'] })).toEqual({ ok: true });
  });

  it('accepts any configured secret (rotation)', () => {
    expect(verifySpruceWebhook({ rawBody: body, header: sign('whsec_old'), secrets: ['whsec_new', 'whsec_old'] }).ok).toBe(true);
    expect(verifySpruceWebhook({ rawBody: body, header: sign('whsec_old'), secrets: ['whsec_new'] })).toEqual({ ok: false, reason: 'mismatch' });
  });

  it('rejects a tampered body', () => {
    const tampered = Buffer.from(body.toString().replace('entity_1', 'entity_2'));
    expect(verifySpruceWebhook({ rawBody: tampered, header: sign('whsec_a'), secrets: ['whsec_a'] })).toEqual({ ok: false, reason: 'mismatch' });
  });

  it('handles a secret with non-ASCII characters as UTF-8', () => {
    expect(verifySpruceWebhook({ rawBody: body, header: sign('clé-ü'), secrets: ['clé-ü'] }).ok).toBe(true);
  });

  it('tells a missing header from a malformed one, and a short signature is a mismatch', () => {
    expect(verifySpruceWebhook({ rawBody: body, header: undefined, secrets: ['s'] })).toEqual({ ok: false, reason: 'missing' });
    expect(verifySpruceWebhook({ rawBody: body, header: '  ', secrets: ['s'] })).toEqual({ ok: false, reason: 'missing' });
    expect(verifySpruceWebhook({ rawBody: body, header: 'not base64!', secrets: ['s'] })).toEqual({ ok: false, reason: 'malformed' });
    expect(verifySpruceWebhook({ rawBody: body, header: 'abc', secrets: ['s'] })).toEqual({ ok: false, reason: 'malformed' });
    expect(verifySpruceWebhook({ rawBody: body, header: 'YWJj', secrets: ['s'] })).toEqual({ ok: false, reason: 'mismatch' });
  });
});
