// Spry pages are 1-based (`page`, `size`) and say how many pages there are.
import { contractMismatch } from './contract.ts';
import type { SpryPage } from './types.ts';

/** Every item of every page, fetched one page at a time as the caller consumes them. */
export async function* spryItems<T>(fetchPage: (page: number) => Promise<SpryPage<T>>): AsyncGenerator<T> {
  for (let page = 1; ; page++) {
    const result = await fetchPage(page);
    yield* result.content;
    if (result.content.length === 0 || page >= result.pages) return;
  }
}

export function asSpryPage<T>(data: unknown, route: string): SpryPage<T> {
  const page = data as Partial<SpryPage<T>> | null | undefined;
  if (!page || !Array.isArray(page.content)) {
    throw contractMismatch('without a page (no content list)', { route, status: 200 });
  }
  return {
    total: page.total ?? page.content.length,
    pages: page.pages ?? 1,
    current: page.current ?? 1,
    no_of_records: page.no_of_records ?? page.content.length,
    is_paged: page.is_paged ?? true,
    content: page.content,
  };
}

/** A list that Spry may send bare or as a page. */
export function asSpryList<T>(data: unknown, route: string): T[] {
  return Array.isArray(data) ? (data as T[]) : asSpryPage<T>(data, route).content;
}
