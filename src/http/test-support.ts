// Helpers for tests that drive real HTTP over loopback against small Fastify servers.
import type { FastifyInstance } from 'fastify';
import type { ControlledClock } from '../clock.ts';

/** Starts `app` on 127.0.0.1 on a free port; returns its base URL. */
export async function listen(app: FastifyInstance, prefix = ''): Promise<string> {
  const address = await app.listen({ port: 0, host: '127.0.0.1' });
  return `${address}${prefix}`;
}

/** Resolves once `condition` holds, polling in real time. */
export async function eventually(condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

/**
 * Moves a non-flowing clock forward `stepMs` per real millisecond or so while real I/O runs,
 * so paced calls over loopback finish in a fraction of the virtual time. Returns a stop function.
 */
export function autoAdvance(clock: ControlledClock, stepMs = 20): () => Promise<void> {
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      await clock.advance(stepMs);
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
  })();
  return async () => {
    stopped = true;
    await loop;
  };
}
