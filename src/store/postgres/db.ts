// Connecting to PostgreSQL: a pool whose sessions see only our schema, bigints read as
// numbers (our ids and epoch-ms times stay far below 2^53), and a transaction helper.
import { userInfo } from 'node:os';
import pg from 'pg';
import { SyncError } from '../../errors.ts';

export interface Queryable {
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(text: string, values?: unknown[]): Promise<pg.QueryResult<R>>;
}

export interface PoolOptions {
  /** Tables live in this schema (created by migrate); default: the server's search_path. */
  schema?: string;
  /** Connections per process. */
  max?: number;
}

const INT8_OID = 20;

const types: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === INT8_OID && format !== 'binary'
      ? (value: string) => Number(value)
      : pg.types.getTypeParser(oid, format as 'text')) as pg.CustomTypesConfig['getTypeParser'],
};

/** Schema names go into SQL text, so only plain identifiers are allowed. */
export function checkSchemaName(schema: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]{0,62}$/.test(schema)) {
    throw new SyncError('CONFIG_INVALID', 'schema must be a plain identifier (letters, digits, underscore)', {
      retryable: false,
    });
  }
  return schema;
}

export function createPool(url: string, options: PoolOptions = {}): pg.Pool {
  const schema = options.schema === undefined ? undefined : checkSchemaName(options.schema);
  const pool = new pg.Pool({
    connectionString: withDefaultUser(url),
    max: options.max ?? 10,
    types,
    ...(schema ? { options: `-c search_path=${schema}` } : {}),
  });
  // An idle connection dropped by the server must not crash the process; the next query on
  // the pool reconnects or fails visibly.
  pool.on('error', () => {});
  return pool;
}

/**
 * Like libpq (psql), a URL without a user name means $PGUSER or else the OS user; pg alone
 * reads $USER, which services and containers often lack.
 */
function withDefaultUser(url: string): string {
  const parsed = new URL(url);
  if (parsed.username) return url;
  parsed.username = encodeURIComponent(process.env.PGUSER || process.env.USER || userInfo().username);
  return parsed.toString();
}

export async function inTransaction<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {});
    throw error;
  } finally {
    client.release();
  }
}

export function isUniqueViolation(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { code?: string }).code === '23505';
}
