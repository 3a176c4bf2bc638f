// Runs the fan-out store contract on SQLite (a real temp file, beside a main store) and on
// PostgreSQL (a fresh schema per test), like the main store's contract suite.
import type { EncryptionOptions } from '../../src/store/cipher.ts';
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openFanoutStore } from '../../src/fanout/open-store.ts';
import type { FanoutStore } from '../../src/fanout/types.ts';
import { openStore } from '../../src/store/open-store.ts';
import { dropSchema, findPostgres, schemaQuery, skipNotice, uniqueSchema } from '../support/postgres.ts';
import { fanoutStoreContract, type FanoutHarnessFactory } from './fanout-store.suite.ts';

// SQLite ---------------------------------------------------------------------------------------

const sqliteHarness: FanoutHarnessFactory = async ({ encryptionKey }) => {
  const dir = mkdtempSync(join(tmpdir(), 'spruce-sync-fanout-'));
  const url = `sqlite:${join(dir, 'data', 'sync.db')}`;
  const stores: FanoutStore[] = [];
  const open = async (keys: EncryptionOptions = { encryptionKey }) => {
    const store = await openFanoutStore(url, keys);
    stores.push(store);
    return store;
  };
  return {
    store: await open(),
    openAnother: open,
    async raw(sql) {
      const db = new Database(join(dir, 'data', 'sync.db'));
      try {
        const statement = db.prepare(sql);
        return statement.reader ? (statement.all() as Record<string, unknown>[]) : (statement.run(), []);
      } finally {
        db.close();
      }
    },
    async cleanup() {
      for (const store of stores) await store.close().catch(() => {});
      rmSync(dir, { recursive: true, force: true });
    },
  };
};

fanoutStoreContract('SQLite', sqliteHarness);

describe('fan-out store on SQLite beside the main store', () => {
  it('shares the service database file, each with its own migration table', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'spruce-sync-fanout-'));
    const url = `sqlite:${join(dir, 'sync.db')}`;
    try {
      const main = await openStore(url);
      const fanout = await openFanoutStore(url);
      const db = new Database(join(dir, 'sync.db'));
      const tables = (db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name`).all() as { name: string }[]).map((r) => r.name);
      db.close();
      expect(tables).toEqual(expect.arrayContaining(['schema_migrations', 'fanout_migrations', 'events', 'fanout_deliveries']));
      await fanout.close();
      await main.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

// PostgreSQL -----------------------------------------------------------------------------------

const pgUrl = await findPostgres();
if (!pgUrl) console.warn(skipNotice('fan-out store contract'));

const postgresHarness: FanoutHarnessFactory = async ({ encryptionKey }) => {
  const url = pgUrl!;
  const schema = uniqueSchema('fanout_contract');
  const stores: FanoutStore[] = [];
  const open = async (keys: EncryptionOptions = { encryptionKey }) => {
    const store = await openFanoutStore(url, { schema, ...keys });
    stores.push(store);
    return store;
  };
  return {
    store: await open(),
    openAnother: open,
    raw: (sql) => schemaQuery(url, schema, sql),
    async cleanup() {
      for (const store of stores) await store.close().catch(() => {});
      await dropSchema(url, schema);
    },
  };
};

describe.skipIf(!pgUrl)('PostgreSQL', () => {
  fanoutStoreContract('PostgreSQL', postgresHarness);
});
