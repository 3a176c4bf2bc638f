// Opening the SQLite file and running SQL with prepared statements cached by their text, so
// the queries can stay inline and readable where they are used.
import Database from 'better-sqlite3';

export type SqlParams = Record<string, unknown> | unknown[];

export interface SqliteOptions {
  /** FULL fsyncs every commit; NORMAL may lose the last commits on power loss (never corrupts). */
  synchronous?: 'NORMAL' | 'FULL';
  /** How long to wait for another process holding the write lock. */
  busyTimeoutMs?: number;
}

export class Sqlite {
  readonly db: Database.Database;
  private readonly statements = new Map<string, Database.Statement>();

  constructor(filename: string, options: SqliteOptions = {}) {
    this.db = new Database(filename, { timeout: options.busyTimeoutMs ?? 5000 });
    if (filename !== ':memory:') this.db.pragma('journal_mode = WAL');
    this.db.pragma(`synchronous = ${options.synchronous === 'NORMAL' ? 'NORMAL' : 'FULL'}`);
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

  close(): void {
    this.db.close();
  }
}
