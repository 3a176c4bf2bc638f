import Fastify, { type FastifyInstance } from 'fastify';
import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { ControlledClock } from '../clock.ts';
import { FaultInjector, faultsForTest, seededRandom } from './faults.ts';

const { routeMatches } = faultsForTest;

describe('routeMatches', () => {
  it.each([
    [undefined, 'GET', '/a/b', true],
    ['*', 'POST', '/anything', true],
    ['GET /a/b', 'GET', '/a/b', true],
    ['GET /a/b', 'get', '/a/b?x=1', true],
    ['GET /a/b', 'POST', '/a/b', false],
    ['GET /a/*', 'GET', '/a/42', true],
    ['GET /a/*', 'GET', '/a/42/c', false],
    ['GET /a/*/c', 'GET', '/a/42/c', true],
    ['/a/**', 'DELETE', '/a/b/c/d', true],
    ['* /a/**', 'PUT', '/a', true],
    ['GET /a', 'GET', '/b', false],
    ['GET /a/b', 'GET', '/a', false],
  ])('%s matches %s %s: %s', (pattern, method, path, expected) => {
    expect(routeMatches(pattern, method, path)).toBe(expected);
  });
});

describe('seeded dice', () => {
  it('repeats for the same seed and differs for another', () => {
    const a = seededRandom(7);
    const b = seededRandom(7);
    const c = seededRandom(8);
    const first = Array.from({ length: 5 }, () => a());
    expect(Array.from({ length: 5 }, () => b())).toEqual(first);
    expect(Array.from({ length: 5 }, () => c())).not.toEqual(first);
    for (const x of first) expect(x >= 0 && x < 1).toBe(true);
  });

  it('decides deliveries from the configured rates', () => {
    const faults = new FaultInjector(3);
    expect(faults.decideDelivery()).toEqual({ drop: false, duplicate: false, delayMs: 0 });
    faults.setDeliveryFaults({ dropRate: 1, duplicateRate: 1, reorderWindowMs: 1000 });
    const decision = faults.decideDelivery();
    expect(decision.drop).toBe(true);
    expect(decision.duplicate).toBe(true);
    expect(decision.delayMs).toBeGreaterThanOrEqual(0);
    expect(decision.delayMs).toBeLessThan(1000);
    faults.clear();
    expect(faults.describe()).toEqual({ routes: [], deliveries: {} });
  });

  it('drops about the configured fraction', () => {
    const faults = new FaultInjector(11);
    faults.setDeliveryFaults({ dropRate: 0.3 });
    let dropped = 0;
    for (let i = 0; i < 2000; i++) if (faults.decideDelivery().drop) dropped++;
    expect(dropped / 2000).toBeGreaterThan(0.25);
    expect(dropped / 2000).toBeLessThan(0.35);
  });
});

describe('route faults on a Fastify app', () => {
  let app: FastifyInstance;
  const clock = new ControlledClock({ flowing: false });
  const faults = new FaultInjector(1);

  async function build(): Promise<FastifyInstance> {
    app = Fastify({ logger: false });
    faults.clear();
    faults.install(app, {
      clock,
      errorBody: (status, kind) => ({ status, kind }),
      exceptPrefix: '/_control',
    });
    app.get('/api/items/:id', async () => ({ ok: true }));
    app.get('/_control/state', async () => ({ control: true }));
    return app;
  }

  afterEach(async () => {
    await app?.close();
  });

  it('answers errorRate 1 with errorStatus and the error body', async () => {
    await build();
    faults.setRouteFaults([{ match: 'GET /api/items/*', errorRate: 1, errorStatus: 502 }]);
    const res = await app.inject({ method: 'GET', url: '/api/items/1' });
    expect(res.statusCode).toBe(502);
    expect(res.json()).toEqual({ status: 502, kind: 'error' });
  });

  it('answers the next N requests 429 with Retry-After, then recovers', async () => {
    await build();
    faults.setRouteFaults([{ rateLimitBurst: 2, retryAfterSeconds: 7 }]);
    const statuses = [];
    for (let i = 0; i < 3; i++) {
      const res = await app.inject({ method: 'GET', url: '/api/items/1' });
      statuses.push(res.statusCode);
      if (res.statusCode === 429) {
        expect(res.headers['retry-after']).toBe('7');
        expect(res.json()).toEqual({ status: 429, kind: 'rate_limited' });
      }
    }
    expect(statuses).toEqual([429, 429, 200]);
  });

  it('adds latency on the injected clock', async () => {
    await build();
    faults.setRouteFaults([{ latencyMs: 5_000 }]);
    let done = false;
    const pending = app.inject({ method: 'GET', url: '/api/items/1' }).then((res) => {
      done = true;
      return res;
    });
    while (clock.pendingTimers === 0) await new Promise((resolve) => setImmediate(resolve));
    await clock.advance(4_000);
    expect(done).toBe(false);
    await clock.advance(1_000);
    expect((await pending).statusCode).toBe(200);
  });

  it('leaves the control prefix alone', async () => {
    await build();
    faults.setRouteFaults([{ errorRate: 1 }]);
    expect((await app.inject({ method: 'GET', url: '/_control/state' })).statusCode).toBe(200);
    expect((await app.inject({ method: 'GET', url: '/api/items/1' })).statusCode).toBe(503);
  });

  it('holds a "timed out" request, then drops the connection without an answer', async () => {
    await build();
    faults.setRouteFaults([{ timeoutRate: 1, hangMs: 20_000 }]);
    await app.listen({ port: 0, host: '127.0.0.1' });
    const { port } = app.server.address() as { port: number };
    const timers = clock.pendingTimers;
    const outcome = request(`http://127.0.0.1:${port}/api/items/1`).then(
      (res) => `status ${res.statusCode}`,
      (error: Error & { code?: string }) => error.code ?? error.name,
    );
    // Move the clock only once the request is being held (a real wait would race a busy machine).
    while (clock.pendingTimers === timers) await new Promise((resolve) => setImmediate(resolve));
    await clock.advance(20_000);
    expect(await outcome).toMatch(/UND_ERR_SOCKET|ECONNRESET|SocketError/);
  });

  describe('ambiguous failures: the write commits, its answer is lost', () => {
    let writes = 0;
    async function buildWithWrites(committed?: (status: number, payload: unknown) => boolean): Promise<string> {
      app = Fastify({ logger: false });
      faults.clear();
      writes = 0;
      faults.install(app, { clock, errorBody: (status, kind) => ({ status, kind }), exceptPrefix: '/_control', committed });
      app.post('/api/items', async (req, reply) => {
        if ((req.body as { bad?: boolean } | undefined)?.bad) return reply.code(400).send({ refused: true });
        writes++;
        return reply.code(201).send({ id: writes });
      });
      app.get('/api/items/:id', async () => ({ ok: true }));
      await app.listen({ port: 0, host: '127.0.0.1' });
      return `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
    }
    const post = (base: string, body: object = {}) =>
      request(`${base}/api/items`, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }).then(
        async (res) => `status ${res.statusCode} ${await res.body.text()}`,
        (error: Error & { code?: string }) => error.code ?? error.name,
      );

    it('reset: the write is done, the connection is reset instead of the answer', async () => {
      const base = await buildWithWrites();
      faults.setRouteFaults([{ match: 'POST /api/**', ambiguousRate: 1 }]);
      expect(await post(base)).toMatch(/UND_ERR_SOCKET|ECONNRESET|SocketError/);
      expect(writes).toBe(1);
    });

    it('error: the write is done and answered 5xx', async () => {
      const base = await buildWithWrites();
      faults.setRouteFaults([{ ambiguousRate: 1, ambiguousMode: 'error', ambiguousStatus: 504 }]);
      expect(await post(base)).toBe('status 504 {"status":504,"kind":"error"}');
      expect(writes).toBe(1);
    });

    it('hang: the write is done, then nothing until hangMs on the clock, then the connection drops', async () => {
      const base = await buildWithWrites();
      faults.setRouteFaults([{ ambiguousRate: 1, ambiguousMode: 'hang', hangMs: 60_000 }]);
      let outcome: string | undefined;
      const timers = clock.pendingTimers;
      const pending = post(base).then((result) => (outcome = result));
      while (clock.pendingTimers === timers) await new Promise((resolve) => setImmediate(resolve));
      expect(writes).toBe(1);
      await clock.advance(59_000);
      expect(outcome).toBeUndefined();
      await clock.advance(1_000);
      expect(await pending).toMatch(/UND_ERR_SOCKET|ECONNRESET|SocketError/);
    });

    it('leaves reads and refused writes alone, and asks the simulator what "committed" means', async () => {
      let base = await buildWithWrites();
      faults.setRouteFaults([{ ambiguousRate: 1, ambiguousMode: 'error' }]);
      expect(await post(base, { bad: true })).toBe('status 400 {"refused":true}');
      expect((await request(`${base}/api/items/1`)).statusCode).toBe(200);
      expect(writes).toBe(0);
      await app.close();
      base = await buildWithWrites(() => false);
      faults.setRouteFaults([{ ambiguousRate: 1, ambiguousMode: 'error' }]);
      expect(await post(base)).toBe('status 201 {"id":1}');
    });
  });
});
