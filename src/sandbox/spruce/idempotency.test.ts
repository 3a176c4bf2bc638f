import { describe, expect, it } from 'vitest';
import { ApiError } from './errors.ts';
import { IDEMPOTENCY_TTL_MS, IdempotencyStore } from './idempotency.ts';

const status = (fn: () => unknown) => {
  try {
    fn();
    return 'ok';
  } catch (error) {
    return (error as ApiError).statusCode;
  }
};

describe('IdempotencyStore', () => {
  it('rejects a repeat on the same path within 24 h with 422, and allows it elsewhere or later', () => {
    const store = new IdempotencyStore();
    expect(status(() => store.take('org', '/v1/contacts', 'k', 0))).toBe('ok');
    expect(status(() => store.take('org', '/v1/contacts', 'k', IDEMPOTENCY_TTL_MS - 1))).toBe(422);
    expect(status(() => store.take('org', '/v1/contacts/search', 'k', 10))).toBe('ok');
    expect(status(() => store.take('other-org', '/v1/contacts', 'k', 10))).toBe('ok');
    expect(status(() => store.take('org', '/v1/contacts', 'k', IDEMPOTENCY_TTL_MS))).toBe('ok');
  });

  it('gives a released key back and refuses keys over 255 characters', () => {
    const store = new IdempotencyStore();
    store.release(store.take('org', '/p', 'k', 0));
    expect(status(() => store.take('org', '/p', 'k', 1))).toBe('ok');
    expect(status(() => store.take('org', '/p', 'x'.repeat(255), 1))).toBe('ok');
    expect(status(() => store.take('org', '/p', 'x'.repeat(256), 1))).toBe(400);
  });
});
