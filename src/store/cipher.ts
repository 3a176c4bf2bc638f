// Payloads and ledger values may hold PHI. With a key configured they are sealed with
// AES-256-GCM before they reach the database, so a copied file or dump discloses nothing.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { SyncError } from '../errors.ts';

/** Marks a sealed value, so rows written before a key was configured still read back. */
const MAGIC = Buffer.from('SSE1');
const IV_BYTES = 12;
const TAG_BYTES = 16;

export interface Cipher {
  /** True when values are encrypted on write. */
  readonly encrypting: boolean;
  /** `context` names where the value lives (e.g. `events.payload`); it is authenticated. */
  seal(plain: Buffer, context: string): Buffer;
  open(stored: Buffer, context: string): Buffer;
}

/** Accepts 32 bytes given as 64 hex digits or as base64 (standard or url-safe). */
export function parseEncryptionKey(text: string): Buffer {
  const trimmed = text.trim();
  const key = /^[0-9a-fA-F]{64}$/.test(trimmed)
    ? Buffer.from(trimmed, 'hex')
    : /^[A-Za-z0-9+/_-]+={0,2}$/.test(trimmed)
      ? Buffer.from(trimmed, 'base64')
      : Buffer.alloc(0);
  if (key.length !== 32) {
    // Never echo the key itself.
    throw new SyncError('CONFIG_INVALID', 'encryption key must be 32 bytes, as 64 hex digits or base64', {
      retryable: false,
    });
  }
  return key;
}

export function createCipher(encryptionKey?: string): Cipher {
  if (!encryptionKey) return plainCipher;
  const key = parseEncryptionKey(encryptionKey);
  return {
    encrypting: true,
    seal(plain, context) {
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv('aes-256-gcm', key, iv);
      cipher.setAAD(Buffer.from(context));
      const body = Buffer.concat([cipher.update(plain), cipher.final()]);
      return Buffer.concat([MAGIC, iv, cipher.getAuthTag(), body]);
    },
    open(stored, context) {
      if (!isSealed(stored)) return stored;
      const ivEnd = MAGIC.length + IV_BYTES;
      const tagEnd = ivEnd + TAG_BYTES;
      try {
        const decipher = createDecipheriv('aes-256-gcm', key, stored.subarray(MAGIC.length, ivEnd));
        decipher.setAAD(Buffer.from(context));
        decipher.setAuthTag(stored.subarray(ivEnd, tagEnd));
        return Buffer.concat([decipher.update(stored.subarray(tagEnd)), decipher.final()]);
      } catch (cause) {
        throw new SyncError('CONFIG_INVALID', `cannot decrypt ${context}: wrong encryption key or damaged value`, {
          retryable: false,
          cause,
        });
      }
    },
  };
}

const plainCipher: Cipher = {
  encrypting: false,
  seal: (plain) => plain,
  open(stored, context) {
    if (isSealed(stored)) {
      throw new SyncError('CONFIG_INVALID', `${context} is encrypted but no encryption key is configured`, {
        retryable: false,
      });
    }
    return stored;
  },
};

function isSealed(value: Buffer): boolean {
  return value.length >= MAGIC.length + IV_BYTES + TAG_BYTES && value.subarray(0, MAGIC.length).equals(MAGIC);
}
