// Runs the Store contract against SQLite (a real temp file) and PostgreSQL (a fresh schema per
// test), plus what only one adapter or openStore has to prove.
import Database from 'better-sqlite3';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SyncError } from '../../src/errors.ts';
import type { EncryptionOptions } from '../../src/store/cipher.ts';
import { openStore } from '../../src/store/open-store.ts';
import { migrations as postgresMigrations } from '../../src/store/postgres/migrations.ts';
import { migrations as sqliteMigrations } from '../../src/store/sqlite/migrations.ts';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.ts';
import type { NewInboundEvent, Store } from '../../src/store/types.ts';
import { dropSchema, findPostgres, schemaQuery, skipNotice, uniqueSchema } from '../support/postgres.ts';
import { fairClaimContract } from './fair-claim.suite.ts';
import { storeContract, type HarnessFactory } from './store.suite.ts';

// SQLite ---------------------------------------------------------------------------------------

const sqliteHarness: HarnessFactory = async ({ encryptionKey }) => {
  const dir = mkdtempSync(join(tmpdir(), 'spruce-sync-store-'));
  // A folder that does not exist yet: openStore creates it.
  const file = join(dir, 'data', 'sync.db');
  const stores: Store[] = [];
  const open = async (keys?: EncryptionOptions) => {
    const store = await openStore(`sqlite:${file}`, { ...keys });
    stores.push(store);
    return store;
  };
  return {
    store: await open({ encryptionKey }),
    openAnother: (options) => open(options),
    emptyBlob: `X''`,
    async raw(sql) {
      // Straight to the file: staged events first filed where the statements look for them.
      for (const store of stores) await store.settleInbox();
      const db = new Database(file);
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

storeContract('SQLite', sqliteHarness);
fairClaimContract('SQLite', sqliteHarness);

// PostgreSQL -----------------------------------------------------------------------------------

const pgUrl = await findPostgres();
if (!pgUrl) console.warn(skipNotice('store contract'));

const postgresHarness: HarnessFactory = async ({ encryptionKey }) => {
  const url = pgUrl!;
  const schema = uniqueSchema('store_contract');
  const stores: Store[] = [];
  const open = async (keys?: EncryptionOptions) => {
    const store = await openStore(url, { schema, ...keys });
    stores.push(store);
    return store;
  };
  return {
    store: await open({ encryptionKey }),
    openAnother: (options) => open(options),
    emptyBlob: `''::bytea`,
    raw: (sql) => schemaQuery(url, schema, sql),
    async cleanup() {
      for (const store of stores) await store.close().catch(() => {});
      await dropSchema(url, schema);
    },
  };
};

describe.skipIf(!pgUrl)('PostgreSQL', () => {
  storeContract('PostgreSQL', postgresHarness);
  fairClaimContract('PostgreSQL', postgresHarness);
});

// SQLite only -----------------------------------------------------------------------------------

function event(i: number, extra: Partial<NewInboundEvent> = {}): NewInboundEvent {
  return {
    tenantId: 't1',
    source: 'spry',
    eventKey: `e-${i}`,
    type: 'patient.updated',
    occurredAt: 1,
    receivedAt: 2,
    payload: Buffer.from('{}'),
    subject: { patientId: i },
    status: 'queued',
    job: { key: `spry-patient:t1:${i}`, task: 'spry.patient', params: { patientId: i } },
    ...extra,
  };
}

describe('SQLite group commit', () => {
  const open: SqliteStore[] = [];
  afterEach(async () => {
    for (const store of open.splice(0)) await store.close();
  });

  it('writes inserts issued in the same tick in one transaction', async () => {
    const store = new SqliteStore(':memory:');
    open.push(store);
    await store.migrate();
    const results = await Promise.all(Array.from({ length: 200 }, (_, i) => store.insertEvent(event(i))));
    expect(results.every((r) => r.inserted)).toBe(true);
    expect(store.insertStats).toEqual({ batches: 1, items: 200 });
    await store.insertEvent(event(1000));
    expect(store.insertStats).toEqual({ batches: 2, items: 201 });
  });

  it('fails only the insert that broke, and commits the rest of its batch', async () => {
    const store = new SqliteStore(':memory:');
    open.push(store);
    await store.migrate();
    const broken = { ...event(2), type: null } as unknown as NewInboundEvent;
    const [a, b, c] = await Promise.allSettled([store.insertEvent(event(1)), store.insertEvent(broken), store.insertEvent(event(3))]);
    expect(a.status).toBe('fulfilled');
    expect(b.status).toBe('rejected');
    expect(c.status).toBe('fulfilled');
    expect((await store.searchEvents({ limit: 10 })).map((e) => e.eventKey)).toEqual(['e-3', 'e-1']);
    // The broken event's job was rolled back with it.
    const jobs = await store.claimJobs({ workerId: 'w', now: 10, leaseMs: 1000, limit: 10 });
    expect(jobs.map((j) => j.key).sort()).toEqual(['spry-patient:t1:1', 'spry-patient:t1:3']);
  });

  it('commits pending inserts before closing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'spruce-sync-close-'));
    try {
      const file = join(dir, 'x.db');
      const store = new SqliteStore(file, { synchronous: 'NORMAL' });
      await store.migrate();
      const pending = Promise.all([1, 2, 3].map((i) => store.insertEvent(event(i))));
      await store.close();
      await pending;
      const reopened = new SqliteStore(file);
      open.push(reopened);
      expect((await reopened.searchEvents({ limit: 10 })).length).toBe(3);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('openStore', () => {
  it('opens sqlite: paths (creating the folder) and sqlite::memory:', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'spruce-sync-open-'));
    try {
      const file = join(dir, 'a', 'b', 'sync.db');
      const onDisk = await openStore(`sqlite:${file}`);
      await onDisk.ping();
      await onDisk.close();
      expect(existsSync(file)).toBe(true);
      const memory = await openStore('sqlite::memory:');
      await memory.setState('t', 'k', 'v');
      expect(await memory.getState('t', 'k')).toBe('v');
      await memory.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('rejects an unknown scheme or a bad key with CONFIG_INVALID, without echoing secrets', async () => {
    const error = await openStore('mysql://admin:hunter2@db/x').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SyncError);
    expect(error).toMatchObject({ code: 'CONFIG_INVALID', retryable: false });
    expect((error as Error).message).not.toContain('hunter2');
    await expect(openStore('sqlite::memory:', { encryptionKey: 'too-short-secret' })).rejects.toMatchObject({
      code: 'CONFIG_INVALID',
      message: expect.not.stringContaining('too-short-secret'),
    });
    await expect(openStore('postgres://u@127.0.0.1/x', { schema: 'x; DROP TABLE y' })).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
  });
});

describe('migrations', () => {
  it.each([
    ['SQLite', sqliteMigrations],
    ['PostgreSQL', postgresMigrations],
  ])('%s versions are unique and increasing, so each step applies once, in order', (_name, steps) => {
    const versions = steps.map((step) => step.version);
    expect(versions).toEqual([...new Set(versions)].sort((a, b) => a - b));
  });
});
