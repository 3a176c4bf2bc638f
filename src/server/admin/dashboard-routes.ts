// The dashboard's files: plain HTML, CSS and hand-written browser modules from web/, read once
// at start and served from memory. No data lives in them; every figure the page shows comes
// from the admin API with the operator's bearer token.
import { readdirSync, readFileSync } from 'node:fs';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import { ERRORS, statusOf } from '../../errors.ts';

export const WEB_DIR = fileURLToPath(new URL('../../../web/', import.meta.url));

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

// Everything from our own origin; nothing inline, nothing framed.
const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-cache',
};

function loadAssets(dir: string): Map<string, { type: string; body: Buffer }> {
  const assets = new Map<string, { type: string; body: Buffer }>();
  for (const name of readdirSync(dir)) {
    const type = TYPES[extname(name)];
    if (type && /^[a-z0-9-]+\.[a-z]+$/.test(name)) assets.set(name, { type, body: readFileSync(join(dir, name)) });
  }
  return assets;
}

export const dashboardRoutes: FastifyPluginAsync<{ webDir?: string }> = async (app, options) => {
  const assets = loadAssets(options.webDir ?? WEB_DIR);
  const send = (reply: FastifyReply, name: string) => {
    const asset = assets.get(name);
    if (!asset) return reply.code(statusOf('not_found')).send({ error: 'not_found', message: ERRORS.not_found.message });
    return reply.headers(SECURITY_HEADERS).type(asset.type).send(asset.body);
  };
  app.get('/', async (_request, reply) => send(reply, 'index.html'));
  app.get<{ Params: { file: string } }>('/assets/:file', async (request, reply) => send(reply, request.params.file));
};
