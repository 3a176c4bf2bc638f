// `POST /apis/v2/oauth/token` [doc]: client credentials, form-encoded (JSON accepted too).
// Answered in the envelope like every other endpoint: the token fields are under `data`.
import type { FastifyInstance } from 'fastify';
import { ok } from '../envelope.ts';
import type { OAuthServer } from '../oauth.ts';

function basicCredentials(header: string | undefined): { clientId: string; clientSecret: string } | undefined {
  const match = /^Basic\s+(\S+)$/i.exec(header ?? '');
  if (!match) return undefined;
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  try {
    return { clientId: decodeURIComponent(decoded.slice(0, colon)), clientSecret: decodeURIComponent(decoded.slice(colon + 1)) };
  } catch {
    return undefined;
  }
}

export function registerOAuthRoutes(app: FastifyInstance, oauth: OAuthServer): void {
  app.post('/apis/v2/oauth/token', async (request, reply) => {
    const body = request.body && typeof request.body === 'object' ? (request.body as Record<string, unknown>) : {};
    reply.header('cache-control', 'no-store');
    return ok(oauth.issue(body, basicCredentials(request.headers.authorization)));
  });
}
