import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { sql } from '../sql/sql.ts';
import { SqliteDb, type SqliteOptions } from './db.ts';

const dirs: string[] = [];
const open: SqliteDb[] = [];
afterEach(() => {
  for (const db of open.splice(0)) db.close();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function file(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'spruce-sync-db-'));
  dirs.push(dir);
  return path.join(dir, 'x.db');
}

function connect(filename: string, options: SqliteOptions): SqliteDb {
  const db = new SqliteDb(filename, options);
  open.push(db);
  return db;
}

/** SQLite's synchronous level of the connection: 1 NORMAL, 2 FULL. */
const level = (db: SqliteDb) => db.db.pragma('synchronous', { simple: true });

describe('SqliteDb durability', () => {
  it('with FULL, fsyncs the commits of durable transactions only', async () => {
    const db = connect(file(), { synchronous: 'FULL' });
    db.db.exec('CREATE TABLE t (v INTEGER)');
    expect(level(db)).toBe(1);
    expect(await db.durableTransaction(async (tx) => (await tx.run(sql`INSERT INTO t VALUES (1)`), level(db)))).toBe(2);
    expect(level(db)).toBe(1);
    expect(await db.transaction(async (tx) => (await tx.run(sql`INSERT INTO t VALUES (2)`), level(db)))).toBe(1);
    // A failed durable transaction is rolled back and leaves the connection as it was.
    await expect(db.durableTransaction((tx) => tx.run(sql`INSERT INTO nowhere VALUES (3)`))).rejects.toThrow();
    expect(level(db)).toBe(1);
    expect(await db.all(sql`SELECT v FROM t ORDER BY v`)).toEqual([{ v: 1 }, { v: 2 }]);
  });

  it('with NORMAL, fsyncs no commit', async () => {
    const db = connect(file(), { synchronous: 'NORMAL' });
    expect(await db.durableTransaction(async () => level(db))).toBe(1);
  });
});

describe('SqliteDb transactions', () => {
  it('makes another connection of this process on the file wait for an open transaction, not block on its lock', async () => {
    const filename = file();
    // A short busy timeout: without waiting its turn, the second write fails with SQLITE_BUSY.
    const a = connect(filename, { busyTimeoutMs: 20 });
    const b = connect(filename, { busyTimeoutMs: 20 });
    a.db.exec('CREATE TABLE t (v INTEGER)');
    const order: string[] = [];
    let write: Promise<unknown> | undefined;
    await a.transaction(async (tx) => {
      await tx.run(sql`INSERT INTO t VALUES (1)`);
      write = b.run(sql`INSERT INTO t VALUES (2)`).then(() => order.push('b wrote'));
      // Holds the transaction open across a turn of the event loop.
      await new Promise((resolve) => setImmediate(resolve));
      order.push('a committing');
    });
    await write;
    expect(order).toEqual(['a committing', 'b wrote']);
    expect(await b.all(sql`SELECT v FROM t ORDER BY v`)).toEqual([{ v: 1 }, { v: 2 }]);
  });

  it('rolls back a savepoint alone, and the whole transaction on an error', async () => {
    const db = connect(':memory:', {});
    db.db.exec('CREATE TABLE t (v INTEGER)');
    await db.transaction(async (tx) => {
      await tx.run(sql`INSERT INTO t VALUES (1)`);
      await expect(tx.transaction(async (inner) => (await inner.run(sql`INSERT INTO t VALUES (2)`), Promise.reject(new Error('no'))))).rejects.toThrow('no');
    });
    await expect(db.transaction(async (tx) => (await tx.run(sql`INSERT INTO t VALUES (3)`), Promise.reject(new Error('no'))))).rejects.toThrow('no');
    expect(await db.all(sql`SELECT v FROM t`)).toEqual([{ v: 1 }]);
  });
});
