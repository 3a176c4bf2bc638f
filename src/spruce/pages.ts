// Spruce pages: `pageSize` + `paginationToken` in, `hasMore` + `paginationToken` out, with the
// items under a key that differs per resource.
import { SyncError } from '../errors.ts';
import type { SprucePage } from './types.ts';

/** Largest pages the OpenAPI allows. */
export const MAX_PAGE = { contacts: 500, search: 500, tags: 500, fields: 500, conversations: 200, items: 200 } as const;

export function clampPageSize(pageSize: number | undefined, max: number): number | undefined {
  return pageSize === undefined ? undefined : Math.min(max, Math.max(1, Math.floor(pageSize)));
}

interface ListAnswer {
  hasMore?: boolean;
  paginationToken?: string;
  totalCount?: number;
}

/** Reads a list answer into our page shape; a missing list is a broken answer, not an empty one. */
export function toPage<T, K extends string>(body: unknown, key: K, route: string): SprucePage<T> {
  const answer = body as (ListAnswer & Record<K, T[] | undefined>) | undefined;
  const items = answer?.[key];
  if (!Array.isArray(items)) {
    throw new SyncError('SPRUCE_UNAVAILABLE', `Spruce ${route} answered without ${key}`, { retryable: true });
  }
  return {
    items,
    hasMore: answer?.hasMore === true,
    ...(answer?.paginationToken ? { paginationToken: answer.paginationToken } : {}),
    ...(answer?.totalCount !== undefined ? { totalCount: answer.totalCount } : {}),
  };
}

/** Every item of every page, fetched one page at a time as the caller consumes them. */
export async function* spruceItems<T>(
  fetchPage: (paginationToken: string | undefined) => Promise<SprucePage<T>>,
): AsyncGenerator<T> {
  const seen = new Set<string>();
  let token: string | undefined;
  for (;;) {
    const page = await fetchPage(token);
    yield* page.items;
    if (!page.hasMore || !page.paginationToken) return;
    // A token seen before would loop forever; stop loudly instead.
    if (seen.has(page.paginationToken)) {
      throw new SyncError('SPRUCE_UNAVAILABLE', 'Spruce repeated a pagination token', { retryable: true });
    }
    seen.add(page.paginationToken);
    token = page.paginationToken;
  }
}

export async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const all: T[] = [];
  for await (const item of items) all.push(item);
  return all;
}
