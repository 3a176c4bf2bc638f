// Webhook subscriptions [doc], scoped to the token's organisation. The v2 API answers proper
// HTTP statuses (400/404), with a stable `error` name beside the envelope code.
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { SPRY_EVENT_TYPES, type SpryEventType } from '../../../spry/types.ts';
import { organisationOf } from '../auth.ts';
import { CODE, ok, SpryApiError } from '../envelope.ts';
import { parse, subscriptionCreateSchema, subscriptionPatchSchema, ValidationError } from '../validation.ts';
import type { RouteDeps } from './deps.ts';

function validate<T extends z.ZodType>(schema: T, input: unknown): z.output<T> {
  try {
    return parse(schema, input);
  } catch (error) {
    if (error instanceof ValidationError) throw new SpryApiError(400, CODE.VALIDATION, error.message, 'VALIDATION_ERROR');
    throw error;
  }
}

const testSchema = z
  .object({ event_type: z.enum(SPRY_EVENT_TYPES as [SpryEventType, ...SpryEventType[]]).optional() })
  .strict();

type IdParams = { Params: { id: string } };

export function registerSubscriptionRoutes(app: FastifyInstance, { subscriptions, webhooks }: RouteDeps): void {
  app.post('/api/v2/subscriptions', async (request, reply) => {
    const input = validate(subscriptionCreateSchema, request.body);
    reply.code(201);
    return ok(subscriptions.create(organisationOf(request), input));
  });

  app.get<{ Querystring: { is_active?: string } }>('/api/v2/subscriptions', async (request) => {
    const { is_active } = request.query;
    if (is_active !== undefined && is_active !== 'true' && is_active !== 'false') {
      throw new SpryApiError(400, CODE.VALIDATION, 'is_active must be true or false', 'VALIDATION_ERROR');
    }
    return ok(subscriptions.list(organisationOf(request), is_active === undefined ? undefined : is_active === 'true'));
  });

  app.get<IdParams>('/api/v2/subscriptions/:id', async (request) => {
    return ok(subscriptions.get(organisationOf(request), request.params.id));
  });

  app.patch<IdParams>('/api/v2/subscriptions/:id', async (request) => {
    const organisationId = organisationOf(request);
    subscriptions.stored(organisationId, request.params.id); // 404 first
    const patch = validate(subscriptionPatchSchema, request.body);
    return ok(subscriptions.update(organisationId, request.params.id, patch));
  });

  app.delete<IdParams>('/api/v2/subscriptions/:id', async (request) => {
    subscriptions.delete(organisationOf(request), request.params.id);
    return ok({ id: request.params.id, deleted: true });
  });

  app.post<IdParams>('/api/v2/subscriptions/:id/rotate-secret', async (request) => {
    return ok(subscriptions.rotate(organisationOf(request), request.params.id));
  });

  app.post<IdParams>('/api/v2/subscriptions/:id/test', async (request) => {
    const stored = subscriptions.stored(organisationOf(request), request.params.id);
    const { event_type } = validate(testSchema, request.body ?? {});
    const type = event_type ?? (stored.subscription.event_types[0] as SpryEventType | undefined) ?? 'patient.updated';
    const envelope = webhooks.sendTest(stored, type);
    return ok({ event_id: envelope.event_id, event_type: envelope.event_type, test: true });
  });
}
