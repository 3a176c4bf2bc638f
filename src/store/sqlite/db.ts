// Opening the SQLite file and running SQL with prepared statements cached by their text, so
// the queries can stay inline and readable where they are used.
import Database from 'better-sqlite3';
import { render, sqlite, type Db, type Sql } from '../sql/sql.ts';

export type SqlParams = Record<string, unknown> | unknown[];

export interface SqliteOptions {
  /**
   * FULL: every `durableWrite` is fsynced before it returns, and with it every commit before it
   * (one WAL file, synced as a whole); other commits are not fsynced one by one. NORMAL: no
   * commit is fsynced (the WAL is at checkpoints); a power cut may lose the last commits. Neither
   * corrupts the file.
   */
  synchronous?: 'NORMAL' | 'FULL';
  /** How long to wait for another process holding the write lock. */
  busyTimeoutMs?: number;
}

export class Sqlite {
  readonly db: Database.Database;
  private readonly statements = new Map<string, Database.Statement>();
  readonly durable: boolean;

  constructor(filename: string, options: SqliteOptions = {}) {
    this.db = new Database(filename, { timeout: options.busyTimeoutMs ?? 5000 });
    if (filename !== ':memory:') this.db.pragma('journal_mode = WAL');
    // The workers' bookkeeping (claims, leases, ledger, audit) commits many times per sync and
    // is safe to redo; an fsync for each of those blocked the event loop for most of a busy
    // second. Only what we acknowledge to a sender must be on disk first: durableWrite.
    this.durable = options.synchronous !== 'NORMAL';
    this.db.pragma('synchronous = NORMAL');
  }

  statement(sql: string): Database.Statement {
    let statement = this.statements.get(sql);
    if (!statement) {
      statement = this.db.prepare(sql);
      this.statements.set(sql, statement);
    }
    return statement;
  }

  run(sql: string, params: SqlParams = []): Database.RunResult {
    return this.statement(sql).run(params);
  }

  get<T>(sql: string, params: SqlParams = []): T | undefined {
    return this.statement(sql).get(params) as T | undefined;
  }

  all<T>(sql: string, params: SqlParams = []): T[] {
    return this.statement(sql).all(params) as T[];
  }

  /** Runs `fn` in a write transaction taken up front, so it cannot fail half-way on SQLITE_BUSY. */
  write<T>(fn: () => T): T {
    return this.db.transaction(fn).immediate();
  }

  /**
   * A write whose commit is on disk when this returns (with synchronous FULL): for what is
   * acknowledged to someone else. Syncing the WAL also makes every earlier commit durable.
   */
  durableWrite<T>(fn: () => T): T {
    if (!this.durable) return this.write(fn);
    this.db.pragma('synchronous = FULL');
    try {
      return this.write(fn);
    } finally {
      this.db.pragma('synchronous = NORMAL');
    }
  }

  close(): void {
    this.db.close();
  }
}

/**
 * The Sqlite connection as a Db for the shared statements (sql/). better-sqlite3 runs each
 * statement synchronously, but a transaction of async steps yields between them: while one is
 * open, statements from elsewhere wait for it, so they neither join it nor start another.
 */
export class SqliteDb implements Db {
  readonly dialect = sqlite;
  private open: Promise<void> | null = null;

  constructor(readonly sql: Sqlite) {}

  all<R>(query: Sql): Promise<R[]> {
    return this.outside(() => this.exec(query, 'all') as R[]);
  }

  get<R>(query: Sql): Promise<R | undefined> {
    return this.outside(() => this.exec(query, 'get') as R | undefined);
  }

  run(query: Sql): Promise<number> {
    return this.outside(() => (this.exec(query, 'run') as Database.RunResult).changes);
  }

  isUniqueViolation(error: unknown): boolean {
    return (error as { code?: unknown } | null)?.code === 'SQLITE_CONSTRAINT_UNIQUE';
  }

  /** Runs `fn` on the connection itself, outside any transaction of ours. */
  direct<T>(fn: (db: Database.Database) => T): Promise<T> {
    return this.outside(() => fn(this.sql.db));
  }

  /** Taken IMMEDIATE (the write lock up front), so it cannot fail half-way on SQLITE_BUSY. */
  async transaction<T>(fn: (tx: Db) => Promise<T>): Promise<T> {
    await this.idle();
    let done!: () => void;
    this.open = new Promise((resolve) => (done = resolve));
    try {
      this.sql.db.exec('BEGIN IMMEDIATE');
      try {
        const result = await fn(new SqliteTx(this));
        this.sql.db.exec('COMMIT');
        return result;
      } catch (error) {
        if (this.sql.db.inTransaction) this.sql.db.exec('ROLLBACK');
        throw error;
      }
    } finally {
      this.open = null;
      done();
    }
  }

  /** A transaction whose commit is on disk when it resolves (see Sqlite.durableWrite). */
  async durableTransaction<T>(fn: (tx: Db) => Promise<T>): Promise<T> {
    if (!this.sql.durable) return this.transaction(fn);
    await this.idle();
    this.sql.db.pragma('synchronous = FULL');
    try {
      return await this.transaction(fn);
    } finally {
      this.sql.db.pragma('synchronous = NORMAL');
    }
  }

  exec(query: Sql, mode: 'all' | 'get' | 'run'): unknown {
    const { text, params } = render(query, sqlite);
    return this.sql.statement(text)[mode](params);
  }

  private async idle(): Promise<void> {
    while (this.open) await this.open;
  }

  private outside<T>(fn: () => T): Promise<T> {
    if (this.open) return this.idle().then(fn);
    try {
      return Promise.resolve(fn());
    } catch (error) {
      return Promise.reject(error);
    }
  }
}

/** Statements inside an open transaction: they run at once; nested transactions are savepoints. */
class SqliteTx implements Db {
  readonly dialect = sqlite;
  private depth = 0;

  constructor(private readonly db: SqliteDb) {}

  async all<R>(query: Sql): Promise<R[]> {
    return this.db.exec(query, 'all') as R[];
  }

  async get<R>(query: Sql): Promise<R | undefined> {
    return this.db.exec(query, 'get') as R | undefined;
  }

  async run(query: Sql): Promise<number> {
    return (this.db.exec(query, 'run') as Database.RunResult).changes;
  }

  isUniqueViolation(error: unknown): boolean {
    return this.db.isUniqueViolation(error);
  }

  async transaction<T>(fn: (tx: Db) => Promise<T>): Promise<T> {
    const name = `s${++this.depth}`;
    const raw = this.db.sql.db;
    raw.exec(`SAVEPOINT ${name}`);
    try {
      const result = await fn(this);
      raw.exec(`RELEASE ${name}`);
      return result;
    } catch (error) {
      raw.exec(`ROLLBACK TO ${name}`);
      raw.exec(`RELEASE ${name}`);
      throw error;
    } finally {
      this.depth--;
    }
  }
}
