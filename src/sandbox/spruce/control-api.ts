// The sandbox's control API under `/_sandbox/`: staff actions, state, logs, faults, reset and
// the clock, for the demo, the CLI and tests in other processes. Outside auth, faults and rate
// limits (it is not part of Spruce). Errors use Spruce's shape, 400 for bad input.
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { ControlledClock } from '../../clock.ts';
import { faultsSchema } from '../fault-schema.ts';
import { ApiError, badParameter, errorBody } from './errors.ts';
import type { SpruceSimulator } from './index.ts';

export const CONTROL_PREFIX = '/_sandbox';

function parse<T>(schema: z.ZodType<T>, input: unknown): T {
  const result = schema.safeParse(input ?? {});
  if (result.success) return result.data;
  throw badParameter(result.error.issues.map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`).join('; '));
}

export function installControlApi(app: FastifyInstance, sim: SpruceSimulator): void {
  app.register(
    async (control) => {
      control.setErrorHandler(async (error, _request, reply) => {
        if (error instanceof ApiError) return reply.code(error.statusCode).send(error.toBody());
        const status = (error as { statusCode?: number }).statusCode ?? 500;
        return reply.code(status).send(errorBody(status, status < 500 ? 'BAD_PARAMETER' : 'INTERNAL', (error as Error).message));
      });
      control.setNotFoundHandler(async (request, reply) =>
        reply.code(404).send(errorBody(404, 'NOT_FOUND', `no sandbox route ${request.method} ${request.url.split('?')[0]}`)),
      );

      const body = (request: { body: unknown }) => (request.body ?? {}) as Record<string, unknown>;

      // Reading
      control.get('/credentials', async () => ({ credentials: sim.credentials() }));
      control.get('/state', async (request) => {
        const { organizationId } = request.query as { organizationId?: string };
        return sim.snapshot(organizationId);
      });
      control.get('/requests', async (request) => {
        const since = Number((request.query as { since?: string }).since ?? 0);
        return { requests: sim.requestLog.slice(Number.isFinite(since) ? since : 0), total: sim.requestLog.length };
      });
      control.get('/violations', async () => ({ violations: sim.violations, responseViolations: sim.responseViolations }));
      control.get('/events', async () => ({
        events: sim.events.map((e) => ({ id: e.id, organizationId: e.orgId, type: e.type, eventTime: e.eventTime })),
      }));
      control.get('/webhooks/attempts', async () => ({ attempts: sim.dispatcher.attempts }));

      // Faults, reset, clock
      control.get('/faults', async () => sim.faults.describe());
      control.put('/faults', async (request) => {
        const input = parse(faultsSchema, request.body);
        sim.faults.setRouteFaults(input.routes ?? []);
        sim.faults.setDeliveryFaults(input.deliveries ?? {});
        return sim.faults.describe();
      });
      control.delete('/faults', async () => {
        sim.faults.clear();
        return sim.faults.describe();
      });
      control.post('/reset', async () => {
        await sim.reset();
        return { ok: true };
      });
      control.get('/clock', async () => ({ now: sim.clock.now(), iso: new Date(sim.clock.now()).toISOString() }));
      control.post('/clock/advance', async (request) => {
        const { ms } = parse(z.strictObject({ ms: z.number().min(0) }), request.body);
        if (!(sim.clock instanceof ControlledClock)) throw badParameter('the simulator clock cannot be advanced (not a ControlledClock)');
        await sim.advance(ms);
        return { now: sim.clock.now(), iso: new Date(sim.clock.now()).toISOString() };
      });
      control.post('/settle', async () => {
        await sim.settle();
        return { ok: true };
      });

      // Staff actions
      control.post('/contacts', async (request, reply) => reply.code(201).send(sim.staff.createContact(body(request) as never)));
      control.patch('/contacts/:contactId', async (request) =>
        sim.staff.editContact((request.params as { contactId: string }).contactId, body(request) as never),
      );
      control.delete('/contacts/:contactId', async (request) => {
        sim.staff.deleteContact((request.params as { contactId: string }).contactId);
        return { ok: true };
      });
      control.post('/contacts/merge', async (request) => {
        const { survivorId, mergedId } = parse(z.strictObject({ survivorId: z.string(), mergedId: z.string() }), request.body);
        return sim.staff.mergeContacts(survivorId, mergedId);
      });
      control.post('/sms', async (request) => sim.staff.receiveSms(body(request) as never));
      control.post('/secure-messages', async (request) => sim.staff.receiveSecureMessage(body(request) as never));
      control.post('/notes', async (request) => sim.staff.postInternalNote(body(request) as never));
      control.post('/calls', async (request) => sim.staff.phoneCall(body(request) as never));
      const id = (request: { params: unknown }, name: string) => (request.params as Record<string, string>)[name]!;
      control.patch('/conversation-items/:itemId', async (request) => sim.staff.editConversationItem(id(request, 'itemId'), body(request) as never));
      control.delete('/conversation-items/:itemId', async (request) => {
        sim.staff.deleteConversationItem(id(request, 'itemId'));
        return { ok: true };
      });
      control.post('/conversation-items/:itemId/restore', async (request) => sim.staff.restoreConversationItem(id(request, 'itemId')));
      control.delete('/conversations/:conversationId', async (request) => {
        sim.staff.deleteConversation(id(request, 'conversationId'));
        return { ok: true };
      });
      control.post('/scheduled-messages', async (request, reply) => reply.code(201).send(sim.staff.scheduleMessage(body(request) as never)));
      control.patch('/scheduled-messages/:messageId', async (request) =>
        sim.staff.editScheduledMessage(id(request, 'messageId'), body(request) as never),
      );
      control.delete('/scheduled-messages/:messageId', async (request) => {
        sim.staff.deleteScheduledMessage(id(request, 'messageId'));
        return { ok: true };
      });
      control.post('/scheduled-messages/:messageId/send', async (request) => sim.staff.sendScheduledMessage(id(request, 'messageId')));
      control.post('/credentials/:accessId/disabled', async (request) => {
        const { disabled } = parse(z.strictObject({ disabled: z.boolean() }), request.body);
        sim.staff.setCredentialDisabled((request.params as { accessId: string }).accessId, disabled);
        return { ok: true };
      });
    },
    { prefix: CONTROL_PREFIX },
  );
}
