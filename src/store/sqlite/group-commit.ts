// better-sqlite3 commits synchronously, and with synchronous=FULL every commit is an fsync.
// Writes requested in the same tick are gathered and committed together on setImmediate; each
// caller's promise settles only after that one commit, so every acknowledgement stays durable
// while a burst of webhooks costs one fsync instead of one each.

/** What `commitBatch` returns for an item that failed on its own while the rest committed. */
export class ItemFailure {
  constructor(readonly error: unknown) {}
}

interface Pending<T, R> {
  item: T;
  resolve: (result: R) => void;
  reject: (error: unknown) => void;
}

export interface GroupCommitStats {
  /** Transactions committed. */
  batches: number;
  /** Items written through them. */
  items: number;
}

export class GroupCommit<T, R> {
  private pending: Pending<T, R>[] = [];
  private scheduled: Promise<void> | null = null;
  private readonly counters: GroupCommitStats = { batches: 0, items: 0 };

  /**
   * `commitBatch` runs all writes in one transaction and returns, per item, its result or the
   * error that item alone hit (it should isolate items, e.g. with savepoints). If it throws,
   * the whole batch was rolled back and every caller gets the error.
   */
  constructor(private readonly commitBatch: (items: T[]) => (R | ItemFailure)[]) {}

  submit(item: T): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.pending.push({ item, resolve, reject });
      this.scheduled ??= new Promise<void>((done) =>
        setImmediate(() => {
          this.flush();
          done();
        }),
      );
    });
  }

  /** Waits for writes already submitted to be committed. */
  async settle(): Promise<void> {
    while (this.scheduled) await this.scheduled;
  }

  get stats(): GroupCommitStats {
    return { ...this.counters };
  }

  private flush(): void {
    const batch = this.pending;
    this.pending = [];
    this.scheduled = null;
    if (batch.length === 0) return;
    let results: (R | ItemFailure)[];
    try {
      results = this.commitBatch(batch.map((p) => p.item));
    } catch (error) {
      for (const p of batch) p.reject(error);
      return;
    }
    this.counters.batches += 1;
    this.counters.items += batch.length;
    batch.forEach((p, i) => {
      const result = results[i] as R | ItemFailure;
      if (result instanceof ItemFailure) p.reject(result.error);
      else p.resolve(result);
    });
  }
}
