import { Webhook } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import { newSecret, rotate, signingSecrets } from './secrets.ts';
import { webhookHeaders } from './signature.ts';

describe('Standard Webhooks signatures', () => {
  it('verify with the reference library, for every secret that signs', () => {
    const secret = newSecret();
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    const body = JSON.stringify({ type: 'sync.contact.created', data: { patientId: 12 } });
    const now = Date.now();
    const headers = webhookHeaders([secret], 'msg_abc', now, body);
    expect(headers['webhook-timestamp']).toBe(String(Math.floor(now / 1000)));
    expect(new Webhook(secret).verify(body, headers)).toEqual(JSON.parse(body));
    expect(() => new Webhook(newSecret()).verify(body, headers)).toThrow();
    expect(() => new Webhook(secret).verify(`${body} `, headers)).toThrow();
  });

  it('sign with both secrets during a rotation overlap, then with the new one only', () => {
    const t0 = 1_700_000_000_000;
    const old = newSecret();
    const fresh = newSecret();
    const secrets = rotate([{ secret: old, createdAt: t0 - 1000, expiresAt: null }], fresh, t0, 3_600_000);
    expect(signingSecrets(secrets, t0 + 1000)).toEqual([fresh, old]);
    const during = webhookHeaders(signingSecrets(secrets, t0 + 1000), 'msg_x', Date.now(), '{}');
    expect(during['webhook-signature'].split(' ')).toHaveLength(2);
    expect(() => new Webhook(old).verify('{}', during)).not.toThrow();
    expect(() => new Webhook(fresh).verify('{}', during)).not.toThrow();
    expect(signingSecrets(secrets, t0 + 3_600_000)).toEqual([fresh]);
    // A second rotation drops what already expired and never extends an earlier expiry.
    const again = rotate(secrets, newSecret(), t0 + 1_800_000, 24 * 3_600_000);
    expect(again).toHaveLength(3);
    expect(again[2]?.expiresAt).toBe(t0 + 3_600_000);
    expect(rotate(again, newSecret(), t0 + 4_000_000, 0).filter((s) => s.expiresAt === null)).toHaveLength(1);
  });
});
