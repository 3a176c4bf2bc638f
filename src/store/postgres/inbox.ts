// The inbox in PostgreSQL: storing, deduping and finding inbound events.
import type pg from 'pg';
import type { Cipher } from '../cipher.ts';
import { eventFilters, PAYLOAD_CONTEXT, subjectIds, toInboundEvent, type EventRow } from '../rows.ts';
import type { EventQuery, EventSource, InboundEvent, NewInboundEvent } from '../types.ts';
import { inTransaction, type Queryable } from './db.ts';
import { enqueue, feedEvent } from './queue.ts';

class Duplicate extends Error {}

/**
 * Stores one event and feeds its job in one transaction. The job row is locked before the event
 * gets its id (see queue.enqueue); a duplicate rolls the whole transaction back.
 */
export async function insertEvent(pool: pg.Pool, cipher: Cipher, event: NewInboundEvent): Promise<{ id: number; inserted: boolean }> {
  // Redeliveries are common: answer them without taking the job's lock.
  const known = await findId(pool, event);
  if (known !== null) return { id: known, inserted: false };
  try {
    const id = await inTransaction(pool, async (client) => {
      const jobId = event.job ? await enqueue(client, event.tenantId, event.job, event.receivedAt) : null;
      const id = await insertRow(client, cipher, event);
      if (id === null) throw new Duplicate();
      if (jobId !== null) await feedEvent(client, jobId, id);
      return id;
    });
    return { id, inserted: true };
  } catch (error) {
    if (!(error instanceof Duplicate)) throw error;
    return { id: (await findId(pool, event))!, inserted: false };
  }
}

async function findId(db: Queryable, event: NewInboundEvent): Promise<number | null> {
  const { rows } = await db.query<{ id: number }>(
    'SELECT id FROM events WHERE tenant_id = $1 AND source = $2 AND event_key = $3',
    [event.tenantId, event.source, event.eventKey],
  );
  return rows[0]?.id ?? null;
}

async function insertRow(db: Queryable, cipher: Cipher, event: NewInboundEvent): Promise<number | null> {
  const { patientId, contactId } = subjectIds(event.subject);
  const { rows } = await db.query<{ id: number }>(
    `INSERT INTO events (tenant_id, source, event_key, type, occurred_at, received_at, payload, subject,
                         patient_id, contact_id, status, job_key, updated_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $6)
     ON CONFLICT (tenant_id, source, event_key) DO NOTHING
     RETURNING id`,
    [
      event.tenantId,
      event.source,
      event.eventKey,
      event.type,
      event.occurredAt,
      event.receivedAt,
      cipher.seal(event.payload, PAYLOAD_CONTEXT),
      JSON.stringify(event.subject),
      patientId,
      contactId,
      event.status,
      event.job?.key ?? null,
    ],
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
