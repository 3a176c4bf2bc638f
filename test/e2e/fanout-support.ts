// Real subscribers on loopback for the fan-out end-to-end tests: node:http servers that record
// every request (headers, raw body, when) and answer as a test tells them to.
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';

export interface Received {
  id: string;
  headers: IncomingHttpHeaders;
  body: string;
  /** Real time of receipt. */
  at: number;
  /** What we answered. */
  status: number;
  json: { id?: string; type: string; subject?: Record<string, unknown>; data?: unknown };
}

export type Behaviour = (request: { id: string; body: string; n: number }) => { status: number; delayMs?: number; headers?: Record<string, string>; body?: string };

export interface Receiver {
  url: string;
  received: Received[];
  /** First receipt of each webhook-id, in order of arrival. */
  firsts(): Received[];
  /** Distinct webhook-ids answered 2xx. */
  deliveredIds(): Set<string>;
  behave(behaviour: Behaviour): void;
  close(): Promise<void>;
}

export const healthy: Behaviour = () => ({ status: 200 });

export async function startReceiver(initial: Behaviour = healthy): Promise<Receiver> {
  let behaviour = initial;
  const received: Received[] = [];
  let n = 0;
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const id = String(request.headers['webhook-id'] ?? '');
      const answer = behaviour({ id, body, n: ++n });
      const reply = () => {
        received.push({ id, headers: request.headers, body, at: Date.now(), status: answer.status, json: JSON.parse(body) as Received['json'] });
        response.writeHead(answer.status, { 'content-type': 'application/json', ...answer.headers });
        response.end(answer.body ?? JSON.stringify({ ok: answer.status < 300 }));
      };
      if (answer.delayMs) setTimeout(reply, answer.delayMs);
      else reply();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    received,
    firsts() {
      const seen = new Set<string>();
      return received.filter((r) => r.status < 300 && !seen.has(r.id) && seen.add(r.id));
    },
    deliveredIds() {
      return new Set(received.filter((r) => r.status < 300).map((r) => r.id));
    },
    behave(next) {
      behaviour = next;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Verifies every request the receiver got with the reference library; returns how many. */
export function verifyAll(receiver: Receiver, secrets: string[]): number {
  for (const request of receiver.received) {
    const headers = {
      'webhook-id': String(request.headers['webhook-id']),
      'webhook-timestamp': String(request.headers['webhook-timestamp']),
      'webhook-signature': String(request.headers['webhook-signature']),
    };
    const ok = secrets.some((secret) => {
      try {
        new Webhook(secret).verify(request.body, headers);
        return true;
      } catch {
        return false;
      }
    });
    if (!ok) throw new Error(`request ${request.id} does not verify`);
  }
  return receiver.received.length;
}
