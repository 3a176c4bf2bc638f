// The fan-out store in PostgreSQL: its own pool on the service's database (and schema), its own
// tables (fanout-migrations.ts). Several instances share it: claims lock delivery rows with
// SKIP LOCKED, and deliveries of one order key get ids in commit order (an advisory lock per
// key while they are inserted), so "oldest pending first" holds across instances.
import type pg from 'pg';
import { createCipher, type Cipher } from '../cipher.ts';
import {
  messageParams,
  subscriptionParams,
  toAttempt,
  toDelivery,
  toMessage,
  toSubscription,
  type AttemptRow,
  type DeliveryRow,
  type MessageRow,
  type SubscriptionRow,
} from '../../fanout/store-rows.ts';
import type {
  ClaimedDelivery,
  ClaimOptions,
  Delivery,
  DeliveryAttempt,
  DeliveryCounts,
  DeliveryQuery,
  FanoutStore,
  Message,
  Settlement,
  Subscription,
  SubscriptionHealth,
  SubscriptionStatus,
} from '../../fanout/types.ts';
import { createPool, inTransaction, type PoolOptions } from './db.ts';
import { migrateFanout } from './fanout-migrations.ts';

export interface PostgresFanoutStoreOptions extends PoolOptions {
  encryptionKey?: string;
}

const SETTINGS_COLUMNS =
  'url, description, event_types, filter, version, allow_phi, retry_schedule, rate_per_second, max_in_flight, ordered, status, status_reason, secrets, updated_at';

function settingsValues(s: ReturnType<typeof subscriptionParams>): unknown[] {
  return [s.url, s.description, s.eventTypes, s.filter, s.version, s.allowPhi, s.retrySchedule, s.ratePerSecond, s.maxInFlight, s.ordered, s.status, s.statusReason, s.secrets, s.updatedAt];
}

function healthValues(h: SubscriptionHealth): unknown[] {
  return [h.consecutiveFailures, h.failingSince, h.lastSuccessAt, h.lastFailureAt, h.alertedAt];
}

interface PendingSettlement {
  settlement: Settlement;
  now: number;
  resolve: (held: boolean) => void;
  reject: (error: unknown) => void;
}

export class PostgresFanoutStore implements FanoutStore {
  private settling: PendingSettlement[] = [];
  private readonly pool: pg.Pool;
  private readonly cipher: Cipher;
  private readonly schema: string | undefined;

  constructor(url: string, options: PostgresFanoutStoreOptions = {}) {
    this.pool = createPool(url, { max: 5, ...options });
    this.cipher = createCipher(options.encryptionKey);
    this.schema = options.schema;
  }

  async migrate(): Promise<void> {
    await migrateFanout(this.pool, this.schema);
  }

  async close(): Promise<void> {
    await this.flushSettlements();
    await this.pool.end();
  }

  // Subscriptions -------------------------------------------------------------------------------

  async insertSubscription(subscription: Subscription): Promise<void> {
    const s = subscriptionParams(subscription, this.cipher);
    await this.pool.query(
      `INSERT INTO fanout_subscriptions (id, tenant_id, created_at, ${SETTINGS_COLUMNS},
         consecutive_failures, failing_since, last_success_at, last_failure_at, alerted_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22)`,
      [s.id, s.tenantId, s.createdAt, ...settingsValues(s), ...healthValues(subscription.health)],
    );
  }

  async getSubscription(id: string): Promise<Subscription | null> {
    const { rows } = await this.pool.query<SubscriptionRow>('SELECT * FROM fanout_subscriptions WHERE id = $1', [id]);
    return rows[0] ? toSubscription(rows[0], this.cipher) : null;
  }

  async listSubscriptions(tenantId?: string): Promise<Subscription[]> {
    const { rows } =
      tenantId === undefined
        ? await this.pool.query<SubscriptionRow>('SELECT * FROM fanout_subscriptions ORDER BY created_at, id')
        : await this.pool.query<SubscriptionRow>('SELECT * FROM fanout_subscriptions WHERE tenant_id = $1 ORDER BY created_at, id', [tenantId]);
    return rows.map((row) => toSubscription(row, this.cipher));
  }

  async updateSubscription(subscription: Subscription): Promise<void> {
    const s = subscriptionParams(subscription, this.cipher);
    await this.pool.query(
      `UPDATE fanout_subscriptions SET (${SETTINGS_COLUMNS}) = ($2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
       WHERE id = $1`,
      [s.id, ...settingsValues(s)],
    );
  }

  async updateHealth(id: string, health: SubscriptionHealth, now: number): Promise<void> {
    await this.pool.query(
      `UPDATE fanout_subscriptions SET consecutive_failures = $2, failing_since = $3, last_success_at = $4, last_failure_at = $5,
         alerted_at = $6, updated_at = $7
       WHERE id = $1`,
      [id, ...healthValues(health), now],
    );
  }

  async setSubscriptionStatus(id: string, status: SubscriptionStatus, reason: string | null, now: number): Promise<boolean> {
    const { rowCount } = await this.pool.query('UPDATE fanout_subscriptions SET status = $2, status_reason = $3, updated_at = $4 WHERE id = $1', [
      id,
      status,
      reason,
      now,
    ]);
    return (rowCount ?? 0) > 0;
  }

  async deleteSubscription(id: string): Promise<boolean> {
    return inTransaction(this.pool, async (client) => {
      await client.query('DELETE FROM fanout_attempts WHERE subscription_id = $1', [id]);
      await client.query('DELETE FROM fanout_deliveries WHERE subscription_id = $1', [id]);
      const { rowCount } = await client.query('DELETE FROM fanout_subscriptions WHERE id = $1', [id]);
      return (rowCount ?? 0) > 0;
    });
  }

  // Messages --------------------------------------------------------------------------------------

  async insertMessages(
    batch: { message: Message; deliveries: { subscriptionId: string; version: string }[] }[],
    now: number,
  ): Promise<{ inserted: boolean }[]> {
    if (batch.length === 0) return [];
    return inTransaction(this.pool, async (client) => {
      // Deliveries of one order key must get ids in commit order: hold the key while inserting.
      // Keys are locked in sorted order, so two batches never wait on each other in a cycle.
      const keys = [...new Set(batch.filter((b) => b.deliveries.length > 0 && b.message.orderKey).map((b) => `${b.message.tenantId}|${b.message.orderKey}`))].sort();
      for (const key of keys) await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`spruce-sync:fanout-key:${key}`]);
      const results: { inserted: boolean }[] = [];
      for (const { message, deliveries } of batch) {
        const m = messageParams(message, this.cipher);
        const { rowCount } = await client.query(
          `INSERT INTO fanout_messages (id, tenant_id, source, dedupe_key, type, occurred_at, created_at, subject, order_key, phi, data)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
           ON CONFLICT DO NOTHING`,
          [m.id, m.tenantId, m.source, m.dedupeKey, m.type, m.occurredAt, m.createdAt, m.subject, m.orderKey, m.phi, m.data],
        );
        const inserted = (rowCount ?? 0) > 0;
        results.push({ inserted });
        if (!inserted || deliveries.length === 0) continue;
        await client.query(
          `INSERT INTO fanout_deliveries (subscription_id, tenant_id, message_id, type, order_key, version, status, next_attempt_at, created_at, updated_at)
           SELECT d.subscription_id, $1, $2, $3, $4, d.version, 'pending', $5, $5, $5
           FROM unnest($6::text[], $7::text[]) WITH ORDINALITY AS d(subscription_id, version, n)
           ORDER BY d.n
           ON CONFLICT DO NOTHING`,
          [message.tenantId, message.id, message.type, message.orderKey, now, deliveries.map((d) => d.subscriptionId), deliveries.map((d) => d.version)],
        );
      }
      return results;
    });
  }

  // Deliveries -------------------------------------------------------------------------------------

  async claimDeliveries(options: ClaimOptions): Promise<ClaimedDelivery[]> {
    if (options.limit <= 0) return [];
    const { rows } = await this.pool.query<DeliveryRow>(
      `WITH heads AS (
         SELECT d.id FROM fanout_deliveries d
         WHERE d.subscription_id = $1 AND d.status = 'pending' AND d.next_attempt_at <= $2
           AND (d.locked_until IS NULL OR d.locked_until <= $2)
           AND (NOT $3::boolean OR d.order_key IS NULL OR NOT EXISTS (
             SELECT 1 FROM fanout_deliveries e
             WHERE e.subscription_id = d.subscription_id AND e.order_key = d.order_key AND e.status = 'pending' AND e.id < d.id))
           AND EXISTS (SELECT 1 FROM fanout_subscriptions s WHERE s.id = $1 AND s.status = 'active')
         ORDER BY d.id LIMIT $4
         FOR UPDATE OF d SKIP LOCKED
       )
       UPDATE fanout_deliveries f SET locked_by = $5, locked_until = $6 FROM heads WHERE f.id = heads.id
       RETURNING f.*`,
      [options.subscriptionId, options.now, options.ordered, options.limit, options.workerId, options.now + options.leaseMs],
    );
    if (rows.length === 0) return [];
    const ids = [...new Set(rows.map((r) => r.message_id))];
    const { rows: messageRows } = await this.pool.query<MessageRow>('SELECT * FROM fanout_messages WHERE id = ANY($1::text[])', [ids]);
    const messages = new Map(messageRows.map((row) => [row.id, toMessage(row, this.cipher)]));
    return rows
      .sort((a, b) => a.id - b.id)
      .flatMap((row) => {
        const message = messages.get(row.message_id);
        return message ? [{ ...toDelivery(row), message }] : [];
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

  async nextDueAt(subscriptionId: string): Promise<number | null> {
    const { rows } = await this.pool.query<{ due: number | null }>(
      `SELECT min(next_attempt_at) AS due FROM fanout_deliveries WHERE subscription_id = $1 AND status = 'pending'`,
      [subscriptionId],
    );
    return rows[0]?.due ?? null;
  }

  async expedite(subscriptionId: string, now: number): Promise<number> {
    const { rowCount } = await this.pool.query(
      `UPDATE fanout_deliveries SET next_attempt_at = $2, updated_at = $2
       WHERE subscription_id = $1 AND status = 'pending' AND next_attempt_at > $2`,
      [subscriptionId, now],
    );
    return rowCount ?? 0;
  }

  async getDelivery(id: number): Promise<Delivery | null> {
    const { rows } = await this.pool.query<DeliveryRow>('SELECT * FROM fanout_deliveries WHERE id = $1', [id]);
    return rows[0] ? toDelivery(rows[0]) : null;
  }

  async listDeliveries(query: DeliveryQuery): Promise<Delivery[]> {
    const { rows } = await this.pool.query<DeliveryRow>(
      `SELECT * FROM fanout_deliveries
       WHERE subscription_id = $1 AND ($2::text IS NULL OR status = $2) AND ($3::bigint IS NULL OR created_at >= $3)
         AND ($4::bigint IS NULL OR created_at < $4) AND ($5::bigint IS NULL OR id < $5)
       ORDER BY id DESC LIMIT $6`,
      [query.subscriptionId, query.status ?? null, query.since ?? null, query.until ?? null, query.before ?? null, query.limit],
    );
    return rows.map(toDelivery);
  }

  async listAttempts(deliveryId: number): Promise<DeliveryAttempt[]> {
    const { rows } = await this.pool.query<AttemptRow>('SELECT * FROM fanout_attempts WHERE delivery_id = $1 ORDER BY id', [deliveryId]);
    return rows.map(toAttempt);
  }

  async deliveryCounts(subscriptionId: string): Promise<DeliveryCounts> {
    const counts: DeliveryCounts = { pending: 0, delivered: 0, failed: 0 };
    const { rows } = await this.pool.query<{ status: keyof DeliveryCounts; n: number }>(
      'SELECT status, count(*)::int AS n FROM fanout_deliveries WHERE subscription_id = $1 GROUP BY status',
      [subscriptionId],
    );
    for (const row of rows) counts[row.status] = row.n;
    return counts;
  }

  async replayDelivery(id: number, now: number): Promise<boolean> {
    const { rowCount } = await this.pool.query(
      `UPDATE fanout_deliveries SET status = 'pending', retry_step = 0, next_attempt_at = $2, updated_at = $2, delivered_at = NULL
       WHERE id = $1 AND (locked_until IS NULL OR locked_until <= $2)`,
      [id, now],
    );
    return (rowCount ?? 0) > 0;
  }

  async replayFailed(subscriptionId: string, since: number, until: number, now: number): Promise<number> {
    const { rowCount } = await this.pool.query(
      `UPDATE fanout_deliveries SET status = 'pending', retry_step = 0, next_attempt_at = $4, updated_at = $4
       WHERE subscription_id = $1 AND status = 'failed' AND created_at >= $2 AND created_at < $3`,
      [subscriptionId, since, until, now],
    );
    return rowCount ?? 0;
  }

  async prune(olderThan: number): Promise<{ deliveries: number; messages: number }> {
    return inTransaction(this.pool, async (client) => {
      await client.query(
        `DELETE FROM fanout_attempts WHERE delivery_id IN (SELECT id FROM fanout_deliveries WHERE status <> 'pending' AND updated_at < $1)`,
        [olderThan],
      );
      const deliveries = (await client.query(`DELETE FROM fanout_deliveries WHERE status <> 'pending' AND updated_at < $1`, [olderThan])).rowCount ?? 0;
      const messages =
        (
          await client.query(
            `DELETE FROM fanout_messages m WHERE m.created_at < $1 AND NOT EXISTS (SELECT 1 FROM fanout_deliveries d WHERE d.message_id = m.id)`,
            [olderThan],
          )
        ).rowCount ?? 0;
      return { deliveries, messages };
    });
  }
}
