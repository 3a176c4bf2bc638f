// What enters the fan-out: a stored inbound event becomes a source message (the body as
// received; Spruce's carry PHI), and a sync outcome becomes a sync message (ids only). Message
// ids derive from (tenant, source, dedupe key), so the same event is always the same
// webhook-id, however often it is offered.
import { createHash, randomBytes } from 'node:crypto';
import type { NewInboundEvent } from '../store/types.ts';
import type { SyncNotice } from '../sync/handlers.ts';
import { TEST_EVENT_TYPE } from './event-types.ts';
import type { Message, NewMessage } from './types.ts';

export function messageId(tenantId: string, source: string, dedupeKey: string): string {
  const digest = createHash('sha256').update(`${tenantId}\u0000${source}\u0000${dedupeKey}`).digest('base64url');
  return `msg_${digest.slice(0, 26)}`;
}

export function withId(message: NewMessage): Message {
  return { ...message, id: messageId(message.tenantId, message.source, message.dedupeKey) };
}

/** The key a patient's deliveries are ordered by. */
export const patientOrderKey = (patientId: string | number) => `patient:${patientId}`;

/** A verified, stored inbound event as a message; null for senders' test deliveries. */
export function inboundMessage(event: NewInboundEvent, now: number): NewMessage | null {
  if (event.status === 'test') return null;
  let data: unknown = null;
  try {
    data = JSON.parse(event.payload.toString('utf8'));
  } catch {
    // Verified bodies are JSON; an unreadable one is handed on as null rather than dropped.
  }
  const subject: Record<string, string | number> = { ...event.subject };
  const conversationId = (data as { data?: { object?: { conversationId?: unknown } } } | null)?.data?.object?.conversationId;
  if (event.source === 'spruce' && typeof conversationId === 'string' && conversationId.length <= 200) subject.conversationId = conversationId;
  return {
    tenantId: event.tenantId,
    source: event.source,
    type: `${event.source}.${event.type}`,
    dedupeKey: event.eventKey,
    occurredAt: event.occurredAt,
    createdAt: event.receivedAt || now,
    subject,
    orderKey: orderKeyOf(subject),
    phi: event.source === 'spruce',
    data,
  };
}

/** Patient first; else the contact (the intake may resolve it to its patient), conversation, item. */
export function orderKeyOf(subject: Record<string, string | number>): string | null {
  if (subject.patientId !== undefined) return patientOrderKey(subject.patientId);
  if (subject.contactId !== undefined) return `contact:${subject.contactId}`;
  if (subject.conversationId !== undefined) return `conversation:${subject.conversationId}`;
  if (subject.itemId !== undefined) return `item:${subject.itemId}`;
  return null;
}

/** A sync outcome as a message: `sync.<kind>`, ids and field names only. */
export function syncMessage(notice: SyncNotice): NewMessage {
  return {
    tenantId: notice.tenantId,
    source: 'sync',
    type: `sync.${notice.kind}`,
    dedupeKey: notice.key,
    occurredAt: notice.at,
    createdAt: notice.at,
    subject: { ...notice.ids },
    orderKey: orderKeyOf(notice.ids),
    phi: false,
    data: { tenantId: notice.tenantId, ...notice.ids, ...(notice.detail ?? {}) },
  };
}

/** A test event for one subscription, on demand. */
export function testMessage(tenantId: string, subscriptionId: string, now: number): NewMessage {
  return {
    tenantId,
    source: 'test',
    type: TEST_EVENT_TYPE,
    dedupeKey: `test:${subscriptionId}:${now}:${randomBytes(6).toString('hex')}`,
    occurredAt: now,
    createdAt: now,
    subject: {},
    orderKey: null,
    phi: false,
    data: { subscriptionId, message: 'A test event from spruce-sync.' },
  };
}
