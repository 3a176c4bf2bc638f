// Opening the SQLite file and running the shared statements (sql/) on it, prepared statements
// cached by their text.
//
// better-sqlite3 runs each statement synchronously, but a transaction of async steps yields
// between them. While one is open on a file, statements from elsewhere in this process (this
// connection or another one on the same file, e.g. the fan-out store's) wait for it: they must
// neither join it nor ask for the write lock it holds, which better-sqlite3 would wait for by
// blocking the very event loop the open transaction needs to finish.
import { chmodSync, existsSync } from 'node:fs';
import { resolve } from 'node:path';
import Database from 'better-sqlite3';
import { render, sqlite, type Db, type Sql } from '../sql/sql.ts';

export interface SqliteOptions {
  /**
   * FULL: every durable transaction is fsynced before it resolves, and with it every commit
   * before it (one WAL file, synced as a whole); other commits are not fsynced one by one.
   * NORMAL: no commit is fsynced (the WAL is at checkpoints); a power cut may lose the last
   * commits. Neither corrupts the file.
   */
  synchronous?: 'NORMAL' | 'FULL';
  /** How long to wait for another process holding the write lock. */
  busyTimeoutMs?: number;
}

/** The transaction open on a file in this process, if any. */
interface Gate {
  open: Promise<void> | null;
}

const gates = new Map<string, Gate>();

function gateOf(filename: string): Gate {
  if (filename === ':memory:') return { open: null };
  const key = resolve(filename);
  let gate = gates.get(key);
  if (!gate) gates.set(key, (gate = { open: null }));
  return gate;
}

type Mode = 'all' | 'get' | 'run';

/** The database file and its -wal and -shm (they hold the same rows) readable by their owner only. */
function ownerOnly(filename: string): void {
  for (const file of [filename, `${filename}-wal`, `${filename}-shm`]) {
    if (existsSync(file)) chmodSync(file, 0o600);
  }
}

export class SqliteDb implements Db {
  readonly dialect = sqlite;
  readonly db: Database.Database;
  private readonly statements = new Map<string, Database.Statement>();
  private readonly durable: boolean;
  private readonly gate: Gate;

  /** `filename` is a path or `:memory:`. */
  constructor(filename: string, options: SqliteOptions = {}) {
    this.db = new Database(filename, { timeout: options.busyTimeoutMs ?? 5000 });
    if (filename !== ':memory:') {
      // Owner only, before the WAL exists: SQLite creates -wal and -shm with the database file's mode.
      ownerOnly(filename);
      this.db.pragma('journal_mode = WAL');
      ownerOnly(filename);
    }
    // The workers' bookkeeping (claims, leases, ledger, audit) commits many times per sync and
    // is safe to redo; an fsync for each of those blocked the event loop for most of a busy
    // second. Only what we acknowledge to a sender must be on disk first: durableTransaction.
    this.durable = options.synchronous !== 'NORMAL';
    this.db.pragma('synchronous = NORMAL');
    // Statement journals and savepoint sub-journals (the pages a statement or savepoint may have
    // to roll back within its transaction) in memory, not in a temporary file created, written
    // page by page and unlinked again: that file was most of the kernel time of every webhook's
    // insert (docs/BENCHMARKS.md, "Ingest profile"). They never outlive their transaction, so
    // durability does not depend on them; the WAL and its fsync are unchanged.
    this.db.pragma('temp_store = MEMORY');
    this.gate = gateOf(filename);
  }

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

  /** Runs `fn` on the connection itself (migrations, ANALYZE), outside any transaction of ours. */
  direct<T>(fn: (db: Database.Database) => T): Promise<T> {
    return this.outside(() => fn(this.db));
  }

  /** Taken IMMEDIATE (the write lock up front), so it cannot fail half-way on SQLITE_BUSY. */
  async transaction<T>(fn: (tx: Db) => Promise<T>): Promise<T> {
    const release = await this.acquire();
    try {
      return await this.runInTransaction(fn);
    } finally {
      release();
    }
  }

  /**
   * A transaction whose commit is on disk when it resolves (with synchronous FULL): for what is
   * acknowledged to someone else. Syncing the WAL also makes every earlier commit durable. The
   * level is raised only while this transaction holds the file, so another caller's commit can
   * neither lower it before ours nor ride on it unasked.
   */
  async durableTransaction<T>(fn: (tx: Db) => Promise<T>): Promise<T> {
    const release = await this.acquire();
    try {
      return await this.atLevel(() => this.runInTransaction(fn));
    } finally {
      release();
    }
  }

  /**
   * A durable transaction whose body runs synchronously (better-sqlite3's own transaction): no
   * other work of the process runs inside it, so it holds the file for the shortest time.
   */
  async durableSync<T>(fn: () => T): Promise<T> {
    const release = await this.acquire();
    try {
      return await this.atLevel(() => this.db.transaction(fn).immediate());
    } finally {
      release();
    }
  }

  /**
   * A transaction whose body runs synchronously, committed without waiting for the disk: for
   * redoable work (filing staged events) whose loss at a power cut loses nothing acknowledged.
   */
  async sync<T>(fn: () => T): Promise<T> {
    const release = await this.acquire();
    try {
      return this.db.transaction(fn).immediate();
    } finally {
      release();
    }
  }

  /** Runs one statement now, inside whatever transaction is open on this connection. */
  exec(query: Sql, mode: Mode): unknown {
    const { text, params } = render(query, sqlite);
    let statement = this.statements.get(text);
    if (!statement) this.statements.set(text, (statement = this.db.prepare(text)));
    return statement[mode](params);
  }

  close(): void {
    this.db.close();
  }

  /**
   * Waits until no transaction of ours is open on the file, then takes it. The last check and
   * the taking run in one synchronous step, so two waiters woken together cannot both pass.
   */
  private async acquire(): Promise<() => void> {
    while (this.gate.open) await this.gate.open;
    let release!: () => void;
    this.gate.open = new Promise<void>((resolve) => (release = resolve));
    return () => {
      this.gate.open = null;
      release();
    };
  }

  private async runInTransaction<T>(fn: (tx: Db) => Promise<T>): Promise<T> {
    this.db.exec('BEGIN IMMEDIATE');
    try {
      const result = await fn(new SqliteTx(this));
      this.db.exec('COMMIT');
      return result;
    } catch (error) {
      if (this.db.inTransaction) this.db.exec('ROLLBACK');
      throw error;
    }
  }

  /** Runs `body` with synchronous FULL when this connection is durable, then back to NORMAL. */
  private async atLevel<T>(body: () => T | Promise<T>): Promise<T> {
    if (!this.durable) return body();
    this.db.pragma('synchronous = FULL');
    try {
      return await body();
    } finally {
      this.db.pragma('synchronous = NORMAL');
    }
  }

  /** Runs a statement when no transaction of ours is open: right after the last check, never inside one. */
  private async outside<T>(fn: () => T): Promise<T> {
    while (this.gate.open) await this.gate.open;
    return fn();
  }
}

/** Statements inside an open transaction: they run at once; nested transactions are savepoints. */
class SqliteTx implements Db {
  readonly dialect = sqlite;
  private depth = 0;

  constructor(private readonly connection: SqliteDb) {}

  async all<R>(query: Sql): Promise<R[]> {
    return this.connection.exec(query, 'all') as R[];
  }

  async get<R>(query: Sql): Promise<R | undefined> {
    return this.connection.exec(query, 'get') as R | undefined;
  }

  async run(query: Sql): Promise<number> {
    return (this.connection.exec(query, 'run') as Database.RunResult).changes;
  }

  isUniqueViolation(error: unknown): boolean {
    return this.connection.isUniqueViolation(error);
  }

  async transaction<T>(fn: (tx: Db) => Promise<T>): Promise<T> {
    const name = `s${++this.depth}`;
    const { db } = this.connection;
    db.exec(`SAVEPOINT ${name}`);
    try {
      const result = await fn(this);
      db.exec(`RELEASE ${name}`);
      return result;
    } catch (error) {
      db.exec(`ROLLBACK TO ${name}`);
      db.exec(`RELEASE ${name}`);
      throw error;
    } finally {
      this.depth--;
    }
  }
}
