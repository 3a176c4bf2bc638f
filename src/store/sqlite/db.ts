// Opening the SQLite file and running SQL with prepared statements cached by their text, so
// the queries can stay inline and readable where they are used.
import Database from 'better-sqlite3';

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
  private readonly durable: boolean;

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
