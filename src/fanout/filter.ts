// The optional payload filter of a subscription: a small JSON object of conditions on dotted
// paths, all of which must hold. Paths start at the event as a subscriber sees it:
//   type     e.g. "spry.patient.updated"
//   source   "spry" | "spruce" | "sync" | "test"
//   subject  ids: patientId, contactId, itemId, conversationId, …
//   data     the body's data (the source event as received, or the sync event)
// A condition's value is
//   a string, number, boolean or null   equal to it
//   an array of those                   equal to one of them
//   { "$ne": value }                    not equal to it (a missing path is not equal)
//   { "$exists": true | false }         the path is there (not undefined) or not
// e.g. { "subject.patientId": 123 } or { "data.data.status": ["ACTIVE", "DISCHARGED"] }.
import { z } from 'zod';

type Scalar = string | number | boolean | null;
export type Condition = Scalar | Scalar[] | { $ne: Scalar } | { $exists: boolean };
export type PayloadFilter = Record<string, Condition>;

const MAX_CONDITIONS = 20;
const PATH = /^(type|source|subject|data)(\.[A-Za-z0-9_$-]{1,100})*$/;
const RESERVED = new Set(['__proto__', 'constructor', 'prototype']);
const scalar = z.union([z.string().max(500), z.number(), z.boolean(), z.null()]);
const condition = z.union([scalar, z.array(scalar).min(1).max(50), z.strictObject({ $ne: scalar }), z.strictObject({ $exists: z.boolean() })]);

function pathProblem(path: string): string | null {
  if (path.length > 200 || !PATH.test(path)) return `${JSON.stringify(path)} is not a dotted path starting with type, source, subject or data`;
  if (path.split('.').some((segment) => RESERVED.has(segment))) return `${JSON.stringify(path)} uses a reserved name`;
  return null;
}

export type ParsedFilter = { ok: true; filter: PayloadFilter | null } | { ok: false; problem: string };

/** Validates a filter given as an object or JSON text; an empty object means no filter. */
export function parseFilter(input: unknown): ParsedFilter {
  let value = input;
  if (typeof input === 'string') {
    try {
      value = JSON.parse(input);
    } catch {
      return { ok: false, problem: 'filter: not valid JSON' };
    }
  }
  if (value === undefined || value === null) return { ok: true, filter: null };
  if (typeof value !== 'object' || Array.isArray(value)) return { ok: false, problem: 'filter: an object of conditions' };
  const entries = Object.entries(value);
  if (entries.length > MAX_CONDITIONS) return { ok: false, problem: `filter: at most ${MAX_CONDITIONS} conditions` };
  const filter: PayloadFilter = {};
  for (const [path, raw] of entries) {
    const problem = pathProblem(path);
    if (problem) return { ok: false, problem: `filter: ${problem}` };
    const parsed = condition.safeParse(raw);
    if (!parsed.success) return { ok: false, problem: `filter.${path}: a value, a list of values, {"$ne": value} or {"$exists": true|false}` };
    filter[path] = parsed.data;
  }
  return { ok: true, filter: entries.length === 0 ? null : filter };
}

/** The value at a dotted path (own properties only), or undefined. */
export function valueAt(root: unknown, dotted: string): unknown {
  let current: unknown = root;
  for (const segment of dotted.split('.')) {
    if (current === null || typeof current !== 'object' || !Object.hasOwn(current, segment)) return undefined;
    current = (current as Record<string, unknown>)[segment];
  }
  return current;
}

export function matchesFilter(filter: PayloadFilter | null, view: { type: string; source: string; subject: unknown; data: unknown }): boolean {
  if (!filter) return true;
  for (const [dotted, condition] of Object.entries(filter)) {
    const actual = valueAt(view, dotted);
    if (!holds(condition, actual)) return false;
  }
  return true;
}

function holds(condition: Condition, actual: unknown): boolean {
  if (Array.isArray(condition)) return condition.some((c) => c === actual);
  if (condition !== null && typeof condition === 'object') {
    if ('$exists' in condition) return (actual !== undefined) === condition.$exists;
    return actual !== condition.$ne;
  }
  return actual === condition;
}
