import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { verifySpryWebhook } from './webhook-signature.ts';

const body = Buffer.from(JSON.stringify({ event_id: 'evt_1', event_type: 'patient.updated', data: { patient_id: 7 } }));
const NOW_S = 1_780_000_000;
const now = NOW_S * 1000;

/** The signature as Spry documents it, computed by hand. */
function sign(secret: string, t: number, raw: Buffer = body): string {
  return createHmac('sha256', secret).update(`${t}.`).update(raw).digest('hex');
}

describe('verifySpryWebhook', () => {
  it('accepts a valid signature and returns its timestamp', () => {
    const header = `t=${NOW_S},v1=${sign('key_current', NOW_S)}`;
    expect(verifySpryWebhook({ rawBody: body, header, secrets: ['key_current'], now })).toEqual({ ok: true, timestamp: NOW_S });
  });

  it('accepts the previous key during a rotation', () => {
    const header = `t=${NOW_S},v1=${sign('key_previous', NOW_S)}`;
    expect(verifySpryWebhook({ rawBody: body, header, secrets: ['key_current', 'key_previous'], now }).ok).toBe(true);
    expect(verifySpryWebhook({ rawBody: body, header, secrets: ['key_current'], now })).toEqual({ ok: false, reason: 'mismatch' });
  });

  it('accepts any of several v1 entries', () => {
    const header = `t=${NOW_S},v1=${'ab'.repeat(32)},v1=${sign('key_current', NOW_S)}`;
    expect(verifySpryWebhook({ rawBody: body, header, secrets: ['key_current'], now }).ok).toBe(true);
    const uppercase = `t=${NOW_S}, v1=${sign('key_current', NOW_S).toUpperCase()}`;
    expect(verifySpryWebhook({ rawBody: body, header: uppercase, secrets: ['key_current'], now }).ok).toBe(true);
  });

  it('rejects a timestamp more than 300 s away, either side', () => {
    for (const t of [NOW_S - 301, NOW_S + 301]) {
      const header = `t=${t},v1=${sign('k', t)}`;
      expect(verifySpryWebhook({ rawBody: body, header, secrets: ['k'], now })).toEqual({ ok: false, reason: 'expired' });
    }
    for (const t of [NOW_S - 300, NOW_S + 300]) {
      expect(verifySpryWebhook({ rawBody: body, header: `t=${t},v1=${sign('k', t)}`, secrets: ['k'], now }).ok).toBe(true);
    }
    const t = NOW_S - 100;
    const header = `t=${t},v1=${sign('k', t)}`;
    expect(verifySpryWebhook({ rawBody: body, header, secrets: ['k'], now, toleranceSeconds: 60 }).ok).toBe(false);
  });

  it('rejects a tampered body or a timestamp not the signed one', () => {
    const header = `t=${NOW_S},v1=${sign('k', NOW_S)}`;
    const tampered = Buffer.from(body.toString().replace('"patient_id":7', '"patient_id":8'));
    expect(verifySpryWebhook({ rawBody: tampered, header, secrets: ['k'], now })).toEqual({ ok: false, reason: 'mismatch' });
    const shifted = `t=${NOW_S - 1},v1=${sign('k', NOW_S)}`;
    expect(verifySpryWebhook({ rawBody: body, header: shifted, secrets: ['k'], now })).toEqual({ ok: false, reason: 'mismatch' });
  });

  it('rejects a signature of the wrong length without throwing', () => {
    const header = `t=${NOW_S},v1=${sign('k', NOW_S).slice(0, 32)}`;
    expect(verifySpryWebhook({ rawBody: body, header, secrets: ['k'], now })).toEqual({ ok: false, reason: 'mismatch' });
  });

  it('tells a missing header from a malformed one', () => {
    const check = (header: string | undefined) => verifySpryWebhook({ rawBody: body, header, secrets: ['k'], now });
    expect(check(undefined)).toEqual({ ok: false, reason: 'missing' });
    expect(check('')).toEqual({ ok: false, reason: 'missing' });
    for (const header of [
      'garbage',
      `v1=${sign('k', NOW_S)}`, // no t
      `t=${NOW_S}`, // no v1
      `t=abc,v1=${sign('k', NOW_S)}`,
      `t=${NOW_S},t=${NOW_S},v1=${sign('k', NOW_S)}`,
      `t=${NOW_S},v1=not-hex`,
      `t=${NOW_S},v1=abc`, // odd length
    ]) {
      expect(check(header), header).toEqual({ ok: false, reason: 'malformed' });
    }
  });

  it('no secrets configured → mismatch, never ok', () => {
    const header = `t=${NOW_S},v1=${sign('k', NOW_S)}`;
    expect(verifySpryWebhook({ rawBody: body, header, secrets: [], now })).toEqual({ ok: false, reason: 'mismatch' });
  });
});
