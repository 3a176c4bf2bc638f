import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createCipher, parseEncryptionKey } from './cipher.ts';

const key = randomBytes(32);

describe('cipher', () => {
  it('accepts a 32-byte key as hex, base64 or base64url, and nothing else', () => {
    for (const text of [key.toString('hex'), key.toString('base64'), key.toString('base64url')]) {
      expect(parseEncryptionKey(text).equals(key)).toBe(true);
    }
    for (const bad of ['', 'abc', randomBytes(16).toString('hex'), randomBytes(31).toString('base64'), 'zz'.repeat(32)]) {
      expect(() => parseEncryptionKey(bad)).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID' }));
    }
  });

  it('seals with a fresh IV each time and opens only in the same context', () => {
    const cipher = createCipher(key.toString('base64'));
    const plain = Buffer.from('{"first_name":"Jane"}');
    const a = cipher.seal(plain, 'events.payload');
    const b = cipher.seal(plain, 'events.payload');
    expect(a.equals(b)).toBe(false);
    expect(a.includes(Buffer.from('Jane'))).toBe(false);
    expect(cipher.open(a, 'events.payload').equals(plain)).toBe(true);
    expect(() => cipher.open(a, 'ledger.fields')).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID' }));
  });

  it('detects tampering', () => {
    const cipher = createCipher(key.toString('hex'));
    const sealed = cipher.seal(Buffer.from('hello'), 'x');
    sealed[sealed.length - 1]! ^= 1;
    expect(() => cipher.open(sealed, 'x')).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID' }));
  });

  it('passes values through without a key, and still reads values stored before a key was set', () => {
    const plainCipher = createCipher();
    expect(plainCipher.encrypting).toBe(false);
    expect(plainCipher.seal(Buffer.from('x'), 'c').toString()).toBe('x');
    expect(createCipher(key.toString('hex')).open(Buffer.from('legacy'), 'c').toString()).toBe('legacy');
  });
});
