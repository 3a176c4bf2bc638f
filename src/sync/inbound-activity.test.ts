import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { SpruceConversation, SpruceConversationItem } from '../spruce/types.ts';
import { OUR_ACCESS_ID, syncHarness, TENANT_ID, type HarnessOptions, type SyncHarness } from './fixtures/sync-harness.ts';
import { communicationFor, handleItemEvents, SUMMARY_LIMIT } from './inbound-activity.ts';

const PATIENT = 1201;
const CONTACT = 'entity_linked';

let h: SyncHarness;

async function open(options: HarnessOptions = {}): Promise<void> {
  await h?.close();
  h = await syncHarness(options);
  await h.store.upsertLink(TENANT_ID, PATIENT, CONTACT, h.clock.now());
}

function conversation(overrides: Partial<SpruceConversation> = {}): SpruceConversation {
  return {
    apiURL: '',
    appURL: '',
    archived: false,
    createdAt: '2026-11-20T11:00:00Z',
    id: 'conv_1',
    isReadOnly: false,
    object: 'conversation',
    tags: [],
    title: 'Patient thread',
    type: 'secure',
    externalParticipants: [{ contact: CONTACT, displayName: 'Patient' }],
    ...overrides,
  } as SpruceConversation;
}

function item(overrides: Partial<SpruceConversationItem> = {}): SpruceConversationItem {
  return {
    apiURL: '',
    appURL: '',
    attachments: [],
    author: { displayName: 'Staff', deviceInformation: { accessID: 'someone-else' } },
    buttons: [],
    canDelete: true,
    conversationId: 'conv_1',
    createdAt: '2026-11-20T11:30:00Z',
    direction: 'inbound',
    id: 'item_1',
    isInternalNote: false,
    modifiedAt: '2026-11-20T11:30:00Z',
    object: 'conversationItem',
    pages: [],
    requestId: '',
    text: 'Running late, see you at ten.',
    ...overrides,
  } as SpruceConversationItem;
}

async function receive(type: string, object: SpruceConversationItem): Promise<void> {
  await handleItemEvents(h.ctx, [await h.receiveSpruce(type, { ...object })]);
}

beforeEach(async () => {
  await open();
  h.spruce.conversations.set('conv_1', conversation());
});

afterEach(async () => {
  await h.close();
});

describe('handleItemEvents', () => {
  it('records a message on the chart of the linked patient, once however often it is delivered', async () => {
    await receive('conversationItem.created', item());
    await receive('conversationItem.created', item());

    expect(h.spry.communications).toHaveLength(1);
    expect(h.spry.communications[0]).toMatchObject({
      patient_id: PATIENT,
      channel: 'SPRUCE',
      direction: 'INBOUND',
      kind: 'MESSAGE',
      external_id: 'item_1',
      occurred_at: '2026-11-20T11:30:00Z',
      summary: 'Running late, see you at ten.',
    });
  });

  it('annotates an edit with the message as Spruce holds it now, once however often it is told', async () => {
    await receive('conversationItem.created', item());
    const edited = item({ text: 'Running later.', modifiedAt: '2026-11-20T11:40:00Z' });
    h.spruce.items.set(edited.id, edited);
    await receive('conversationItem.updated', edited);
    await receive('conversationItem.updated', edited);

    expect(h.spry.communications.map((c) => c.external_id)).toEqual(['item_1', expect.stringMatching(/^item_1:updated:/)]);
    expect(h.spry.communications[1]!.summary).toBe('(edited in Spruce) Running later.');
  });

  it('annotates a message deleted in Spruce', async () => {
    await receive('conversationItem.created', item());
    await receive('conversationItem.deleted', item());

    expect(h.spry.communications.map((c) => c.summary)).toEqual(['Running late, see you at ten.', 'Message deleted in Spruce.']);
  });

  it('skips our own writes, internal notes (unless asked for) and everything when logging is off', async () => {
    await receive('conversationItem.created', item({ id: 'own', author: { displayName: 'us', deviceInformation: { accessID: OUR_ACCESS_ID } } }));
    await receive('conversationItem.created', item({ id: 'note', isInternalNote: true }));
    expect(h.spry.writes).toEqual([]);

    await open({ inbound: { internalNotes: true } });
    h.spruce.conversations.set('conv_1', conversation());
    await receive('conversationItem.created', item({ id: 'note', isInternalNote: true }));
    expect(h.spry.communications.map((c) => [c.external_id, c.kind])).toEqual([['note', 'NOTE']]);

    await open({ inbound: { activityLogging: false } });
    h.spruce.conversations.set('conv_1', conversation());
    await receive('conversationItem.created', item());
    expect(h.spry.writes).toEqual([]);
  });

  it('resolves a participant without a saved contact by its endpoint, when that gives exactly one linked contact', async () => {
    h.spruce.conversations.set(
      'conv_1',
      conversation({ externalParticipants: [{ displayName: '(206) 555-0100', endpoint: { rawValue: '+12065550100' } as never }] }),
    );
    const reached = h.spruce.addContact({ givenName: 'Testa', phoneNumbers: [{ label: 'Mobile', value: '+12065550100' }] });
    await h.store.upsertLink(TENANT_ID, PATIENT, reached.id, h.clock.now());

    await receive('conversationItem.created', item());
    expect(h.spry.communications.map((c) => c.patient_id)).toEqual([PATIENT]);

    // A second linked contact on the same number makes it ambiguous: nothing is recorded.
    const twin = h.spruce.addContact({ givenName: 'Twin', phoneNumbers: [{ label: 'Mobile', value: '+12065550100' }] });
    await h.store.upsertLink(TENANT_ID, 1302, twin.id, h.clock.now());
    await receive('conversationItem.created', item({ id: 'item_2' }));
    expect(h.spry.communications).toHaveLength(1);
  });

  it('records nothing for a conversation with no linked patient', async () => {
    h.spruce.conversations.set('conv_1', conversation({ externalParticipants: [{ contact: 'entity_stranger', displayName: 'x' }] }));

    await receive('conversationItem.created', item());

    expect(h.spry.writes).toEqual([]);
    const audit = await h.store.searchAudit({ tenantId: TENANT_ID, recordId: 'item_1', limit: 10 });
    expect(audit.map((a) => a.action)).toEqual(['unmatched']);
  });
});

describe('communicationFor', () => {
  it('names attachments and calls, never copies them, and keeps the summary within Spry’s limit', () => {
    const entry = communicationFor(
      item({ text: 'x'.repeat(SUMMARY_LIMIT), attachments: [{ title: 'scan.pdf', type: 'document' } as never] }),
      conversation({ type: 'fax' }),
      'created',
      '2026-11-20T11:30:00Z',
    );
    expect(entry.kind).toBe('FAX');
    expect(entry.summary).toHaveLength(SUMMARY_LIMIT);
    expect(entry.summary.endsWith('…')).toBe(true);

    const deleted = communicationFor(item(), conversation(), 'deleted', '2026-11-21T09:00:00Z', 'd1g');
    expect(deleted).toMatchObject({ summary: 'Message deleted in Spruce.', external_id: 'item_1:deleted:d1g', occurred_at: '2026-11-21T09:00:00Z' });
  });
});
