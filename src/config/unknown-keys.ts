// Turns zod's "unrecognized keys" into one problem per key, named by its full path, with the
// nearest key the schema knows at that place: `tenants.0.sync.tagg: unknown key (did you mean
// tag?)`. The known keys are read from the schema itself, so they never drift from it.
import type { z } from 'zod';

type Path = readonly PropertyKey[];

/** Minimal view of zod 4's schema definitions: enough to walk down to the object at a path. */
interface Def {
  type: string;
  shape?: Record<string, z.ZodType>;
  innerType?: z.ZodType;
  in?: z.ZodType;
  element?: z.ZodType;
  valueType?: z.ZodType;
}

const def = (schema: z.ZodType): Def => (schema as unknown as { _zod: { def: Def } })._zod.def;

/** The keys of the object schema found at `path` (array indexes and record keys walk into their items), or []. */
export function knownKeysAt(schema: z.ZodType, path: Path): string[] {
  let current: z.ZodType | undefined = schema;
  let i = 0;
  while (current) {
    const d = def(current);
    if (d.innerType) current = d.innerType; // optional, default, prefault, nullable, readonly…
    else if (d.type === 'pipe') current = d.in;
    else if (i === path.length) return d.shape ? Object.keys(d.shape) : [];
    else if (d.type === 'object') current = d.shape?.[String(path[i++])];
    else if (d.type === 'array' || d.type === 'record') {
      current = d.type === 'array' ? d.element : d.valueType;
      i++;
    } else return [];
  }
  return [];
}

/** Edits (insert, delete, change, swap two neighbours) between two strings, case ignored. */
export function editDistance(a: string, b: string): number {
  const s = a.toLowerCase();
  const t = b.toLowerCase();
  const d: number[][] = Array.from({ length: s.length + 1 }, (_, i) => [i, ...Array<number>(t.length).fill(0)]);
  for (let j = 1; j <= t.length; j++) d[0]![j] = j;
  for (let i = 1; i <= s.length; i++) {
    for (let j = 1; j <= t.length; j++) {
      const cost = s[i - 1] === t[j - 1] ? 0 : 1;
      let best = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && s[i - 1] === t[j - 2] && s[i - 2] === t[j - 1]) best = Math.min(best, d[i - 2]![j - 2]! + 1);
      d[i]![j] = best;
    }
  }
  return d[s.length]![t.length]!;
}

/** The known key a typo most likely meant, when one is close enough to be a good guess. */
export function nearestKey(key: string, known: readonly string[]): string | undefined {
  const allowed = key.length <= 4 ? 1 : key.length <= 8 ? 2 : 3;
  let best: { key: string; distance: number } | undefined;
  for (const candidate of known) {
    const distance = editDistance(key, candidate);
    if (distance <= allowed && (!best || distance < best.distance)) best = { key: candidate, distance };
  }
  return best?.key;
}

/** One problem line per unknown key of an `unrecognized_keys` issue at `path`. */
export function unknownKeyProblems(schema: z.ZodType, path: Path, keys: readonly string[]): string[] {
  const known = knownKeysAt(schema, path);
  return keys.map((key) => {
    const near = nearestKey(key, known);
    const hint = near ? `did you mean ${near}?` : `known here: ${known.join(', ')}`;
    return `${[...path, key].map(String).join('.')}: unknown key (${hint})`;
  });
}
