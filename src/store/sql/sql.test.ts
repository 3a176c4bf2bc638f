import { describe, expect, it } from 'vitest';
import { anyOf, assignments, eachOf, filterConditions, forUpdate, least, only, postgres, raw, render, sql, sqlite, where } from './sql.ts';

describe('sql rendering', () => {
  it('numbers PostgreSQL placeholders across nested fragments and leaves SQLite its ?', () => {
    const inner = sql`b = ${2} AND c = ${'x'}`;
    const query = sql`SELECT * FROM t WHERE a = ${1} AND ${inner} LIMIT ${10}`;
    expect(render(query, postgres)).toEqual({ text: 'SELECT * FROM t WHERE a = $1 AND b = $2 AND c = $3 LIMIT $4', params: [1, 2, 'x', 10] });
    expect(render(query, sqlite)).toEqual({ text: 'SELECT * FROM t WHERE a = ? AND b = ? AND c = ? LIMIT ?', params: [1, 2, 'x', 10] });
  });

  it('passes a list as one parameter: a JSON array for SQLite, an array for PostgreSQL', () => {
    const query = sql`SELECT id FROM jobs WHERE ${anyOf('tenant_id', ['t1', 't2'])}`;
    expect(render(query, sqlite)).toEqual({ text: 'SELECT id FROM jobs WHERE tenant_id IN (SELECT value FROM json_each(?))', params: ['["t1","t2"]'] });
    expect(render(query, postgres)).toEqual({ text: 'SELECT id FROM jobs WHERE tenant_id = ANY (CAST($1 AS text[]))', params: [['t1', 't2']] });
  });

  it('renders each dialect hook for its database only', () => {
    const query = sql`SELECT ${least(raw('a'), raw('b'))} FROM t ${only('sqlite', 'INDEXED BY i')} ${forUpdate}`;
    expect(render(query, sqlite).text).toBe('SELECT min(a, b) FROM t INDEXED BY i ');
    expect(render(query, postgres).text).toBe('SELECT least(a, b) FROM t  FOR UPDATE');
  });

  it('joins each row to its own top rows: a LATERAL subquery on PostgreSQL, a correlated id list on SQLite', () => {
    const query = sql`SELECT c.id FROM g ${eachOf('jobs', 'c', sql`SELECT id, run_at FROM jobs WHERE tenant_id = g.id ORDER BY run_at LIMIT ${2}`)}`;
    expect(render(query, postgres)).toEqual({
      text: 'SELECT c.id FROM g CROSS JOIN LATERAL (SELECT id, run_at FROM jobs WHERE tenant_id = g.id ORDER BY run_at LIMIT $1) c',
      params: [2],
    });
    expect(render(query, sqlite).text).toBe(
      'SELECT c.id FROM g CROSS JOIN jobs c ON c.id IN (SELECT id FROM (SELECT id, run_at FROM jobs WHERE tenant_id = g.id ORDER BY run_at LIMIT ?) c_ids)',
    );
  });

  it('binds booleans as 0/1 for SQLite and as booleans for PostgreSQL', () => {
    const query = sql`UPDATE s SET ${assignments({ ordered: true, phi: false })}`;
    expect(render(query, sqlite)).toEqual({ text: 'UPDATE s SET ordered = ?, phi = ?', params: [1, 0] });
    expect(render(query, postgres).params).toEqual([true, false]);
  });

  it('builds WHERE from filters, and nothing from none', () => {
    expect(render(sql`SELECT 1 ${where([])}`, postgres).text).toBe('SELECT 1 ');
    const filtered = sql`SELECT 1 ${where(filterConditions([['a', '>=', 5], ['code', 'starts', 'X:']]))}`;
    expect(render(filtered, postgres)).toEqual({
      text: 'SELECT 1 WHERE a >= $1 AND substr(code, 1, length(CAST($2 AS TEXT))) = CAST($3 AS TEXT)',
      params: [5, 'X:', 'X:'],
    });
  });
});
