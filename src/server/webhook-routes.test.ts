import Fastify from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { ControlledClock } from '../clock.ts';
import { createLogger } from '../observe/logger.ts';
import { SqliteStore } from '../store/sqlite/sqlite-store.ts';
import { IngestLoad } from './ingest-load.ts';
import { webhookRoutes } from './webhook-routes.ts';

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

describe('webhook routes and the ingest load', () => {
  it('count a delivery in hand from its arrival until its answer, refused ones too', async () => {
    const store = new SqliteStore(':memory:');
    await store.migrate();
    closers.push(() => store.close());
    const load = new IngestLoad({ burstAbove: 0, maxHoldMs: 5_000, now: () => 0 });
    const seenInHand: number[] = [];
    const app = Fastify();
    closers.push(() => app.close());
    await app.register(webhookRoutes, {
      tenants: new Map(),
      store,
      clock: new ControlledClock({ flowing: false }),
      logger: createLogger({ level: 'silent' }),
      bodyLimitBytes: 1024,
      coalesceMs: 0,
      maxAttempts: 3,
      onQueued: () => {},
      onOutcome: () => seenInHand.push(load.current),
      load,
    });
    const answers = await Promise.all(
      ['spry', 'spruce'].map((source) => app.inject({ method: 'POST', url: `/webhooks/${source}/nobody`, payload: '{}', headers: { 'content-type': 'application/json' } })),
    );
    expect(answers.map((a) => a.statusCode)).toEqual([404, 404]);
    expect(seenInHand.every((n) => n >= 1)).toBe(true);
    expect(load.current).toBe(0);
  });
});
