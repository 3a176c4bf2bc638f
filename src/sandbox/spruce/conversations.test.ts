import { describe, expect, it } from 'vitest';
import { createContact } from './contacts.ts';
import { addItem, phoneConversation, postMessage, renderConversation, renderItemForWebhook } from './conversations.ts';
import { spruceOpenApi } from './openapi.ts';
import { nullListsAsEmpty, testContext } from './test-context.ts';

describe('conversations', () => {
  it('names the contact of a phone conversation only when exactly one saved contact has the number', () => {
    const { ctx, org } = testContext();
    const phone = { value: '+12065551234', displayValue: '(206) 555-1234' };
    const conversation = phoneConversation(ctx, org, phone);
    const participant = () => renderConversation(ctx, org, conversation).externalParticipants![0]!;
    expect(participant()).toEqual({
      displayName: '(206) 555-1234',
      endpoint: { object: 'endpoint', id: '12065551234', channel: 'phone', displayValue: '(206) 555-1234', rawValue: '+12065551234', isInternal: false },
    });
    const ann = createContact(ctx, org, { givenName: 'Ann', phoneNumbers: [{ value: '2065551234' }] });
    expect(participant()).toMatchObject({ contact: ann.id, displayName: 'Ann' });
    expect(renderConversation(ctx, org, conversation).associatedContactIds).toEqual([ann.id]);
    createContact(ctx, org, { givenName: 'Bob', phoneNumbers: [{ value: '2065551234' }] });
    expect(participant().contact).toBeUndefined();
    expect(phoneConversation(ctx, org, phone)).toBe(conversation);
  });

  it('marks a posted message with the caller access id and request id; webhook items embed their conversation', () => {
    const { ctx, org, events } = testContext();
    const conversation = phoneConversation(ctx, org, { value: '+12065551234', displayValue: '(206) 555-1234' });
    const { requestId, item } = postMessage(ctx, org, conversation, { body: [{ type: 'text', value: 'Hello' }] }, 'aid_x');
    expect(item).toMatchObject({ requestId, direction: 'outbound', text: 'Hello', author: { deviceInformation: { accessID: 'aid_x' } } });
    const payload = renderItemForWebhook(ctx, org, item) as Record<string, unknown>;
    expect(payload).toMatchObject({ requestId, requestID: requestId, conversation: { id: conversation.id } });
    expect(payload).toMatchObject({ buttons: null, conversation: { associatedContactIds: null } });
    expect(spruceOpenApi().validateSchema('conversationItem', nullListsAsEmpty(payload))).toEqual([]);
    expect(events.map((e) => e.type)).toEqual(['conversation.created', 'conversationItem.created']);
    const call = addItem(ctx, org, conversation, {
      text: '',
      direction: 'inbound',
      author: { displayName: 'x' },
      event: { type: 'inboundCall', data: { answered: true, duration: 5, failed: false, inbound: true, spam: false } },
    });
    expect(spruceOpenApi().validateSchema('conversationItem', nullListsAsEmpty(renderItemForWebhook(ctx, org, call) as Record<string, unknown>))).toEqual([]);
  });
});
