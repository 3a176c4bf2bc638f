// Measures how long calls wait for their rate limiter (our pacing of Spry's and Spruce's
// budgets) without the limiters knowing about metrics: a wrapper around acquire().
import type { Clock } from '../clock.ts';
import type { Permit, Priority, RequestLimiter } from '../http/types.ts';

export function timedLimiter(inner: RequestLimiter, clock: Clock, onWait: (waitedMs: number) => void): RequestLimiter {
  return {
    async acquire(priority: Priority, signal?: AbortSignal): Promise<Permit> {
      const started = clock.now();
      const permit = await inner.acquire(priority, signal);
      onWait(clock.now() - started);
      return permit;
    },
  };
}
