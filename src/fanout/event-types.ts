// Event type names and the patterns subscriptions choose them by.
//
// Names are `<source>.<resource>.<change>`: `spry.patient.updated`, `spruce.contact.merged`,
// `spruce.conversationItem.created`, `sync.contact.created`, `sync.dead_lettered`. A pattern is
// a name where `*` stands for one segment, or, as the last segment, for one or more:
//   spry.*              every Spry event
//   *.contact.*         Spruce contact events and our contact sync events
//   patient.*           a pattern is also tried without the source prefix: spry.patient.*
//   *                   everything
import { SPRY_EVENT_TYPES } from '../spry/types.ts';

/** Our own sync events: ids only, never PHI. */
export const SYNC_EVENT_TYPES = [
  'sync.contact.created',
  'sync.contact.linked',
  'sync.contact.updated',
  'sync.contact.deleted',
  'sync.patient.updated',
  'sync.chart.activity_recorded',
  'sync.dead_lettered',
] as const;

export type SyncEventType = (typeof SYNC_EVENT_TYPES)[number];

/** Spruce event types we know of (others are delivered too, under `spruce.<type>`). */
export const SPRUCE_EVENT_TYPES = [
  'contact.created',
  'contact.updated',
  'contact.deleted',
  'contact.merged',
  'conversation.created',
  'conversation.updated',
  'conversationItem.created',
  'conversationItem.updated',
  'conversationItem.deleted',
  'conversationItem.restored',
] as const;

export const TEST_EVENT_TYPE = 'webhook.test';

/** Every name we know of, for listings and for refusing patterns that can never match. */
export const KNOWN_EVENT_TYPES: readonly string[] = [
  ...SPRY_EVENT_TYPES.map((t) => `spry.${t}`),
  ...SPRUCE_EVENT_TYPES.map((t) => `spruce.${t}`),
  ...SYNC_EVENT_TYPES,
];

const SOURCES = ['spry.', 'spruce.', 'sync.'];
const SEGMENT = /^([A-Za-z0-9_]+|\*)$/;

/** A problem with the pattern, or null when it is well formed. */
export function patternProblem(pattern: string): string | null {
  if (pattern.length === 0 || pattern.length > 200) return 'an event type is 1 to 200 characters';
  if (!pattern.split('.').every((segment) => SEGMENT.test(segment))) {
    return `${JSON.stringify(pattern)}: segments are letters, digits, _ or a lone *`;
  }
  return null;
}

function matchSegments(pattern: string[], name: string[]): boolean {
  for (let i = 0; i < pattern.length; i++) {
    const p = pattern[i]!;
    if (p === '*' && i === pattern.length - 1) return name.length > i;
    if (i >= name.length) return false;
    if (p !== '*' && p !== name[i]) return false;
  }
  return pattern.length === name.length;
}

export function typeMatches(pattern: string, type: string): boolean {
  const p = pattern.split('.');
  if (matchSegments(p, type.split('.'))) return true;
  const source = SOURCES.find((prefix) => type.startsWith(prefix));
  return source !== undefined && matchSegments(p, type.slice(source.length).split('.'));
}

export function matchesAnyType(patterns: readonly string[], type: string): boolean {
  return patterns.some((pattern) => typeMatches(pattern, type));
}
