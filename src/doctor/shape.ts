// Field shapes the sync relies on, checked against what a vendor actually answered. A problem
// names the field and the kind of value expected and found, never the value itself (it may be
// PHI).

export type FieldRule =
  | 'string'
  | 'integer'
  | 'number'
  | 'boolean'
  | 'object'
  | 'array'
  /** `YYYY-MM-DD` */
  | 'date'
  /** An ISO 8601 date-time. */
  | 'time'
  /** Epoch seconds written as a string of digits (Spry's appointment times). */
  | 'epoch-seconds-text'
  | { oneOf: readonly string[] };

export interface FieldSpec {
  rule: FieldRule;
  /** null is allowed. */
  nullable?: boolean;
  /** The field may be absent. */
  optional?: boolean;
}

export type Shape = Record<string, FieldSpec | FieldRule>;

/** `'string?'`-style shorthand is avoided on purpose: the spec reads like the vendor docs. */
export const nullable = (rule: FieldRule): FieldSpec => ({ rule, nullable: true });

function kind(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

function matches(rule: FieldRule, value: unknown): boolean {
  if (typeof rule === 'object') return typeof value === 'string' && rule.oneOf.includes(value);
  switch (rule) {
    case 'string':
      return typeof value === 'string';
    case 'integer':
      return Number.isInteger(value);
    case 'number':
      return typeof value === 'number' && Number.isFinite(value);
    case 'boolean':
      return typeof value === 'boolean';
    case 'object':
      return typeof value === 'object' && value !== null && !Array.isArray(value);
    case 'array':
      return Array.isArray(value);
    case 'date':
      return typeof value === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(value);
    case 'time':
      return typeof value === 'string' && /^\d{4}-\d{2}-\d{2}T/.test(value) && !Number.isNaN(Date.parse(value));
    case 'epoch-seconds-text':
      return typeof value === 'string' && /^\d{9,11}$/.test(value);
  }
}

function describe(rule: FieldRule): string {
  if (typeof rule === 'object') return `one of ${rule.oneOf.join('|')}`;
  return {
    string: 'text',
    integer: 'a whole number',
    number: 'a number',
    boolean: 'true/false',
    object: 'an object',
    array: 'a list',
    date: 'a YYYY-MM-DD date',
    time: 'an ISO 8601 time',
    'epoch-seconds-text': 'epoch seconds as text',
  }[rule];
}

/** What in `value` does not fit `shape`, one line per field; empty when it fits. */
export function shapeProblems(value: unknown, shape: Shape): string[] {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return [`expected an object, got ${kind(value)}`];
  const record = value as Record<string, unknown>;
  const problems: string[] = [];
  for (const [field, entry] of Object.entries(shape)) {
    const spec: FieldSpec = typeof entry === 'object' && 'rule' in entry ? entry : { rule: entry };
    if (!(field in record) || record[field] === undefined) {
      if (!spec.optional) problems.push(`${field}: missing`);
      continue;
    }
    const found = record[field];
    if (found === null && spec.nullable) continue;
    if (!matches(spec.rule, found)) {
      // An enum's unexpected value is not echoed: only its kind.
      problems.push(`${field}: expected ${describe(spec.rule)}${spec.nullable ? ' or null' : ''}, got ${typeof spec.rule === 'object' && typeof found === 'string' ? 'another value' : kind(found)}`);
    }
  }
  return problems;
}

/** Problems of every item in a list, each prefixed with its position; at most `limit` lines. */
export function listShapeProblems(items: unknown[], shape: Shape, limit = 5): string[] {
  const problems = items.flatMap((item, index) => shapeProblems(item, shape).map((p) => `[${index}].${p}`));
  return problems.length > limit ? [...problems.slice(0, limit), `… ${problems.length - limit} more`] : problems;
}
