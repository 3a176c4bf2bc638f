// Connecting to PostgreSQL: a pool whose sessions see only our schema, bigints read as
// numbers (our ids and epoch-ms times stay far below 2^53), and a transaction helper.
import { userInfo } from 'node:os';
import pg from 'pg';
import { SyncError } from '../../errors.ts';
import { postgres, render, type Db, type Sql } from '../sql/sql.ts';

export interface Queryable {
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(text: string, values?: unknown[]): Promise<pg.QueryResult<R>>;
}

export interface PoolOptions {
  /** Tables live in this schema (created by migrate); default: the server's search_path. */
  schema?: string;
  /** Connections per process. */
  max?: number;
}

/** How long opening a connection may take before the caller gets an error (not a hang). */
const CONNECT_TIMEOUT_MS = 5_000;

const INT8_OID = 20;

const types: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === INT8_OID && format !== 'binary'
      ? (value: string) => Number(value)
      : pg.types.getTypeParser(oid, format as 'text')) as pg.CustomTypesConfig['getTypeParser'],
};

export function isPostgresUrl(url: string): boolean {
  return url.startsWith('postgres://') || url.startsWith('postgresql://');
}

/** Schema names go into SQL text, so only plain identifiers are allowed. */
export function checkSchemaName(schema: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]{0,62}$/.test(schema)) {
    throw new SyncError('CONFIG_INVALID', 'schema must be a plain identifier (letters, digits, underscore)', {
      retryable: false,
    });
  }
  return schema;
}

/**
 * What every connection of ours uses, pooled or not (leadership keeps its own). A host that
 * stops answering must give an error within seconds, not hang a webhook until the sender gives
 * up: hence the connect timeout and TCP keepalives. PGAPPNAME, when set, names the sessions
 * (pg_stat_activity); else they are `spruce-sync`.
 */
export function connectionConfig(url: string, options: { schema?: string } = {}): pg.ClientConfig {
  const schema = options.schema === undefined ? undefined : checkSchemaName(options.schema);
  return {
    connectionString: withDefaultUser(url),
    types,
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    keepAlive: true,
    keepAliveInitialDelayMillis: 10_000,
    fallback_application_name: 'spruce-sync',
    ...(schema ? { options: `-c search_path=${schema}` } : {}),
  };
}

export function createPool(url: string, options: PoolOptions = {}): pg.Pool {
  const pool = new pg.Pool({ ...connectionConfig(url, options), max: options.max ?? 10 });
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

/** Runs `fn` in one transaction on one pooled connection. */
export function inTransaction<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  return withConnection(pool, async (client) => {
    await client.query('BEGIN');
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  });
}

/**
 * Lends `fn` one pooled connection; when `fn` fails, whatever transaction it left open is rolled
 * back. While we hold the connection the pool no longer listens for its errors, and
 * node-postgres emits 'error' when the server ends the session (a restart, pg_terminate_backend,
 * a cut network): unheard, that event would crash the process. So we listen while we hold it,
 * and hand a broken connection back as broken, so the pool drops it instead of lending it again.
 */
export async function withConnection<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let broken: Error | undefined;
  const onError = (error: Error) => {
    broken = error;
  };
  client.on('error', onError);
  try {
    return await fn(client);
  } catch (error) {
    // Outside a transaction ROLLBACK only warns; failing, it tells us the session is gone.
    await client.query('ROLLBACK').catch((rollbackError: unknown) => {
      broken ??= rollbackError instanceof Error ? rollbackError : new Error('ROLLBACK failed');
    });
    throw error;
  } finally {
    client.off('error', onError);
    client.release(broken);
  }
}

export function isUniqueViolation(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { code?: string }).code === '23505';
}

/** A pool (or one connection in a transaction) as a Db for the shared statements (sql/). */
export class PgDb implements Db {
  readonly dialect = postgres;
  private savepoints = 0;

  constructor(
    private readonly pool: pg.Pool,
    private readonly client?: pg.PoolClient,
  ) {}

  async all<R>(query: Sql): Promise<R[]> {
    return (await this.query(query)).rows as R[];
  }

  async get<R>(query: Sql): Promise<R | undefined> {
    return (await this.all<R>(query))[0];
  }

  async run(query: Sql): Promise<number> {
    return (await this.query(query)).rowCount ?? 0;
  }

  isUniqueViolation(error: unknown): boolean {
    return isUniqueViolation(error);
  }

  async transaction<T>(fn: (tx: Db) => Promise<T>): Promise<T> {
    const client = this.client;
    if (!client) return inTransaction(this.pool, (c) => fn(new PgDb(this.pool, c)));
    const name = `s${++this.savepoints}`;
    await client.query(`SAVEPOINT ${name}`);
    try {
      const result = await fn(this);
      await client.query(`RELEASE SAVEPOINT ${name}`);
      return result;
    } catch (error) {
      await client.query(`ROLLBACK TO SAVEPOINT ${name}`);
      throw error;
    } finally {
      this.savepoints--;
    }
  }

  private query(query: Sql): Promise<pg.QueryResult> {
    const { text, params } = render(query, postgres);
    return (this.client ?? this.pool).query(text, params);
  }
}
