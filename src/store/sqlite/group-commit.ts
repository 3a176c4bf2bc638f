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
  /** The batch being committed (gathering the next one starts meanwhile). */
  private committing: Promise<void> | null = null;
  private readonly counters: GroupCommitStats = { batches: 0, items: 0 };

  /**
   * `commitBatch` runs all writes in one transaction and returns, per item, its result or the
   * error that item alone hit (it should isolate items, e.g. with savepoints). If it throws,
   * the whole batch was rolled back and every caller gets the error.
   */
  constructor(private readonly commitBatch: (items: T[]) => (R | ItemFailure)[] | Promise<(R | ItemFailure)[]>) {}

  submit(item: T): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.pending.push({ item, resolve, reject });
      this.scheduled ??= new Promise<void>((done) =>
        setImmediate(() => {
          const committing = this.flush().finally(() => {
            if (this.committing === committing) this.committing = null;
            done();
          });
          this.committing = committing;
        }),
      );
    });
  }

  /** Waits for writes already submitted to be committed. */
  async settle(): Promise<void> {
    while (this.scheduled ?? this.committing) await (this.scheduled ?? this.committing);
  }

  get stats(): GroupCommitStats {
    return { ...this.counters };
  }

  private async flush(): Promise<void> {
    const batch = this.pending;
    this.pending = [];
    this.scheduled = null;
    if (batch.length === 0) return;
    let results: (R | ItemFailure)[];
    try {
      results = await this.commitBatch(batch.map((p) => p.item));
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
