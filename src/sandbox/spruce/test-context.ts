// A simulator context without HTTP, for the unit tests of the domain modules: a stopped clock,
// seeded ids, one organization and an event sink that records what would be sent.
import { ControlledClock } from '../../clock.ts';
import type { EventSink, EventType, SimContext } from './context.ts';
import { IdFactory } from './ids.ts';
import { OrgState, SpruceState } from './state.ts';

export interface RecordedEvent {
  type: EventType;
  object: Record<string, unknown>;
  extra: Record<string, unknown>;
}

export function testContext(): { ctx: SimContext; org: OrgState; events: RecordedEvent[]; clock: ControlledClock } {
  const clock = new ControlledClock({ flowing: false, start: Date.parse('2025-03-01T12:00:00Z') });
  const events: RecordedEvent[] = [];
  const sink: EventSink = {
    emit: (_org, type, object, extra = {}) => events.push({ type, object: object as Record<string, unknown>, extra }),
  };
  const ids = new IdFactory(clock, 7);
  const state = new SpruceState();
  const org = new OrgState(
    { id: 'entity_ORG', accessId: 'aid_x', secretKey: 'sk_x', name: 'Test Clinic', rateLimitPerMinute: 0, rateLimitPerDay: 0 },
    [{ id: 'entity_TEAMMATE', displayName: 'Pat Doe, PT' }],
    { id: 'phoneline_1', value: '+12065550100', displayValue: '(206) 555-0100' },
    { id: 'organizationCode_1', url: 'https://spruce.care/test' },
  );
  state.orgs.set(org.id, org);
  const ctx: SimContext = { clock, ids, state, events: sink, apiBase: () => 'https://api.sprucehealth.com/v1' };
  return { ctx, org, events, clock };
}

/**
 * A webhook object as the spec's schemas type it: Spruce's examples send `null` for lists the
 * spec types as arrays (`associatedContactIds`, `buttons`, also inside an item's embedded
 * conversation); those read as empty lists here, so the rest can be checked against the spec.
 */
export function nullListsAsEmpty(object: Record<string, unknown>): Record<string, unknown> {
  const fix = (o: Record<string, unknown>) => {
    const out = { ...o };
    for (const key of ['associatedContactIds', 'buttons']) if (out[key] === null) out[key] = [];
    return out;
  };
  const out = fix(object);
  if (out.conversation && typeof out.conversation === 'object') out.conversation = fix(out.conversation as Record<string, unknown>);
  return out;
}
