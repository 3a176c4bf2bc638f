// What people and patients do in Spruce outside the API — a teammate editing, creating,
// deleting or merging contacts in the app, a patient texting or messaging, a note, a call —
// scripted so tests and the demo can make it happen. Each emits the same webhooks the real
// app would. Bad input is a 400 (BAD_PARAMETER) with a message that says what is wrong.
import { z } from 'zod';
import type { SpruceContact, SpruceConversation, SpruceConversationItem, SpruceCreateContact, SpruceUpdateContact } from '../../spruce/types.ts';
import { createContact, deleteContact, displayName, mergeContacts, renderContact, updateContact } from './contacts.ts';
import type { SimContext } from './context.ts';
import {
  addItem,
  deleteConversation,
  deleteItem,
  editItem,
  noteConversation,
  phoneConversation,
  renderConversation,
  renderItem,
  restoreItem,
  secureConversation,
} from './conversations.ts';
import { ApiError, badParameter } from './errors.ts';
import type { OpenApiValidator } from './openapi.ts';
import { normalizePhone } from './phone.ts';
import { deleteScheduledMessage, editScheduledMessage, renderScheduledMessage, scheduleMessage, sendScheduledMessage } from './scheduled-messages.ts';
import type { OrgState, StoredContact, StoredConversation, StoredItem, StoredScheduledMessage } from './state.ts';

export interface StaffContactInput extends SpruceCreateContact {
  organizationId?: string;
  /** The contact has a Spruce account (then canDelete is false). */
  hasAccount?: boolean;
  hasPendingInvite?: boolean;
}

export interface ConversationAndItem {
  conversation: SpruceConversation;
  item: SpruceConversationItem;
}

function parse<T>(schema: z.ZodType<T>, input: unknown, what: string): T {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => `${issue.path.join('.') || '(input)'}: ${issue.message}`);
  throw badParameter(`${what}: ${problems.join('; ')}`);
}

const smsInput = z.strictObject({ from: z.string().min(1), text: z.string(), organizationId: z.string().optional() });
const secureInput = z.strictObject({ contactId: z.string().min(1), text: z.string() });
const noteInput = z.strictObject({
  conversationId: z.string().optional(),
  contactIds: z.array(z.string()).optional(),
  title: z.string().optional(),
  text: z.string().min(1),
  authorId: z.string().optional(),
  organizationId: z.string().optional(),
});
const callInput = z.strictObject({
  phone: z.string().min(1),
  direction: z.enum(['inbound', 'outbound']).default('inbound'),
  answered: z.boolean().default(true),
  durationSeconds: z.number().int().min(0).default(60),
  organizationId: z.string().optional(),
});

const itemEditInput = z.strictObject({ text: z.string() });
const isoTime = z.string().refine((value) => !Number.isNaN(Date.parse(value)), 'must be an RFC 3339 date-time');
const scheduleInput = z.strictObject({
  conversationId: z.string().min(1),
  text: z.string().min(1),
  sendAt: isoTime,
  internal: z.boolean().default(false),
  authorId: z.string().optional(),
});
const scheduleEditInput = z.strictObject({ text: z.string().min(1).optional(), sendAt: isoTime.optional() });

export type ScheduledMessageOut = ReturnType<typeof renderScheduledMessage>;

export class SpruceStaff {
  constructor(
    private readonly ctx: SimContext,
    private readonly openapi: OpenApiValidator,
    private readonly defaultOrgId: () => string,
  ) {}

  private org(organizationId?: string): OrgState {
    const org = this.ctx.state.org(organizationId ?? this.defaultOrgId());
    if (!org) throw badParameter(`unknown organization ${organizationId}`);
    return org;
  }

  private contact(contactId: unknown): { org: OrgState; contact: StoredContact } {
    if (typeof contactId !== 'string' || !contactId) throw badParameter('contactId is required');
    const found = this.ctx.state.findContact(contactId);
    if (!found) throw badParameter(`unknown contact ${contactId}`);
    return found;
  }

  private checkContactBody(schema: 'createContact' | 'updateContact', body: object): void {
    const errors = this.openapi.validateInput(schema, body);
    if (errors.length) throw badParameter(errors.join('; '));
  }

  private pair(org: OrgState, conversation: StoredConversation, item: StoredItem): ConversationAndItem {
    return { conversation: renderConversation(this.ctx, org, conversation), item: renderItem(this.ctx, org, item) };
  }

  private teammate(org: OrgState, authorId?: string) {
    const member = authorId ? org.teammates.find((t) => t.id === authorId) : org.teammates[0];
    if (!member) throw badParameter(`unknown organization member ${authorId}`);
    return member;
  }

  /** A contact added by hand in the app (emits contact.created). */
  createContact(input: StaffContactInput): SpruceContact {
    const { organizationId, hasAccount, hasPendingInvite, ...body } = input ?? ({} as StaffContactInput);
    const org = this.org(organizationId);
    this.checkContactBody('createContact', body);
    const contact = createContact(this.ctx, org, body, { hasAccount, hasPendingInvite });
    return renderContact(this.ctx, org, contact);
  }

  /** A teammate editing a contact in the app, not through the API (emits contact.updated). */
  editContact(contactId: string, patch: SpruceUpdateContact): SpruceContact {
    const { org, contact } = this.contact(contactId);
    const cleaned = Object.fromEntries(Object.entries(patch ?? {}).filter(([, v]) => v !== null));
    this.checkContactBody('updateContact', cleaned);
    updateContact(this.ctx, org, contact, cleaned);
    return renderContact(this.ctx, org, contact);
  }

  /** Deleted in the app (emits contact.deleted); staff may delete any contact. */
  deleteContact(contactId: string): void {
    const { org, contact } = this.contact(contactId);
    deleteContact(this.ctx, org, contact, { force: true });
  }

  /** "Merge contacts" in the app: `mergedId` folds into `survivorId` (emits contact.merged). */
  mergeContacts(survivorId: string, mergedId: string): SpruceContact {
    const survivor = this.contact(survivorId);
    const merged = this.contact(mergedId);
    if (survivor.org !== merged.org) throw badParameter('contacts of different organizations cannot be merged');
    mergeContacts(this.ctx, survivor.org, survivor.contact, merged.contact);
    return renderContact(this.ctx, survivor.org, survivor.contact);
  }

  /**
   * A text from a phone number to the organization's Spruce number: finds or creates the phone
   * conversation with that number; the participant names a contact only when exactly one saved
   * contact has the number.
   */
  receiveSms(input: { from: string; text: string; organizationId?: string }): ConversationAndItem {
    const { from, text, organizationId } = parse(smsInput, input, 'receiveSms');
    const org = this.org(organizationId);
    const phone = normalizePhone(from);
    if (!phone) throw badParameter(`receiveSms: from ${JSON.stringify(from)} is not a valid phone number`);
    const conversation = phoneConversation(this.ctx, org, phone);
    const sender = renderConversation(this.ctx, org, conversation).externalParticipants![0]!;
    // SMS items carry no author id: the sender is only a number [spec].
    const item = addItem(this.ctx, org, conversation, { text, direction: 'inbound', author: { displayName: sender.displayName } });
    return this.pair(org, conversation, item);
  }

  /** A secure (Spruce app) message from a saved contact: the author id is the contact's. */
  receiveSecureMessage(input: { contactId: string; text: string }): ConversationAndItem {
    const { contactId, text } = parse(secureInput, input, 'receiveSecureMessage');
    const { org, contact } = this.contact(contactId);
    const conversation = secureConversation(this.ctx, org, contact.id);
    const item = addItem(this.ctx, org, conversation, {
      text,
      direction: 'inbound',
      author: { displayName: displayName(contact), id: contact.id },
    });
    return this.pair(org, conversation, item);
  }

  /**
   * An internal note by a teammate: into an existing conversation (`conversationId`), or a new
   * note conversation about `contactIds`.
   */
  postInternalNote(input: { conversationId?: string; contactIds?: string[]; title?: string; text: string; authorId?: string; organizationId?: string }): ConversationAndItem {
    const note = parse(noteInput, input, 'postInternalNote');
    let org: OrgState;
    let conversation: StoredConversation;
    if (note.conversationId) {
      const found = this.ctx.state.findConversation(note.conversationId);
      if (!found) throw badParameter(`unknown conversation ${note.conversationId}`);
      ({ org, conversation } = found);
    } else {
      org = this.org(note.organizationId);
      for (const id of note.contactIds ?? []) if (!org.contacts.has(id)) throw badParameter(`unknown contact ${id}`);
      conversation = noteConversation(this.ctx, org, note.title ?? 'Note', note.contactIds ?? []);
    }
    const member = this.teammate(org, note.authorId);
    const item = addItem(this.ctx, org, conversation, {
      text: note.text,
      direction: 'none',
      isInternalNote: true,
      author: { displayName: member.displayName, id: member.id },
    });
    return this.pair(org, conversation, item);
  }

  /** A phone call with a number, logged as a call item in that number's phone conversation. */
  phoneCall(input: { phone: string; direction?: 'inbound' | 'outbound'; answered?: boolean; durationSeconds?: number; organizationId?: string }): ConversationAndItem {
    const call = parse(callInput, input, 'phoneCall');
    const org = this.org(call.organizationId);
    const phone = normalizePhone(call.phone);
    if (!phone) throw badParameter(`phoneCall: phone ${JSON.stringify(call.phone)} is not a valid phone number`);
    const conversation = phoneConversation(this.ctx, org, phone);
    const inbound = call.direction === 'inbound';
    const member = org.teammates[0]!;
    const sender = renderConversation(this.ctx, org, conversation).externalParticipants![0]!;
    const item = addItem(this.ctx, org, conversation, {
      text: '',
      direction: call.direction,
      author: inbound ? { displayName: sender.displayName } : { displayName: member.displayName, id: member.id },
      canDelete: false,
      event: {
        type: inbound ? 'inboundCall' : 'outboundCall',
        // `inbound` is listed as required by the spec's PhoneCallEvent though not defined there.
        data: { answered: call.answered, duration: call.answered ? call.durationSeconds : 0, failed: false, inbound, spam: false },
      },
    });
    return this.pair(org, conversation, item);
  }

  /** The organization holding `id` in one of its record maps, or a 400 naming what is unknown. */
  private find<T>(id: unknown, what: string, records: (org: OrgState) => Map<string, T>): { org: OrgState; record: T } {
    if (typeof id !== 'string' || !id) throw badParameter(`a ${what} id is required`);
    for (const org of this.ctx.state.orgs.values()) {
      const record = records(org).get(id);
      if (record) return { org, record };
    }
    throw badParameter(`unknown ${what} ${id}`);
  }

  private item(itemId: unknown): { org: OrgState; item: StoredItem } {
    const { org, record } = this.find(itemId, 'conversation item', (o) => o.items);
    return { org, item: record };
  }

  private scheduled(messageId: unknown): { org: OrgState; message: StoredScheduledMessage } {
    const { org, record } = this.find(messageId, 'scheduled message', (o) => o.scheduledMessages);
    return { org, message: record };
  }

  /** A teammate edits an item's text in the app (emits conversationItem.updated). */
  editConversationItem(itemId: string, input: { text: string }): SpruceConversationItem {
    const { text } = parse(itemEditInput, input, 'editConversationItem');
    const { org, item } = this.item(itemId);
    editItem(this.ctx, org, item, text);
    return renderItem(this.ctx, org, item);
  }

  /** A teammate deletes an item in the app, calls included (emits conversationItem.deleted). */
  deleteConversationItem(itemId: string): void {
    const { org, item } = this.item(itemId);
    deleteItem(this.ctx, org, item, { force: true });
  }

  /** A teammate restores a deleted item (emits conversationItem.restored). */
  restoreConversationItem(itemId: string): SpruceConversationItem {
    const { org, item } = this.item(itemId);
    restoreItem(this.ctx, org, item);
    return renderItem(this.ctx, org, item);
  }

  /** A teammate deletes a whole conversation (emits conversation.deleted only). */
  deleteConversation(conversationId: string): void {
    const found = this.ctx.state.findConversation(conversationId);
    if (!found) throw badParameter(`unknown conversation ${conversationId}`);
    deleteConversation(this.ctx, found.org, found.conversation);
  }

  /** A teammate schedules a message in a conversation (emits scheduledMessage.created). */
  scheduleMessage(input: { conversationId: string; text: string; sendAt: string; internal?: boolean; authorId?: string }): ScheduledMessageOut {
    const request = parse(scheduleInput, input, 'scheduleMessage');
    const found = this.ctx.state.findConversation(request.conversationId);
    if (!found) throw badParameter(`unknown conversation ${request.conversationId}`);
    const { org, conversation } = found;
    if (conversation.type === 'note' && !request.internal) throw badParameter('only internal messages can be scheduled in a note conversation');
    const member = this.teammate(org, request.authorId);
    const message = scheduleMessage(this.ctx, org, conversation, { text: request.text, internal: request.internal, author: member }, Date.parse(request.sendAt));
    return renderScheduledMessage(message);
  }

  /** Edited before it goes out (emits scheduledMessage.updated). */
  editScheduledMessage(messageId: string, input: { text?: string; sendAt?: string }): ScheduledMessageOut {
    const patch = parse(scheduleEditInput, input, 'editScheduledMessage');
    const { org, message } = this.scheduled(messageId);
    editScheduledMessage(this.ctx, org, message, { text: patch.text, sendAt: patch.sendAt === undefined ? undefined : Date.parse(patch.sendAt) });
    return renderScheduledMessage(message);
  }

  /** Deleted before it goes out (emits scheduledMessage.deleted). */
  deleteScheduledMessage(messageId: string): void {
    const { org, message } = this.scheduled(messageId);
    deleteScheduledMessage(this.ctx, org, message);
  }

  /**
   * Sends it now, whatever its scheduled time (the sandbox does not send on its own): emits
   * conversationItem.created then scheduledMessage.sent.
   */
  sendScheduledMessage(messageId: string): ConversationAndItem & { scheduledMessage: ScheduledMessageOut } {
    const { org, message } = this.scheduled(messageId);
    const item = sendScheduledMessage(this.ctx, org, message);
    return { ...this.pair(org, org.conversations.get(item.conversationId)!, item), scheduledMessage: renderScheduledMessage(message) };
  }

  /** Turns an API credential off (its requests get 403) or back on. */
  setCredentialDisabled(accessId: string, disabled: boolean): void {
    const org = [...this.ctx.state.orgs.values()].find((o) => o.config.accessId === accessId);
    if (!org) throw new ApiError(400, 'BAD_PARAMETER', `unknown access id ${accessId}`);
    org.disabled = disabled;
  }
}
