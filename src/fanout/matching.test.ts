import { describe, expect, it } from 'vitest';
import { matchesAnyType, patternProblem, typeMatches } from './event-types.ts';
import { matchesFilter, parseFilter } from './filter.ts';
import { subscriptionWants } from './registry.ts';
import type { NewMessage, Subscription } from './types.ts';

describe('event type patterns', () => {
  it.each([
    ['spry.patient.updated', 'spry.patient.updated', true],
    ['spry.*', 'spry.patient.updated', true],
    ['spry.*', 'spruce.contact.updated', false],
    ['patient.*', 'spry.patient.created', true],
    ['patient.*', 'sync.patient.updated', true],
    ['patient.*', 'spry.appointment.created', false],
    ['*.contact.*', 'spruce.contact.merged', true],
    ['*.contact.*', 'sync.contact.created', true],
    ['contact.*', 'sync.contact.created', true],
    ['sync.*', 'sync.dead_lettered', true],
    ['sync.contact.*', 'sync.dead_lettered', false],
    ['*', 'spruce.conversationItem.created', true],
    ['spruce.conversationItem.*', 'spruce.conversationItem.created', true],
    ['spruce.*.created', 'spruce.conversationItem.created', true],
    ['spruce.*.created', 'spruce.conversationItem.updated', false],
  ])('%s matches %s: %s', (pattern, type, expected) => {
    expect(typeMatches(pattern, type)).toBe(expected);
  });

  it('refuses malformed patterns', () => {
    expect(patternProblem('spry.*')).toBeNull();
    expect(patternProblem('spry.pat*')).toMatch(/segments/);
    expect(patternProblem('')).toMatch(/1 to 200/);
    expect(patternProblem('a..b')).toMatch(/segments/);
    expect(matchesAnyType(['x.y', 'sync.*'], 'sync.contact.created')).toBe(true);
  });
});

describe('payload filter', () => {
  const view = { type: 'spry.patient.updated', source: 'spry', subject: { patientId: 12 }, data: { data: { status: 'ACTIVE', organisation_id: 74 } } };

  it('holds equality, one-of, $ne and $exists on dotted paths', () => {
    const parse = (f: unknown) => {
      const parsed = parseFilter(f);
      if (!parsed.ok) throw new Error(parsed.problem);
      return parsed.filter;
    };
    expect(matchesFilter(parse({ 'subject.patientId': 12 }), view)).toBe(true);
    expect(matchesFilter(parse({ 'subject.patientId': 13 }), view)).toBe(false);
    expect(matchesFilter(parse({ 'data.data.status': ['DISCHARGED', 'ACTIVE'] }), view)).toBe(true);
    expect(matchesFilter(parse({ 'data.data.status': { $ne: 'ACTIVE' } }), view)).toBe(false);
    expect(matchesFilter(parse({ 'data.data.case': { $exists: false }, type: 'spry.patient.updated' }), view)).toBe(true);
    expect(matchesFilter(parse('{"data.data.organisation_id": 74}'), view)).toBe(true);
    expect(parse({})).toBeNull();
  });

  it('refuses what it does not understand, with a reason', () => {
    expect(parseFilter({ 'payload.x': 1 })).toMatchObject({ ok: false, problem: expect.stringContaining('dotted path') });
    expect(parseFilter({ 'data.__proto__.x': 1 })).toMatchObject({ ok: false });
    expect(parseFilter({ 'data.x': { $gt: 1 } })).toMatchObject({ ok: false });
    expect(parseFilter('{nope')).toMatchObject({ ok: false, problem: 'filter: not valid JSON' });
  });
});

describe('which subscriptions want a message', () => {
  const sub = (extra: Partial<Subscription> = {}): Subscription => ({
    id: 'sub_test',
    tenantId: 't',
    url: 'https://example.com/hook',
    description: null,
    eventTypes: ['*'],
    filter: null,
    version: '2026-07-01',
    allowPhi: false,
    retrySchedule: [1000],
    ratePerSecond: 0,
    maxInFlight: 1,
    ordered: true,
    status: 'active',
    statusReason: null,
    secrets: [],
    health: { consecutiveFailures: 0, failingSince: null, lastSuccessAt: null, lastFailureAt: null, alertedAt: null },
    createdAt: 100,
    updatedAt: 100,
    ...extra,
  });
  const message = (extra: Partial<NewMessage> = {}): NewMessage => ({
    tenantId: 't',
    source: 'spry',
    type: 'spry.patient.updated',
    dedupeKey: 'e1',
    occurredAt: 150,
    createdAt: 200,
    subject: { patientId: 1 },
    orderKey: 'patient:1',
    phi: false,
    data: {},
    ...extra,
  });

  it('keeps PHI from subscriptions that do not allow it, and history from new subscriptions', () => {
    expect(subscriptionWants(sub(), message())).toBe(true);
    expect(subscriptionWants(sub(), message({ source: 'spruce', type: 'spruce.contact.updated', phi: true }))).toBe(false);
    expect(subscriptionWants(sub({ allowPhi: true }), message({ source: 'spruce', type: 'spruce.contact.updated', phi: true }))).toBe(true);
    expect(subscriptionWants(sub({ createdAt: 300 }), message())).toBe(false);
    expect(subscriptionWants(sub({ eventTypes: ['sync.*'] }), message())).toBe(false);
    expect(subscriptionWants(sub({ filter: { 'subject.patientId': 2 } }), message())).toBe(false);
    // Paused and disabled subscriptions keep receiving: their events wait.
    expect(subscriptionWants(sub({ status: 'disabled' }), message())).toBe(true);
    expect(subscriptionWants(sub(), message({ source: 'test', type: 'webhook.test' }))).toBe(false);
  });
});
