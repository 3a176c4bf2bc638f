// The one way from the config's `database` section to an open store, for the service and every
// CLI command alike: the URL, the PostgreSQL schema and pool size, the encryption keys and the
// SQLite sync mode all come from here, so no command can forget one (a forgotten schema once
// made operator commands create and read empty tables in `public`).
//
// Encrypted at rest by default: SQLite without a configured key keeps a generated one beside the
// database file; PostgreSQL refuses to start without a key unless `encryption: off` is written.
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, linkSync, readFileSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { SyncError } from '../errors.ts';
import { openFanoutStore } from '../fanout/open-store.ts';
import type { FanoutStore } from '../fanout/types.ts';
import { parseEncryptionKey, type EncryptionOptions } from '../store/cipher.ts';
import { encryption, openStore, sqliteFile, type OpenStoreOptions } from '../store/open-store.ts';
import type { Store } from '../store/types.ts';
import type { Config } from './schema.ts';

export type DatabaseConfig = Config['database'];

/** Where encryption notices go: the service's logger, or stderr for a CLI command. */
export interface Notices {
  info(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
}

const stderrNotices: Notices = {
  info: (_fields, message) => console.error(message),
  warn: (_fields, message) => console.error(`warning: ${message}`),
};

/** The store options the `database` section stands for (keys included: see databaseEncryption). */
export function storeOptions(database: DatabaseConfig, notices: Notices = stderrNotices): OpenStoreOptions {
  return {
    ...databaseEncryption(database, notices),
    synchronous: database.synchronous,
    schema: database.schema,
    poolSize: database.poolSize,
  };
}

/**
 * The configured main store, migrated (safe when several instances start at once). `keys`
 * replaces the configured ones (rekey: the new key to seal, the configured ones to open).
 */
export function openConfiguredStore(database: DatabaseConfig, notices?: Notices, keys?: EncryptionOptions): Promise<Store> {
  return openStore(database.url, { ...storeOptions(database, notices), ...keys });
}

/** The configured fan-out store: same file or server (and schema) as the main store, tables of its own. */
export function openConfiguredFanoutStore(database: DatabaseConfig, notices?: Notices, keys?: EncryptionOptions): Promise<FanoutStore> {
  const { synchronous, schema, ...configured } = storeOptions(database, notices);
  return openFanoutStore(database.url, { ...encryption({ ...configured, ...keys }), synchronous, schema });
}

/** URLs already warned about in this process (the main and fan-out stores open the same one). */
const warned = new Set<string>();

/**
 * The keys to seal and open with: the configured key; else, on a SQLite file, the key file beside
 * it (generated on first start); nothing for `encryption: off` or an in-memory database (nothing
 * is at rest). PostgreSQL without a key and without `encryption: off` is a config error.
 */
export function databaseEncryption(database: DatabaseConfig, notices: Notices = stderrNotices): EncryptionOptions {
  const configured = { encryptionKey: database.encryptionKey, decryptionKeys: database.decryptionKeys };
  if (database.encryption === 'off') {
    if (database.encryptionKey) {
      throw configError('database.encryption is off but database.encryptionKey is set: remove one of them');
    }
    if (!warned.has(database.url)) {
      warned.add(database.url);
      notices.warn({ code: 'ENCRYPTION_OFF' }, 'database.encryption is off: patient data and secrets are stored in plaintext');
    }
    return {};
  }
  if (database.encryptionKey) return configured;
  if (database.url.startsWith('sqlite:')) {
    const file = sqliteFile(database.url);
    if (file === ':memory:') return {};
    return { ...configured, encryptionKey: keyFileKey(`${file}.key`, file, notices) };
  }
  throw configError(
    'database.encryptionKey is required on PostgreSQL (32 bytes as base64 or hex, e.g. `openssl rand -base64 32`); ' +
      'to store patient data in plaintext write database.encryption: off',
  );
}

/** The key kept in `keyFile`, made (owner-only) when there is none yet. */
function keyFileKey(keyFile: string, databaseFile: string, notices: Notices): string {
  if (existsSync(keyFile)) {
    if ((statSync(keyFile).mode & 0o077) !== 0) chmodSync(keyFile, 0o600);
    return readKeyFile(keyFile);
  }
  const hadRows = existsSync(databaseFile) && statSync(databaseFile).size > 0;
  // Written whole under another name, then linked into place: a second process starting at the
  // same moment either links first (and we read its key) or finds ours complete.
  const draft = `${keyFile}.${process.pid}.${randomBytes(4).toString('hex')}`;
  writeFileSync(draft, `${randomBytes(32).toString('base64')}\n`, { mode: 0o600, flag: 'wx' });
  try {
    linkSync(draft, keyFile);
  } catch (error) {
    if ((error as { code?: string }).code !== 'EEXIST') throw error;
    return readKeyFile(keyFile);
  } finally {
    unlinkSync(draft);
  }
  // The path only, never the key.
  notices.info(
    { keyFile },
    `generated the database encryption key ${keyFile}: back it up with the database (and apart from it); without it the stored data cannot be read`,
  );
  if (hadRows) {
    notices.warn(
      { keyFile, code: 'UNSEALED_VALUE' },
      `the database held rows before its key: run \`spruce-sync rekey -c <config> --new-key ${keyFile}\` to seal them`,
    );
  }
  return readKeyFile(keyFile);
}

function readKeyFile(keyFile: string): string {
  const key = readFileSync(keyFile, 'utf8').trim();
  try {
    parseEncryptionKey(key);
  } catch {
    // Never what it holds.
    throw configError(`${keyFile} does not hold a 32-byte key (base64 or hex)`);
  }
  return key;
}

function configError(message: string): SyncError {
  return new SyncError('CONFIG_INVALID', message, { retryable: false });
}
