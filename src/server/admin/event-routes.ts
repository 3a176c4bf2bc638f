// /events: the event log, searched by business keys with keyset paging, and replay of one event.
import type { FastifyPluginAsync } from 'fastify';
import { AdminError } from '../../errors.ts';
import type { EventSource, EventStatus } from '../../store/types.ts';
import { parseTime, type AdminContext } from '../../operations/context.ts';
import { searchEventViews, withAttempts } from '../../operations/event-views.ts';
import { replayEvent } from '../../operations/replay.ts';
import * as s from './schemas.ts';

interface EventSearchQuery {
  tenantId?: string;
  source?: EventSource;
  type?: string;
  status?: EventStatus;
  patientId?: number;
  contactId?: string;
  jobKey?: string;
  since?: string;
  until?: string;
  before?: number;
  limit: number;
}

const eventParams = {
  type: 'object',
  properties: { id: { type: 'integer', minimum: 1 } },
  required: ['id'],
  additionalProperties: false,
} as const;

export const eventRoutes: FastifyPluginAsync<{ ctx: AdminContext }> = async (app, { ctx }) => {
  app.get<{ Querystring: EventSearchQuery }>(
    '/events',
    {
      schema: {
        summary: 'Search the event log (newest first); each event with its job attempts; no payloads',
        querystring: {
          type: 'object',
          properties: {
            tenantId: s.tenantId,
            source: { type: 'string', enum: ['spry', 'spruce'] },
            type: { type: 'string', maxLength: 200, description: 'e.g. patient.updated, contact.updated' },
            status: s.eventStatus,
            patientId: { type: 'integer', minimum: 1, description: 'Spry patient id' },
            contactId: { type: 'string', minLength: 1, maxLength: 200, description: 'Spruce contact id' },
            jobKey: { type: 'string', minLength: 1, maxLength: 300 },
            since: { ...s.time, description: `received at or after: ${s.time.description}` },
            until: { ...s.time, description: `received before: ${s.time.description}` },
            before: s.before,
            limit: s.limit(200, 50),
          },
          additionalProperties: false,
        },
        response: {
          200: {
            type: 'object',
            properties: { events: { type: 'array', items: s.event }, nextBefore: { type: ['integer', 'null'] } },
            required: ['events', 'nextBefore'],
          },
          ...s.errors,
        },
      },
    },
    async (request) => {
      const { since, until, before, ...keys } = request.query;
      return searchEventViews(ctx, {
        ...keys,
        since: parseTime(since, 'since'),
        until: parseTime(until, 'until'),
        beforeId: before,
      });
    },
  );

  app.get<{ Params: { id: number } }>(
    '/events/:id',
    { schema: { summary: 'One event with its job attempts', params: eventParams, response: { 200: s.event, ...s.errors } } },
    async (request) => {
      const [summary] = await ctx.store.listEventSummaries({ eventId: request.params.id, limit: 1 });
      if (!summary) throw new AdminError('unknown_event', `no event ${request.params.id}`);
      return (await withAttempts(ctx, [summary]))[0]!;
    },
  );

  app.post<{ Params: { id: number } }>(
    '/events/:id/replay',
    {
      schema: {
        summary: "Replay a dead event: its job runs again with fresh attempts (idempotent: replayed=false when nothing was dead)",
        params: eventParams,
        response: {
          200: {
            type: 'object',
            properties: {
              eventId: { type: 'integer' },
              tenantId: { type: 'string' },
              jobKey: { type: ['string', 'null'] },
              replayed: { type: 'boolean' },
              status: { type: 'string' },
            },
            required: ['eventId', 'tenantId', 'jobKey', 'replayed', 'status'],
          },
          ...s.errors,
        },
      },
    },
    async (request) => replayEvent(ctx, request.params.id, 'admin-api'),
  );
};
