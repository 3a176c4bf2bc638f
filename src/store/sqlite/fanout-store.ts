// The fan-out store in SQLite: its own connection to the service's database file (WAL lets it
// write beside the main store), its own tables (fanout-migrations.ts). For `:memory:` it is a
// database of its own, which is all an in-memory store can be. The statements are shared
// (sql/fanout.ts); what is SQLite's own is how writes are grouped.
import type { Message, Settlement } from '../../fanout/types.ts';
import { cipherFor, type EncryptionOptions } from '../cipher.ts';
import { SqlFanoutStore } from '../sql/fanout.ts';
import { sql, type Db } from '../sql/sql.ts';
import { SqliteDb, type SqliteOptions } from './db.ts';
import { migrateFanout } from './fanout-migrations.ts';
import { GroupCommit, ItemFailure } from './group-commit.ts';

export interface SqliteFanoutStoreOptions extends SqliteOptions, EncryptionOptions {}

type Write = (db: Db) => Promise<unknown>;

export class SqliteFanoutStore extends SqlFanoutStore {
  private readonly sqlite: SqliteDb;
  /**
   * Claims and settlements of all lanes requested in the same tick share one transaction, as the
   * main store does for webhook inserts (they are not fsynced one by one: a power cut may redo a
   * delivery, at least once as always). Each runs under a savepoint: its failure is its own.
   */
  private readonly writes: GroupCommit<Write, unknown>;

  constructor(filename: string, options: SqliteFanoutStoreOptions = {}) {
    const db = new SqliteDb(filename, options);
    super(db, cipherFor(options));
    this.sqlite = db;
    this.writes = new GroupCommit((items) =>
      db.transaction(async (tx) => {
        const results: unknown[] = [];
        for (const write of items) results.push(await tx.transaction(write).catch((error: unknown) => new ItemFailure(error)));
        return results;
      }),
    );
  }

  protected claiming<T>(write: (db: Db) => Promise<T>): Promise<T> {
    return this.writes.submit(write) as Promise<T>;
  }

  protected durable<T>(write: (db: Db) => Promise<T>): Promise<T> {
    return this.sqlite.durableTransaction(write);
  }

  migrate(): Promise<void> {
    return this.sqlite.direct((db) => migrateFanout(db));
  }

  async close(): Promise<void> {
    await this.writes.settle();
    this.sqlite.close();
  }

  async insertMessages(batch: { message: Message; deliveries: { subscriptionId: string; version: string }[] }[], now: number): Promise<{ inserted: boolean }[]> {
    if (batch.length === 0) return [];
    return this.db.transaction(async (tx) => {
      const results: { inserted: boolean }[] = [];
      for (const { message, deliveries } of batch) {
        const inserted = await this.insertMessage(tx, message);
        results.push({ inserted });
        if (!inserted) continue;
        for (const delivery of deliveries) {
          await tx.run(sql`
            INSERT INTO fanout_deliveries (subscription_id, tenant_id, message_id, type, order_key, version, status,
              next_attempt_at, created_at, updated_at)
            VALUES (${delivery.subscriptionId}, ${message.tenantId}, ${message.id}, ${message.type}, ${message.orderKey},
              ${delivery.version}, 'pending', ${now}, ${now}, ${now})
            ON CONFLICT DO NOTHING`);
        }
      }
      return results;
    });
  }

  settleDelivery(settlement: Settlement, now: number): Promise<boolean> {
    const { attempt: a } = settlement;
    return this.claiming(async (tx) => {
      await tx.run(sql`
        INSERT INTO fanout_attempts (delivery_id, subscription_id, tenant_id, message_id, attempted_at, status_code, latency_ms,
          outcome, error_code, response_snippet, trigger)
        VALUES (${a.deliveryId}, ${a.subscriptionId}, ${a.tenantId}, ${a.messageId}, ${a.attemptedAt}, ${a.statusCode}, ${a.latencyMs},
          ${a.outcome}, ${a.errorCode}, ${a.responseSnippet}, ${a.trigger})`);
      const changed = await tx.run(sql`
        UPDATE fanout_deliveries SET status = ${settlement.status}, attempts = attempts + 1, retry_step = ${settlement.retryStep},
          next_attempt_at = ${settlement.nextAttemptAt}, first_attempt_at = COALESCE(first_attempt_at, ${a.attemptedAt}),
          last_status = ${a.statusCode}, last_error = ${a.errorCode}, locked_by = NULL, locked_until = NULL, updated_at = ${now},
          delivered_at = CASE WHEN ${settlement.status} = 'delivered' THEN ${now} ELSE delivered_at END
        WHERE id = ${settlement.deliveryId} AND locked_by = ${settlement.workerId}`);
      return changed > 0;
    });
  }
}
