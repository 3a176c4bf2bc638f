import { chmodSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
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

  it('lets transactions that waited together take the file one at a time', async () => {
    const db = connect(file(), {});
    db.db.exec('CREATE TABLE t (v INTEGER)');
    let letGo!: () => void;
    let opened!: () => void;
    const isOpen = new Promise<void>((resolve) => (opened = resolve));
    const held = db.transaction(async (tx) => {
      await tx.run(sql`INSERT INTO t VALUES (0)`);
      await new Promise<void>((resolve) => ((letGo = resolve), opened()));
    });
    await isOpen;
    // Three transactions and a plain statement queue behind the open one and wake together:
    // each must begin only when the one before it has committed (a second BEGIN would throw).
    const waiting = [1, 2, 3].map((v) =>
      db.transaction(async (tx) => {
        await tx.run(sql`INSERT INTO t VALUES (${v})`);
        await new Promise((resolve) => setImmediate(resolve));
        await tx.run(sql`INSERT INTO t VALUES (${v * 10})`);
      }),
    );
    const plain = db.run(sql`INSERT INTO t VALUES (100)`);
    letGo();
    await held;
    await Promise.all([...waiting, plain]);
    expect((await db.all<{ v: number }>(sql`SELECT v FROM t ORDER BY v`)).map((r) => r.v)).toEqual([0, 1, 2, 3, 10, 20, 30, 100]);
  });

  it('keeps FULL through the commit of a durable transaction that waited behind another', async () => {
    const db = connect(file(), { synchronous: 'FULL' });
    db.db.exec('CREATE TABLE t (v INTEGER)');
    const levels = await Promise.all(
      [1, 2, 3].map((v) =>
        db.durableTransaction(async (tx) => {
          await new Promise((resolve) => setImmediate(resolve));
          await tx.run(sql`INSERT INTO t VALUES (${v})`);
          return level(db);
        }),
      ),
    );
    expect(levels).toEqual([2, 2, 2]);
    expect(level(db)).toBe(1);
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

describe('SqliteDb files', () => {
  it('are readable by their owner only: the database, its WAL and shared memory, whatever the umask', async () => {
    const name = file();
    const previous = process.umask(0o022);
    try {
      const db = connect(name, {});
      await db.run(sql`CREATE TABLE t (v TEXT)`);
      await db.run(sql`INSERT INTO t VALUES ('x')`);
    } finally {
      process.umask(previous);
    }
    for (const f of [name, `${name}-wal`, `${name}-shm`]) expect(statSync(f).mode & 0o777, f).toBe(0o600);
  });

  it('tightens a database made world-readable before', () => {
    const name = file();
    writeFileSync(name, '');
    chmodSync(name, 0o644);
    connect(name, {});
    expect(statSync(name).mode & 0o777).toBe(0o600);
  });
});
