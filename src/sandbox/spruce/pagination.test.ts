import { describe, expect, it } from 'vitest';
import { ApiError } from './errors.ts';
import { paginate } from './pagination.ts';

const ids = (n: number) => Array.from({ length: n }, (_, i) => `id_${String(i).padStart(4, '0')}`);

describe('paginate', () => {
  it('walks every item once with opaque keyset tokens', () => {
    const items = ids(25);
    const seen: string[] = [];
    let token: string | undefined;
    let pages = 0;
    do {
      const page = paginate(items, (x) => [x], { kind: 'k', token, pageSize: 10 });
      seen.push(...page.items);
      token = page.paginationToken;
      pages++;
      expect(page.hasMore).toBe(token !== undefined);
    } while (token);
    expect(seen).toEqual(items);
    expect(pages).toBe(3);
  });

  it('does not skip or repeat when items are inserted before the cursor mid-walk', () => {
    const items = ids(10).filter((_, i) => i % 2 === 0); // 0,2,4,6,8
    const first = paginate(items, (x) => [x], { kind: 'k', pageSize: 2 });
    items.splice(1, 0, 'id_0001'); // lands before the cursor
    const second = paginate(items, (x) => [x], { kind: 'k', token: first.paginationToken, pageSize: 2 });
    expect(first.items).toEqual(['id_0000', 'id_0002']);
    expect(second.items).toEqual(['id_0004', 'id_0006']);
  });

  it('walks descending lists', () => {
    const items = ids(5).reverse();
    const first = paginate(items, (x) => [x], { kind: 'k', pageSize: 3, descending: true });
    const second = paginate(items, (x) => [x], { kind: 'k', token: first.paginationToken, pageSize: 3, descending: true });
    expect([...first.items, ...second.items]).toEqual(items);
    expect(second.hasMore).toBe(false);
  });

  it('refuses garbage, a token of another listing or of another query with 400', () => {
    const page = paginate(ids(5), (x) => [x], { kind: 'a', pageSize: 1, query: 'q1' });
    for (const attempt of [
      () => paginate(ids(5), (x) => [x], { kind: 'a', token: 'not-a-token', pageSize: 1 }),
      () => paginate(ids(5), (x) => [x], { kind: 'b', token: page.paginationToken, pageSize: 1, query: 'q1' }),
      () => paginate(ids(5), (x) => [x], { kind: 'a', token: page.paginationToken, pageSize: 1, query: 'q2' }),
    ]) {
      expect(attempt).toThrow(ApiError);
    }
  });
});
