import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ControlledClock } from '../clock.ts';
import { SyncError } from '../errors.ts';
import { HttpClient, type HttpClientOptions } from './http-client.ts';
import { eventually, listen } from './test-support.ts';
import { TokenBucket } from './token-bucket.ts';
import type { CallReport } from './types.ts';

const PHONE = '2065551234';

let app: FastifyInstance;
let baseUrl: string;
const hits = new Map<string, number>();
const hit = (key: string) => {
  const n = (hits.get(key) ?? 0) + 1;
  hits.set(key, n);
  return n;
};

beforeAll(async () => {
  app = Fastify();
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_req, body, done) =>
    done(null, Object.fromEntries(new URLSearchParams(body as string))),
  );
  app.addHook('onSend', async (_req, reply) => {
    reply.header('s-request-id', 'req-123');
  });
  app.get('/status/:code', async (req, reply) => {
    const code = Number((req.params as { code: string }).code);
    return reply.code(code).send({ statusCode: code, type: 'BAD_PARAMETER', message: `Invalid phone ${PHONE}` });
  });
  app.get('/limited', async (_req, reply) => reply.code(429).header('retry-after', '3').send({ statusCode: 429, type: 'RATE_LIMITED', message: 'slow down' }));
  app.get('/limited-date', async (_req, reply) =>
    reply.code(429).header('retry-after', new Date(Date.now() + 10_000).toUTCString()).send({}),
  );
  app.get('/slow', async () => {
    await new Promise((resolve) => setTimeout(resolve, 400));
    return { ok: true };
  });
  app.get('/stalled-body', (_req, reply) => {
    reply.hijack();
    reply.raw.writeHead(200, { 'content-type': 'application/json' });
    reply.raw.write('{"partial":');
  });
  app.get('/html', async (_req, reply) => reply.type('text/html').send('<html>maintenance</html>'));
  app.get('/empty', async (_req, reply) => reply.code(200).send());
  app.post('/echo/:id', async (req) => ({ params: req.params, query: req.query, body: req.body, headers: req.headers }));
  app.get('/flaky/:key', async (req, reply) => {
    const n = hit(`flaky-${(req.params as { key: string }).key}`);
    return n === 1 ? reply.code(503).send({ statusCode: 503, type: 'UNAVAILABLE', message: 'later' }) : { attempt: n };
  });
  app.post('/flaky-post', async (_req, reply) => {
    hit('flaky-post');
    return reply.code(503).send({});
  });
  app.get('/limited-once', async (_req, reply) => {
    const n = hit('limited-once');
    return n === 1 ? reply.code(429).header('retry-after', '2').send({}) : { attempt: n };
  });
  app.get('/limited-briefly', async (_req, reply) => {
    hit('limited-briefly');
    return reply.code(429).header('retry-after', '2').send({});
  });
  app.get('/limited-long', async (_req, reply) => {
    hit('limited-long');
    return reply.code(429).header('retry-after', '3600').send({});
  });
  baseUrl = await listen(app);
});

afterAll(async () => {
  await app.close();
});

function client(overrides: Partial<HttpClientOptions> = {}) {
  const calls: CallReport[] = [];
  const clock = overrides.clock ?? new ControlledClock();
  const http = new HttpClient({
    system: 'spruce',
    baseUrl,
    clock,
    limiter: new TokenBucket({ clock, ratePerSecond: 1_000, burst: 100 }),
    requestIdHeader: 's-request-id',
    errorDetail: (body) => (body as { type?: string } | undefined)?.type,
    onCall: (c) => calls.push(c),
    retry: { attempts: 1 },
    ...overrides,
  });
  return { http, calls };
}

async function failure(promise: Promise<unknown>): Promise<SyncError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(SyncError);
  return error as SyncError;
}

describe('HttpClient classification', () => {
  it.each([
    [500, 'SPRUCE_UNAVAILABLE', true],
    [503, 'SPRUCE_UNAVAILABLE', true],
    [400, 'SPRUCE_REJECTED', false],
    [401, 'SPRUCE_AUTH_FAILED', false],
    [403, 'SPRUCE_AUTH_FAILED', false],
    [404, 'SPRUCE_NOT_FOUND', false],
    [409, 'SPRUCE_REJECTED', false],
  ])('%i → %s', async (status, code, retryable) => {
    const { http } = client();
    const error = await failure(http.request({ method: 'GET', path: '/status/{code}', params: { code: status }, ids: { contactId: 'entity_1' } }));
    expect(error).toMatchObject({ code, retryable, status, requestId: 'req-123', ids: { contactId: 'entity_1' } });
    expect(error.message).toBe(`Spruce GET /status/{code} answered ${status} BAD_PARAMETER`);
    expect(error.message).not.toContain(PHONE);
  });

  it('429 → rate limited, retryable, with Retry-After in seconds or as a date', async () => {
    expect(await failure(client().http.request({ method: 'GET', path: '/limited' }))).toMatchObject({
      code: 'SPRUCE_RATE_LIMITED',
      retryable: true,
      retryAfterSeconds: 3,
    });
    const dated = await failure(client().http.request({ method: 'GET', path: '/limited-date' }));
    expect(dated.retryAfterSeconds).toBeGreaterThanOrEqual(8);
    expect(dated.retryAfterSeconds).toBeLessThanOrEqual(11);
  });

  it('a refused connection → NETWORK_ERROR, retryable', async () => {
    const { http, calls } = client({ baseUrl: 'http://127.0.0.1:1' });
    const error = await failure(http.request({ method: 'GET', path: '/contacts/{contactId}', params: { contactId: 'x' } }));
    expect(error).toMatchObject({ code: 'NETWORK_ERROR', retryable: true });
    expect(calls).toEqual([expect.objectContaining({ status: 0, error: 'NETWORK_ERROR', route: 'GET /contacts/{contactId}' })]);
  });

  it('a slow answer → NETWORK_TIMEOUT, retryable', async () => {
    const { http } = client({ timeoutMs: 100 });
    const started = Date.now();
    expect(await failure(http.request({ method: 'GET', path: '/slow' }))).toMatchObject({ code: 'NETWORK_TIMEOUT', retryable: true });
    expect(Date.now() - started).toBeLessThan(350);
  });

  it('a body that stalls → NETWORK_TIMEOUT', async () => {
    const { http } = client({ timeoutMs: 100 });
    expect(await failure(http.request({ method: 'GET', path: '/stalled-body' }))).toMatchObject({ code: 'NETWORK_TIMEOUT' });
  });

  it('a 2xx that is not JSON → unavailable; an empty body is fine', async () => {
    const { http } = client();
    expect(await failure(http.request({ method: 'GET', path: '/html' }))).toMatchObject({ code: 'SPRUCE_UNAVAILABLE' });
    expect((await http.request({ method: 'GET', path: '/empty' })).body).toBeUndefined();
  });

  it('hands accepted statuses back instead of raising them', async () => {
    const { http } = client();
    const res = await http.request({ method: 'GET', path: '/status/{code}', params: { code: 404 }, accept: [404] });
    expect(res.status).toBe(404);
    expect(res.requestId).toBe('req-123');
  });

  it('an aborted call → NETWORK_ERROR, not retried', async () => {
    const { http, calls } = client({ retry: { attempts: 3 } });
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 50);
    expect(await failure(http.request({ method: 'GET', path: '/slow', signal: controller.signal }))).toMatchObject({
      code: 'NETWORK_ERROR',
    });
    expect(calls).toHaveLength(1);
  });
});

describe('HttpClient requests', () => {
  it('sends JSON, form bodies, query strings and path parameters encoded', async () => {
    const { http, calls } = client();
    const json = await http.request<{ params: unknown; query: unknown; body: unknown; headers: Record<string, string> }>({
      method: 'POST',
      path: '/echo/{id}',
      params: { id: 'a/b c' },
      query: { pageSize: 5, skip: undefined, flag: true },
      json: { value: 'x' },
      headers: { 's-idempotency-key': 'k1' },
    });
    expect(json.body).toMatchObject({
      params: { id: 'a/b c' },
      query: { pageSize: '5', flag: 'true' },
      body: { value: 'x' },
      headers: { 'content-type': 'application/json', 's-idempotency-key': 'k1', accept: 'application/json' },
    });
    const form = await http.request<{ body: unknown }>({ method: 'POST', path: '/echo/{id}', params: { id: 1 }, form: { scope: 'read write' } });
    expect(form.body?.body).toEqual({ scope: 'read write' });
    // The route is the template: never the ids that filled it.
    expect(calls.map((c) => c.route)).toEqual(['POST /echo/{id}', 'POST /echo/{id}']);
    expect(calls[0]).toMatchObject({ system: 'spruce', method: 'POST', status: 200, requestId: 'req-123' });
    expect(calls[0]!.durationMs).toBeGreaterThanOrEqual(0);
  });

  it('retries a GET after a 5xx, with backoff on the clock', async () => {
    const { http, calls } = client({ retry: { attempts: 3, baseDelayMs: 1 } });
    const res = await http.request<{ attempt: number }>({ method: 'GET', path: '/flaky/{key}', params: { key: 'get' } });
    expect(res.body).toEqual({ attempt: 2 });
    expect(calls.map((c) => [c.status, c.error])).toEqual([
      [503, 'SPRUCE_UNAVAILABLE'],
      [200, undefined],
    ]);
  });

  it('does not repeat a write that may have acted', async () => {
    const { http } = client({ retry: { attempts: 3, baseDelayMs: 1 } });
    await failure(http.request({ method: 'POST', path: '/flaky-post', json: {} }));
    expect(hits.get('flaky-post')).toBe(1);
  });

  it('after a 429, waits out Retry-After on the clock and tries again', async () => {
    const clock = new ControlledClock({ start: 0, flowing: false });
    const { http, calls } = client({ clock, limiter: new TokenBucket({ clock, ratePerSecond: 100 }), retry: { attempts: 3 } });
    let settled = false;
    const pending = http.request<{ attempt: number }>({ method: 'GET', path: '/limited-once' }).finally(() => {
      settled = true;
    });
    await eventually(() => calls.length === 1);
    await clock.advance(1_900);
    expect(settled).toBe(false);
    await clock.advance(100);
    expect((await pending).body).toEqual({ attempt: 2 });
    expect(calls.map((c) => c.status)).toEqual([429, 200]);
  });

  it('raises a 429 asking for longer than it will wait, for the queue to reschedule', async () => {
    const { http } = client({ retry: { attempts: 3 } });
    expect(await failure(http.request({ method: 'GET', path: '/limited-long' }))).toMatchObject({ retryAfterSeconds: 3600 });
    expect(hits.get('limited-long')).toBe(1);
  });

  it('stopWaiting ends a wait for the limiter with WORK_STOPPED, nothing sent', async () => {
    const clock = new ControlledClock({ start: 0, flowing: false });
    const { http, calls } = client({ clock, limiter: new TokenBucket({ clock, ratePerSecond: 1, burst: 1 }) });
    const stop = new AbortController();
    await http.request({ method: 'GET', path: '/empty', stopWaiting: stop.signal });
    const waiting = failure(http.request({ method: 'GET', path: '/empty', stopWaiting: stop.signal, ids: { contactId: 'entity_2' } }));
    await clock.advance(100);
    stop.abort();
    expect(await waiting).toMatchObject({ code: 'WORK_STOPPED', retryable: true, ids: { contactId: 'entity_2' } });
    expect(calls).toHaveLength(1);
  });

  it('stopWaiting ends a wait for a retry after a 429, and leaves a call already sent alone', async () => {
    const clock = new ControlledClock({ start: 0, flowing: false });
    const { http, calls } = client({ clock, retry: { attempts: 3 } });
    const stop = new AbortController();
    const retrying = failure(http.request({ method: 'GET', path: '/limited-briefly', stopWaiting: stop.signal }));
    await eventually(() => calls.length === 1);
    stop.abort();
    expect(await retrying).toMatchObject({ code: 'WORK_STOPPED' });
    expect(calls.map((c) => c.status)).toEqual([429]);

    // Sent, then stopped (the route answers after 400 ms): the answer is still read. A client of
    // its own: the 429 above paused this one's limiter.
    const late = new AbortController();
    setTimeout(() => late.abort(), 50);
    const sent = client().http.request<{ ok: boolean }>({ method: 'GET', path: '/slow', stopWaiting: late.signal });
    expect((await sent).body).toEqual({ ok: true });
    expect(late.signal.aborted).toBe(true);
  });

  it('a throwing onCall hook does not fail the call', async () => {
    const { http } = client({
      onCall: () => {
        throw new Error('metrics down');
      },
    });
    expect((await http.request({ method: 'GET', path: '/empty' })).status).toBe(200);
  });
});
