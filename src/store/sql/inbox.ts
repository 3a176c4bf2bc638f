// The inbox: storing, deduping and finding inbound events.
import type { Cipher } from '../cipher.ts';
import { eventFilters, payloadContext, subjectIds, toInboundEvent, type EventRow } from '../rows.ts';
import type { EventQuery, EventSource, InboundEvent, NewInboundEvent } from '../types.ts';
import { filterConditions, sql, where, type Db, type Sql } from './sql.ts';

/** An event's columns as stored: the payload sealed, the subject's ids pulled out for search. */
export function eventValues(event: NewInboundEvent, cipher: Cipher) {
  return {
    ...event,
    payload: cipher.seal(event.payload, payloadContext(event)),
    subject: JSON.stringify(event.subject),
    ...subjectIds(event.subject),
  };
}

/** Stores one event row, returning its id; no row when (tenant, source, eventKey) is already there. */
function insertEventSql(e: ReturnType<typeof eventValues>): Sql {
  return sql`
    INSERT INTO events (tenant_id, source, event_key, type, occurred_at, received_at, payload, subject,
                        patient_id, contact_id, status, reason, job_key, updated_at)
    VALUES (${e.tenantId}, ${e.source}, ${e.eventKey}, ${e.type}, ${e.occurredAt}, ${e.receivedAt}, ${e.payload}, ${e.subject},
            ${e.patientId}, ${e.contactId}, ${e.status}, ${e.reason ?? null}, ${e.job?.key ?? null}, ${e.receivedAt})
    ON CONFLICT (tenant_id, source, event_key) DO NOTHING
    RETURNING id`;
}

export async function insertEventRow(db: Db, event: ReturnType<typeof eventValues>): Promise<number | null> {
  return (await db.get<{ id: number }>(insertEventSql(event)))?.id ?? null;
}

/** The id of the event already stored under (tenant, source, eventKey). */
function eventIdSql(event: NewInboundEvent): Sql {
  return sql`SELECT id FROM events WHERE tenant_id = ${event.tenantId} AND source = ${event.source} AND event_key = ${event.eventKey}`;
}

export async function findEventId(db: Db, event: NewInboundEvent): Promise<number> {
  return (await db.get<{ id: number }>(eventIdSql(event)))!.id;
}

export async function getEvent(db: Db, cipher: Cipher, id: number): Promise<InboundEvent | null> {
  const row = await db.get<EventRow>(sql`SELECT * FROM events WHERE id = ${id}`);
  return row ? toInboundEvent(row, cipher) : null;
}

export async function listQueuedEvents(db: Db, cipher: Cipher, tenantId: string, jobKey: string, uptoId: number): Promise<InboundEvent[]> {
  const rows = await db.all<EventRow>(sql`
    SELECT * FROM events
    WHERE tenant_id = ${tenantId} AND job_key = ${jobKey} AND status = 'queued' AND id <= ${uptoId}
    ORDER BY id`);
  return rows.map((row) => toInboundEvent(row, cipher));
}

/** Newest first, paged by id (`beforeId`), so pages stay stable while events arrive. */
export async function searchEvents(db: Db, cipher: Cipher, query: EventQuery): Promise<InboundEvent[]> {
  const rows = await db.all<EventRow>(sql`SELECT * FROM events ${where(filterConditions(eventFilters(query)))} ORDER BY id DESC LIMIT ${query.limit}`);
  return rows.map((row) => toInboundEvent(row, cipher));
}

/** Test deliveries carry made-up times, so they do not count. */
export async function latestEventTime(db: Db, tenantId: string, source: EventSource): Promise<number | null> {
  const row = await db.get<{ latest: number | null }>(
    sql`SELECT max(occurred_at) AS latest FROM events WHERE tenant_id = ${tenantId} AND source = ${source} AND status <> 'test'`,
  );
  return row?.latest ?? null;
}
