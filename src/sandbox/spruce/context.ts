// What the domain modules (contacts, conversations, webhook endpoints) share: the clock, id
// source, state, the event sink and the URLs resources point at.
import type { Clock } from '../../clock.ts';
import type { IdFactory } from './ids.ts';
import type { OrgState, SpruceState } from './state.ts';

export type EventType =
  | 'contact.created'
  | 'contact.updated'
  | 'contact.deleted'
  | 'contact.merged'
  | 'conversation.created'
  | 'conversation.updated'
  | 'conversation.deleted'
  | 'conversationItem.created'
  | 'conversationItem.updated'
  | 'conversationItem.deleted'
  | 'conversationItem.restored'
  | 'scheduledMessage.created'
  | 'scheduledMessage.updated'
  | 'scheduledMessage.deleted'
  | 'scheduledMessage.sent';

export interface EventSink {
  /** Records and (to unpaused endpoints) delivers one event with `data.object = object`. */
  emit(org: OrgState, type: EventType, object: object, extraData?: Record<string, unknown>): void;
}

export interface SimContext {
  clock: Clock;
  ids: IdFactory;
  state: SpruceState;
  events: EventSink;
  /** Base of `apiURL`s: the simulator's own `/v1` URL once listening, else Spruce's. */
  apiBase(): string;
}

export const APP_BASE = 'https://app.sprucehealth.com';

/**
 * RFC 3339 to the second (`2024-05-15T00:00:00Z`), as every timestamp in Spruce's examples and
 * spec is [doc]: two changes in one second carry the same `modifiedAt`/`eventTime`.
 */
export function iso(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 19)}Z`;
}
