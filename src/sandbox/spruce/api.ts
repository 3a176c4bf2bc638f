// The HTTP pipeline of the simulated `/v1` API, in the order a request meets it:
// request id → faults (installed by index.ts at the root) → auth (403) → rate limit (429) →
// OpenAPI validation (400 + violation log) → idempotency key (422) → handler → request log.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { authenticate, type Caller } from './auth.ts';
import { ApiError, errorBody } from './errors.ts';
import type { ApiServices, Handler } from './handler.ts';
import type { IdempotencyStore } from './idempotency.ts';
import type { OpenApiValidator, Operation } from './openapi.ts';
import type { RateLimiter } from './rate-limit.ts';
import { contactHandlers } from './routes-contacts.ts';
import { conversationHandlers } from './routes-conversations.ts';
import { organizationHandlers } from './routes-organization.ts';
import { scheduledMessageHandlers } from './routes-scheduled-messages.ts';
import { webhookHandlers } from './routes-webhooks.ts';

export interface RequestLogEntry {
  at: number;
  method: string;
  /** Route template, e.g. `PATCH /v1/contacts/{contactId}`; the bare path for unknown routes. */
  route: string;
  /** HTTP status; 0 when the connection was dropped without an answer (timeout fault). */
  status: number;
  organizationId: string | null;
  requestId: string;
  rateLimited: boolean;
}

export interface Violation {
  at: number;
  method: string;
  route: string;
  errors: string[];
  requestId?: string;
}

export interface ApiPipelineDeps {
  services: ApiServices;
  openapi: OpenApiValidator;
  rateLimiter: RateLimiter;
  idempotency: IdempotencyStore;
  requestLog: RequestLogEntry[];
  violations: Violation[];
  /** When set, response bodies are checked against the spec too (tests turn this on). */
  responseViolations?: Violation[];
  /** Installs the fault hook: called after the request-id hook, before auth. */
  installFaults: (app: FastifyInstance) => void;
}

/** Per-request facts the hooks pass along (kept off the Fastify types on purpose). */
interface RequestInfo {
  requestId: string;
  caller?: Caller;
  logged?: boolean;
  idempotencySlot?: string;
  /** The handler carried the request out (2xx): its key stays used whatever answer is sent. */
  committed?: boolean;
  coerced?: { params: Record<string, string>; query: Record<string, unknown>; body: unknown };
}

const handlers: Record<string, Handler> = {
  ...contactHandlers,
  ...conversationHandlers,
  ...scheduledMessageHandlers,
  ...webhookHandlers,
  ...organizationHandlers,
};

/** The operations the sandbox simulates; every other operation of the spec answers 501. */
export const SIMULATED_OPERATIONS = Object.keys(handlers).sort();

export const API_PREFIX = '/v1';

export function installApi(app: FastifyInstance, deps: ApiPipelineDeps): void {
  const { services, openapi } = deps;
  const { clock, ids } = services.ctx;
  const info = new WeakMap<FastifyRequest, RequestInfo>();
  const infoOf = (request: FastifyRequest): RequestInfo => {
    let found = info.get(request);
    if (!found) info.set(request, (found = { requestId: ids.requestId() }));
    return found;
  };
  const operationOf = (request: FastifyRequest) => (request.routeOptions.config as { operation?: Operation } | undefined)?.operation;
  const routeOf = (request: FastifyRequest) => operationOf(request)?.route ?? `${request.method} ${request.url.split('?')[0]}`;
  const violation = (request: FastifyRequest, errors: string[]) =>
    deps.violations.push({ at: clock.now(), method: request.method, route: routeOf(request), errors, requestId: infoOf(request).requestId });

  const log = (request: FastifyRequest, status: number) => {
    const state = infoOf(request);
    if (state.logged) return;
    state.logged = true;
    deps.requestLog.push({
      at: clock.now(),
      method: request.method,
      route: routeOf(request),
      status,
      organizationId: state.caller?.org.id ?? null,
      requestId: state.requestId,
      rateLimited: status === 429,
    });
  };

  // Registered before the fault hook, so that even an injected failure carries a request id.
  app.addHook('onRequest', async (request, reply) => {
    if (!request.url.startsWith(`${API_PREFIX}/`)) return;
    reply.header('s-request-id', infoOf(request).requestId);
    // A connection dropped without an answer (the timeout and ambiguous faults) never reaches
    // onResponse. 'finish' means the answer was handed to the network; `writableFinished` alone
    // is not enough, as it is also true for an answer written to an already destroyed socket.
    let answered = false;
    reply.raw.once('finish', () => (answered = true));
    reply.raw.once('close', () => {
      if (!answered) log(request, 0);
    });
  });

  app.addHook('onResponse', async (request, reply) => {
    if (!request.url.startsWith(`${API_PREFIX}/`)) return;
    log(request, reply.statusCode);
  });
  deps.installFaults(app);

  app.register(
    async (api) => {
      api.addHook('onRequest', async (request, reply) => {
        const caller = authenticate(services.ctx.state, request.headers.authorization);
        infoOf(request).caller = caller;
        const { rateLimitPerMinute, rateLimitPerDay } = caller.org.config;
        const decision = deps.rateLimiter.check(caller.org.id, { perMinute: rateLimitPerMinute, perDay: rateLimitPerDay }, clock.now());
        reply.headers(decision.headers);
        if (!decision.allowed) {
          reply.header('retry-after', String(decision.retryAfterSeconds));
          throw new ApiError(429, 'RATE_LIMITED', 'rate limit exceeded for this organization');
        }
      });

      api.addHook('preHandler', async (request) => {
        const state = infoOf(request);
        const operation = operationOf(request);
        if (!operation) return; // the not-found handler (plugin hooks run for it too)
        const check = openapi.validateRequest(operation.operationId, {
          params: (request.params ?? {}) as Record<string, unknown>,
          query: (request.query ?? {}) as Record<string, unknown>,
          body: request.body,
        });
        if (check.errors.length > 0) {
          violation(request, check.errors);
          throw new ApiError(400, 'BAD_PARAMETER', check.errors.join('; '));
        }
        state.coerced = { params: check.params as Record<string, string>, query: check.query, body: check.body };
        const key = request.headers['s-idempotency-key'];
        if (operation.idempotencyKey && key !== undefined) {
          const value = Array.isArray(key) ? key.join(',') : key;
          try {
            state.idempotencySlot = deps.idempotency.take(state.caller!.org.id, request.url.split('?')[0]!, value, clock.now());
          } catch (error) {
            if (error instanceof ApiError && error.statusCode === 400) violation(request, [error.message]);
            throw error;
          }
        }
      });

      // Give an idempotency key back when the request was not carried out (see idempotency.ts).
      // Decided by the handler's result, not the status sent: an injected ambiguous failure
      // answers 5xx (or nothing) for a write that did commit, and its key stays used.
      api.addHook('onSend', async (request, _reply, payload) => {
        const state = info.get(request);
        if (state?.idempotencySlot && !state.committed) deps.idempotency.release(state.idempotencySlot);
        return payload;
      });

      for (const operation of openapi.operations) {
        const handler = handlers[operation.operationId];
        api.route({
          method: operation.method,
          url: operation.fastifyUrl,
          config: { operation },
          handler: async (request: FastifyRequest, reply: FastifyReply) => {
            if (!handler) {
              throw new ApiError(501, 'NOT_IMPLEMENTED', `${operation.route} is in the spec but not simulated by the sandbox`);
            }
            const state = infoOf(request);
            const result = handler(services, {
              org: state.caller!.org,
              accessId: state.caller!.accessId,
              params: state.coerced!.params,
              query: state.coerced!.query,
              body: state.coerced!.body,
            });
            state.committed = result.status >= 200 && result.status < 300;
            if (deps.responseViolations) {
              const errors = openapi.validateResponse(operation.operationId, result.status, result.body);
              if (errors.length) deps.responseViolations.push({ at: clock.now(), method: request.method, route: operation.route, errors });
            }
            reply.code(result.status);
            return result.body === undefined ? reply.send() : reply.send(result.body);
          },
        });
      }

      api.setErrorHandler(async (error, request, reply) => {
        if (error instanceof ApiError) return reply.code(error.statusCode).send(error.toBody());
        const status = (error as { statusCode?: number }).statusCode ?? 500;
        if (status >= 400 && status < 500) {
          // Fastify's own refusals: unparsable JSON, unsupported content type, body too large.
          const message = (error as Error).message;
          violation(request, [message]);
          return reply.code(status).send(errorBody(status, status === 415 ? 'UNSUPPORTED_MEDIA_TYPE' : 'BAD_PARAMETER', message));
        }
        return reply.code(500).send(errorBody(500, 'INTERNAL', 'unexpected error in the sandbox'));
      });

      api.setNotFoundHandler(async (request, reply) => {
        violation(request, [`no operation ${request.method} ${request.url.split('?')[0]} in the OpenAPI`]);
        return reply.code(404).send(errorBody(404, 'NOT_FOUND', `no route ${request.method} ${request.url.split('?')[0]}`));
      });
    },
    { prefix: API_PREFIX },
  );
}
