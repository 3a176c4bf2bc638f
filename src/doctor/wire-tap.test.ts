import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WireTap } from './wire-tap.ts';

describe('WireTap', () => {
  let server: Server;
  let origin: string;

  beforeAll(async () => {
    server = createServer((req, res) => {
      res.writeHead(req.url === '/missing' ? 404 : 200, { 'content-type': 'application/json', 's-ratelimit-limit': '100' });
      res.end(JSON.stringify({ path: req.url }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
  });

  it('keeps each answer as it came while the caller still gets it whole', async () => {
    let now = 1_000;
    const tap = new WireTap({ now: () => now++ });
    try {
      const first = await request(`${origin}/a?x=1`, { dispatcher: tap.dispatcher });
      expect(await first.body.json()).toEqual({ path: '/a?x=1' });
      const mark = tap.mark();
      const second = await request(`${origin}/missing`, { dispatcher: tap.dispatcher });
      expect(second.statusCode).toBe(404);
      expect(await second.body.text()).toBe('{"path":"/missing"}');

      expect(tap.all()).toHaveLength(2);
      const [seen] = tap.since(mark);
      expect(seen).toMatchObject({ method: 'GET', path: '/missing', status: 404, body: '{"path":"/missing"}' });
      expect(seen!.headers['s-ratelimit-limit']).toBe('100');
      expect(seen!.answeredAt).toBeGreaterThan(seen!.sentAt);
    } finally {
      await tap.close();
    }
  });
});
