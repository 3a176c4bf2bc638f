// Key rotation: every sealed column re-sealed with the current key, a batch at a time, while the
// service keeps running. Each row is swapped only if it still holds the value read (a writer may
// have replaced it meanwhile, then with the current key already), so nothing newer is lost.
import type { Cipher, SealContext } from '../cipher.ts';
import { isSealedValue } from '../cipher.ts';
import { join, raw, sql, where, type Db, type Sql } from './sql.ts';

type Row = Record<string, unknown> & { sealed_value: unknown };

/** One column that holds sealed values, and how to name its rows. */
export interface SealedColumn {
  table: string;
  column: string;
  /** Unique, in paging order. */
  key: readonly string[];
  /** Further columns the context needs. */
  columns?: readonly string[];
  context(row: Record<string, unknown>): SealContext;
  /** Only these rows hold sealed values. */
  filter?: Sql;
  /** Kept as base64 text (the state table holds text); a value left in plaintext is the secret itself. */
  base64?: boolean;
}

export interface ResealOptions {
  /** Rows per transaction; default 500. */
  batchSize?: number;
  /** After each batch, with the column's counts so far. */
  onProgress?: (column: string, counts: ResealCounts) => void;
}

export interface ResealCounts {
  /** Re-sealed with the current key (from an older key, SSE1, or plaintext). */
  resealed: number;
  /** Already sealed with the current key, or empty (a pruned payload). */
  current: number;
  /** Changed by a writer between our read and our write: run rekey again to be sure. */
  changedMeanwhile: number;
}

/** Counts per `table.column`. */
export type ResealReport = Record<string, ResealCounts>;

export async function resealColumns(db: Db, cipher: Cipher, columns: readonly SealedColumn[], options: ResealOptions = {}): Promise<ResealReport> {
  const report: ResealReport = {};
  for (const spec of columns) {
    const name = `${spec.table}.${spec.column}`;
    report[name] = await resealColumn(db, cipher, spec, options.batchSize ?? 500, (counts) => options.onProgress?.(name, counts));
  }
  return report;
}

async function resealColumn(db: Db, cipher: Cipher, spec: SealedColumn, batchSize: number, onProgress: (counts: ResealCounts) => void): Promise<ResealCounts> {
  const counts: ResealCounts = { resealed: 0, current: 0, changedMeanwhile: 0 };
  const selected = raw([...new Set([...spec.key, ...(spec.columns ?? [])])].join(', '));
  const key = raw(spec.key.join(', '));
  const table = raw(spec.table);
  const column = raw(spec.column);
  let after: unknown[] | null = null;
  for (;;) {
    const conditions: Sql[] = [spec.filter, after && sql`(${key}) > (${join(after.map((v) => sql`${v}`), ', ')})`].filter((c): c is Sql => Boolean(c));
    const rows: Row[] = await db.all<Row>(sql`SELECT ${selected}, ${column} AS sealed_value FROM ${table} ${where(conditions)} ORDER BY ${key} LIMIT ${batchSize}`);
    if (rows.length === 0) return counts;
    await db.transaction(async (tx) => {
      for (const row of rows) {
        const value = resealed(cipher, spec, row);
        if (value === null) {
          counts.current++;
          continue;
        }
        const match = join(spec.key.map((c) => sql`${raw(c)} = ${row[c]}`), ' AND ');
        const changed = await tx.run(sql`UPDATE ${table} SET ${column} = ${value} WHERE ${match} AND ${column} = ${row.sealed_value}`);
        if (changed > 0) counts.resealed++;
        else counts.changedMeanwhile++;
      }
    });
    onProgress(counts);
    const last: Row = rows[rows.length - 1]!;
    after = spec.key.map((c): unknown => last[c]);
  }
}

/** The row's value sealed with the current key, or null when it already is (or is empty). */
function resealed(cipher: Cipher, spec: SealedColumn, row: Row): Buffer | string | null {
  const context = spec.context(row);
  if (spec.base64) {
    const text = String(row.sealed_value);
    const bytes = Buffer.from(text, 'base64');
    if (text === '' || cipher.sealedWithCurrentKey(bytes)) return null;
    const plain = isSealedValue(bytes) ? cipher.open(bytes, context) : Buffer.from(text, 'utf8');
    return cipher.seal(plain, context).toString('base64');
  }
  const stored = Buffer.from(row.sealed_value as Uint8Array);
  if (stored.length === 0 || cipher.sealedWithCurrentKey(stored)) return null;
  return cipher.seal(cipher.open(stored, context), context);
}
