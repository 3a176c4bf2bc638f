// The inbox in PostgreSQL: storing, deduping and finding inbound events.
import type pg from 'pg';
import type { Cipher } from '../cipher.ts';
import { eventFilters, PAYLOAD_CONTEXT, subjectIds, toInboundEvent, type EventRow } from '../rows.ts';
import type { EventQuery, EventSource, InboundEvent, NewInboundEvent } from '../types.ts';
import { inTransaction, type Queryable } from './db.ts';
import { enqueueWithEvent, requeueDeadEvents, type EventValues } from './queue.ts';

/**
 * Stores one event and, when it feeds a job, enqueues or coalesces that job in the same
 * transaction (see queue.enqueueWithEvent for why the event id is drawn there).
 */
export async function insertEvent(pool: pg.Pool, cipher: Cipher, event: NewInboundEvent): Promise<{ id: number; inserted: boolean }> {
  const values = eventValues(cipher, event);
  const { job } = event;
  const id = job
    ? await inTransaction(pool, async (client) => {
        const id = await enqueueWithEvent(client, event.tenantId, job, event.receivedAt, values);
        if (id === null) throw new Duplicate();
        await requeueDeadEvents(client, event.tenantId, job.key, event.receivedAt);
        return id;
      }).catch((error: unknown) => {
        if (error instanceof Duplicate) return null;
        throw error;
      })
    : await insertWithoutJob(pool, event.tenantId, values, event.reason ?? null);
  return id === null ? { id: (await findId(pool, event))!, inserted: false } : { id, inserted: true };
}

/** Rolls back the job's update when the event turns out to be a repeat. */
class Duplicate extends Error {}

function eventValues(cipher: Cipher, event: NewInboundEvent): EventValues {
  return {
    source: event.source,
    eventKey: event.eventKey,
    type: event.type,
    occurredAt: event.occurredAt,
    receivedAt: event.receivedAt,
    payload: cipher.seal(event.payload, PAYLOAD_CONTEXT),
    subject: JSON.stringify(event.subject),
    ...subjectIds(event.subject),
    status: event.status,
  };
}

async function findId(db: Queryable, event: NewInboundEvent): Promise<number | null> {
  const { rows } = await db.query<{ id: number }>(
    'SELECT id FROM events WHERE tenant_id = $1 AND source = $2 AND event_key = $3',
    [event.tenantId, event.source, event.eventKey],
  );
  return rows[0]?.id ?? null;
}

async function insertWithoutJob(db: Queryable, tenantId: string, e: EventValues, reason: string | null): Promise<number | null> {
  const { rows } = await db.query<{ id: number }>(
    `INSERT INTO events (tenant_id, source, event_key, type, occurred_at, received_at, payload, subject,
                         patient_id, contact_id, status, reason, updated_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $6)
     ON CONFLICT (tenant_id, source, event_key) DO NOTHING
     RETURNING id`,
    [tenantId, e.source, e.eventKey, e.type, e.occurredAt, e.receivedAt, e.payload, e.subject, e.patientId, e.contactId, e.status, reason],
  );
  return rows[0]?.id ?? null;
}

export async function getEvent(db: Queryable, cipher: Cipher, id: number): Promise<InboundEvent | null> {
  const { rows } = await db.query<EventRow>('SELECT * FROM events WHERE id = $1', [id]);
  return rows[0] ? toInboundEvent(rows[0], cipher) : null;
}

export async function listQueuedEvents(
  db: Queryable,
  cipher: Cipher,
  tenantId: string,
  jobKey: string,
  uptoId: number,
): Promise<InboundEvent[]> {
  const { rows } = await db.query<EventRow>(
    `SELECT * FROM events
     WHERE tenant_id = $1 AND job_key = $2 AND status = 'queued' AND id <= $3
     ORDER BY id`,
    [tenantId, jobKey, uptoId],
  );
  return rows.map((row) => toInboundEvent(row, cipher));
}

/** Newest first, paged by id (`beforeId`), so pages stay stable while events arrive. */
export async function searchEvents(db: Queryable, cipher: Cipher, query: EventQuery): Promise<InboundEvent[]> {
  const filters = eventFilters(query);
  const where = filters.length ? `WHERE ${filters.map(([column, op], i) => `${column} ${op} $${i + 1}`).join(' AND ')}` : '';
  const { rows } = await db.query<EventRow>(`SELECT * FROM events ${where} ORDER BY id DESC LIMIT $${filters.length + 1}`, [
    ...filters.map(([, , value]) => value),
    query.limit,
  ]);
  return rows.map((row) => toInboundEvent(row, cipher));
}

/** Test deliveries carry made-up times, so they do not count. */
export async function latestEventTime(db: Queryable, tenantId: string, source: EventSource): Promise<number | null> {
  const { rows } = await db.query<{ latest: number | null }>(
    `SELECT max(occurred_at) AS latest FROM events WHERE tenant_id = $1 AND source = $2 AND status <> 'test'`,
    [tenantId, source],
  );
  return rows[0]?.latest ?? null;
}
