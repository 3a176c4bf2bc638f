// One SQL text for both databases. Statements are written once with the `sql` tag; a Dialect
// renders them (placeholders `?` or `$n`, list parameters, row locks, booleans) and a Db runs
// them. Only what truly differs between SQLite and PostgreSQL is a hook here; the rest is plain
// SQL both accept (upserts with `excluded`, aggregates with FILTER, RETURNING, CTEs).

/** A piece of SQL text with its parameters; fragments nest. */
export class Sql {
  constructor(
    readonly strings: readonly string[],
    readonly values: readonly unknown[],
  ) {}
}

/** What a dialect renders for itself (see the hooks below). */
type DialectPart = (dialect: Dialect) => Sql;

export function sql(strings: TemplateStringsArray, ...values: unknown[]): Sql {
  return new Sql(strings, values);
}

/** Trusted text (a column name from our own code), never user input. */
export function raw(text: string): Sql {
  return new Sql([text], []);
}

export function join(parts: Sql[], separator: string): Sql {
  if (parts.length === 0) return raw('');
  return new Sql(['', ...parts.slice(1).map(() => separator), ''], parts);
}

/** Column/value pairs as an insert's `(a, b) VALUES (?, ?)` or an update's `a = ?, b = ?`. */
export type Columns = Record<string, unknown>;
export const columnNames = (values: Columns): Sql => raw(Object.keys(values).join(', '));
export const columnValues = (values: Columns): Sql => join(Object.values(values).map((v) => sql`${v}`), ', ');
export const assignments = (values: Columns): Sql => join(Object.entries(values).map(([c, v]) => sql`${raw(c)} = ${v}`), ', ');

/** `WHERE a AND b …`, or nothing when there is no condition. */
export function where(conditions: Sql[]): Sql {
  return conditions.length === 0 ? raw('') : sql`WHERE ${join(conditions, ' AND ')}`;
}

export type FilterOp = '=' | '>=' | '<' | '<=' | 'in' | 'starts';
/** A search condition on a column named by our code: compared, one of a list, or a prefix. */
export type Filter = [column: string, op: FilterOp, value: string | number | readonly string[]];

export function filterConditions(filters: Filter[]): Sql[] {
  return filters.map(([column, op, value]) => {
    if (op === 'in') return sql`${anyOf(column, value as readonly string[])}`;
    if (op === 'starts') return sql`substr(${raw(column)}, 1, length(CAST(${value} AS TEXT))) = CAST(${value} AS TEXT)`;
    return sql`${raw(column)} ${raw(op)} ${value}`;
  });
}

export interface Dialect {
  name: 'sqlite' | 'postgres';
  placeholder(n: number): string;
  /** `expr` is one of `values`, the list travelling as one parameter. */
  anyOf(expr: Sql, values: readonly (string | number)[], type: 'text' | 'bigint'): Sql;
  /** The row lock a read-then-write takes (SQLite has one writer at a time: none). */
  forUpdate: string;
  /** Claims skip rows another session holds instead of waiting for them. */
  skipLocked: string;
  /** The larger and smaller of two values. */
  greatest: string;
  least: string;
  /**
   * Joins each row before it to the rows of `table` that `rows`, a SELECT correlated with that
   * row (a top-n per group, say), returns with their primary key `id`; `alias` names them.
   * PostgreSQL runs it as a LATERAL subquery. SQLite has none: it lists the ids and looks each
   * one up, and CROSS JOIN keeps the row before it outside (rather than scanning `table` whole).
   */
  eachOf(table: string, alias: string, rows: Sql): Sql;
  /** A parameter as the driver binds it. */
  bind(value: unknown): unknown;
}

export const sqlite: Dialect = {
  name: 'sqlite',
  placeholder: () => '?',
  anyOf: (expr, values) => sql`${expr} IN (SELECT value FROM json_each(${JSON.stringify(values)}))`,
  forUpdate: '',
  skipLocked: '',
  greatest: 'max',
  least: 'min',
  eachOf: (table, alias, rows) => sql`CROSS JOIN ${raw(table)} ${raw(alias)} ON ${raw(alias)}.id IN (SELECT id FROM (${rows}) ${raw(alias)}_ids)`,
  // better-sqlite3 binds numbers, strings, buffers and null: booleans become 0/1.
  bind: (value) => (typeof value === 'boolean' ? (value ? 1 : 0) : value),
};

export const postgres: Dialect = {
  name: 'postgres',
  placeholder: (n) => `$${n}`,
  anyOf: (expr, values, type) => sql`${expr} = ANY (CAST(${values} AS ${raw(type)}[]))`,
  forUpdate: 'FOR UPDATE',
  skipLocked: 'FOR UPDATE SKIP LOCKED',
  greatest: 'greatest',
  least: 'least',
  eachOf: (_table, alias, rows) => sql`CROSS JOIN LATERAL (${rows}) ${raw(alias)}`,
  bind: (value) => value,
};

/** Dialect hooks, usable inside `sql` like any fragment. */
export const anyOf =
  (expr: Sql | string, values: readonly (string | number)[], type: 'text' | 'bigint' = 'text'): DialectPart =>
  (d) =>
    d.anyOf(typeof expr === 'string' ? raw(expr) : expr, values, type);
/** Text only one database needs (a planner hint, a lock clause naming a table, a re-check). */
export const only =
  (name: Dialect['name'], text: string | Sql): DialectPart =>
  (d) =>
    d.name !== name ? raw('') : typeof text === 'string' ? raw(text) : text;
export const forUpdate: DialectPart = (d) => raw(d.forUpdate);
export const skipLocked: DialectPart = (d) => raw(d.skipLocked);
export const eachOf =
  (table: string, alias: string, rows: Sql): DialectPart =>
  (d) =>
    d.eachOf(table, alias, rows);
export const greatest = (a: Sql, b: Sql): DialectPart => (d) => sql`${raw(d.greatest)}(${a}, ${b})`;
export const least = (a: Sql, b: Sql): DialectPart => (d) => sql`${raw(d.least)}(${a}, ${b})`;

export function render(query: Sql, dialect: Dialect): { text: string; params: unknown[] } {
  const params: unknown[] = [];
  const walk = (fragment: Sql): string => {
    let text = fragment.strings[0]!;
    fragment.values.forEach((value, i) => {
      if (value instanceof Sql) text += walk(value);
      else if (typeof value === 'function') text += walk((value as DialectPart)(dialect));
      else {
        params.push(dialect.bind(value));
        text += dialect.placeholder(params.length);
      }
      text += fragment.strings[i + 1]!;
    });
    return text;
  };
  return { text: walk(query), params };
}

/** A database connection (or a transaction on one) that runs rendered statements. */
export interface Db {
  readonly dialect: Dialect;
  all<R>(query: Sql): Promise<R[]>;
  get<R>(query: Sql): Promise<R | undefined>;
  /** Runs a write; resolves to the number of rows it changed. */
  run(query: Sql): Promise<number>;
  /** Runs `fn` in one transaction (a savepoint when already in one). */
  transaction<T>(fn: (tx: Db) => Promise<T>): Promise<T>;
  /** Whether `error` is a unique-constraint violation (another writer got there first). */
  isUniqueViolation(error: unknown): boolean;
}
