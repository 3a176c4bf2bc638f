// Cursor pagination as Spruce documents it: `pageSize` + opaque `paginationToken` in,
// `hasMore` + `paginationToken` (+ `totalCount`) out. Tokens are keyset cursors (the last key
// served), so records created or deleted mid-walk never make a walk skip or repeat the others.
import { createHash } from 'node:crypto';
import { badParameter } from './errors.ts';

interface Cursor {
  /** Which listing the token belongs to (a contacts token is no good for items). */
  k: string;
  /** Hash of the query it was issued for. */
  q?: string;
  /** Last key served. */
  a: (string | number)[];
}

export function queryHash(value: unknown): string {
  return createHash('sha256').update(JSON.stringify(value ?? null)).digest('base64url').slice(0, 12);
}

export function encodeToken(cursor: Cursor): string {
  return Buffer.from(JSON.stringify(cursor)).toString('base64url');
}

/** The last key of the previous page, or undefined on the first page; 400 on a bad token. */
export function decodeToken(token: unknown, kind: string, query?: string): (string | number)[] | undefined {
  if (token === undefined || token === '') return undefined;
  let cursor: Cursor;
  try {
    cursor = JSON.parse(Buffer.from(String(token), 'base64url').toString('utf8')) as Cursor;
  } catch {
    throw badParameter('invalid paginationToken');
  }
  if (!cursor || typeof cursor !== 'object' || cursor.k !== kind || !Array.isArray(cursor.a)) {
    throw badParameter('invalid paginationToken');
  }
  if (query !== undefined && cursor.q !== query) throw badParameter('paginationToken was issued for a different query');
  return cursor.a;
}

export function compareKeys(a: (string | number)[], b: (string | number)[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const x = a[i];
    const y = b[i];
    if (x === y) continue;
    if (x === undefined) return -1;
    if (y === undefined) return 1;
    return x < y ? -1 : 1;
  }
  return 0;
}

export interface Page<T> {
  items: T[];
  hasMore: boolean;
  paginationToken?: string;
}

/**
 * One page of `sorted` (ascending by `key`, or descending when `descending`), after the key
 * in `token`.
 */
export function paginate<T>(
  sorted: T[],
  key: (item: T) => (string | number)[],
  options: { kind: string; token?: unknown; pageSize: number; query?: string; descending?: boolean },
): Page<T> {
  const after = decodeToken(options.token, options.kind, options.query);
  const direction = options.descending ? -1 : 1;
  let start = 0;
  if (after) {
    // Binary search for the first item strictly past the cursor in walk order.
    let lo = 0;
    let hi = sorted.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (direction * compareKeys(key(sorted[mid]!), after) <= 0) lo = mid + 1;
      else hi = mid;
    }
    start = lo;
  }
  const items = sorted.slice(start, start + options.pageSize);
  const hasMore = start + options.pageSize < sorted.length;
  const page: Page<T> = { items, hasMore };
  if (hasMore && items.length > 0) {
    page.paginationToken = encodeToken({ k: options.kind, q: options.query, a: key(items[items.length - 1]!) });
  }
  return page;
}
