// Conversations and their items: the shapes the API returns ({conversation} / {conversationItem}
// wrapped by the routes), the webhook form of an item (with its parent conversation), and the
// ways items appear: an inbound SMS, a secure message, an internal note, a call, or a message
// posted through the API.
import type { SpruceConversation, SpruceConversationItem } from '../../spruce/types.ts';
import type { components } from '../../spruce/openapi-types.ts';
import { displayName } from './contacts.ts';
import { APP_BASE, iso, type SimContext } from './context.ts';
import { ApiError, badParameter } from './errors.ts';
import type { OrgState, StoredAuthor, StoredConversation, StoredItem } from './state.ts';

type MessagePost = components['schemas']['conversation_messagePost'];
type Endpoint = components['schemas']['endpoint'];

function phoneEndpoint(value: string, displayValue: string, isInternal: boolean): Endpoint {
  // Channel is `phone` for SMS and calls alike: the spec's enum has no `sms`.
  return { object: 'endpoint', id: value.replace(/\D/g, ''), channel: 'phone', displayValue, rawValue: value, isInternal };
}

/**
 * Who is on the other side of a phone conversation, resolved when rendered: `contact` is set
 * only when exactly ONE saved contact has the number [doc]; unsaved or shared numbers leave it
 * out. A contact saved later is picked up from then on.
 */
function phoneParticipant(org: OrgState, conversation: StoredConversation) {
  const phone = conversation.externalPhone!;
  const matches = org.contactsWithPhone(phone.value);
  const endpoint = phoneEndpoint(phone.value, phone.displayValue, false);
  const only = matches.length === 1 ? org.contacts.get(matches[0]!) : undefined;
  return only
    ? { contact: only.id, displayName: displayName(only) || phone.displayValue, endpoint }
    : { displayName: phone.displayValue, endpoint };
}

export function renderConversation(ctx: SimContext, org: OrgState, c: StoredConversation): SpruceConversation {
  let externalParticipants: NonNullable<SpruceConversation['externalParticipants']> = [];
  let associatedContactIds: string[] = [];
  let internalEndpoint: Endpoint | undefined;
  let title = c.title ?? '';
  if (c.type === 'phone' && c.externalPhone) {
    const participant = phoneParticipant(org, c);
    externalParticipants = [participant];
    associatedContactIds = participant.contact ? [participant.contact] : [];
    internalEndpoint = phoneEndpoint(org.phoneLine.value, org.phoneLine.displayValue, true);
    title = participant.displayName;
  } else if (c.type === 'secure' && c.secureContactId) {
    const contact = org.contacts.get(c.secureContactId);
    const name = contact ? displayName(contact) : 'Deleted contact';
    externalParticipants = [contact ? { contact: contact.id, displayName: name } : { displayName: name }];
    associatedContactIds = contact ? [contact.id] : [];
    internalEndpoint = {
      object: 'endpoint',
      id: `${org.spruceLink.id}_t`,
      channel: 'secure',
      displayValue: org.spruceLink.url.replace(/^https:\/\//, ''),
      rawValue: org.spruceLink.url,
      isInternal: true,
    };
    title = name;
  } else if (c.noteContactIds) {
    associatedContactIds = c.noteContactIds.filter((id) => org.contacts.has(id));
  }
  const out: SpruceConversation = {
    object: 'conversation',
    id: c.id,
    type: c.type,
    title,
    archived: c.archived,
    isReadOnly: false,
    associatedContactIds,
    externalParticipants,
    tags: c.tagIds.flatMap((id) => {
      const tag = org.conversationTags.get(id);
      return tag ? [{ object: 'tag', id: tag.id, value: tag.value }] : [];
    }),
    createdAt: iso(c.createdAt),
    appURL: `${APP_BASE}/org/${org.id}/thread/${c.id}`,
    apiURL: `${ctx.apiBase()}/conversations/${c.id}`,
  };
  if (internalEndpoint) out.internalEndpoint = internalEndpoint;
  if (c.lastMessageAt !== undefined) out.lastMessageAt = iso(c.lastMessageAt);
  if (c.assignedToMemberId) out.assignedToMemberId = c.assignedToMemberId;
  return out;
}

/** An item as the REST API returns it (no parent conversation). */
export function renderItem(ctx: SimContext, org: OrgState, item: StoredItem): SpruceConversationItem {
  const author: SpruceConversationItem['author'] = { displayName: item.author.displayName };
  if (item.author.id) author.id = item.author.id;
  if (item.author.deviceInformation) author.deviceInformation = { ...item.author.deviceInformation };
  const out: SpruceConversationItem = {
    object: 'conversationItem',
    id: item.id,
    conversationId: item.conversationId,
    text: item.text,
    direction: item.direction,
    isInternalNote: item.isInternalNote,
    author,
    attachments: [],
    pages: [],
    buttons: [],
    canDelete: item.canDelete,
    createdAt: iso(item.createdAt),
    modifiedAt: iso(item.modifiedAt),
    requestId: item.requestId,
    appURL: `${APP_BASE}/org/${org.id}/thread/${item.conversationId}/message/${item.id}`,
    apiURL: `${ctx.apiBase()}/conversationItems/${item.id}`,
  };
  if (item.event) out.event = structuredClone(item.event) as SpruceConversationItem['event'];
  return out;
}

/**
 * A conversation as webhook payloads carry it: the REST shape, but `associatedContactIds` is
 * `null` rather than `[]` when there are none, as in Spruce's example [doc].
 */
export function renderConversationForWebhook(ctx: SimContext, org: OrgState, conversation: StoredConversation): object {
  const rendered = renderConversation(ctx, org, conversation);
  return { ...rendered, associatedContactIds: rendered.associatedContactIds?.length ? rendered.associatedContactIds : null };
}

/**
 * The webhook form of an item, the same for every conversationItem.* event: the REST shape plus
 * its parent `conversation` (the integration guide and the spec say item payloads embed it; the
 * overview's example shows only `conversationId`, which is also there), `buttons: null` as in
 * the example [doc]. The spec's prose names the request id `requestID` on webhook events while
 * the schema says `requestId`; both are sent [ours] so that either reading works.
 */
export function renderItemForWebhook(ctx: SimContext, org: OrgState, item: StoredItem): object {
  const conversation = org.conversations.get(item.conversationId)!;
  return {
    ...renderItem(ctx, org, item),
    buttons: null,
    requestID: item.requestId,
    conversation: renderConversationForWebhook(ctx, org, conversation),
  };
}

function newConversation(ctx: SimContext, org: OrgState, init: Partial<StoredConversation> & { type: StoredConversation['type'] }): StoredConversation {
  const conversation: StoredConversation = {
    id: ctx.ids.short('t'),
    orgId: org.id,
    createdAt: ctx.clock.now(),
    archived: false,
    tagIds: [],
    ...init,
  };
  org.conversations.set(conversation.id, conversation);
  org.itemsByConversation.set(conversation.id, []);
  ctx.events.emit(org, 'conversation.created', renderConversationForWebhook(ctx, org, conversation));
  return conversation;
}

/** The organization's SMS/phone conversation with a number, created on first contact. */
export function phoneConversation(ctx: SimContext, org: OrgState, phone: { value: string; displayValue: string }): StoredConversation {
  for (const conversation of org.conversations.values()) {
    if (conversation.type === 'phone' && conversation.externalPhone?.value === phone.value) return conversation;
  }
  return newConversation(ctx, org, { type: 'phone', externalPhone: { ...phone } });
}

export function secureConversation(ctx: SimContext, org: OrgState, contactId: string): StoredConversation {
  for (const conversation of org.conversations.values()) {
    if (conversation.type === 'secure' && conversation.secureContactId === contactId) return conversation;
  }
  return newConversation(ctx, org, { type: 'secure', secureContactId: contactId });
}

export function noteConversation(ctx: SimContext, org: OrgState, title: string, contactIds: string[]): StoredConversation {
  return newConversation(ctx, org, { type: 'note', title, noteContactIds: contactIds });
}

export interface ItemInit {
  text: string;
  direction: StoredItem['direction'];
  isInternalNote?: boolean;
  author: StoredAuthor;
  requestId?: string;
  event?: StoredItem['event'];
  canDelete?: boolean;
}

/** Appends an item, moves the conversation's lastMessageAt, emits conversationItem.created. */
export function addItem(ctx: SimContext, org: OrgState, conversation: StoredConversation, init: ItemInit): StoredItem {
  const now = ctx.clock.now();
  const item: StoredItem = {
    id: ctx.ids.short('ti'),
    orgId: org.id,
    conversationId: conversation.id,
    text: init.text,
    direction: init.direction,
    isInternalNote: init.isInternalNote ?? false,
    author: init.author,
    createdAt: now,
    modifiedAt: now,
    // Items not posted through the API still carry a request id (the schema requires one);
    // it never equals an id the API handed out.
    requestId: init.requestId ?? ctx.ids.short('asyncRequest'),
    canDelete: init.canDelete ?? true,
  };
  if (init.event) item.event = init.event;
  org.items.set(item.id, item);
  org.itemsByConversation.get(conversation.id)!.push(item.id);
  conversation.lastMessageAt = now;
  ctx.events.emit(org, 'conversationItem.created', renderItemForWebhook(ctx, org, item));
  return item;
}

export interface ComposedMessage {
  text: string;
  internal: boolean;
  author: { id: string; displayName: string };
}

/**
 * The text and author of a message posted or scheduled through the API: page elements need
 * `internal`, authors and pages must be members, note conversations take internal messages only.
 */
export function composeMessage(
  org: OrgState,
  conversation: StoredConversation,
  body: { body: components['schemas']['conversation_messageBodyElement'][]; internal?: boolean; author?: string },
): ComposedMessage {
  const internal = body.internal ?? false;
  if (body.body.length === 0) throw badParameter('body must contain at least one element');
  if (conversation.type === 'note' && !internal) throw badParameter('only internal messages can be posted in a note conversation');
  const text = body.body
    .map((element, i) => {
      if (element.type === 'text') return element.value;
      if (!internal) throw badParameter(`body/${i}: a page element needs internal=true`);
      const member = org.teammates.find((t) => t.id === element.value);
      if (!member) throw badParameter(`body/${i}: unknown organization member ${element.value}`);
      return `@${member.displayName}`;
    })
    .join('');
  let author = { id: org.id, displayName: org.config.name };
  if (body.author && body.author !== org.id) {
    const member = org.teammates.find((t) => t.id === body.author);
    if (!member) throw badParameter(`unknown author ${body.author}`);
    author = { id: member.id, displayName: member.displayName };
  }
  return { text, internal, author };
}

/** Adds a composed message as an item sent by the API caller (`accessId`). */
export function addComposedItem(ctx: SimContext, org: OrgState, conversation: StoredConversation, message: ComposedMessage, accessId?: string, requestId?: string): StoredItem {
  const author: StoredAuthor = { displayName: message.author.displayName, id: message.author.id };
  if (accessId) author.deviceInformation = { accessID: accessId };
  return addItem(ctx, org, conversation, {
    text: message.text,
    direction: message.internal ? 'none' : 'outbound',
    isInternalNote: message.internal,
    author,
    requestId,
  });
}

/**
 * `POST /conversations/{id}/messages`: the item's author carries the caller's access id in
 * `deviceInformation.accessID` and the returned `requestId` [spec], so the caller can
 * recognise its own message when the webhook comes back.
 */
export function postMessage(
  ctx: SimContext,
  org: OrgState,
  conversation: StoredConversation,
  body: MessagePost,
  accessId: string,
): { requestId: string; item: StoredItem } {
  if (body.attachments?.length) throw badParameter(`unknown attachmentId ${body.attachments[0]!.attachmentId}`);
  const message = composeMessage(org, conversation, body);
  if (conversation.archived && !body.stayArchived) conversation.archived = false;
  const requestId = ctx.ids.short('asyncRequest');
  const item = addComposedItem(ctx, org, conversation, message, accessId, requestId);
  return { requestId, item };
}

/** A live (not deleted) item of the organization, or undefined. */
export function liveItem(org: OrgState, itemId: string): StoredItem | undefined {
  const item = org.items.get(itemId);
  return item && item.deletedAt === undefined ? item : undefined;
}

/** An item's text edited in the app: modifiedAt moves; emits conversationItem.updated. */
export function editItem(ctx: SimContext, org: OrgState, item: StoredItem, text: string): void {
  if (item.deletedAt !== undefined) throw badParameter(`conversation item ${item.id} is deleted`);
  item.text = text;
  item.modifiedAt = ctx.clock.now();
  ctx.events.emit(org, 'conversationItem.updated', renderItemForWebhook(ctx, org, item));
}

/**
 * Deleted (in the app or through `DELETE /conversationItems/{id}`): gone from the API until
 * restored; emits conversationItem.deleted with the item as it was [ours].
 */
export function deleteItem(ctx: SimContext, org: OrgState, item: StoredItem, options: { force?: boolean } = {}): void {
  if (item.deletedAt !== undefined) throw badParameter(`conversation item ${item.id} is already deleted`);
  if (!item.canDelete && !options.force) throw new ApiError(400, 'NOT_DELETABLE', 'this conversation item cannot be deleted');
  const before = renderItemForWebhook(ctx, org, item);
  item.deletedAt = ctx.clock.now();
  ctx.events.emit(org, 'conversationItem.deleted', before);
}

/** Restored in the app: back in the API as it was; emits conversationItem.restored. */
export function restoreItem(ctx: SimContext, org: OrgState, item: StoredItem): void {
  if (item.deletedAt === undefined) throw badParameter(`conversation item ${item.id} is not deleted`);
  delete item.deletedAt;
  ctx.events.emit(org, 'conversationItem.restored', renderItemForWebhook(ctx, org, item));
}

/**
 * A conversation deleted in the app: it, its items and its scheduled messages are gone (a
 * later text from the same number starts a new conversation). Emits conversation.deleted with
 * the conversation as it was, and nothing for the items [ours].
 */
export function deleteConversation(ctx: SimContext, org: OrgState, conversation: StoredConversation): void {
  const before = renderConversationForWebhook(ctx, org, conversation);
  for (const itemId of org.itemsByConversation.get(conversation.id) ?? []) org.items.delete(itemId);
  for (const message of [...org.scheduledMessages.values()]) {
    if (message.conversationId === conversation.id) org.scheduledMessages.delete(message.id);
  }
  org.itemsByConversation.delete(conversation.id);
  org.conversations.delete(conversation.id);
  ctx.events.emit(org, 'conversation.deleted', before);
}

/** `PATCH /conversations/{id}`: archived, assignment and tags; emits conversation.updated. */
export function updateConversation(
  ctx: SimContext,
  org: OrgState,
  conversation: StoredConversation,
  patch: components['schemas']['updateConversation'],
): void {
  if (patch.tagIds) {
    patch.tagIds.forEach((id, i) => {
      if (!org.conversationTags.has(id)) throw badParameter(`tagIds/${i}: unknown conversation tag id ${id}`);
    });
  }
  if (patch.assignToMemberId && !org.teammates.some((t) => t.id === patch.assignToMemberId)) {
    throw badParameter(`unknown organization member ${patch.assignToMemberId}`);
  }
  if (patch.archived !== undefined) conversation.archived = patch.archived;
  if (patch.tagIds) conversation.tagIds = [...new Set(patch.tagIds)];
  if (patch.assignToMemberId !== undefined) {
    if (patch.assignToMemberId === '') delete conversation.assignedToMemberId;
    else conversation.assignedToMemberId = patch.assignToMemberId;
  }
  ctx.events.emit(org, 'conversation.updated', renderConversationForWebhook(ctx, org, conversation));
}
