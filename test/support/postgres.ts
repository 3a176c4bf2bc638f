// The one way every test and benchmark finds the test PostgreSQL ($SPRUCE_SYNC_TEST_PG_URL, else
// 127.0.0.1:5432/test), says in one line that a suite was skipped without it, names a fresh
// schema per run (dropped after), and makes the admin moves a test needs (queries, cuts).
import { userInfo } from 'node:os';
import pg from 'pg';

/** The first URL that connects: $SPRUCE_SYNC_TEST_PG_URL, else 127.0.0.1:5432/test as the OS user or postgres. */
export async function findPostgres(): Promise<string | null> {
  const configured = process.env.SPRUCE_SYNC_TEST_PG_URL;
  // A user name always: without one (and without $USER) the server logs a FATAL per attempt.
  const candidates = configured ? [configured] : [`postgres://${userInfo().username}@127.0.0.1:5432/test`, 'postgres://postgres@127.0.0.1:5432/test'];
  for (const url of candidates) {
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
    try {
      await client.connect();
      await client.query('SELECT 1');
      return url;
    } catch {
      // Try the next one.
    } finally {
      await client.end().catch(() => {});
    }
  }
  return null;
}

/** The one line a suite prints when it cannot run. */
export function skipNotice(suite: string): string {
  const shown = new URL(process.env.SPRUCE_SYNC_TEST_PG_URL ?? 'postgres://127.0.0.1:5432/test');
  shown.password = '';
  return (
    `[${suite}] SKIPPED: PostgreSQL is not reachable at ${shown.toString()}. ` +
    'Start it or set SPRUCE_SYNC_TEST_PG_URL=postgres://USER@HOST:PORT/DB to run this suite.'
  );
}

/** A schema name no other run uses (plain identifier, as the store requires). */
export function uniqueSchema(prefix: string): string {
  return `${prefix}_${process.pid}_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 6)}`;
}

/** One query on its own connection (no pool to close). */
export async function adminQuery<R extends pg.QueryResultRow = pg.QueryResultRow>(url: string, sql: string, values: unknown[] = []): Promise<R[]> {
  return query<R>({ connectionString: url, connectionTimeoutMillis: 5000 }, sql, values);
}

/** Like adminQuery, with `schema` as the search path: unqualified names are that schema's tables. */
export async function schemaQuery<R extends pg.QueryResultRow = pg.QueryResultRow>(url: string, schema: string, sql: string, values: unknown[] = []): Promise<R[]> {
  return query<R>({ connectionString: url, connectionTimeoutMillis: 5000, options: `-c search_path=${schema}` }, sql, values);
}

async function query<R extends pg.QueryResultRow>(config: pg.ClientConfig, sql: string, values: unknown[]): Promise<R[]> {
  const client = new pg.Client(config);
  await client.connect();
  try {
    return (await client.query<R>(sql, values)).rows;
  } finally {
    await client.end().catch(() => {});
  }
}

export async function dropSchema(url: string, schema: string): Promise<void> {
  await adminQuery(url, `DROP SCHEMA IF EXISTS ${schema} CASCADE`);
}

/** Cuts every session whose application_name starts with `prefix` (what a DB failover does). */
export async function terminateSessions(url: string, prefix: string): Promise<number> {
  const rows = await adminQuery<{ pid: number }>(
    url,
    `SELECT pid FROM pg_stat_activity WHERE application_name LIKE $1 AND pid <> pg_backend_pid()`,
    [`${prefix.replace(/[\\%_]/g, '\\$&')}%`],
  );
  for (const { pid } of rows) await adminQuery(url, 'SELECT pg_terminate_backend($1)', [pid]);
  return rows.length;
}
