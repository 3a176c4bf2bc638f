// The bearer check and the per-organisation rate limit, in front of every Spry resource route.
// Scope: reads need `read`, anything else needs `write`.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { CODE, SpryApiError } from './envelope.ts';
import type { OAuthServer, TokenGrant } from './oauth.ts';
import type { OrgRateLimiter } from './rate-limit.ts';

const grants = new WeakMap<FastifyRequest, TokenGrant>();

/** The organisation of the authenticated request. */
export function organisationOf(request: FastifyRequest): number {
  const grant = grants.get(request);
  if (!grant) throw new Error('route registered outside the authenticated scope');
  return grant.organisationId;
}

export function installAuth(app: FastifyInstance, oauth: OAuthServer, limiter: OrgRateLimiter): void {
  app.addHook('onRequest', async (request) => {
    const grant = oauth.verify(request.headers.authorization);
    const needed = request.method === 'GET' || request.method === 'HEAD' ? 'read' : 'write';
    if (!grant.scopes.has(needed)) {
      throw new SpryApiError(403, CODE.FORBIDDEN, `This call needs the '${needed}' scope`);
    }
    const verdict = limiter.take(grant.organisationId);
    if (!verdict.allowed) {
      throw new SpryApiError(429, CODE.RATE_LIMITED, 'Too many requests', undefined, {
        'retry-after': String(verdict.retryAfterSeconds),
      });
    }
    grants.set(request, grant);
  });
}
