// /audit: the append-only trail of every read and write of PHI in either system, and of every
// operator change to a tenant (system spruce-sync), searchable.
import type { FastifyPluginAsync } from 'fastify';
import { parseTime, type AdminContext } from '../../operations/context.ts';
import { AUDIT_SYSTEMS, type AuditSystem } from '../../store/types.ts';
import * as s from './schemas.ts';

interface AuditSearchQuery {
  tenantId?: string;
  system?: AuditSystem;
  recordType?: string;
  recordId?: string;
  action?: string;
  eventId?: number;
  since?: string;
  until?: string;
  before?: number;
  limit: number;
}

export const auditRoutes: FastifyPluginAsync<{ ctx: AdminContext }> = async (app, { ctx }) => {
  app.get<{ Querystring: AuditSearchQuery }>(
    '/audit',
    {
      schema: {
        summary: 'Search the audit trail, newest first',
        querystring: {
          type: 'object',
          properties: {
            tenantId: s.tenantId,
            system: { type: 'string', enum: [...AUDIT_SYSTEMS] },
            recordType: { type: 'string', maxLength: 60, description: 'patient, contact, link, communication, …' },
            recordId: { type: 'string', minLength: 1, maxLength: 200, description: 'Spry patient id or Spruce contact id, …' },
            action: { type: 'string', maxLength: 60, description: 'read, create, update, delete, link, unlink, skip, …' },
            eventId: { type: 'integer', minimum: 1, description: 'the inbound event that caused it' },
            since: s.time,
            until: s.time,
            before: s.before,
            limit: s.limit(500, 100),
          },
          additionalProperties: false,
        },
        response: {
          200: {
            type: 'object',
            properties: { entries: { type: 'array', items: s.auditRecord }, nextBefore: { type: ['integer', 'null'] } },
            required: ['entries', 'nextBefore'],
          },
          ...s.errors,
        },
      },
    },
    async (request) => {
      const { since, until, before, recordId, limit, ...keys } = request.query;
      const rows = await ctx.store.searchAuditRecords({
        ...keys,
        recordIds: recordId === undefined ? undefined : [recordId],
        since: parseTime(since, 'since'),
        until: parseTime(until, 'until'),
        beforeId: before,
        limit: limit + 1,
      });
      const entries = rows.slice(0, limit);
      return { entries, nextBefore: rows.length > limit ? entries[entries.length - 1]!.id : null };
    },
  );
};
