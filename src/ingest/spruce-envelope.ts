// A verified Spruce delivery becomes one inbox row. Spruce payloads carry the full resource
// (PHI): the row keeps the raw body (encrypted at rest when a key is set) and only ids in
// `subject`. Every documented type is either queued for its handler or stored as ignored with
// the reason the event log shows (docs/spruce-events.md).
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { z } from 'zod';
import type { NewInboundEvent } from '../store/types.ts';
import { taskJob } from '../sync/tasks.ts';

const envelopeSchema = z.object({
  id: z.string().min(1).max(200).optional(),
  object: z.literal('event'),
  type: z.string().min(1).max(200),
  eventTime: z.iso.datetime({ offset: true }),
  data: z
    .object({
      object: z.object({ id: z.string().min(1).max(200).optional() }).loose(),
      deletedContactIds: z.array(z.string()).optional(),
    })
    .loose(),
});

// canonicalize is CommonJS typed as an ES default export, which NodeNext cannot call: required.
const canonicalize = createRequire(import.meta.url)('canonicalize') as (value: unknown) => string | undefined;

export type SpruceEnvelope = z.infer<typeof envelopeSchema> & {
  /** The inbox dedupe key (spruceEventKey), computed from the event as received. */
  key: string;
};

export type ParsedSpruce = { ok: true; envelope: SpruceEnvelope } | { ok: false; problem: string };

export function parseSpruceEnvelope(body: unknown): ParsedSpruce {
  const result = envelopeSchema.safeParse(body);
  if (!result.success) {
    return { ok: false, problem: result.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ') };
  }
  return { ok: true, envelope: { ...result.data, key: spruceEventKey(body as Record<string, unknown>) } };
}

/**
 * The dedupe key: the event id when Spruce sends one; else a SHA-256 digest of the whole event
 * in canonical JSON (RFC 8785: keys sorted, one spelling per number and string). Spruce sends
 * no id and gives eventTime to the second, so (type, object id, eventTime) would merge two
 * edits made in one second; a redelivery repeats the event, so its digest repeats, and the
 * delivery log's copy (a string, re-serialised) digests the same once parsed.
 */
export function spruceEventKey(event: Record<string, unknown>): string {
  if (typeof event.id === 'string' && event.id.length > 0) return event.id;
  return `sha256:${createHash('sha256').update(canonicalize(event) ?? '').digest('hex')}`;
}

/**
 * What is done with each Spruce event type. Contacts and conversation items are queued for
 * their handlers; the rest is acknowledged and stored as ignored, with the reason the event log
 * shows. A sent scheduled message becomes a conversation item: that item is what is charted.
 */
const CONTACT_TYPES = new Set(['contact.created', 'contact.updated', 'contact.deleted', 'contact.merged']);
const ITEM_TYPES = new Set(['conversationItem.created', 'conversationItem.updated', 'conversationItem.deleted', 'conversationItem.restored']);
export const IGNORED_SPRUCE_TYPES: Readonly<Record<string, string>> = {
  'conversation.created': 'conversation_not_charted: a thread is not charted; its messages are, from their conversationItem events',
  'conversation.updated': 'conversation_not_charted: a thread is not charted; its messages are, from their conversationItem events',
  'conversation.deleted':
    'conversation_deleted_kept: chart entries already made from the thread stay; a message deleted on its own is annotated from its conversationItem.deleted event',
  'scheduledMessage.created': 'scheduled_not_sent: a scheduled message is charted once sent, from its conversationItem.created event',
  'scheduledMessage.updated': 'scheduled_not_sent: a scheduled message is charted once sent, from its conversationItem.created event',
  'scheduledMessage.deleted': 'scheduled_not_sent: a scheduled message deleted before it was sent was never charted',
  'scheduledMessage.sent': 'charted_as_item: the sent message is charted from its conversationItem.created event',
};
const UNKNOWN_TYPE = 'unknown_type: not a Spruce event type we know; acknowledged and ignored';
const NO_OBJECT_ID = 'no_object_id: the event names no object to act on';

export function spruceInboundEvent(
  tenantId: string,
  envelope: SpruceEnvelope,
  rawBody: Buffer,
  receivedAt: number,
): NewInboundEvent {
  const objectId = envelope.data.object.id;
  const [resource] = envelope.type.split('.');
  const subject: Record<string, string | number> = {};
  if (objectId && resource === 'contact') subject.contactId = objectId;
  if (objectId && resource === 'conversationItem') subject.itemId = objectId;
  if (objectId && resource === 'conversation') subject.conversationId = objectId;
  if (objectId && resource === 'scheduledMessage') subject.scheduledMessageId = objectId;
  const base = {
    tenantId,
    source: 'spruce' as const,
    eventKey: envelope.key,
    type: envelope.type,
    occurredAt: Date.parse(envelope.eventTime),
    receivedAt,
    payload: rawBody,
    subject,
  };
  const handled = CONTACT_TYPES.has(envelope.type) || ITEM_TYPES.has(envelope.type);
  if (handled && !objectId) return { ...base, status: 'ignored', reason: NO_OBJECT_ID };
  if (objectId && CONTACT_TYPES.has(envelope.type)) {
    return { ...base, status: 'queued', job: taskJob('spruce.contact', { contactId: objectId }) };
  }
  if (objectId && ITEM_TYPES.has(envelope.type)) {
    return { ...base, status: 'queued', job: taskJob('spruce.item', { itemId: objectId }) };
  }
  return { ...base, status: 'ignored', reason: IGNORED_SPRUCE_TYPES[envelope.type] ?? UNKNOWN_TYPE };
}
