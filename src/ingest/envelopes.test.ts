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

  it('dedupes on the id when present, else on type, object id and time', () => {
    const withId = parseSpruceEnvelope({ ...contactEvent, id: 'wev_9' });
    const withoutId = parseSpruceEnvelope(contactEvent);
    if (!withId.ok || !withoutId.ok) throw new Error('parse');
    expect(spruceEventKey(withId.envelope)).toBe('wev_9');
    expect(spruceEventKey(withoutId.envelope)).toBe('contact.updated|entity_1|2026-11-23T10:00:00Z');
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
    const other = parseSpruceEnvelope({ ...contactEvent, type: 'scheduledMessage.sent', data: { object: { id: 'sm_1' } } });
    if (!other.ok) throw new Error(other.problem);
    expect(spruceInboundEvent('acme', other.envelope, Buffer.alloc(0), 1)).toMatchObject({ status: 'ignored' });
  });

  it('refuses what is not a Spruce event', () => {
    expect(parseSpruceEnvelope({ ...contactEvent, object: 'contact' })).toMatchObject({ ok: false });
    expect(parseSpruceEnvelope({ ...contactEvent, eventTime: 'yesterday' })).toMatchObject({ ok: false, problem: expect.stringContaining('eventTime') });
  });
});
