// Helpers for the Spruce simulator contract tests: a simulator on a stopped clock listening on
// 127.0.0.1:0, a plain HTTP client for it, and a webhook receiver that records raw bodies.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ControlledClock } from '../../src/clock.ts';
import { createSpruceSimulator, type SpruceSimulator, type SpruceSimulatorOptions } from '../../src/sandbox/spruce/index.ts';

export const START = Date.parse('2025-06-02T09:00:00.000Z');

export interface ApiResponse<T = Record<string, unknown>> {
  status: number;
  headers: Record<string, string>;
  body: T;
  raw: string;
}

export interface TestSim {
  sim: SpruceSimulator;
  clock: ControlledClock;
  url: string;
  root: string;
  authorization: string;
  accessId: string;
  /** Calls `/v1<path>` with the organization's credentials (unless `auth` overrides). */
  api<T = Record<string, unknown>>(
    method: string,
    path: string,
    options?: { body?: unknown; rawBody?: string; headers?: Record<string, string>; auth?: string | null },
  ): Promise<ApiResponse<T>>;
  /** Calls the control API `/_sandbox<path>`. */
  control<T = Record<string, unknown>>(method: string, path: string, body?: unknown): Promise<ApiResponse<T>>;
}

async function call<T>(url: string, method: string, headers: Record<string, string>, body?: string): Promise<ApiResponse<T>> {
  const response = await fetch(url, { method, headers, body });
  const raw = await response.text();
  return {
    status: response.status,
    headers: Object.fromEntries(response.headers),
    body: (raw ? JSON.parse(raw) : undefined) as T,
    raw,
  };
}

export async function startSim(options: SpruceSimulatorOptions = {}): Promise<TestSim> {
  const clock = new ControlledClock({ flowing: false, start: START });
  const sim = await createSpruceSimulator({ clock, validateResponses: true, ...options });
  const url = await sim.listen();
  const root = url.replace(/\/v1$/, '');
  const { authorization, accessId } = sim.credentials()[0]!;
  return {
    sim,
    clock,
    url,
    root,
    authorization,
    accessId,
    api(method, path, options = {}) {
      const headers: Record<string, string> = { ...options.headers };
      const auth = options.auth === undefined ? authorization : options.auth;
      if (auth !== null) headers.authorization = auth;
      let body: string | undefined = options.rawBody;
      if (options.body !== undefined) body = JSON.stringify(options.body);
      if (body !== undefined) headers['content-type'] ??= 'application/json';
      return call(`${url}${path}`, method, headers, body);
    },
    control(method, path, body) {
      return call(`${root}/_sandbox${path}`, method, body === undefined ? {} : { 'content-type': 'application/json' }, body === undefined ? undefined : JSON.stringify(body));
    },
  };
}

export interface Received {
  headers: http.IncomingHttpHeaders;
  raw: string;
  json: { id?: string; type: string; eventTime: string; data: { object: Record<string, unknown>; deletedContactIds?: string[] } };
}

export interface Receiver {
  url: string;
  received: Received[];
  /** Status answered from now on (default 200); `hang` never answers. */
  respond: number | 'hang';
  close(): Promise<void>;
}

export async function startReceiver(): Promise<Receiver> {
  const sockets = new Set<import('node:net').Socket>();
  const receiver: Receiver = {
    url: '',
    received: [],
    respond: 200,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
  const server = http.createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      receiver.received.push({ headers: request.headers, raw, json: JSON.parse(raw) as Received['json'] });
      if (receiver.respond === 'hang') return;
      response.statusCode = receiver.respond;
      response.end();
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  receiver.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/spruce-webhooks`;
  return receiver;
}

/** Registers a webhook endpoint through the API; returns its id and the one-time secret. */
export async function addEndpoint(t: TestSim, url: string): Promise<{ id: string; secret: string }> {
  const created = await t.api<{ endpoint: { id: string; signingSecrets: { value: string }[] } }>('POST', '/webhooks/endpoints', {
    body: { name: 'spruce-sync', url },
  });
  if (created.status !== 200) throw new Error(`endpoint creation failed: ${created.raw}`);
  return { id: created.body.endpoint.id, secret: created.body.endpoint.signingSecrets[0]!.value };
}
