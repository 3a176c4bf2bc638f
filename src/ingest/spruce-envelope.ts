// A verified Spruce delivery becomes one inbox row. Spruce payloads carry the full resource
// (PHI): the row keeps the raw body (encrypted at rest when a key is set) and only ids in
// `subject`.
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

export type SpruceEnvelope = z.infer<typeof envelopeSchema>;

export type ParsedSpruce = { ok: true; envelope: SpruceEnvelope } | { ok: false; problem: string };

export function parseSpruceEnvelope(body: unknown): ParsedSpruce {
  const result = envelopeSchema.safeParse(body);
  if (!result.success) {
    return { ok: false, problem: result.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ') };
  }
  return { ok: true, envelope: result.data };
}

/** The dedupe key: the event id when Spruce sends one, else (type, object id, eventTime). */
export function spruceEventKey(envelope: SpruceEnvelope): string {
  return envelope.id ?? `${envelope.type}|${envelope.data.object.id ?? ''}|${envelope.eventTime}`;
}

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
  const base = {
    tenantId,
    source: 'spruce' as const,
    eventKey: spruceEventKey(envelope),
    type: envelope.type,
    occurredAt: Date.parse(envelope.eventTime),
    receivedAt,
    payload: rawBody,
    subject,
  };
  if (objectId && resource === 'contact') {
    return { ...base, status: 'queued', job: taskJob('spruce.contact', { contactId: objectId }) };
  }
  if (objectId && resource === 'conversationItem') {
    return { ...base, status: 'queued', job: taskJob('spruce.item', { itemId: objectId }) };
  }
  return { ...base, status: 'ignored' };
}
