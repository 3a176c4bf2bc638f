// A small HTTP proxy on loopback that passes requests to a simulator and lets a test rewrite
// the answer (status, headers, body): how the doctor tests show Spry or Spruce changing an
// envelope, a path or a `Date` header without touching the simulators themselves.
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ProxiedAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Returns the answer to send instead, or undefined to pass it through unchanged. */
export type Rewrite = (request: { method: string; path: string }, answer: ProxiedAnswer) => ProxiedAnswer | undefined;

export interface RewritingProxy {
  /** The proxy's origin; the request path is passed on unchanged to the target's origin. */
  url: string;
  close(): Promise<void>;
}

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'content-length', 'host', 'content-encoding']);

function forwardable(headers: IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined && !HOP_BY_HOP.has(name)) out[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}

export async function startRewritingProxy(target: string, rewrite: Rewrite): Promise<RewritingProxy> {
  const origin = new URL(target).origin;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const method = req.method ?? 'GET';
      const path = req.url ?? '/';
      const body = chunks.length > 0 ? Buffer.concat(chunks) : undefined;
      fetch(`${origin}${path}`, { method, headers: forwardable(req.headers), body })
        .then(async (upstream) => {
          const headers: Record<string, string> = {};
          upstream.headers.forEach((value, name) => {
            if (!HOP_BY_HOP.has(name)) headers[name] = value;
          });
          const answer: ProxiedAnswer = { status: upstream.status, headers, body: await upstream.text() };
          const sent = rewrite({ method, path }, answer) ?? answer;
          res.writeHead(sent.status, { ...sent.headers, 'content-length': Buffer.byteLength(sent.body) });
          res.end(sent.body);
        })
        .catch(() => {
          res.writeHead(502).end();
        });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
