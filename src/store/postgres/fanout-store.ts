// The fan-out store in PostgreSQL: its own pool on the service's database (and schema), its own
// tables (fanout-migrations.ts). Several instances share it: claims lock delivery rows with
// SKIP LOCKED, and deliveries of one order key get ids in commit order (an advisory lock per
// key while they are inserted), so "oldest pending first" holds across instances.
import type pg from 'pg';
import type { Message, Settlement } from '../../fanout/types.ts';
import { cipherFor, type EncryptionOptions } from '../cipher.ts';
import { SqlFanoutStore } from '../sql/fanout.ts';
import { sql, type Db } from '../sql/sql.ts';
import { createPool, inTransaction, PgDb, type PoolOptions } from './db.ts';
import { migrateFanout } from './fanout-migrations.ts';

export interface PostgresFanoutStoreOptions extends PoolOptions, EncryptionOptions {}

interface PendingSettlement {
  settlement: Settlement;
  now: number;
  resolve: (held: boolean) => void;
  reject: (error: unknown) => void;
}

export class PostgresFanoutStore extends SqlFanoutStore {
  private settling: PendingSettlement[] = [];
  private readonly pool: pg.Pool;
  private readonly schema: string | undefined;

  constructor(url: string, options: PostgresFanoutStoreOptions = {}) {
    const pool = createPool(url, { max: 5, ...options });
    super(new PgDb(pool), cipherFor(options));
    this.pool = pool;
    this.schema = options.schema;
  }

  /** Every commit is durable; claims skip rows other instances hold. */
  protected durable<T>(write: (db: Db) => Promise<T>): Promise<T> {
    return write(this.db);
  }

  protected claiming<T>(write: (db: Db) => Promise<T>): Promise<T> {
    return write(this.db);
  }

  async migrate(): Promise<void> {
    await migrateFanout(this.pool, this.schema);
  }

  async close(): Promise<void> {
    await this.flushSettlements();
    await this.pool.end();
  }

  async insertMessages(
    batch: { message: Message; deliveries: { subscriptionId: string; version: string }[] }[],
    now: number,
  ): Promise<{ inserted: boolean }[]> {
    if (batch.length === 0) return [];
    return this.db.transaction(async (tx) => {
      // Deliveries of one order key must get ids in commit order: hold the key while inserting.
      // Keys are locked in sorted order, so two batches never wait on each other in a cycle.
      const keys = [...new Set(batch.filter((b) => b.deliveries.length > 0 && b.message.orderKey).map((b) => `${b.message.tenantId}|${b.message.orderKey}`))].sort();
      for (const key of keys) await tx.run(sql`SELECT pg_advisory_xact_lock(hashtext(${`spruce-sync:fanout-key:${key}`}))`);
      const results: { inserted: boolean }[] = [];
      for (const { message, deliveries } of batch) {
        const inserted = await this.insertMessage(tx, message);
        results.push({ inserted });
        if (!inserted || deliveries.length === 0) continue;
        await tx.run(sql`
          INSERT INTO fanout_deliveries (subscription_id, tenant_id, message_id, type, order_key, version, status, next_attempt_at, created_at, updated_at)
          SELECT d.subscription_id, ${message.tenantId}, ${message.id}, ${message.type}, ${message.orderKey}, d.version, 'pending', ${now}, ${now}, ${now}
          FROM unnest(CAST(${deliveries.map((d) => d.subscriptionId)} AS text[]), CAST(${deliveries.map((d) => d.version)} AS text[]))
            WITH ORDINALITY AS d(subscription_id, version, n)
          ORDER BY d.n
          ON CONFLICT DO NOTHING`);
      }
      return results;
    });
  }

  /** Settlements requested in the same tick share one transaction (and one commit). */
  settleDelivery(settlement: Settlement, now: number): Promise<boolean> {
    return new Promise<boolean>((resolve, reject) => {
      this.settling.push({ settlement, now, resolve, reject });
      if (this.settling.length === 1) setImmediate(() => void this.flushSettlements());
    });
  }

  private async flushSettlements(): Promise<void> {
    const batch = this.settling;
    this.settling = [];
    if (batch.length === 0) return;
    const column = <T>(pick: (item: PendingSettlement) => T) => batch.map(pick);
    try {
      const settled = await inTransaction(this.pool, async (client) => {
        await client.query(
          `INSERT INTO fanout_attempts (delivery_id, subscription_id, tenant_id, message_id, attempted_at, status_code, latency_ms,
             outcome, error_code, response_snippet, trigger)
           SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::int[], $7::int[], $8::text[],
             $9::text[], $10::text[], $11::text[])`,
          [
            column((b) => b.settlement.attempt.deliveryId),
            column((b) => b.settlement.attempt.subscriptionId),
            column((b) => b.settlement.attempt.tenantId),
            column((b) => b.settlement.attempt.messageId),
            column((b) => b.settlement.attempt.attemptedAt),
            column((b) => b.settlement.attempt.statusCode),
            column((b) => Math.round(b.settlement.attempt.latencyMs)),
            column((b) => b.settlement.attempt.outcome),
            column((b) => b.settlement.attempt.errorCode),
            column((b) => b.settlement.attempt.responseSnippet),
            column((b) => b.settlement.attempt.trigger),
          ],
        );
        const { rows } = await client.query<{ id: number }>(
          `UPDATE fanout_deliveries d SET status = v.status, attempts = d.attempts + 1, retry_step = v.retry_step,
             next_attempt_at = v.next_attempt_at, first_attempt_at = COALESCE(d.first_attempt_at, v.attempted_at),
             last_status = v.status_code, last_error = v.error_code, locked_by = NULL, locked_until = NULL, updated_at = v.now,
             delivered_at = CASE WHEN v.status = 'delivered' THEN v.now ELSE d.delivered_at END
           FROM unnest($1::bigint[], $2::text[], $3::text[], $4::int[], $5::bigint[], $6::bigint[], $7::int[], $8::text[], $9::bigint[])
             AS v(id, worker_id, status, retry_step, next_attempt_at, attempted_at, status_code, error_code, now)
           WHERE d.id = v.id AND d.locked_by = v.worker_id
           RETURNING d.id`,
          [
            column((b) => b.settlement.deliveryId),
            column((b) => b.settlement.workerId),
            column((b) => b.settlement.status),
            column((b) => b.settlement.retryStep),
            column((b) => b.settlement.nextAttemptAt),
            column((b) => b.settlement.attempt.attemptedAt),
            column((b) => b.settlement.attempt.statusCode),
            column((b) => b.settlement.attempt.errorCode),
            column((b) => b.now),
          ],
        );
        return new Set(rows.map((r) => r.id));
      });
      for (const item of batch) item.resolve(settled.has(item.settlement.deliveryId));
    } catch (error) {
      for (const item of batch) item.reject(error);
    }
  }
}
