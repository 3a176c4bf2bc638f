// Spruce conversation activity → a communication entry on the Spry chart. The entry's
// external_id is derived from the item (and, for later changes, from what changed), so a
// repeated event lands on the existing entry instead of adding one.
import type { SpruceContact, SpruceConversation, SpruceConversationItem } from '../spruce/types.ts';
import type { SpryCommunicationInput, SpryCommunicationKind } from '../spry/types.ts';
import type { InboundEvent } from '../store/types.ts';
import { audit } from './audit.ts';
import { patientOfContact } from './inbound-contact.ts';
import type { TenantContext } from './tenant-context.ts';

/** Spry's documented limit on a communication summary. */
export const SUMMARY_LIMIT = 2000;

type ItemWithConversation = SpruceConversationItem & { conversation?: SpruceConversation };

interface ItemEnvelope {
  type: string;
  eventTime: string;
  data: { object: ItemWithConversation };
}

export async function handleItemEvents(ctx: TenantContext, events: InboundEvent[]): Promise<void> {
  const ordered = [...events].sort((a, b) => a.occurredAt - b.occurredAt || a.id - b.id);
  for (const event of ordered) {
    const envelope = JSON.parse(event.payload.toString('utf8')) as ItemEnvelope;
    await recordActivity(ctx, envelope, event);
  }
}

async function recordActivity(ctx: TenantContext, envelope: ItemEnvelope, event: InboundEvent): Promise<void> {
  const item = envelope.data.object;
  const policy = ctx.config.inbound;
  const skip = (reason: string) => audit(ctx, 'spry', 'communication', item.id, 'skip', event.id, { reason });
  if (!policy.activityLogging) return skip('activity_logging_off');
  if (item.isInternalNote && !policy.internalNotes) return skip('internal_note');
  if (item.author?.deviceInformation?.accessID === ctx.config.spruce.accessId) return skip('own_write');

  const conversation = item.conversation ?? (await ctx.spruce.getConversation(item.conversationId));
  if (!conversation) return skip('conversation_not_found');
  const patients = await patientsOf(ctx, conversation);
  if (patients.length === 0) {
    await audit(ctx, 'spruce', 'conversationItem', item.id, 'unmatched', event.id, { conversationId: conversation.id });
    return;
  }
  const entry = communicationFor(item, conversation, envelope);
  for (const patientId of patients) {
    const recorded = await ctx.spry.recordCommunication(patientId, entry);
    await audit(ctx, 'spry', 'communication', String(recorded.communication_id), 'create', event.id, {
      patientId,
      itemId: item.id,
      kind: entry.kind,
      change: envelope.type,
    });
  }
}

/**
 * The linked patients of a conversation's external participants. A participant without a
 * saved contact is looked up by its endpoint, and counts only when that resolves to exactly one
 * linked contact.
 */
async function patientsOf(ctx: TenantContext, conversation: SpruceConversation): Promise<number[]> {
  const patients = new Set<number>();
  for (const participant of conversation.externalParticipants ?? []) {
    const contactId = participant.contact;
    if (contactId) {
      const patientId = await patientOfContactId(ctx, contactId);
      if (patientId !== null) patients.add(patientId);
      continue;
    }
    const raw = participant.endpoint?.rawValue;
    if (!raw) continue;
    const matches = await contactsByEndpoint(ctx, raw);
    const linked: number[] = [];
    for (const contact of matches) {
      const patientId = await patientOfContact(ctx, contact);
      if (patientId !== null) linked.push(patientId);
    }
    if (linked.length === 1) patients.add(linked[0]!);
  }
  return [...patients];
}

async function patientOfContactId(ctx: TenantContext, contactId: string): Promise<number | null> {
  const link = await ctx.store.getLinkByContact(ctx.config.id, contactId);
  if (link) return link.patientId;
  const contact = await ctx.spruce.getContact(contactId);
  return contact ? patientOfContact(ctx, contact) : null;
}

async function contactsByEndpoint(ctx: TenantContext, rawValue: string): Promise<SpruceContact[]> {
  const structured = rawValue.includes('@')
    ? { emailAddressFilter: [{ values: [rawValue], match: 'any' as const }] }
    : { phoneNumberFilter: [{ values: [rawValue], match: 'any' as const }] };
  const page = await ctx.spruce.searchContacts({ structured }, { pageSize: 10 });
  return page.items;
}

export function communicationFor(
  item: SpruceConversationItem,
  conversation: SpruceConversation,
  envelope: { type: string; eventTime: string },
): SpryCommunicationInput {
  const change = envelope.type.split('.')[1] ?? 'created';
  const externalId =
    change === 'created' ? item.id : `${item.id}:${change}:${change === 'updated' ? (item.modifiedAt ?? envelope.eventTime) : envelope.eventTime}`;
  return {
    channel: 'SPRUCE',
    direction: item.direction === 'inbound' ? 'INBOUND' : 'OUTBOUND',
    kind: kindOf(item, conversation),
    occurred_at: change === 'created' ? item.createdAt : envelope.eventTime,
    summary: summaryOf(item, change),
    external_id: externalId,
  };
}

function kindOf(item: SpruceConversationItem, conversation: SpruceConversation): SpryCommunicationKind {
  if (item.isInternalNote || conversation.type === 'note') return 'NOTE';
  if (conversation.type === 'fax') return 'FAX';
  if (item.event) return 'CALL';
  return 'MESSAGE';
}

function summaryOf(item: SpruceConversationItem, change: string): string {
  if (change === 'deleted') return 'Message deleted in Spruce.';
  if (change === 'restored') return 'Message restored in Spruce.';
  const parts: string[] = [];
  if (change === 'updated') parts.push('(edited)');
  if (item.text) parts.push(item.text);
  // Attachments are named, never copied into the chart.
  for (const attachment of item.attachments ?? []) parts.push(`[attachment: ${attachment.title || attachment.type}]`);
  if (item.event) parts.push(`[${item.event.type}]`);
  const summary = parts.join(' ').trim() || '(no text)';
  return summary.length > SUMMARY_LIMIT ? `${summary.slice(0, SUMMARY_LIMIT - 1)}…` : summary;
}
