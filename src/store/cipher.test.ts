import { createCipheriv, createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { cipherFor, createCipher, keyId, parseEncryptionKey, type SealContext } from './cipher.ts';

const key = randomBytes(32);
const otherKey = randomBytes(32);
const jane = Buffer.from('{"first_name":"Jane"}');
const row1: SealContext = { column: 'events.payload', row: ['t1', 'spry', 'evt-1'] };

/** A value as the SSE1 format wrote it: the column alone authenticated, no key id. */
function sealV1(plain: Buffer, aad: string, sealKey: Buffer): Buffer {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', sealKey, iv);
  cipher.setAAD(Buffer.from(aad));
  const body = Buffer.concat([cipher.update(plain), cipher.final()]);
  return Buffer.concat([Buffer.from('SSE1'), iv, cipher.getAuthTag(), body]);
}

describe('cipher', () => {
  it('accepts a 32-byte key as hex, base64 or base64url, and nothing else', () => {
    for (const text of [key.toString('hex'), key.toString('base64'), key.toString('base64url')]) {
      expect(parseEncryptionKey(text).equals(key)).toBe(true);
    }
    for (const bad of ['', 'abc', randomBytes(16).toString('hex'), randomBytes(31).toString('base64'), 'zz'.repeat(32)]) {
      expect(() => parseEncryptionKey(bad)).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID' }));
    }
  });

  it('seals as SSE2 with the key id (first 8 bytes of the key’s SHA-256) after the magic, a fresh IV each time', () => {
    const cipher = createCipher(key.toString('base64'));
    const a = cipher.seal(jane, row1);
    const b = cipher.seal(jane, row1);
    expect(a.subarray(0, 4).toString()).toBe('SSE2');
    expect(a.subarray(4, 12).equals(createHash('sha256').update(key).digest().subarray(0, 8))).toBe(true);
    expect(a.subarray(4, 12).equals(keyId(key))).toBe(true);
    expect(a.equals(b)).toBe(false);
    expect(a.includes(Buffer.from('Jane'))).toBe(false);
    expect(cipher.open(a, row1).equals(jane)).toBe(true);
    expect(cipher.sealedWithCurrentKey(a)).toBe(true);
  });

  it('binds the column and the row: a value moved to another row or column does not open', () => {
    const cipher = createCipher(key.toString('hex'));
    const sealed = cipher.seal(jane, row1);
    const moved: SealContext[] = [
      { column: 'events.payload', row: ['t1', 'spry', 'evt-2'] },
      { column: 'events.payload', row: ['t2', 'spry', 'evt-1'] },
      { column: 'ledger.fields', row: ['t1', 'spry', 'evt-1'] },
      // The parts cannot be shifted across their boundaries.
      { column: 'events.payload', row: ['t1:spry', 'evt-1'] },
    ];
    for (const context of moved) {
      expect(() => cipher.open(sealed, context)).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID' }));
    }
  });

  it('detects tampering', () => {
    const cipher = createCipher(key.toString('hex'));
    const sealed = cipher.seal(Buffer.from('hello'), row1);
    sealed[sealed.length - 1]! ^= 1;
    expect(() => cipher.open(sealed, row1)).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID' }));
  });

  it('refuses an unsealed value once a key is set, without echoing it; passes empty (pruned) values', () => {
    const cipher = createCipher(key.toString('hex'));
    let refused: unknown;
    try {
      cipher.open(jane, row1);
    } catch (error) {
      refused = error;
    }
    expect(refused).toMatchObject({ code: 'UNSEALED_VALUE' });
    expect(String((refused as Error).message)).not.toContain('Jane');
    expect(cipher.open(Buffer.alloc(0), row1).length).toBe(0);
    // Only rekey reads them, to seal them.
    expect(cipherFor({ encryptionKey: key.toString('hex'), acceptUnsealed: true }).open(jane, row1).equals(jane)).toBe(true);
  });

  it('opens by key id from a keyring and seals with the first key only', () => {
    const old = createCipher(otherKey.toString('hex'));
    const sealedOld = old.seal(jane, row1);
    const ring = cipherFor({ encryptionKey: key.toString('base64'), decryptionKeys: [otherKey.toString('base64')] });
    expect(ring.open(sealedOld, row1).equals(jane)).toBe(true);
    expect(ring.sealedWithCurrentKey(sealedOld)).toBe(false);
    const sealedNew = ring.seal(jane, row1);
    expect(sealedNew.subarray(4, 12).equals(keyId(key))).toBe(true);
    // The old key alone cannot read what the ring sealed: it names a key it does not hold.
    expect(() => old.open(sealedNew, row1)).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID', message: expect.stringContaining(keyId(key).toString('hex')) }));
    expect(() => cipherFor({ decryptionKeys: [key.toString('hex')] })).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID' }));
  });

  it('still opens SSE1 values (column-only authenticated data, no key id) with any key of the ring', () => {
    const legacy = sealV1(jane, 'events.payload', otherKey);
    const ring = cipherFor({ encryptionKey: key.toString('hex'), decryptionKeys: [otherKey.toString('hex')] });
    expect(ring.open(legacy, row1).equals(jane)).toBe(true);
    expect(ring.sealedWithCurrentKey(legacy)).toBe(false);
    const state = sealV1(jane, 'state.t1.setup.x', key);
    expect(ring.open(state, { column: 'state.value', row: ['t1', 'setup.x'], legacy: 'state.t1.setup.x' }).equals(jane)).toBe(true);
    expect(() => createCipher(randomBytes(32).toString('hex')).open(legacy, row1)).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID' }));
  });

  it('passes values through without a key, and refuses sealed values it cannot open', () => {
    const plainCipher = createCipher();
    expect(plainCipher.encrypting).toBe(false);
    expect(plainCipher.seal(Buffer.from('x'), row1).toString()).toBe('x');
    expect(plainCipher.open(Buffer.from('x'), row1).toString()).toBe('x');
    const sealed = createCipher(key.toString('hex')).seal(jane, row1);
    expect(() => plainCipher.open(sealed, row1)).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID' }));
  });
});
