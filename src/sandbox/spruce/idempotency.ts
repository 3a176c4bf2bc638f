// `s-idempotency-key` (≤ 255 chars) on POST and PATCH, kept 24 h: a repeat of a key on the same
// path is rejected with 422 and the first response is NOT replayed [doc].
// [ours] Keys are per organization and path. A key is taken when the request reaches its
// handler and given back unless the handler carried the request out, so a 422 always means
// "the first attempt landed" (a request refused by auth, rate limit or validation never consumed
// its key), including when that landing's answer was lost (an injected ambiguous failure).
import { ApiError, badParameter } from './errors.ts';

export const IDEMPOTENCY_TTL_MS = 24 * 60 * 60_000;
export const IDEMPOTENCY_KEY_MAX = 255;

export class IdempotencyStore {
  private readonly keys = new Map<string, number>();

  reset(): void {
    this.keys.clear();
  }

  /** Takes the key for this request or throws 422 (repeat) / 400 (too long). */
  take(orgId: string, path: string, key: string, now: number): string {
    if (key.length > IDEMPOTENCY_KEY_MAX) throw badParameter(`s-idempotency-key must be at most ${IDEMPOTENCY_KEY_MAX} characters`);
    if (key.length === 0) throw badParameter('s-idempotency-key must not be empty');
    this.prune(now);
    const slot = `${orgId}\u0000${path}\u0000${key}`;
    const at = this.keys.get(slot);
    if (at !== undefined && now - at < IDEMPOTENCY_TTL_MS) {
      throw new ApiError(422, 'DUPLICATE_REQUEST', 'a request with this s-idempotency-key was already made on this path');
    }
    this.keys.delete(slot); // re-inserted at the back: the map stays in time order
    this.keys.set(slot, now);
    return slot;
  }

  release(slot: string): void {
    this.keys.delete(slot);
  }

  private prune(now: number): void {
    // Insertion order is time order, so expired keys are at the front.
    for (const [slot, at] of this.keys) {
      if (now - at < IDEMPOTENCY_TTL_MS) break;
      this.keys.delete(slot);
    }
  }
}
