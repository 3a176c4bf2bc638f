// PHI (event payloads, ledger snapshots, fan-out message data) and the secrets we keep are
// sealed with AES-256-GCM before they reach the database, so a copied file or dump discloses
// nothing. Each sealed value names the key it was sealed with (a key id), so a keyring can hold
// the old key for reading while `spruce-sync rekey` moves every row to a new one; and its
// authenticated data names the column and the row, so a value copied into another row or column
// does not open.
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { SyncError } from '../errors.ts';

/** Sealed values before key ids: `SSE1 | iv | tag | body`, the column alone authenticated. */
const MAGIC_V1 = Buffer.from('SSE1');
/** `SSE2 | key id | iv | tag | body`, the column and the row authenticated. */
const MAGIC = Buffer.from('SSE2');
const KEY_ID_BYTES = 8;
const IV_BYTES = 12;
const TAG_BYTES = 16;

/** Where a value lives: its column (`events.payload`) and its row's stable key (ids only). */
export interface SealContext {
  column: string;
  /** The row's key parts, e.g. [tenant, source, event key]: known on write and read alike. */
  row: readonly (string | number)[];
  /** What SSE1 values of this column were authenticated with; default: the column. */
  legacy?: string;
}

export interface Cipher {
  /** True when values are encrypted on write. */
  readonly encrypting: boolean;
  seal(plain: Buffer, context: SealContext): Buffer;
  /** An empty value (a pruned payload) opens as empty. */
  open(stored: Buffer, context: SealContext): Buffer;
  /** Whether `stored` is sealed with the key this cipher seals with (rekey leaves those alone). */
  sealedWithCurrentKey(stored: Buffer): boolean;
}

/** One key to seal with, and any number to open by key id (the sealing key among them). */
export interface Keyring {
  seal: string;
  open?: readonly string[];
}

export interface CipherOptions {
  /**
   * Read values stored before a key was set as they are. Only for `rekey`, which seals them;
   * everywhere else an unsealed value under a key is refused.
   */
  acceptUnsealed?: boolean;
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

/** The first 8 bytes of the key's SHA-256: names the key in every value, discloses nothing of it. */
export function keyId(key: Buffer): Buffer {
  return createHash('sha256').update(key).digest().subarray(0, KEY_ID_BYTES);
}

/** Random IVs drawn in blocks: one call into OpenSSL per 256 values sealed, not one each. */
const IV_BLOCK = IV_BYTES * 256;
let ivs = Buffer.alloc(0);
let ivAt = IV_BLOCK;

/** A fresh random 96-bit IV, never handed out twice (each block is used once, then replaced). */
function nextIv(): Buffer {
  if (ivAt >= IV_BLOCK) {
    ivs = randomBytes(IV_BLOCK);
    ivAt = 0;
  }
  const iv = ivs.subarray(ivAt, ivAt + IV_BYTES);
  ivAt += IV_BYTES;
  return iv;
}

/** The authenticated data: column and row, unambiguous whatever the ids contain. */
export function additionalData(context: SealContext): Buffer {
  return Buffer.from(`${context.column}:${JSON.stringify(context.row)}`);
}

export function createCipher(keys?: string | Keyring, options: CipherOptions = {}): Cipher {
  if (!keys) return plainCipher;
  const ring = typeof keys === 'string' ? { seal: keys } : keys;
  const sealKey = parseEncryptionKey(ring.seal);
  const sealId = keyId(sealKey);
  const openKeys = new Map<string, Buffer>([[sealId.toString('hex'), sealKey]]);
  for (const text of ring.open ?? []) {
    const key = parseEncryptionKey(text);
    openKeys.set(keyId(key).toString('hex'), key);
  }

  return {
    encrypting: true,
    seal(plain, context) {
      const iv = nextIv();
      const cipher = createCipheriv('aes-256-gcm', sealKey, iv);
      cipher.setAAD(additionalData(context));
      const body = cipher.update(plain);
      const last = cipher.final();
      return Buffer.concat([MAGIC, sealId, iv, cipher.getAuthTag(), body, last]);
    },
    open(stored, context) {
      if (stored.length === 0) return stored;
      if (isSealed(stored, MAGIC, KEY_ID_BYTES)) {
        const id = stored.subarray(MAGIC.length, MAGIC.length + KEY_ID_BYTES);
        const key = openKeys.get(id.toString('hex'));
        if (!key) {
          throw new SyncError('CONFIG_INVALID', `${context.column}: sealed with key id ${id.toString('hex')}, which is not configured`, {
            retryable: false,
          });
        }
        return decrypt(key, stored.subarray(MAGIC.length + KEY_ID_BYTES), additionalData(context), context.column);
      }
      if (isSealed(stored, MAGIC_V1, 0)) {
        // No key id: try each key we hold (the sealing key first).
        const aad = Buffer.from(context.legacy ?? context.column);
        let failure: unknown;
        for (const key of openKeys.values()) {
          try {
            return decrypt(key, stored.subarray(MAGIC_V1.length), aad, context.column);
          } catch (error) {
            failure = error;
          }
        }
        throw failure;
      }
      if (options.acceptUnsealed) return stored;
      // Never the value: it may be PHI.
      throw new SyncError('UNSEALED_VALUE', `${context.column} holds a value that is not sealed although an encryption key is configured (run spruce-sync rekey to seal it)`, {
        retryable: false,
      });
    },
    sealedWithCurrentKey(stored) {
      return isSealed(stored, MAGIC, KEY_ID_BYTES) && stored.subarray(MAGIC.length, MAGIC.length + KEY_ID_BYTES).equals(sealId);
    },
  };
}

/** `sealed` is `iv | tag | body`. */
function decrypt(key: Buffer, sealed: Buffer, aad: Buffer, column: string): Buffer {
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, sealed.subarray(0, IV_BYTES));
    decipher.setAAD(aad);
    decipher.setAuthTag(sealed.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
    return Buffer.concat([decipher.update(sealed.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]);
  } catch (cause) {
    throw new SyncError('CONFIG_INVALID', `cannot decrypt ${column}: wrong encryption key, or a damaged or moved value`, {
      retryable: false,
      cause,
    });
  }
}

const plainCipher: Cipher = {
  encrypting: false,
  seal: (plain) => plain,
  open(stored, context) {
    if (isSealedValue(stored)) {
      throw new SyncError('CONFIG_INVALID', `${context.column} is encrypted but no encryption key is configured`, {
        retryable: false,
      });
    }
    return stored;
  },
  sealedWithCurrentKey: () => false,
};

/** Whether a stored value is sealed at all (any version, any key). */
export function isSealedValue(value: Buffer): boolean {
  return isSealed(value, MAGIC, KEY_ID_BYTES) || isSealed(value, MAGIC_V1, 0);
}

function isSealed(value: Buffer, magic: Buffer, idBytes: number): boolean {
  return value.length >= magic.length + idBytes + IV_BYTES + TAG_BYTES && value.subarray(0, magic.length).equals(magic);
}

/** How a store is told its keys: what each adapter's options carry. */
export interface EncryptionOptions {
  /** 32 bytes as base64 or hex: seals (and opens) PHI and secrets at rest. */
  encryptionKey?: string;
  /** Older keys, for reading only, until `spruce-sync rekey` has moved every row to encryptionKey. */
  decryptionKeys?: readonly string[];
  /** Only for rekey: values stored before a key was set are read as they are. */
  acceptUnsealed?: boolean;
}

export function cipherFor(options: EncryptionOptions): Cipher {
  if (!options.encryptionKey) {
    if (options.decryptionKeys?.length) {
      throw new SyncError('CONFIG_INVALID', 'decryption keys are set but no encryption key to seal with', { retryable: false });
    }
    return plainCipher;
  }
  return createCipher({ seal: options.encryptionKey, open: options.decryptionKeys }, { acceptUnsealed: options.acceptUnsealed });
}
