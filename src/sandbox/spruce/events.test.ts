import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ControlledClock } from '../../clock.ts';
import { FaultInjector } from '../faults.ts';
import { SpruceEvents, signSpruceBody } from './events.ts';
import { IdFactory } from './ids.ts';
import { testContext } from './test-context.ts';
import { createEndpoint } from './webhook-endpoints.ts';

function setup() {
  const { ctx, org } = testContext();
  const clock = ctx.clock as ControlledClock;
  const events = new SpruceEvents(clock, new IdFactory(clock, 3), new FaultInjector(1));
  return { ctx, org, events, clock };
}

describe('SpruceEvents', () => {
  it('signs with base64 HMAC-SHA256 of the raw body, keyed by the secret as UTF-8', () => {
    const expected = createHmac('sha256', 'sécret').update('{"a":1}').digest('base64');
    expect(signSpruceBody('sécret', '{"a":1}')).toBe(expected);
  });

  it('builds the documented envelope: no id, eventTime to the second', async () => {
    const { org, events, clock } = setup();
    await clock.advance(750);
    events.emit(org, 'contact.created', { id: 'entity_1' });
    expect(JSON.parse(events.emitted[0]!.body)).toEqual({ object: 'event', type: 'contact.created', eventTime: '2025-03-01T12:00:00Z', data: { object: { id: 'entity_1' } } });
    expect(events.emitted[0]!.id).toMatch(/^wev_/);
  });

  it('with eventIds and distinctEventTimes: the log id in the payload, distinct ordered times within one millisecond', () => {
    const { org, clock } = setup();
    const events = new SpruceEvents(clock, new IdFactory(clock, 3), new FaultInjector(1), { eventIds: true, distinctEventTimes: true });
    events.emit(org, 'contact.created', { id: 'entity_1' });
    events.emit(org, 'contact.updated', { id: 'entity_1' });
    const [a, b] = events.emitted.map((e) => JSON.parse(e.body));
    expect(a).toEqual({ object: 'event', id: events.emitted[0]!.id, type: 'contact.created', eventTime: expect.any(String), data: { object: { id: 'entity_1' } } });
    expect(a.eventTime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/);
    expect(a.eventTime < b.eventTime).toBe(true);
    expect(Date.parse(a.eventTime)).toBe(Date.parse(b.eventTime));
  });

  it('logs events for a paused endpoint without delivering them, and keeps 30 days', async () => {
    const { ctx, org, events, clock } = setup();
    const endpoint = createEndpoint(ctx, org, { name: 'n', url: 'https://example.invalid/hook' });
    endpoint.paused = true;
    events.emit(org, 'contact.created', { id: 'entity_1' });
    const log = events.listLog(endpoint.id, {});
    expect(log.events).toHaveLength(1);
    expect(log.events[0]!.delivery).toEqual({ status: 'paused', attempts: 0, attemptLimit: 10 });
    expect(JSON.parse(log.events[0]!.data)).toMatchObject({ type: 'contact.created' });
    expect(events.dispatcher.pendingCount()).toBe(0);
    await clock.advance(30 * 24 * 3600_000 + 1);
    expect(events.listLog(endpoint.id, {}).events).toHaveLength(0);
  });
});
