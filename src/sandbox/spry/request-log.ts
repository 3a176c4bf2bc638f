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
  /** HTTP status; 0 when the connection was dropped without an answer (timeout and ambiguous faults). */
  status: number;
  organisationId: number | null;
  /** The envelope `code` answered, or null when the body was not an envelope. */
  code: number | null;
}

interface Pending {
  at: number;
  code: number | null;
  logged: boolean;
}

export function installRequestLog(
  app: FastifyInstance,
  options: {
    clock: Clock;
    log: RequestLogEntry[];
    exceptPrefix: string;
    organisationOf: (request: FastifyRequest) => number | null;
  },
): { recordCodes(): void } {
  const pending = new WeakMap<FastifyRequest, Pending>();
  const log = (request: FastifyRequest, status: number) => {
    const entry = pending.get(request);
    if (!entry || entry.logged) return;
    entry.logged = true;
    const template = request.routeOptions.url;
    options.log.push({
      at: entry.at,
      method: request.method,
      route: `${request.method} ${template ?? request.url.split('?')[0]}`,
      status,
      organisationId: options.organisationOf(request),
      code: status === 0 ? null : entry.code,
    });
  };
  app.addHook('onRequest', async (request, reply) => {
    if (request.url.startsWith(options.exceptPrefix)) return;
    pending.set(request, { at: options.clock.now(), code: null, logged: false });
    // A connection dropped without an answer never reaches onResponse; 'finish' means the
    // answer was handed to the network.
    let answered = false;
    reply.raw.once('finish', () => (answered = true));
    reply.raw.once('close', () => {
      if (!answered) log(request, 0);
    });
  });
  app.addHook('onResponse', async (request, reply) => log(request, reply.statusCode));
  return {
    /**
     * Notes the envelope code of each answer. Call it after installing anything that may still
     * replace an answer (the fault injector), so the code logged is the one sent.
     */
    recordCodes() {
      app.addHook('onSend', async (request, _reply, payload) => {
        const entry = pending.get(request);
        if (entry && typeof payload === 'string') {
          const match = /^\{"code":(\d+)/.exec(payload);
          entry.code = match ? Number(match[1]) : null;
        }
        return payload;
      });
    },
  };
}
