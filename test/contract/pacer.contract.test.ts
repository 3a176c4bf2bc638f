// Shared API budgets on PostgreSQL: pacers and token buckets of several "instances" on one row
// together stay under the limit the remote system enforces, and the in-flight count of an
// instance that died expires.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/clock.ts';
import { SharedPacerState, type SharedPacerRecord } from '../../src/http/pacer-state-postgres.ts';
import { RatePacer } from '../../src/http/rate-pacer.ts';
import { TokenBucket, type BucketState } from '../../src/http/token-bucket.ts';
import type { ResponseObservation } from '../../src/http/types.ts';
import { OrgRateLimiter } from '../../src/sandbox/spry/rate-limit.ts';
import { openStore } from '../../src/store/open-store.ts';
import { PostgresStore } from '../../src/store/postgres/postgres-store.ts';
import { dropSchema, findPostgres, skipNotice, uniqueSchema } from '../support/postgres.ts';

const pgUrl = await findPostgres();
if (!pgUrl) console.warn(skipNotice('shared budgets'));

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Spruce's limit as its sandbox enforces it: fixed windows opened by the first request after the
 * previous one closed; every answered request counts, a refused one does not.
 */
class WindowedLimit {
  private start = 0;
  private count = 0;
  served = 0;
  refused = 0;
  windows = 0;

  constructor(
    private readonly limit: number,
    private readonly windowMs: number,
  ) {}

  answer(): ResponseObservation {
    const now = Date.now();
    if (now >= this.start + this.windowMs) {
      this.start = now;
      this.count = 0;
      this.windows++;
    }
    if (this.count >= this.limit) {
      this.refused++;
      const retryAfterSeconds = Math.max(1, Math.ceil((this.start + this.windowMs - now) / 1000));
      return { status: 429, retryAfterSeconds, headers: { 's-ratelimit-limit': String(this.limit), 's-ratelimit-remaining': '0' } };
    }
    this.count++;
    this.served++;
    return { status: 200, headers: { 's-ratelimit-limit': String(this.limit), 's-ratelimit-remaining': String(this.limit - this.count) } };
  }
}

describe.skipIf(!pgUrl)('shared API budgets on PostgreSQL', () => {
  const schema = uniqueSchema('budgets');
  let store: PostgresStore;
  let rows = 0;

  beforeAll(async () => {
    store = (await openStore(pgUrl!, { schema })) as PostgresStore;
  });
  afterAll(async () => {
    await store?.close();
    if (pgUrl) await dropSchema(pgUrl, schema);
  });

  /** N pacers on one fresh row, as N instances of one tenant would have. */
  function pacers(n: number, options: { windowSeconds?: number; inFlightTtlMs?: number; burstAbove?: number } = {}): RatePacer[] {
    const row = `spruce-${++rows}`;
    return Array.from(
      { length: n },
      (_, i) =>
        new RatePacer({
          windowSeconds: options.windowSeconds ?? 60,
          burstAbove: options.burstAbove,
          state: new SharedPacerState({
            record: store.sharedRow<SharedPacerRecord | null>('tenant-a', row, null),
            instanceId: `instance-${i}`,
            clock: systemClock,
            inFlightTtlMs: options.inFlightTtlMs,
          }),
        }),
    );
  }

  it('three pacers on one row share one window: together they never exceed it, and use most of it', async () => {
    // One long window: each pacer alone would spend all 40; together they must stop at 40.
    const limit = 40;
    const server = new WindowedLimit(limit, 60_000);
    const instances = pacers(3);
    const until = Date.now() + 2_000;
    const worker = async (pacer: RatePacer) => {
      while (Date.now() < until) {
        const permit = await Promise.race([pacer.acquire('live'), sleep(until - Date.now()).then(() => null)]);
        if (!permit) return;
        await sleep(2 + Math.random() * 15);
        permit.release(server.answer());
      }
    };
    await Promise.all(instances.flatMap((pacer) => Array.from({ length: 6 }, () => worker(pacer))));
    expect(server.refused).toBe(0);
    expect(server.served).toBeLessThanOrEqual(limit);
    // Live calls burst while a quarter of the budget is left, then spread over the window.
    expect(server.served).toBeGreaterThanOrEqual(limit * 0.75);
  });

  it('forgets the in-flight requests of an instance that died, after the TTL', async () => {
    const server = new WindowedLimit(8, 60_000);
    // No spreading: the dying instance takes what is left at once.
    const [dead, alive] = pacers(2, { inFlightTtlMs: 500, burstAbove: 0 });
    // The first answer teaches both the limit.
    (await alive!.acquire('live')).release(server.answer());
    // The instance that dies holds the rest of the budget and never reports back.
    for (let i = 0; i < 7; i++) await dead!.acquire('live');
    const asked = Date.now();
    const permit = await alive!.acquire('live');
    const waited = Date.now() - asked;
    permit.release(server.answer());
    expect(waited).toBeGreaterThanOrEqual(300);
    expect(waited).toBeLessThan(3_000);
  });

  it('does not keep a second instance waiting a whole window while another probes an unknown budget', async () => {
    const server = new WindowedLimit(100, 60_000);
    const [a, b] = pacers(2);
    const probe = await a!.acquire('live');
    const asked = Date.now();
    const second = b!.acquire('live');
    await sleep(300);
    probe.release(server.answer());
    await second;
    // The in-process pacer would wait for the answer's poke; across instances it looks again within a second.
    expect(Date.now() - asked).toBeLessThan(2_500);
  });

  it('two Spry token buckets on one row keep the tenant under its rate together', async () => {
    const rate = 25;
    const server = new OrgRateLimiter(systemClock, rate);
    const row = `spry-${++rows}`;
    const buckets = [0, 1].map(() => new TokenBucket({ ratePerSecond: rate, state: store.sharedRow<BucketState | null>('tenant-a', row, null) }));
    const startedAt = Date.now();
    const until = startedAt + 2_500;
    let granted = 0;
    let refused = 0;
    const worker = async (bucket: TokenBucket) => {
      while (Date.now() < until) {
        const permit = await bucket.acquire('live');
        granted++;
        if (!server.take(74).allowed) refused++;
        permit.release({ status: 200 });
      }
    };
    await Promise.all(buckets.flatMap((bucket) => Array.from({ length: 5 }, () => worker(bucket))));
    const seconds = (Date.now() - startedAt) / 1000;
    expect(refused).toBe(0);
    expect(granted).toBeLessThanOrEqual(Math.ceil(rate * seconds) + 1);
    expect(granted).toBeGreaterThanOrEqual(Math.floor(rate * 2));
  });
});
