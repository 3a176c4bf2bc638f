// The one way from the config's `database` section to an open store, for the service and every
// CLI command alike: the URL, the PostgreSQL schema and pool size, the encryption key and the
// SQLite sync mode all come from here, so no command can forget one (a forgotten schema once
// made operator commands create and read empty tables in `public`).
import { openFanoutStore } from '../fanout/open-store.ts';
import type { FanoutStore } from '../fanout/types.ts';
import { openStore, type OpenStoreOptions } from '../store/open-store.ts';
import type { Store } from '../store/types.ts';
import type { Config } from './schema.ts';

export type DatabaseConfig = Config['database'];

/** The store options the `database` section stands for. */
export function storeOptions(database: DatabaseConfig): OpenStoreOptions {
  return {
    encryptionKey: database.encryptionKey,
    synchronous: database.synchronous,
    schema: database.schema,
    poolSize: database.poolSize,
  };
}

/** The configured main store, migrated (safe when several instances start at once). */
export function openConfiguredStore(database: DatabaseConfig): Promise<Store> {
  return openStore(database.url, storeOptions(database));
}

/** The configured fan-out store: same file or server (and schema) as the main store, tables of its own. */
export function openConfiguredFanoutStore(database: DatabaseConfig): Promise<FanoutStore> {
  const { encryptionKey, synchronous, schema } = storeOptions(database);
  return openFanoutStore(database.url, { encryptionKey, synchronous, schema });
}
