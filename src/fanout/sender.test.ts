import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { scrubSnippet, WebhookSender } from './sender.ts';

describe('response snippets', () => {
  it('keep the structure and codes of a JSON answer, never its free text', () => {
    expect(scrubSnippet('{"error":"invalid_signature","message":"Patient Jane Doe (DOB 1980-02-03) not found","code":"E_NOT_FOUND","status":404}')).toBe(
      '{"error":"invalid_signature","message":"[text]","code":"E_NOT_FOUND","status":404}',
    );
    expect(scrubSnippet('{"ok":true,"id":"JANE","phone":"+12065550100","n":1234567}')).toBe('{"ok":true,"id":"[text]","phone":"[text]","n":"[number]"}');
    expect(scrubSnippet('{"result":"ACCEPTED_FOR_PROCESSING","items":[{"name":"Jane"}]}')).toBe('{"result":"ACCEPTED_FOR_PROCESSING","items":[{"name":"[text]"}]}');
    expect(scrubSnippet('<html>Jane Doe</html>')).toBe('[non-JSON answer, 21 bytes]');
    expect(scrubSnippet('   ')).toBeNull();
    expect(scrubSnippet(JSON.stringify({ list: ['code_1'], a_longer_key_name: 'another_code_value', b: 'code_two' }), 40)).toHaveLength(40);
  });
});

describe('the sender', () => {
  it('posts the body with the headers, reads the answer, and keeps no snippet for PHI events', async () => {
    const server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (c: Buffer) => chunks.push(c));
      request.on('end', () => {
        response.writeHead(request.headers['webhook-id'] === 'msg_slow' ? 503 : 200, { 'retry-after': '7' });
        response.end(Buffer.concat(chunks));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/in`;
    const sender = new WebhookSender({ timeoutMs: 2_000, snippetBytes: 256 });
    const policy = { allowLoopback: true, allowedNetworks: [] };
    try {
      const echoed = await sender.send({ url, headers: { 'webhook-id': 'msg_a' }, body: '{"status":"delivered_ok"}', phi: false, policy, now: Date.now() });
      expect(echoed).toMatchObject({ status: 200, errorCode: null, snippet: '{"status":"delivered_ok"}' });
      const phi = await sender.send({ url, headers: { 'webhook-id': 'msg_a' }, body: '{"status":"delivered_ok"}', phi: true, policy, now: Date.now() });
      expect(phi.snippet).toBeNull();
      const failing = await sender.send({ url, headers: { 'webhook-id': 'msg_slow' }, body: '{}', phi: false, policy, now: Date.now() });
      expect(failing).toMatchObject({ status: 503, errorCode: 'HTTP_503', retryAfterSeconds: 7 });
      // Loopback refused when the tenant does not allow it: no connection is made.
      const refused = await sender.send({ url, headers: {}, body: '{}', phi: false, policy: { allowLoopback: false, allowedNetworks: [] }, now: Date.now() });
      expect(refused).toMatchObject({ status: null, errorCode: 'ADDRESS_REFUSED' });
      const nobody = await sender.send({ url: 'http://127.0.0.1:1/none', headers: {}, body: '{}', phi: false, policy, now: Date.now() });
      expect(nobody).toMatchObject({ status: null, errorCode: 'NETWORK' });
    } finally {
      await sender.close();
      server.close();
    }
  });

  it('refuses at connect time a name that resolves to a private address', async () => {
    const sender = new WebhookSender({ timeoutMs: 2_000, snippetBytes: 256, resolve: async () => [{ address: '10.1.2.3', family: 4 }] });
    try {
      const result = await sender.send({ url: 'https://internal.example.com/x', headers: {}, body: '{}', phi: false, policy: { allowLoopback: false, allowedNetworks: [] }, now: Date.now() });
      expect(result).toMatchObject({ status: null, errorCode: 'ADDRESS_REFUSED' });
    } finally {
      await sender.close();
    }
  });
});
