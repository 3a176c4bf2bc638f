// Picks the Store adapter from a URL, so config holds one string: `sqlite:./data/sync.db`,
// `sqlite::memory:` or `postgres://user@host/db`.
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { SyncError } from '../errors.ts';
import type { EncryptionOptions } from './cipher.ts';
import { PostgresStore } from './postgres/postgres-store.ts';
import { SqliteStore } from './sqlite/sqlite-store.ts';
import type { Store } from './types.ts';

export interface OpenStoreOptions extends EncryptionOptions {
  /** SQLite only; default FULL (fsync per group commit). */
  synchronous?: 'NORMAL' | 'FULL';
  /** PostgreSQL only: keep the tables in this schema (created on migrate). */
  schema?: string;
  /** PostgreSQL only: pooled connections (default 10). */
  poolSize?: number;
  /** Create or upgrade the schema before returning; default true. */
  migrate?: boolean;
}

export async function openStore(url: string, options: OpenStoreOptions = {}): Promise<Store> {
  const store = createStore(url, options);
  return options.migrate === false ? store : migrated(store);
}

/** The store with its schema created or upgraded; closed again when that fails. */
export async function migrated<T extends { migrate(): Promise<void>; close(): Promise<void> }>(store: T): Promise<T> {
  try {
    await store.migrate();
  } catch (error) {
    await store.close().catch(() => {});
    throw error;
  }
  return store;
}

function createStore(url: string, options: OpenStoreOptions): Store {
  if (url.startsWith('sqlite:')) {
    return new SqliteStore(sqliteFile(url), { ...encryption(options), synchronous: options.synchronous });
  }
  if (url.startsWith('postgres://') || url.startsWith('postgresql://')) {
    return new PostgresStore(url, { ...encryption(options), schema: options.schema, max: options.poolSize });
  }
  // Only the scheme: the rest of a URL may carry a password.
  const scheme = /^[a-z][a-z0-9+.-]*:/i.exec(url)?.[0] ?? '(none)';
  throw new SyncError('CONFIG_INVALID', `unsupported store URL scheme ${scheme}: use sqlite: or postgres://`, {
    retryable: false,
  });
}

/** The keys a store is opened with, picked out of wider options. */
export function encryption({ encryptionKey, decryptionKeys, acceptUnsealed }: EncryptionOptions): EncryptionOptions {
  return { encryptionKey, decryptionKeys, acceptUnsealed };
}

/**
 * The file of `sqlite:./x.db`, `sqlite:/abs/x.db`, `sqlite:///abs/x.db` or `sqlite::memory:`,
 * its folder created.
 */
export function sqliteFile(url: string): string {
  let path = url.slice('sqlite:'.length);
  if (path.startsWith('//')) path = path.slice(2);
  if (path === '') {
    throw new SyncError('CONFIG_INVALID', 'sqlite: URL needs a file path or :memory:', { retryable: false });
  }
  // A folder we make is its owner's only: it will hold patient data and, on SQLite, its key.
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  return path;
}
