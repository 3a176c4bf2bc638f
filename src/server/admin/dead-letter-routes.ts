// /dead-letters: list the dead jobs, and replay every one matching a filter and time window.
import type { FastifyPluginAsync } from 'fastify';
import { parseTime, requireTenant, type AdminContext } from '../../operations/context.ts';
import type { Direction } from '../../operations/directions.ts';
import { listDeadLetters, replayDeadLetters, type DeadLetterFilter } from '../../operations/replay.ts';
import * as s from './schemas.ts';

interface FilterInput {
  tenantId?: string;
  direction?: Direction;
  jobKey?: string;
  errorCode?: string;
  since?: string;
  until?: string;
}

const filterProperties = {
  tenantId: s.tenantId,
  direction: s.direction,
  jobKey: { type: 'string', minLength: 1, maxLength: 300 },
  errorCode: { type: 'string', pattern: '^[A-Z][A-Z0-9_]*$', maxLength: 60, description: 'e.g. SPRUCE_REJECTED' },
  since: { ...s.time, description: `died at or after: ${s.time.description}` },
  until: { ...s.time, description: `died before: ${s.time.description}` },
} as const;

function toFilter(ctx: AdminContext, input: FilterInput): DeadLetterFilter {
  if (input.tenantId !== undefined) requireTenant(ctx, input.tenantId);
  return {
    tenantId: input.tenantId,
    direction: input.direction,
    jobKey: input.jobKey,
    errorCode: input.errorCode,
    since: parseTime(input.since, 'since'),
    until: parseTime(input.until, 'until'),
  };
}

export const deadLetterRoutes: FastifyPluginAsync<{ ctx: AdminContext }> = async (app, { ctx }) => {
  app.get<{ Querystring: FilterInput & { limit: number; before?: number } }>(
    '/dead-letters',
    {
      schema: {
        summary: 'Dead-letter jobs, newest first',
        querystring: {
          type: 'object',
          properties: { ...filterProperties, before: s.before, limit: s.limit(200, 50) },
          additionalProperties: false,
        },
        response: {
          200: {
            type: 'object',
            properties: { deadLetters: { type: 'array', items: s.deadLetter }, nextBefore: { type: ['integer', 'null'] } },
            required: ['deadLetters', 'nextBefore'],
          },
          ...s.errors,
        },
      },
    },
    async (request) => {
      const { limit, before, ...filter } = request.query;
      return listDeadLetters(ctx, toFilter(ctx, filter), { limit, before });
    },
  );

  app.post<{ Body: (FilterInput & { max?: number }) | null }>(
    '/dead-letters/replay',
    {
      schema: {
        summary: 'Replay every dead letter matching the filter and time window (idempotent)',
        body: {
          type: ['object', 'null'],
          properties: { ...filterProperties, max: { type: 'integer', minimum: 1, maximum: 10_000, default: 1_000 } },
          additionalProperties: false,
        },
        response: {
          200: {
            type: 'object',
            properties: {
              matched: { type: 'integer' },
              replayed: { type: 'integer' },
              truncated: { type: 'boolean' },
              jobs: {
                type: 'array',
                items: { type: 'object', properties: { tenantId: { type: 'string' }, key: { type: 'string' } }, required: ['tenantId', 'key'] },
              },
            },
            required: ['matched', 'replayed', 'truncated', 'jobs'],
          },
          ...s.errors,
        },
      },
    },
    async (request) => {
      const { max, ...filter } = request.body ?? {};
      return replayDeadLetters(ctx, toFilter(ctx, filter), max ?? 1_000, 'admin-api');
    },
  );
};
