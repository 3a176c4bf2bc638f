// The control API under /_sandbox/: no auth, never subject to faults, plain JSON (not Spry's
// envelope). It lets a demo, a test or a person act as Spry staff, read the simulator's state
// and logs, inject faults, reset, and move the clock.
import type { FastifyError, FastifyInstance } from 'fastify';
import { z } from 'zod';
import { ControlledClock } from '../../clock.ts';
import { faultsSchema } from '../fault-schema.ts';
import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE } from './envelope.ts';
import { RecordError, type SpryRecords } from './records.ts';
import type { SpryStaff } from './staff.ts';
import type { SprySimulator } from './types.ts';
import { appointmentStatusChangeSchema, parse, patientStatusSchema, ValidationError } from './validation.ts';

const rateLimitSchema = z.object({ requests_per_second: z.number().positive().nullable() }).strict();
const advanceSchema = z.object({ ms: z.number().int().min(0).max(30 * 86_400_000) }).strict();
const pagingSchema = z
  .object({
    page: z.coerce.number().int().min(1).default(1),
    size: z.coerce.number().int().min(1).max(MAX_PAGE_SIZE).default(DEFAULT_PAGE_SIZE),
    status: patientStatusSchema.optional(),
  })
  .strict();

function intParam(value: string, name: string): number {
  if (!/^\d{1,15}$/.test(value)) throw new ValidationError(`${name} must be a positive integer`);
  return Number(value);
}

type OrgParams = { Params: { org: string } };
type OrgIdParams = { Params: { org: string; id: string } };

export function registerControlRoutes(
  app: FastifyInstance,
  deps: { sim: SprySimulator; records: SpryRecords; staff: SpryStaff },
): void {
  const { sim, records, staff } = deps;

  app.setErrorHandler((error: FastifyError | Error, _request, reply) => {
    if (error instanceof ValidationError) return reply.code(400).send({ error: 'bad_request', message: error.message });
    if (error instanceof RecordError) {
      return reply.code(error.kind === 'not_found' ? 404 : 400).send({
        error: error.kind === 'not_found' ? 'not_found' : 'bad_request',
        message: error.message,
      });
    }
    const status = (error as FastifyError).statusCode;
    if (status && status < 500) return reply.code(status).send({ error: 'bad_request', message: error.message });
    return reply.code(500).send({ error: 'internal', message: error.message });
  });
  app.setNotFoundHandler((request, reply) =>
    reply.code(404).send({ error: 'not_found', message: `No control route ${request.method} ${request.url.split('?')[0]}` }),
  );

  const org = (value: string): number => {
    const id = intParam(value, 'organisation id');
    records.org(id); // 404 when unknown
    return id;
  };

  // ---- overview ----
  app.get('/state', async () => ({
    now: sim.clock.now(),
    controllableClock: sim.clock instanceof ControlledClock,
    organisations: sim.organisations().map((o) => ({
      organisationId: o.organisationId,
      name: o.name,
      patientCount: o.patientCount,
      subscriptions: sim.subscriptions(o.organisationId).length,
    })),
    events: sim.events().length,
    deliveryAttempts: sim.dispatcher.attempts.length,
    pendingDeliveries: sim.dispatcher.pendingCount(),
    requests: sim.requestLog.length,
    faults: sim.faults.describe(),
  }));
  app.get('/credentials', async () => sim.credentials());
  app.get('/organisations', async () => sim.organisations());

  // ---- patients ----
  app.get<OrgParams & { Querystring: Record<string, string> }>('/orgs/:org/patients', async (request) => {
    const { page, size, status } = parse(pagingSchema, request.query);
    return records.listPatients(org(request.params.org), { status }, { page, size });
  });
  app.get<OrgIdParams>('/orgs/:org/patients/:id', async (request) =>
    records.requirePatient(org(request.params.org), intParam(request.params.id, 'patient id')),
  );
  app.post<OrgParams>('/orgs/:org/patients', async (request, reply) => {
    reply.code(201);
    return staff.registerPatient(org(request.params.org), request.body as never);
  });
  app.patch<OrgIdParams>('/orgs/:org/patients/:id', async (request) =>
    staff.editPatient(org(request.params.org), intParam(request.params.id, 'patient id'), request.body as never),
  );
  for (const [action, status] of [
    ['archive', 'ARCHIVED'],
    ['inactivate', 'INACTIVE'],
    ['activate', 'ACTIVE'],
  ] as const) {
    app.post<OrgIdParams>(`/orgs/:org/patients/:id/${action}`, async (request) =>
      staff.editPatient(org(request.params.org), intParam(request.params.id, 'patient id'), { status }),
    );
  }
  app.get<OrgIdParams>('/orgs/:org/patients/:id/appointments', async (request) => {
    const organisationId = org(request.params.org);
    const patientId = intParam(request.params.id, 'patient id');
    records.requirePatient(organisationId, patientId);
    return records.appointmentsOf(organisationId, patientId);
  });
  app.get<OrgIdParams>('/orgs/:org/patients/:id/cases', async (request) => {
    const organisationId = org(request.params.org);
    const patientId = intParam(request.params.id, 'patient id');
    records.requirePatient(organisationId, patientId);
    return records.casesOf(organisationId, patientId);
  });
  app.get<OrgIdParams>('/orgs/:org/patients/:id/communications', async (request) => {
    const organisationId = org(request.params.org);
    const patientId = intParam(request.params.id, 'patient id');
    records.requirePatient(organisationId, patientId);
    return records.communicationsOf(organisationId, patientId);
  });

  // ---- appointments ----
  app.post<OrgParams>('/orgs/:org/appointments', async (request, reply) => {
    reply.code(201);
    return staff.bookAppointment(org(request.params.org), request.body as never);
  });
  app.get<OrgIdParams>('/orgs/:org/appointments/:id', async (request) =>
    records.requireAppointment(org(request.params.org), intParam(request.params.id, 'appointment id')),
  );
  app.post<OrgIdParams>('/orgs/:org/appointments/:id/reschedule', async (request) =>
    staff.rescheduleAppointment(org(request.params.org), intParam(request.params.id, 'appointment id'), request.body as never),
  );
  app.post<OrgIdParams>('/orgs/:org/appointments/:id/cancel', async (request) =>
    staff.cancelAppointment(org(request.params.org), intParam(request.params.id, 'appointment id')),
  );
  app.post<OrgIdParams>('/orgs/:org/appointments/:id/check-in', async (request) =>
    staff.checkInAppointment(org(request.params.org), intParam(request.params.id, 'appointment id')),
  );
  app.post<OrgIdParams>('/orgs/:org/appointments/:id/status', async (request) => {
    const { status } = parse(appointmentStatusChangeSchema, request.body);
    return staff.setAppointmentStatus(org(request.params.org), intParam(request.params.id, 'appointment id'), status);
  });

  // ---- cases ----
  app.post<OrgParams>('/orgs/:org/cases', async (request, reply) => {
    reply.code(201);
    return staff.openCase(org(request.params.org), request.body as never);
  });
  app.get<OrgIdParams>('/orgs/:org/cases/:id', async (request) =>
    records.requireCase(org(request.params.org), request.params.id),
  );
  app.patch<OrgIdParams>('/orgs/:org/cases/:id', async (request) =>
    staff.updateCase(org(request.params.org), request.params.id, request.body as never),
  );

  // ---- webhooks ----
  app.get<OrgParams>('/orgs/:org/subscriptions', async (request) => sim.subscriptions(org(request.params.org)));
  app.get<{ Querystring: { organisation_id?: string } }>('/events', async (request) => {
    const id = request.query.organisation_id;
    return sim.events(id === undefined ? undefined : org(id));
  });
  app.get('/deliveries', async () => ({
    attempts: sim.dispatcher.attempts,
    pending: sim.dispatcher.pendingCount(),
    nextDueAt: sim.dispatcher.nextDueAt() ?? null,
  }));
  app.post('/settle', async () => {
    await sim.settle();
    return { pending: sim.dispatcher.pendingCount() };
  });

  // ---- request log ----
  app.get<{ Querystring: { since?: string } }>('/request-log', async (request) => {
    const since = request.query.since === undefined ? 0 : intParam(request.query.since, 'since');
    return { total: sim.requestLog.length, entries: sim.requestLog.slice(since) };
  });
  app.delete('/request-log', async () => {
    sim.requestLog.length = 0;
    return { total: 0 };
  });

  // ---- faults and limits ----
  app.get('/faults', async () => sim.faults.describe());
  app.put('/faults', async (request) => {
    const body = parse(faultsSchema, request.body);
    if (body.routes) sim.faults.setRouteFaults(body.routes);
    if (body.deliveries) sim.faults.setDeliveryFaults(body.deliveries);
    return sim.faults.describe();
  });
  app.delete('/faults', async () => {
    sim.faults.clear();
    return sim.faults.describe();
  });
  app.post('/oauth/expire-tokens', async () => {
    sim.expireTokens();
    return { expired: true };
  });
  app.put('/rate-limit', async (request) => {
    const { requests_per_second } = parse(rateLimitSchema, request.body);
    sim.setRateLimit(requests_per_second);
    return { requests_per_second };
  });

  // ---- lifecycle and time ----
  app.post('/reset', async () => {
    sim.reset();
    return { reset: true };
  });
  app.get('/clock', async () => ({ now: sim.clock.now(), iso: new Date(sim.clock.now()).toISOString() }));
  app.post('/clock/advance', async (request, reply) => {
    const { ms: by } = parse(advanceSchema, request.body);
    if (!(sim.clock instanceof ControlledClock)) {
      return reply.code(409).send({ error: 'conflict', message: 'The simulator clock is not a ControlledClock' });
    }
    await sim.advance(by);
    return { now: sim.clock.now(), iso: new Date(sim.clock.now()).toISOString() };
  });
}
