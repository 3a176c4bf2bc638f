// Every API request, as tests and benchmarks count them: when, which route (the template, so
// calls to different patients add up), the HTTP status, the organisation and the envelope code.
// Identifiers only: no bodies, no query strings (they may hold PHI).
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Clock } from '../../clock.ts';

export interface RequestLogEntry {
  /** Clock time (epoch ms) the request arrived. */
  at: number;
  method: string;
  /** `METHOD /template`, e.g. `GET /apis/v1/patient/:id`; unmatched paths are logged as sent. */
  route: string;
  status: number;
  organisationId: number | null;
  /** The envelope `code` answered, or null when the body was not an envelope. */
  code: number | null;
}

interface Pending {
  at: number;
  code: number | null;
}

export function installRequestLog(
  app: FastifyInstance,
  options: {
    clock: Clock;
    log: RequestLogEntry[];
    exceptPrefix: string;
    organisationOf: (request: FastifyRequest) => number | null;
  },
): void {
  const pending = new WeakMap<FastifyRequest, Pending>();
  app.addHook('onRequest', async (request) => {
    pending.set(request, { at: options.clock.now(), code: null });
  });
  app.addHook('onSend', async (request, _reply, payload) => {
    const entry = pending.get(request);
    if (entry && typeof payload === 'string') {
      const match = /^\{"code":(\d+)/.exec(payload);
      entry.code = match ? Number(match[1]) : null;
    }
    return payload;
  });
  app.addHook('onResponse', async (request, reply) => {
    if (request.url.startsWith(options.exceptPrefix)) return;
    const entry = pending.get(request);
    const template = request.routeOptions.url;
    options.log.push({
      at: entry?.at ?? options.clock.now(),
      method: request.method,
      route: `${request.method} ${template ?? request.url.split('?')[0]}`,
      status: reply.statusCode,
      organisationId: options.organisationOf(request),
      code: entry?.code ?? null,
    });
  });
}
