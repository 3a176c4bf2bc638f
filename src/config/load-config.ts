// Reads the YAML (or JSON) config, fills `${NAME}` from the environment, and validates it,
// refusing a wrong config with every problem listed by path (unknown keys included: a typo is
// an error, never a silent default).
import { readFile } from 'node:fs/promises';
import { parse } from 'yaml';
import { SyncError } from '../errors.ts';
import { configSchema, type Config } from './schema.ts';
import { unknownKeyProblems } from './unknown-keys.ts';

export class ConfigError extends SyncError {
  readonly problems: string[];

  constructor(problems: string[]) {
    super('CONFIG_INVALID', `The config is not valid:\n${problems.map((p) => `  - ${p}`).join('\n')}`, {
      retryable: false,
    });
    this.problems = problems;
  }
}

type Env = Record<string, string | undefined>;

const placeholder = /\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g;
// Before parsing, each `${NAME}` becomes this inert token (valid in any YAML context, flow maps
// included); after parsing, tokens are replaced in the tree. Names cannot contain '-', so the
// token is unambiguous.
const token = /__env-([A-Za-z_][A-Za-z0-9_]*)-env__/g;

/**
 * Replaces `${NAME}` in every string of the parsed tree. Working on parsed values, not the raw
 * text, keeps a secret containing YAML syntax from changing the document's structure. A string
 * that is only a placeholder of a number-like value becomes that number (for ports and ids).
 */
function substituteEnv(value: unknown, env: Env, path: string, problems: string[]): unknown {
  if (typeof value === 'string') {
    const whole = /^(\$\{[A-Za-z_][A-Za-z0-9_]*\}|__env-[A-Za-z_][A-Za-z0-9_]*-env__)$/.test(value);
    const lookup = (_match: string, name: string) => {
      const found = env[name];
      if (found === undefined) {
        problems.push(`${path || '(root)'}: environment variable ${name} is not set`);
        return '';
      }
      return found;
    };
    const replaced = value.replace(token, lookup).replace(placeholder, lookup);
    if (whole && /^-?\d+(\.\d+)?$/.test(replaced)) return Number(replaced);
    return replaced;
  }
  if (Array.isArray(value)) return value.map((item, i) => substituteEnv(item, env, join(path, i), problems));
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([key, item]) => [key, substituteEnv(item, env, join(path, key), problems)]),
    );
  }
  return value;
}

function join(path: string, key: string | number): string {
  return path ? `${path}.${key}` : String(key);
}

/** Validates an already parsed config object. */
export function parseConfig(raw: unknown, env: Env = process.env): Config {
  const problems: string[] = [];
  const substituted = substituteEnv(raw ?? {}, env, '', problems);
  const result = configSchema.safeParse(substituted);
  if (!result.success) {
    // A value left empty by an unset variable is reported once, as the variable, not again as
    // whatever the schema thinks of the empty string.
    const unset = new Set(problems.map((problem) => problem.slice(0, problem.indexOf(': environment variable '))));
    for (const issue of result.error.issues) {
      if (unset.has(issue.path.join('.'))) continue;
      if (issue.code === 'unrecognized_keys') problems.push(...unknownKeyProblems(configSchema, issue.path, issue.keys));
      else problems.push(`${issue.path.join('.') || '(root)'}: ${issue.message}`);
    }
  }
  if (result.success) {
    const ids = result.data.tenants.map((t) => t.id);
    ids.forEach((id, i) => {
      if (ids.indexOf(id) !== i) problems.push(`tenants.${i}.id: duplicate tenant id ${id}`);
    });
  }
  if (problems.length > 0 || !result.success) throw new ConfigError(problems);
  return result.data;
}

export async function loadConfig(file: string, env: Env = process.env): Promise<Config> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new ConfigError([`${file}: cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'})`]);
  }
  let raw: unknown;
  try {
    raw = parse(text.replace(placeholder, (_match, name: string) => `__env-${name}-env__`));
  } catch (error) {
    throw new ConfigError([`${file}: not valid YAML or JSON (${(error as Error).message.split('\n')[0]})`]);
  }
  return parseConfig(raw, env);
}
