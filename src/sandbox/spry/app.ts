// Assembles the Fastify app: request log and faults at the root, then the Spry API (envelope
// errors; the token route open, every resource route behind the bearer check and the rate
// limit), then the control API under /_sandbox/.
import formbody from '@fastify/formbody';
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply } from 'fastify';
import type { Clock } from '../../clock.ts';
import type { FaultInjector } from '../faults.ts';
import { installAuth } from './auth.ts';
import { registerControlRoutes } from './control.ts';
import { CODE, faultErrorBody, SpryApiError } from './envelope.ts';
import type { OAuthServer } from './oauth.ts';
import type { OrgRateLimiter } from './rate-limit.ts';
import { RecordError, type SpryRecords } from './records.ts';
import { installRequestLog, type RequestLogEntry } from './request-log.ts';
import { registerAppointmentRoutes } from './routes/appointments.ts';
import { registerCaseRoutes } from './routes/cases.ts';
import { registerCommunicationRoutes } from './routes/communications.ts';
import type { RouteDeps } from './routes/deps.ts';
import { registerOAuthRoutes } from './routes/oauth.ts';
import { registerPatientRoutes } from './routes/patients.ts';
import { registerSubscriptionRoutes } from './routes/subscriptions.ts';
import type { SpryStaff } from './staff.ts';
import type { SprySimulator } from './types.ts';
import { ValidationError } from './validation.ts';

export const CONTROL_PREFIX = '/_sandbox';

const GATEWAY_NOT_FOUND =
  '<html>\r\n<head><title>404 Not Found</title></head>\r\n<body>\r\n<center><h1>404 Not Found</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n';

export interface AppDeps extends RouteDeps {
  faults: FaultInjector;
  oauth: OAuthServer;
  rateLimiter: OrgRateLimiter;
  requestLog: RequestLogEntry[];
  staff: SpryStaff;
  records: SpryRecords;
  clock: Clock;
  sim: () => SprySimulator;
}

/** Maps anything thrown by an API route to Spry's error envelope. */
function envelopeError(error: FastifyError | Error, reply: FastifyReply) {
  if (error instanceof SpryApiError) {
    return reply.code(error.httpStatus).headers(error.headers).send(error.toEnvelope());
  }
  if (error instanceof RecordError) {
    return error.kind === 'not_found'
      ? reply.code(404).send({ code: CODE.NOT_FOUND, message: error.message })
      : reply.code(400).send({ code: CODE.VALIDATION, message: error.message });
  }
  if (error instanceof ValidationError) return reply.code(400).send({ code: CODE.VALIDATION, message: error.message });
  const status = (error as FastifyError).statusCode;
  if (status && status >= 400 && status < 500) {
    return reply.code(status).send({ code: CODE.BAD_REQUEST, message: error.message });
  }
  return reply.code(500).send({ code: CODE.INTERNAL, message: 'Internal server error' });
}

/** A write was carried out when Spry says so: a 2xx AND envelope code 2000 (refusals can be HTTP 200). */
function envelopeSucceeded(statusCode: number, payload: unknown): boolean {
  if (statusCode < 200 || statusCode >= 300 || typeof payload !== 'string') return false;
  try {
    return (JSON.parse(payload) as { code?: unknown }).code === CODE.SUCCESS;
  } catch {
    return false;
  }
}

export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  // No logger: request bodies and URLs can carry PHI.
  const app = Fastify({ logger: false });
  await app.register(formbody);
  // An empty JSON body is "no body" (as for POST …/test), not a parse error; anything else goes
  // through Fastify's own parser (which refuses __proto__ poisoning).
  const defaultJson = app.getDefaultJsonParser('error', 'error');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    if (String(body).trim() === '') return done(null, undefined);
    defaultJson(request, String(body), done);
  });

  const requestLog = installRequestLog(app, {
    clock: deps.clock,
    log: deps.requestLog,
    exceptPrefix: CONTROL_PREFIX,
    organisationOf: (request) => deps.oauth.organisationOf(request.headers.authorization),
  });
  deps.faults.install(app, { clock: deps.clock, errorBody: faultErrorBody, exceptPrefix: CONTROL_PREFIX, committed: envelopeSucceeded });
  requestLog.recordCodes();

  await app.register(async (api) => {
    api.setErrorHandler((error: FastifyError | Error, _request, reply) => envelopeError(error, reply));
    registerOAuthRoutes(api, deps.oauth);
    await api.register(async (resources) => {
      installAuth(resources, deps.oauth, deps.rateLimiter);
      registerPatientRoutes(resources, deps);
      registerCommunicationRoutes(resources, deps);
      registerAppointmentRoutes(resources, deps);
      registerCaseRoutes(resources, deps);
      registerSubscriptionRoutes(resources, deps);
    });
  });

  await app.register(
    async (control) => registerControlRoutes(control, { sim: deps.sim(), records: deps.records, staff: deps.staff }),
    { prefix: CONTROL_PREFIX },
  );

  app.setErrorHandler((error: FastifyError | Error, _request, reply) => envelopeError(error, reply));
  // A path the API does not have is answered by the gateway in front of it, not by Spry: a
  // plain HTML 404 with no envelope [ours], unlike a missing record (404 + code 4004), so a
  // client that reads "not found" as "no such patient" is caught out.
  app.setNotFoundHandler((_request, reply) => reply.code(404).type('text/html; charset=utf-8').send(GATEWAY_NOT_FOUND));
  return app;
}
