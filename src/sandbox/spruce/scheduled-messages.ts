// Scheduled messages: a message written now to go out later in a conversation. Scheduled,
// edited or deleted (through the API or in the app) and sent (the simulator sends one when told
// to, see staff.ts); each emits its scheduledMessage.* event, and sending also adds the item.
import type { components } from '../../spruce/openapi-types.ts';
import { iso, type SimContext } from './context.ts';
import { addComposedItem, type ComposedMessage } from './conversations.ts';
import { badParameter } from './errors.ts';
import type { OrgState, StoredConversation, StoredItem, StoredScheduledMessage } from './state.ts';

type ScheduledMessage = components['schemas']['scheduledMessage'];

export function renderScheduledMessage(message: StoredScheduledMessage): ScheduledMessage {
  const out: ScheduledMessage = {
    object: 'scheduledMessage',
    id: message.id,
    conversationId: message.conversationId,
    createdAt: iso(message.createdAt),
    modifiedAt: iso(message.modifiedAt),
    scheduledToSendAt: iso(message.sendAt),
    isInternalNote: message.isInternalNote,
    sendAsInternalMemberId: message.sendAs.id,
    message: { text: message.text, attachments: [], pagedInternalMemberIds: [] },
  };
  if (message.sentConversationItemId) out.sentConversationItemId = message.sentConversationItemId;
  return out;
}

/** Pending (not yet sent) scheduled messages, oldest first; of one conversation if given. */
export function pendingScheduledMessages(org: OrgState, conversationId?: string): StoredScheduledMessage[] {
  return [...org.scheduledMessages.values()].filter(
    (m) => m.sentConversationItemId === undefined && (conversationId === undefined || m.conversationId === conversationId),
  );
}

function checkSendAt(ctx: SimContext, sendAt: number): void {
  if (!Number.isFinite(sendAt)) throw badParameter('sendAt must be an RFC 3339 date-time');
  // [ours] a time in the past is refused, as a scheduling UI would.
  if (sendAt <= ctx.clock.now()) throw badParameter('sendAt must be in the future');
}

export function scheduleMessage(
  ctx: SimContext,
  org: OrgState,
  conversation: StoredConversation,
  message: ComposedMessage,
  sendAt: number,
  accessId?: string,
): StoredScheduledMessage {
  checkSendAt(ctx, sendAt);
  const now = ctx.clock.now();
  const scheduled: StoredScheduledMessage = {
    id: ctx.ids.short('scm'),
    orgId: org.id,
    conversationId: conversation.id,
    text: message.text,
    isInternalNote: message.internal,
    sendAs: message.author,
    createdAt: now,
    modifiedAt: now,
    sendAt,
  };
  if (accessId) scheduled.accessId = accessId;
  org.scheduledMessages.set(scheduled.id, scheduled);
  ctx.events.emit(org, 'scheduledMessage.created', renderScheduledMessage(scheduled));
  return scheduled;
}

function pending(message: StoredScheduledMessage): StoredScheduledMessage {
  if (message.sentConversationItemId !== undefined) throw badParameter(`scheduled message ${message.id} was already sent`);
  return message;
}

/** Edited in the app (text and/or send time); emits scheduledMessage.updated. */
export function editScheduledMessage(ctx: SimContext, org: OrgState, message: StoredScheduledMessage, patch: { text?: string; sendAt?: number }): void {
  pending(message);
  if (patch.sendAt !== undefined) checkSendAt(ctx, patch.sendAt);
  if (patch.text !== undefined) message.text = patch.text;
  if (patch.sendAt !== undefined) message.sendAt = patch.sendAt;
  message.modifiedAt = ctx.clock.now();
  ctx.events.emit(org, 'scheduledMessage.updated', renderScheduledMessage(message));
}

/** Deleted before it went out; emits scheduledMessage.deleted with the message as it was. */
export function deleteScheduledMessage(ctx: SimContext, org: OrgState, message: StoredScheduledMessage): void {
  pending(message);
  org.scheduledMessages.delete(message.id);
  ctx.events.emit(org, 'scheduledMessage.deleted', renderScheduledMessage(message));
}

/**
 * Goes out: the item is added (conversationItem.created, authored as the member it was
 * scheduled as), then scheduledMessage.sent names it in `sentConversationItemId` [ours: order].
 */
export function sendScheduledMessage(ctx: SimContext, org: OrgState, message: StoredScheduledMessage): StoredItem {
  pending(message);
  const conversation = org.conversations.get(message.conversationId);
  if (!conversation) throw badParameter(`the conversation of scheduled message ${message.id} no longer exists`);
  const item = addComposedItem(ctx, org, conversation, { text: message.text, internal: message.isInternalNote, author: message.sendAs }, message.accessId);
  message.sentConversationItemId = item.id;
  message.modifiedAt = ctx.clock.now();
  ctx.events.emit(org, 'scheduledMessage.sent', renderScheduledMessage(message));
  return item;
}
