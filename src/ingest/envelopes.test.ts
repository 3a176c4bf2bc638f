import { describe, expect, it } from 'vitest';
import { parseSpruceEnvelope, spruceEventKey, spruceInboundEvent } from './spruce-envelope.ts';
import { parseSpryEnvelope, spryInboundEvent } from './spry-envelope.ts';

const spryBody = {
  event_id: 'evt_1',
  event_type: 'appointment.updated',
  api_version: '2026-06-11',
  timestamp: 1_790_000_000,
  data: { organisation_id: 74, appointment_id: 9, patient_id: 12, spry_case_id: 'SPRY_CASE_ab', clinic_id: 3, status: 'CONFIRMED' },
};

describe('Spry envelopes', () => {
  it('routes every patient-related event to the per-patient job after the coalescing window', () => {
    const parsed = parseSpryEnvelope(spryBody);
    if (!parsed.ok) throw new Error(parsed.problem);
    const event = spryInboundEvent('acme', parsed.envelope, Buffer.from('{}'), 5_000, 100);
    expect(event).toMatchObject({
      tenantId: 'acme',
      source: 'spry',
      eventKey: 'evt_1',
      type: 'appointment.updated',
      occurredAt: 1_790_000_000_000,
      status: 'queued',
      subject: { patientId: 12, appointmentId: 9, caseId: 'SPRY_CASE_ab' },
      job: { key: 'spry-patient:74:12', task: 'spry.patient', params: { patientId: 12 }, runAt: 5_100 },
    });
  });

  it('records test deliveries and unknown types without a job', () => {
    const test = parseSpryEnvelope({ ...spryBody, test: true, data: { organisation_id: 74 } });
    if (!test.ok) throw new Error(test.problem);
    const testEvent = spryInboundEvent('acme', test.envelope, Buffer.alloc(0), 0);
    expect(testEvent.status).toBe('test');
    expect(testEvent.job).toBeUndefined();
    const unknown = parseSpryEnvelope({ ...spryBody, event_type: 'invoice.paid', data: { organisation_id: 74 } });
    if (!unknown.ok) throw new Error(unknown.problem);
    const unknownEvent = spryInboundEvent('acme', unknown.envelope, Buffer.alloc(0), 0);
    expect(unknownEvent.status).toBe('ignored');
    expect(unknownEvent.job).toBeUndefined();
  });

  it('names what is wrong with a bad envelope', () => {
    expect(parseSpryEnvelope(undefined)).toMatchObject({ ok: false });
    expect(parseSpryEnvelope({ ...spryBody, timestamp: 'soon' })).toMatchObject({ ok: false, problem: expect.stringContaining('timestamp') });
    expect(parseSpryEnvelope({ ...spryBody, data: { organisation_id: 74, patient_id: 0 } })).toMatchObject({ ok: false });
    expect(parseSpryEnvelope({ ...spryBody, data: { organisation_id: 74 } })).toMatchObject({
      ok: false,
      problem: 'data.patient_id: a positive id is required for this event type',
    });
  });
});

describe('Spruce envelopes', () => {
  const contactEvent = {
    object: 'event',
    type: 'contact.updated',
    eventTime: '2026-11-23T10:00:00Z',
    data: { object: { id: 'entity_1', givenName: 'not logged' } },
  };

  const keyOf = (body: unknown): string => {
    const parsed = parseSpruceEnvelope(body);
    if (!parsed.ok) throw new Error(parsed.problem);
    return parsed.envelope.key;
  };

  it('dedupes on the id when present', () => {
    expect(keyOf({ ...contactEvent, id: 'wev_9' })).toBe('wev_9');
    expect(spruceEventKey({ ...contactEvent, id: 'wev_9' })).toBe('wev_9');
  });

  it('without an id, tells two edits of one contact in one second apart, by a digest of the whole event', () => {
    const first = { ...contactEvent, data: { object: { id: 'entity_1', phoneNumbers: [{ label: 'mobile', value: '+12065550101' }] } } };
    const second = { ...contactEvent, data: { object: { id: 'entity_1', phoneNumbers: [{ label: 'mobile', value: '+12065550102' }] } } };
    // Same type, object id and eventTime (to the second, as Spruce sends it): the old key merged these.
    expect(keyOf(first)).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(keyOf(second)).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(keyOf(first)).not.toBe(keyOf(second));
  });

  it('gives a redelivery the same key however it was serialised (key order, spacing, number spelling)', () => {
    const event = { ...contactEvent, data: { object: { id: 'entity_1', tags: ['a', 'b'], n: 10 } } };
    const compact = JSON.stringify(event);
    const reordered = '{ "data": {"object": {"n": 1e1, "tags": ["a","b"], "id": "entity_1"}},\n "type": "contact.updated", "eventTime": "2026-11-23T10:00:00Z", "object": "event" }';
    expect(keyOf(JSON.parse(reordered))).toBe(keyOf(JSON.parse(compact)));
    // Array order is content: a different order is a different event.
    const swapped = { ...event, data: { object: { ...event.data.object, tags: ['b', 'a'] } } };
    expect(keyOf(swapped)).not.toBe(keyOf(event));
    // Fields the envelope schema does not name still count (the zod parse drops them).
    expect(keyOf({ ...event, extra: 1 })).not.toBe(keyOf(event));
  });

  it('routes contacts and items to their own jobs, ignores the rest, and keeps only ids in the subject', () => {
    const parsed = parseSpruceEnvelope(contactEvent);
    if (!parsed.ok) throw new Error(parsed.problem);
    const event = spruceInboundEvent('acme', parsed.envelope, Buffer.from('x'), 1);
    expect(event).toMatchObject({ status: 'queued', subject: { contactId: 'entity_1' }, job: { key: 'spruce-contact:entity_1', task: 'spruce.contact' } });
    expect(JSON.stringify(event.subject)).not.toContain('not logged');
    const item = parseSpruceEnvelope({ ...contactEvent, type: 'conversationItem.created', data: { object: { id: 'ti_1' } } });
    if (!item.ok) throw new Error(item.problem);
    expect(spruceInboundEvent('acme', item.envelope, Buffer.alloc(0), 1).job).toMatchObject({ key: 'spruce-item:ti_1', task: 'spruce.item' });
  });

  it('stores every other type as ignored, with the reason the event log shows', () => {
    const ignored = (type: string, object: Record<string, unknown> = { id: 'x_1' }) => {
      const parsed = parseSpruceEnvelope({ ...contactEvent, type, data: { object } });
      if (!parsed.ok) throw new Error(parsed.problem);
      const event = spruceInboundEvent('acme', parsed.envelope, Buffer.alloc(0), 1);
      expect(event.status).toBe('ignored');
      expect(event.job).toBeUndefined();
      return event.reason;
    };
    for (const type of ['conversation.created', 'conversation.updated']) expect(ignored(type)).toMatch(/^conversation_not_charted:/);
    expect(ignored('conversation.deleted')).toMatch(/^conversation_deleted_kept:/);
    for (const type of ['scheduledMessage.created', 'scheduledMessage.updated', 'scheduledMessage.deleted']) expect(ignored(type)).toMatch(/^scheduled_not_sent:/);
    expect(ignored('scheduledMessage.sent')).toMatch(/^charted_as_item:/);
    expect(ignored('invoice.paid')).toMatch(/^unknown_type:/);
    expect(ignored('contact.archived')).toMatch(/^unknown_type:/);
    expect(ignored('contact.updated', {})).toMatch(/^no_object_id:/);
  });

  it('refuses what is not a Spruce event', () => {
    expect(parseSpruceEnvelope({ ...contactEvent, object: 'contact' })).toMatchObject({ ok: false });
    expect(parseSpruceEnvelope({ ...contactEvent, eventTime: 'yesterday' })).toMatchObject({ ok: false, problem: expect.stringContaining('eventTime') });
  });
});
