import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Sqlite } from './db.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function open(synchronous: 'FULL' | 'NORMAL'): Sqlite {
  const dir = mkdtempSync(path.join(tmpdir(), 'spruce-sync-db-'));
  dirs.push(dir);
  const sql = new Sqlite(path.join(dir, 'x.db'), { synchronous });
  sql.db.exec('CREATE TABLE t (v INTEGER)');
  return sql;
}

/** SQLite's synchronous level of the connection: 1 NORMAL, 2 FULL. */
const level = (sql: Sqlite) => sql.db.pragma('synchronous', { simple: true });

describe('Sqlite durability', () => {
  it('with FULL, fsyncs the commits of durable writes only', () => {
    const sql = open('FULL');
    expect(level(sql)).toBe(1);
    expect(sql.durableWrite(() => (sql.run('INSERT INTO t VALUES (1)'), level(sql)))).toBe(2);
    expect(level(sql)).toBe(1);
    expect(sql.write(() => (sql.run('INSERT INTO t VALUES (2)'), level(sql)))).toBe(1);
    // A failed durable write is rolled back and leaves the connection as it was.
    expect(() => sql.durableWrite(() => sql.run('INSERT INTO nowhere VALUES (3)'))).toThrow();
    expect(level(sql)).toBe(1);
    expect(sql.all('SELECT v FROM t ORDER BY v')).toEqual([{ v: 1 }, { v: 2 }]);
    sql.close();
  });

  it('with NORMAL, fsyncs no commit', () => {
    const sql = open('NORMAL');
    expect(sql.durableWrite(() => level(sql))).toBe(1);
    sql.close();
  });
});
