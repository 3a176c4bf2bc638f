// Bearer-token check for everything under /admin/api. Digests of equal length are compared in
// constant time, so the answer's timing tells nothing about the token.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ERRORS, statusOf } from '../../errors.ts';

function digest(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

export function bearerAuth(token: string): (request: FastifyRequest, reply: FastifyReply) => Promise<void> {
  const expected = digest(token);
  return async (request, reply) => {
    const header = request.headers.authorization;
    const match = typeof header === 'string' ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
    if (match && timingSafeEqual(digest(match[1]!), expected)) return;
    await reply
      .code(statusOf('unauthorized'))
      .header('www-authenticate', 'Bearer realm="spruce-sync admin"')
      .send({ error: 'unauthorized', message: ERRORS.unauthorized.message });
  };
}
