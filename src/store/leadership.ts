// Scheduled duties (reconcile, catch-up, retention …) run on one instance at a time: the leader
// of that duty. On PostgreSQL leadership is a session advisory lock (postgres/leadership.ts),
// lost with the session, so another instance takes over when the leader dies. The embedded
// SQLite store serves one process, which therefore always leads.

export interface Leadership {
  /** Whether this instance leads `duty` now (starts campaigning for it if it never has). */
  isLeader(duty: string): boolean;
  /**
   * Runs `fn` when this instance leads `duty`, else resolves undefined without running it. The
   * first call for a duty waits for one campaign attempt, so a schedule's first tick is decided
   * on real information. `signal` aborts if leadership is lost while `fn` runs: stop at the next
   * safe point (duties are idempotent, so a brief overlap with the next leader is harmless).
   */
  runIfLeader<T>(duty: string, fn: (signal: AbortSignal) => Promise<T>): Promise<T | undefined>;
  /** Gives up every duty (another instance takes over) and closes its connections. */
  close(): Promise<void>;
}

/** One process, one database file: this instance leads every duty. */
export class LocalLeadership implements Leadership {
  private readonly never = new AbortController().signal;

  isLeader(): boolean {
    return true;
  }

  runIfLeader<T>(_duty: string, fn: (signal: AbortSignal) => Promise<T>): Promise<T | undefined> {
    return fn(this.never);
  }

  async close(): Promise<void> {}
}
