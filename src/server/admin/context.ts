// What the operator functions share, whether called by the admin API or the CLI.
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import type { Clock } from '../../clock.ts';
import { AdminError, errorCode } from '../../errors.ts';
import type { Logger } from '../../observe/logger.ts';
import type { Store } from '../../store/types.ts';
import type { PauseControl } from './pause.ts';

export interface AdminContext {
  store: Store;
  clock: Clock;
  /** The configured tenants. */
  tenantIds: readonly string[];
  pauses: PauseControl;
  /** Wakes the workers after a replay or a resume (in the service; a no-op in the CLI). */
  onQueued?: (tenantId: string) => void;
  /** Operator actions are logged (ids and counts only). */
  logger?: Logger;
}

/** Epoch ms from `1700000000000` or an ISO 8601 time (`2024-05-01`, `2024-05-01T10:00:00Z`). */
export function parseTime(value: string | number | undefined, name: string): number | undefined {
  if (value === undefined || value === '') return undefined;
  if (typeof value === 'number') return value;
  if (/^\d{1,16}$/.test(value)) return Number(value);
  const parsed = /^\d{4}-\d{2}-\d{2}/.test(value) ? Date.parse(value) : NaN;
  if (Number.isNaN(parsed)) {
    throw new AdminError('bad_request', `${name}: expected an ISO 8601 time or epoch milliseconds`);
  }
  return parsed;
}

export function requireTenant(ctx: AdminContext, tenantId: string): void {
  if (!ctx.tenantIds.includes(tenantId)) throw new AdminError('unknown_tenant', `no tenant ${tenantId}`);
}

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
