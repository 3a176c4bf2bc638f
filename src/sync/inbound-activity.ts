// Spruce conversation activity → communication entries on the Spry chart. Spry's chart API can
// only add entries, never amend one, so a message is charted once when it is created (external_id
// = the item id) and every later change Spruce reports (edited, deleted, restored) adds an
// annotation entry saying what the message is now. The annotation follows the item as Spruce holds
// it when we look, not the event's picture of it, so events that arrive late, out of order or
// merged within one second leave the chart's last word equal to Spruce's. Its external_id is
// derived from the annotations before it and what the chart said and says now, so a retry or a
// redelivery lands on the same entry and a change back and forth still adds a new one.
import { createHash } from 'node:crypto';
import type { SpruceContact, SpruceConversation, SpruceConversationItem } from '../spruce/types.ts';
import type { SpryCommunicationInput, SpryCommunicationKind } from '../spry/types.ts';
import type { InboundEvent } from '../store/types.ts';
import { audit } from './audit.ts';
import { formerPatientKey, patientOfContact } from './inbound-contact.ts';
import type { TenantContext } from './tenant-context.ts';

/** Spry's documented limit on a communication summary. */
export const SUMMARY_LIMIT = 2000;

type ItemWithConversation = SpruceConversationItem & { conversation?: SpruceConversation };

interface ItemEnvelope {
  type: string;
  eventTime: string;
  data: { object: ItemWithConversation };
}

/** What the chart says about an item: shown with this content, or deleted. */
export type ChartChange = 'created' | 'updated' | 'deleted' | 'restored';

/** Per item, what the chart last said about it and on which charts (tenant state; digests and ids only). */
export const chartedStateKey = (itemId: string) => `chart-item:${itemId}`;
const DELETED = 'deleted';

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
  const skip = (reason: string) => audit(ctx, 'spry', 'communication', item.id, 'skip', event.id, { reason, change: envelope.type });
  if (!policy.activityLogging) return skip('activity_logging_off');
  if (item.isInternalNote && !policy.internalNotes) return skip('internal_note');
  if (item.author?.deviceInformation?.accessID === ctx.config.spruce.accessId) return skip('own_write');

  const stateKey = chartedStateKey(item.id);
  const charted = parseCharted(await ctx.store.getState(ctx.config.id, stateKey));
  const conversation = item.conversation ?? (await ctx.spruce.getConversation(item.conversationId));
  if (!conversation) return skip('conversation_not_found');
  // A change is told on the charts the message went to, even when its contact has since been
  // deleted or merged away and the conversation no longer leads to the patient.
  const patients = charted?.patients.length ? charted.patients : await patientsOf(ctx, conversation);
  if (patients.length === 0) {
    await audit(ctx, 'spruce', 'conversationItem', item.id, 'unmatched', event.id, { conversationId: conversation.id });
    return;
  }
  if (envelope.type === 'conversationItem.created') {
    await chart(ctx, patients, communicationFor(item, conversation, 'created', item.createdAt), event);
    // A later change charted first already said what the item is now.
    const said: Charted = { said: charted?.said ?? shownDigest(item), patients, annotations: charted?.annotations ?? 0 };
    await ctx.store.setState(ctx.config.id, stateKey, JSON.stringify(said));
    return;
  }
  const live = await ctx.spruce.getConversationItem(item.id);
  const now = live ? shownDigest(live) : DELETED;
  if (now === charted?.said) return skip('chart_agrees');
  const change: ChartChange = !live ? 'deleted' : charted?.said === DELETED ? 'restored' : 'updated';
  const annotations = charted?.annotations ?? 0;
  const entry = communicationFor(live ?? item, conversation, change, envelope.eventTime, annotationDigest(annotations, charted?.said ?? null, now));
  await chart(ctx, patients, entry, event);
  const said: Charted = { said: now, patients, annotations: annotations + 1 };
  await ctx.store.setState(ctx.config.id, stateKey, JSON.stringify(said));
}

/** What the chart last said about an item (a digest, or `deleted`), on whose charts, after how many annotations. */
interface Charted {
  said: string;
  patients: number[];
  annotations: number;
}

function parseCharted(text: string | null): Charted | null {
  if (text === null) return null;
  const value = JSON.parse(text) as Partial<Charted>;
  if (typeof value.said !== 'string' || !Array.isArray(value.patients)) return null;
  return { said: value.said, patients: value.patients, annotations: Number(value.annotations ?? 0) };
}

async function chart(ctx: TenantContext, patients: number[], entry: SpryCommunicationInput, event: InboundEvent): Promise<void> {
  for (const patientId of patients) {
    const recorded = await ctx.spry.recordCommunication(patientId, entry);
    await audit(ctx, 'spry', 'communication', String(recorded.communication_id), 'create', event.id, {
      patientId,
      itemId: event.subject.itemId ?? null,
      kind: entry.kind,
      change: event.type,
    });
  }
}

/** A digest of what a shown item says (text, attachment names, call event): no PHI kept. */
function shownDigest(item: SpruceConversationItem): string {
  const content = [item.text ?? '', (item.attachments ?? []).map((a) => a.title || a.type), item.event?.type ?? null];
  return createHash('sha256').update(JSON.stringify(content)).digest('hex');
}

/**
 * The annotation's id part: how many annotations came before, what the chart said and what it
 * says now. A retry of the same change gets the same id; deleted, restored and deleted again is
 * three entries, not a repeat of the first.
 */
function annotationDigest(earlier: number, before: string | null, now: string): string {
  return createHash('sha256').update(`${earlier}:${before ?? ''}>${now}`).digest('hex').slice(0, 16);
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
  // A message from a contact deleted or merged away since is still its patient's.
  const former = Number(await ctx.store.getState(ctx.config.id, formerPatientKey(contactId)));
  if (Number.isInteger(former) && former > 0) return former;
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

/**
 * The chart entry: the message itself (external_id = the item id), or an annotation of a later
 * change (`<itemId>:<change>:<digest>`).
 */
export function communicationFor(
  item: SpruceConversationItem,
  conversation: SpruceConversation,
  change: ChartChange,
  occurredAt: string,
  digest = '',
): SpryCommunicationInput {
  return {
    channel: 'SPRUCE',
    direction: item.direction === 'inbound' ? 'INBOUND' : 'OUTBOUND',
    kind: kindOf(item, conversation),
    occurred_at: occurredAt,
    summary: summaryOf(item, change),
    external_id: change === 'created' ? item.id : `${item.id}:${change}:${digest}`,
  };
}

function kindOf(item: SpruceConversationItem, conversation: SpruceConversation): SpryCommunicationKind {
  if (item.isInternalNote || conversation.type === 'note') return 'NOTE';
  if (conversation.type === 'fax') return 'FAX';
  if (item.event) return 'CALL';
  return 'MESSAGE';
}

function summaryOf(item: SpruceConversationItem, change: ChartChange): string {
  if (change === 'deleted') return 'Message deleted in Spruce.';
  const parts: string[] = [];
  if (change === 'updated') parts.push('(edited in Spruce)');
  if (change === 'restored') parts.push('(restored in Spruce)');
  if (item.text) parts.push(item.text);
  // Attachments are named, never copied into the chart.
  for (const attachment of item.attachments ?? []) parts.push(`[attachment: ${attachment.title || attachment.type}]`);
  if (item.event) parts.push(`[${item.event.type}]`);
  const summary = parts.join(' ').trim() || '(no text)';
  return summary.length > SUMMARY_LIMIT ? `${summary.slice(0, SUMMARY_LIMIT - 1)}…` : summary;
}
