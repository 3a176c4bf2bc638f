// Small records that every instance reads, changes and writes back: a tenant's API budgets.
// One row each; a change runs in a transaction holding the row (SELECT ... FOR UPDATE), so the
// instances' changes apply one after another and never over each other.
//
// Changes asked for while this instance is writing wait and go together in its next
// transaction: an instance never queues on its own row lock, and a burst of grants costs two
// round trips, not two per grant.
import { escapeLiteral, type QueryResult } from 'pg';
import type pg from 'pg';
import { SyncError } from '../../errors.ts';
import { withConnection } from './db.ts';

/** A record changed atomically: `change` sees the latest state and returns the next one. */
export interface AtomicRecord<S> {
  update<T>(change: (state: S) => [S, T]): Promise<T>;
}

interface Pending<S> {
  change: (state: S) => [S, unknown];
  resolve: (value: unknown) => void;
  reject: (reason: unknown) => void;
}

export class SharedRow<S> implements AtomicRecord<S> {
  private pending: Pending<S>[] = [];
  private writing = false;
  private rowExists = false;
  private readonly where: string;
  private readonly insert: string;

  /** `initial` is the state of a row nobody has written yet. */
  constructor(
    private readonly pool: pg.Pool,
    tenantId: string,
    name: string,
    private readonly initial: S,
  ) {
    // Literals, not parameters: only the simple protocol takes two statements in one round trip.
    this.where = `tenant_id = ${escapeLiteral(tenantId)} AND name = ${escapeLiteral(name)}`;
    this.insert = `INSERT INTO shared_budgets (tenant_id, name, value, updated_at)
      VALUES (${escapeLiteral(tenantId)}, ${escapeLiteral(name)}, 'null', 0) ON CONFLICT DO NOTHING`;
  }

  update<T>(change: (state: S) => [S, T]): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.pending.push({ change, resolve: resolve as (value: unknown) => void, reject });
      void this.flush();
    });
  }

  private async flush(): Promise<void> {
    if (this.writing) return;
    this.writing = true;
    try {
      while (this.pending.length > 0) await this.apply(this.pending.splice(0));
    } finally {
      this.writing = false;
    }
  }

  private async apply(batch: Pending<S>[]): Promise<void> {
    const outcomes: ({ ok: true; value: unknown } | { ok: false; error: unknown })[] = [];
    try {
      await withConnection(this.pool, async (client) => {
        if (!this.rowExists) {
          await client.query(this.insert);
          this.rowExists = true;
        }
        const [, selected] = (await client.query(
          `BEGIN; SELECT value FROM shared_budgets WHERE ${this.where} FOR UPDATE`,
        )) as unknown as [QueryResult, QueryResult<{ value: S | null }>];
        let state = selected.rows[0]?.value ?? this.initial;
        outcomes.length = 0;
        for (const item of batch) {
          try {
            const [next, value] = item.change(state);
            state = next;
            outcomes.push({ ok: true, value });
          } catch (error) {
            outcomes.push({ ok: false, error });
          }
        }
        await client.query(
          `UPDATE shared_budgets SET value = ${escapeLiteral(JSON.stringify(state))}::jsonb, updated_at = ${Date.now()}
           WHERE ${this.where}; COMMIT`,
        );
      });
    } catch (cause) {
      // Nothing was granted: every waiter hears a retryable error, and its job tries again later.
      const error = new SyncError('STORE_UNAVAILABLE', 'the shared rate budget could not be updated', { retryable: true, cause });
      for (const item of batch) item.reject(error);
      return;
    }
    batch.forEach((item, i) => {
      const outcome = outcomes[i]!;
      if (outcome.ok) item.resolve(outcome.value);
      else item.reject(outcome.error);
    });
  }
}
