// The fan-out store for the service's database URL: the same file or server as the main store,
// with tables of its own.
import { SyncError } from '../errors.ts';
import type { EncryptionOptions } from '../store/cipher.ts';
import { encryption, migrated, sqliteFile } from '../store/open-store.ts';
import { PostgresFanoutStore } from '../store/postgres/fanout-store.ts';
import { SqliteFanoutStore } from '../store/sqlite/fanout-store.ts';
import type { FanoutStore } from './types.ts';

export interface OpenFanoutStoreOptions extends EncryptionOptions {
  synchronous?: 'NORMAL' | 'FULL';
  /** PostgreSQL only: the schema the tables live in. */
  schema?: string;
}

export async function openFanoutStore(url: string, options: OpenFanoutStoreOptions = {}): Promise<FanoutStore> {
  return migrated(createFanoutStore(url, options));
}

function createFanoutStore(url: string, options: OpenFanoutStoreOptions): FanoutStore {
  if (url.startsWith('sqlite:')) {
    return new SqliteFanoutStore(sqliteFile(url), { ...encryption(options), synchronous: options.synchronous });
  }
  if (url.startsWith('postgres://') || url.startsWith('postgresql://')) {
    return new PostgresFanoutStore(url, { ...encryption(options), schema: options.schema });
  }
  throw new SyncError('CONFIG_INVALID', 'unsupported store URL scheme: use sqlite: or postgres://', { retryable: false });
}
