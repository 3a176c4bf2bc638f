// The admin API's error handler: refusals with their catalog status, anything else a bare 500.
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { AdminError, errorCode } from '../../errors.ts';

/**
 * The admin API's answer to a failed request: refusals with their status and a clear message,
 * anything else a bare 500 (the log gets the error code only, never the message: it may hold PHI).
 */
export function adminErrorHandler(logger: { error: (fields: Record<string, unknown>, message: string) => void } | undefined, what: string) {
  return (error: FastifyError | AdminError, _request: FastifyRequest, reply: FastifyReply) => {
    if (error instanceof AdminError) return reply.code(error.statusCode).send({ error: error.code, message: error.message });
    if ('validation' in error && error.validation) return reply.code(400).send({ error: 'bad_request', message: error.message });
    const status = error.statusCode ?? 500;
    if (status < 500) return reply.code(status).send({ error: error.code ?? 'bad_request', message: error.message });
    logger?.error({ code: errorCode(error) }, `${what} failed`);
    return reply.code(500).send({ error: 'internal', message: 'internal error' });
  };
}
