// Runs the fan-out store contract on SQLite (a real temp file, beside a main store) and on
// PostgreSQL (a fresh schema per test), like the main store's contract suite.
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { openFanoutStore } from '../../src/fanout/open-store.ts';
import type { FanoutStore } from '../../src/fanout/types.ts';
import { openStore } from '../../src/store/open-store.ts';
import { fanoutStoreContract, type FanoutHarnessFactory } from './fanout-store.suite.ts';

// SQLite ---------------------------------------------------------------------------------------

const sqliteHarness: FanoutHarnessFactory = async ({ encryptionKey }) => {
  const dir = mkdtempSync(join(tmpdir(), 'spruce-sync-fanout-'));
  const url = `sqlite:${join(dir, 'data', 'sync.db')}`;
  const stores: FanoutStore[] = [];
  const open = async () => {
    const store = await openFanoutStore(url, { encryptionKey });
    stores.push(store);
    return store;
  };
  return {
    store: await open(),
    openAnother: open,
    async raw(sql) {
      const db = new Database(join(dir, 'data', 'sync.db'));
      try {
        return db.prepare(sql).all() as Record<string, unknown>[];
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

async function findPostgres(): Promise<string | null> {
  const configured = process.env.SPRUCE_SYNC_TEST_PG_URL;
  const base = 'postgres://127.0.0.1:5432/test';
  const candidates = configured ? [configured] : [base, `postgres://${userInfo().username}@127.0.0.1:5432/test`, 'postgres://postgres@127.0.0.1:5432/test'];
  for (const url of candidates) {
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
    try {
      await client.connect();
      await client.query('SELECT 1');
      return url;
    } catch {
      // Try the next one.
    } finally {
      await client.end().catch(() => {});
    }
  }
  return null;
}

const pgUrl = await findPostgres();
if (!pgUrl) {
  const shown = new URL(process.env.SPRUCE_SYNC_TEST_PG_URL ?? 'postgres://127.0.0.1:5432/test');
  shown.password = '';
  console.warn(`[fan-out store contract] PostgreSQL suite SKIPPED: cannot connect to ${shown.toString()}. Set SPRUCE_SYNC_TEST_PG_URL to run it.`);
}

let schemas = 0;
const postgresHarness: FanoutHarnessFactory = async ({ encryptionKey }) => {
  const url = pgUrl!;
  const schema = `fanout_contract_${process.pid}_${++schemas}_${Math.random().toString(36).slice(2, 8)}`;
  const stores: FanoutStore[] = [];
  const open = async () => {
    const store = await openFanoutStore(url, { schema, encryptionKey });
    stores.push(store);
    return store;
  };
  const withClient = async <T>(fn: (client: pg.Client) => Promise<T>): Promise<T> => {
    const client = new pg.Client({ connectionString: url, options: `-c search_path=${schema}` });
    await client.connect();
    try {
      return await fn(client);
    } finally {
      await client.end();
    }
  };
  return {
    store: await open(),
    openAnother: open,
    raw: (sql) => withClient(async (client) => (await client.query(sql)).rows as Record<string, unknown>[]),
    async cleanup() {
      for (const store of stores) await store.close().catch(() => {});
      await withClient((client) => client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`));
    },
  };
};

describe.skipIf(!pgUrl)('PostgreSQL', () => {
  fanoutStoreContract('PostgreSQL', postgresHarness);
});
