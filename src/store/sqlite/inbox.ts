// The inbox in SQLite: storing, deduping and finding inbound events.
import type { Cipher } from '../cipher.ts';
import { eventFilters, PAYLOAD_CONTEXT, subjectIds, toInboundEvent, type EventRow } from '../rows.ts';
import type { EventQuery, EventSource, InboundEvent, NewInboundEvent } from '../types.ts';
import type { Sqlite } from './db.ts';
import { enqueue, feedEvent } from './queue.ts';

/** Stores one event and feeds its job; the caller holds the transaction. */
export function insertEvent(sql: Sqlite, cipher: Cipher, event: NewInboundEvent): { id: number; inserted: boolean } {
  const { patientId, contactId } = subjectIds(event.subject);
  const row = sql.get<{ id: number }>(
    `INSERT INTO events (tenant_id, source, event_key, type, occurred_at, received_at, payload, subject,
                         patient_id, contact_id, status, reason, job_key, updated_at)
     VALUES (@tenantId, @source, @eventKey, @type, @occurredAt, @receivedAt, @payload, @subject,
             @patientId, @contactId, @status, @reason, @jobKey, @receivedAt)
     ON CONFLICT (tenant_id, source, event_key) DO NOTHING
     RETURNING id`,
    {
      tenantId: event.tenantId,
      source: event.source,
      eventKey: event.eventKey,
      type: event.type,
      occurredAt: event.occurredAt,
      receivedAt: event.receivedAt,
      payload: cipher.seal(event.payload, PAYLOAD_CONTEXT),
      subject: JSON.stringify(event.subject),
      patientId,
      contactId,
      status: event.status,
      reason: event.reason ?? null,
      jobKey: event.job?.key ?? null,
    },
  );
  if (!row) {
    const existing = sql.get<{ id: number }>(
      'SELECT id FROM events WHERE tenant_id = ? AND source = ? AND event_key = ?',
      [event.tenantId, event.source, event.eventKey],
    )!;
    return { id: existing.id, inserted: false };
  }
  if (event.job) {
    const jobId = enqueue(sql, event.tenantId, event.job, event.receivedAt);
    feedEvent(sql, jobId, row.id);
  }
  return { id: row.id, inserted: true };
}

export function getEvent(sql: Sqlite, cipher: Cipher, id: number): InboundEvent | null {
  const row = sql.get<EventRow>('SELECT * FROM events WHERE id = ?', [id]);
  return row ? toInboundEvent(row, cipher) : null;
}

export function listQueuedEvents(sql: Sqlite, cipher: Cipher, tenantId: string, jobKey: string, uptoId: number): InboundEvent[] {
  return sql
    .all<EventRow>(
      `SELECT * FROM events
       WHERE tenant_id = ? AND job_key = ? AND status = 'queued' AND id <= ?
       ORDER BY id`,
      [tenantId, jobKey, uptoId],
    )
    .map((row) => toInboundEvent(row, cipher));
}

/** Newest first, paged by id (`beforeId`), so pages stay stable while events arrive. */
export function searchEvents(sql: Sqlite, cipher: Cipher, query: EventQuery): InboundEvent[] {
  const filters = eventFilters(query);
  const where = filters.length ? `WHERE ${filters.map(([column, op]) => `${column} ${op} ?`).join(' AND ')}` : '';
  return sql
    .all<EventRow>(`SELECT * FROM events ${where} ORDER BY id DESC LIMIT ?`, [...filters.map(([, , v]) => v), query.limit])
    .map((row) => toInboundEvent(row, cipher));
}

/** Test deliveries carry made-up times, so they do not count. */
export function latestEventTime(sql: Sqlite, tenantId: string, source: EventSource): number | null {
  const row = sql.get<{ latest: number | null }>(
    `SELECT max(occurred_at) AS latest FROM events WHERE tenant_id = ? AND source = ? AND status <> 'test'`,
    [tenantId, source],
  );
  return row?.latest ?? null;
}
