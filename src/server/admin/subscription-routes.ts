// Event subscriptions in the admin API, under /admin/api/tenants/{tenantId}/subscriptions:
// add (the signing secret is in this one answer only), list, show, change, remove, pause,
// resume (re-enables a disabled one), rotate the secret, upgrade the payload version, send a
// test event, list deliveries with their attempts, replay one or every failed one in a window.
// Registered by app.ts beside the admin plugin, behind the same bearer token.
import type { FastifyPluginAsync } from 'fastify';
import { AdminError } from '../../errors.ts';
import { KNOWN_EVENT_TYPES } from '../../fanout/event-types.ts';
import { LATEST_PAYLOAD_VERSION, PAYLOAD_VERSIONS } from '../../fanout/payload-versions.ts';
import { parseDuration } from '../../fanout/retry-schedule.ts';
import type { SubscriptionAdmin, SubscriptionChange, SubscriptionInput } from '../../fanout/subscriptions.ts';
import type { DeliveryStatus } from '../../fanout/types.ts';
import { bearerAuth } from './auth.ts';
import { adminErrorHandler } from './error-handler.ts';
import { parseTime } from '../../operations/context.ts';
import { tenantParams } from './schemas.ts';
import * as s from './subscription-schemas.ts';
import { strictValidation } from './validation.ts';

export interface SubscriptionRoutesOptions {
  token: string;
  admin: SubscriptionAdmin;
  logger?: { error: (fields: Record<string, unknown>, message: string) => void };
}

type Params = { tenantId: string; subscriptionId: string };
type DeliveryParams = Params & { deliveryId: number };

const ok = (schema: unknown) => ({ 200: schema, ...s.errors });
const viewAnswer = ok(s.subscriptionView);

export const subscriptionRoutes: FastifyPluginAsync<SubscriptionRoutesOptions> = async (app, { token, admin, logger }) => {
  app.addHook('onRequest', bearerAuth(token));
  strictValidation(app);
  app.setErrorHandler(adminErrorHandler(logger, 'subscription request'));

  const base = '/tenants/:tenantId/subscriptions';
  const one = `${base}/:subscriptionId`;

  app.get(
    '/fanout/event-types',
    {
      schema: {
        summary: 'Event types subscribers can choose, and the payload versions',
        response: ok({
          type: 'object',
          properties: { eventTypes: { type: 'array', items: { type: 'string' } }, versions: { type: 'array', items: { type: 'string' } }, latestVersion: { type: 'string' } },
          required: ['eventTypes', 'versions', 'latestVersion'],
        }),
      },
    },
    async () => ({ eventTypes: KNOWN_EVENT_TYPES, versions: PAYLOAD_VERSIONS, latestVersion: LATEST_PAYLOAD_VERSION }),
  );

  app.get<{ Params: { tenantId: string } }>(
    base,
    {
      schema: {
        summary: "The tenant's event subscriptions",
        params: tenantParams,
        response: ok({ type: 'object', properties: { subscriptions: { type: 'array', items: s.subscriptionView } }, required: ['subscriptions'] }),
      },
    },
    async (request) => ({ subscriptions: await admin.list(request.params.tenantId) }),
  );

  app.post<{ Params: { tenantId: string }; Body: SubscriptionInput }>(
    base,
    {
      schema: {
        summary: 'Add a subscription; the answer holds its signing secret, shown this once',
        params: tenantParams,
        body: s.createBody,
        response: {
          201: { type: 'object', properties: { subscription: s.subscriptionView, secret: { type: 'string' } }, required: ['subscription', 'secret'] },
          ...s.errors,
        },
      },
    },
    async (request, reply) => reply.code(201).send(await admin.add(request.params.tenantId, request.body)),
  );

  app.get<{ Params: Params }>(one, { schema: { summary: 'One subscription', params: s.subscriptionParams, response: viewAnswer } }, async (request) =>
    admin.get(request.params.tenantId, request.params.subscriptionId),
  );

  app.patch<{ Params: Params; Body: SubscriptionChange }>(
    one,
    { schema: { summary: "Change a subscription's settings", params: s.subscriptionParams, body: s.changeBody, response: viewAnswer } },
    async (request) => admin.update(request.params.tenantId, request.params.subscriptionId, request.body),
  );

  app.delete<{ Params: Params }>(
    one,
    { schema: { summary: 'Remove a subscription with its deliveries', params: s.subscriptionParams, response: { 204: { type: 'null' }, ...s.errors } } },
    async (request, reply) => {
      await admin.remove(request.params.tenantId, request.params.subscriptionId);
      return reply.code(204).send();
    },
  );

  app.post<{ Params: Params }>(
    `${one}/pause`,
    { schema: { summary: 'Pause: events are kept and wait, in order', params: s.subscriptionParams, response: viewAnswer } },
    async (request) => admin.pause(request.params.tenantId, request.params.subscriptionId),
  );

  app.post<{ Params: Params }>(
    `${one}/resume`,
    { schema: { summary: 'Resume (or re-enable a disabled one): what accrued is delivered, in order', params: s.subscriptionParams, response: viewAnswer } },
    async (request) => admin.resume(request.params.tenantId, request.params.subscriptionId),
  );

  app.post<{ Params: Params; Body: { overlap?: string | number } | null }>(
    `${one}/rotate`,
    {
      schema: {
        summary: 'New signing secret (shown once); the previous one keeps signing for the overlap',
        params: s.subscriptionParams,
        body: {
          type: ['object', 'null'],
          properties: { overlap: { type: ['string', 'integer'], description: 'how long the previous secret keeps signing, e.g. 24h (default fanout.rotationOverlapMs)' } },
          additionalProperties: false,
        },
        response: ok({
          type: 'object',
          properties: { secret: { type: 'string' }, previousExpiresAt: { type: ['integer', 'null'] } },
          required: ['secret', 'previousExpiresAt'],
        }),
      },
    },
    async (request) => {
      const overlap = request.body?.overlap;
      return admin.rotateSecret(request.params.tenantId, request.params.subscriptionId, overlap === undefined ? undefined : durationMs(overlap, 'overlap'));
    },
  );

  app.post<{ Params: Params; Body: { version?: string } | null }>(
    `${one}/upgrade`,
    {
      schema: {
        summary: 'Move to a newer payload version (default the newest)',
        params: s.subscriptionParams,
        body: { type: ['object', 'null'], properties: { version: { type: 'string', maxLength: 20 } }, additionalProperties: false },
        response: viewAnswer,
      },
    },
    async (request) => admin.upgrade(request.params.tenantId, request.params.subscriptionId, request.body?.version),
  );

  app.post<{ Params: Params }>(
    `${one}/test`,
    {
      schema: {
        summary: 'Send a webhook.test event to this subscription',
        params: s.subscriptionParams,
        response: { 202: { type: 'object', properties: { messageId: { type: 'string' } }, required: ['messageId'] }, ...s.errors },
      },
    },
    async (request, reply) => reply.code(202).send(await admin.sendTest(request.params.tenantId, request.params.subscriptionId)),
  );

  app.get<{ Params: Params; Querystring: { status?: DeliveryStatus; since?: string; until?: string; before?: number; limit: number } }>(
    `${one}/deliveries`,
    {
      schema: {
        summary: 'Deliveries, newest first',
        params: s.subscriptionParams,
        querystring: s.deliveryQuery,
        response: ok({
          type: 'object',
          properties: { deliveries: { type: 'array', items: s.delivery }, nextBefore: { type: ['integer', 'null'] } },
          required: ['deliveries', 'nextBefore'],
        }),
      },
    },
    async (request) => {
      const { status, since, until, before, limit } = request.query;
      return admin.deliveries(request.params.tenantId, request.params.subscriptionId, {
        status,
        since: parseTime(since, 'since'),
        until: parseTime(until, 'until'),
        before,
        limit,
      });
    },
  );

  app.get<{ Params: DeliveryParams }>(
    `${one}/deliveries/:deliveryId`,
    {
      schema: {
        summary: 'One delivery with every attempt',
        params: s.deliveryParams,
        response: ok({ type: 'object', properties: { delivery: s.delivery, attempts: { type: 'array', items: s.attempt } }, required: ['delivery', 'attempts'] }),
      },
    },
    async (request) => admin.attempts(request.params.tenantId, request.params.subscriptionId, request.params.deliveryId),
  );

  app.post<{ Params: DeliveryParams }>(
    `${one}/deliveries/:deliveryId/replay`,
    { schema: { summary: 'Send one delivery again (same webhook-id)', params: s.deliveryParams, response: ok(s.replayed) } },
    async (request) => admin.replayOne(request.params.tenantId, request.params.subscriptionId, request.params.deliveryId),
  );

  app.post<{ Params: Params; Body: { since: string; until?: string } }>(
    `${one}/replay`,
    { schema: { summary: 'Send again every failed delivery created in the window', params: s.subscriptionParams, body: s.replayWindow, response: ok(s.replayed) } },
    async (request) =>
      admin.replayFailed(request.params.tenantId, request.params.subscriptionId, {
        since: parseTime(request.body.since, 'since')!,
        until: parseTime(request.body.until, 'until'),
      }),
  );
};

function durationMs(value: string | number, name: string): number {
  const ms = parseDuration(value);
  if (ms === null) throw new AdminError('bad_request', `${name}: a duration such as 30m or 24h`);
  return ms;
}
