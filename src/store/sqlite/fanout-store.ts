// The fan-out store in SQLite: its own connection to the service's database file (WAL lets it
// write beside the main store), its own tables (fanout-migrations.ts). For `:memory:` it is a
// database of its own, which is all an in-memory store can be.
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
import { Sqlite, type SqliteOptions } from './db.ts';
import { migrateFanout } from './fanout-migrations.ts';
import { GroupCommit, ItemFailure } from './group-commit.ts';

export interface SqliteFanoutStoreOptions extends SqliteOptions {
  encryptionKey?: string;
}

/** better-sqlite3 binds numbers, strings, buffers and null: booleans become 0/1. */
function bindable<T extends Record<string, unknown>>(params: T): Record<string, unknown> {
  return Object.fromEntries(Object.entries(params).map(([k, v]) => [k, typeof v === 'boolean' ? (v ? 1 : 0) : v]));
}

export class SqliteFanoutStore implements FanoutStore {
  private readonly sql: Sqlite;
  private readonly cipher: Cipher;
  /**
   * Claims and settlements of all lanes requested in the same tick share one transaction, as the
   * main store does for webhook inserts (they are not fsynced one by one: a power cut may redo a
   * delivery, at least once as always).
   */
  private readonly writes: GroupCommit<() => unknown, unknown>;

  constructor(filename: string, options: SqliteFanoutStoreOptions = {}) {
    this.sql = new Sqlite(filename, options);
    this.cipher = createCipher(options.encryptionKey);
    const isolated = this.sql.db.transaction((write: () => unknown) => write());
    this.writes = new GroupCommit((items) =>
      this.sql.write(() =>
        items.map((write) => {
          try {
            return isolated(write);
          } catch (error) {
            return new ItemFailure(error);
          }
        }),
      ),
    );
  }

  private grouped<T>(write: () => T): Promise<T> {
    return this.writes.submit(write) as Promise<T>;
  }

  async migrate(): Promise<void> {
    migrateFanout(this.sql.db);
  }

  async close(): Promise<void> {
    await this.writes.settle();
    this.sql.close();
  }

  // Subscriptions -------------------------------------------------------------------------------

  async insertSubscription(subscription: Subscription): Promise<void> {
    const params = bindable({ ...subscriptionParams(subscription, this.cipher), ...healthParams(subscription.health) });
    // Durable before the answer that shows its secret once.
    this.sql.durableWrite(() => this.sql.run(
      `INSERT INTO fanout_subscriptions (id, tenant_id, url, description, event_types, filter, version, allow_phi, retry_schedule,
         rate_per_second, max_in_flight, ordered, status, status_reason, secrets, consecutive_failures, failing_since,
         last_success_at, last_failure_at, alerted_at, created_at, updated_at)
       VALUES (@id, @tenantId, @url, @description, @eventTypes, @filter, @version, @allowPhi, @retrySchedule,
         @ratePerSecond, @maxInFlight, @ordered, @status, @statusReason, @secrets, @consecutiveFailures, @failingSince,
         @lastSuccessAt, @lastFailureAt, @alertedAt, @createdAt, @updatedAt)`,
      params,
    ));
  }

  async getSubscription(id: string): Promise<Subscription | null> {
    const row = this.sql.get<SubscriptionRow>('SELECT * FROM fanout_subscriptions WHERE id = ?', [id]);
    return row ? toSubscription(row, this.cipher) : null;
  }

  async listSubscriptions(tenantId?: string): Promise<Subscription[]> {
    const rows =
      tenantId === undefined
        ? this.sql.all<SubscriptionRow>('SELECT * FROM fanout_subscriptions ORDER BY created_at, id')
        : this.sql.all<SubscriptionRow>('SELECT * FROM fanout_subscriptions WHERE tenant_id = ? ORDER BY created_at, id', [tenantId]);
    return rows.map((row) => toSubscription(row, this.cipher));
  }

  async updateSubscription(subscription: Subscription): Promise<void> {
    // Durable before the answer (a rotated secret is shown once).
    this.sql.durableWrite(() => this.sql.run(
      `UPDATE fanout_subscriptions SET url = @url, description = @description, event_types = @eventTypes, filter = @filter,
         version = @version, allow_phi = @allowPhi, retry_schedule = @retrySchedule, rate_per_second = @ratePerSecond,
         max_in_flight = @maxInFlight, ordered = @ordered, status = @status, status_reason = @statusReason,
         secrets = @secrets, updated_at = @updatedAt
       WHERE id = @id`,
      bindable(subscriptionParams(subscription, this.cipher)),
    ));
  }

  async updateHealth(id: string, health: SubscriptionHealth, now: number): Promise<void> {
    this.sql.run(
      `UPDATE fanout_subscriptions SET consecutive_failures = @consecutiveFailures, failing_since = @failingSince,
         last_success_at = @lastSuccessAt, last_failure_at = @lastFailureAt, alerted_at = @alertedAt, updated_at = @now
       WHERE id = @id`,
      { ...healthParams(health), id, now },
    );
  }

  async setSubscriptionStatus(id: string, status: SubscriptionStatus, reason: string | null, now: number): Promise<boolean> {
    return (
      this.sql.run('UPDATE fanout_subscriptions SET status = ?, status_reason = ?, updated_at = ? WHERE id = ?', [status, reason, now, id]).changes > 0
    );
  }

  async deleteSubscription(id: string): Promise<boolean> {
    return this.sql.write(() => {
      this.sql.run('DELETE FROM fanout_attempts WHERE subscription_id = ?', [id]);
      this.sql.run('DELETE FROM fanout_deliveries WHERE subscription_id = ?', [id]);
      return this.sql.run('DELETE FROM fanout_subscriptions WHERE id = ?', [id]).changes > 0;
    });
  }

  // Messages --------------------------------------------------------------------------------------

  async insertMessages(
    batch: { message: Message; deliveries: { subscriptionId: string; version: string }[] }[],
    now: number,
  ): Promise<{ inserted: boolean }[]> {
    if (batch.length === 0) return [];
    return this.sql.write(() =>
      batch.map(({ message, deliveries }) => {
        const inserted =
          this.sql.run(
            `INSERT INTO fanout_messages (id, tenant_id, source, dedupe_key, type, occurred_at, created_at, subject, order_key, phi, data)
             VALUES (@id, @tenantId, @source, @dedupeKey, @type, @occurredAt, @createdAt, @subject, @orderKey, @phi, @data)
             ON CONFLICT DO NOTHING`,
            bindable(messageParams(message, this.cipher)),
          ).changes > 0;
        if (!inserted) return { inserted };
        for (const delivery of deliveries) {
          this.sql.run(
            `INSERT INTO fanout_deliveries (subscription_id, tenant_id, message_id, type, order_key, version, status,
               next_attempt_at, created_at, updated_at)
             VALUES (?, ?, ?, ?, ?, ?, 'pending', ?, ?, ?)
             ON CONFLICT DO NOTHING`,
            [delivery.subscriptionId, message.tenantId, message.id, message.type, message.orderKey, delivery.version, now, now, now],
          );
        }
        return { inserted };
      }),
    );
  }

  // Deliveries -------------------------------------------------------------------------------------

  async claimDeliveries(options: ClaimOptions): Promise<ClaimedDelivery[]> {
    if (options.limit <= 0) return [];
    const rows = await this.grouped(() =>
      this.sql.all<DeliveryRow>(
        `UPDATE fanout_deliveries SET locked_by = @workerId, locked_until = @until
         WHERE id IN (
           -- Oldest first, straight off the queue index, stopping at the limit: the due index
           -- would make SQLite sort every due row first.
           SELECT d.id FROM fanout_deliveries d INDEXED BY fanout_deliveries_queue
           WHERE d.subscription_id = @subscriptionId AND d.status = 'pending' AND d.next_attempt_at <= @now
             AND (d.locked_until IS NULL OR d.locked_until <= @now)
             AND (@ordered = 0 OR d.order_key IS NULL OR NOT EXISTS (
               SELECT 1 FROM fanout_deliveries e
               WHERE e.subscription_id = d.subscription_id AND e.order_key = d.order_key AND e.status = 'pending' AND e.id < d.id))
             AND EXISTS (SELECT 1 FROM fanout_subscriptions s WHERE s.id = @subscriptionId AND s.status = 'active')
           ORDER BY d.id LIMIT @limit)
         RETURNING *`,
        {
          workerId: options.workerId,
          until: options.now + options.leaseMs,
          subscriptionId: options.subscriptionId,
          now: options.now,
          ordered: options.ordered ? 1 : 0,
          limit: options.limit,
        },
      ),
    );
    if (rows.length === 0) return [];
    const ids = [...new Set(rows.map((r) => r.message_id))];
    const messages = new Map(
      this.sql
        .all<MessageRow>(`SELECT * FROM fanout_messages WHERE id IN (${ids.map(() => '?').join(', ')})`, ids)
        .map((row) => [row.id, toMessage(row, this.cipher)]),
    );
    return rows
      .sort((a, b) => a.id - b.id)
      .flatMap((row) => {
        const message = messages.get(row.message_id);
        return message ? [{ ...toDelivery(row), message }] : [];
      });
  }

  async settleDelivery(settlement: Settlement, now: number): Promise<boolean> {
    const { attempt } = settlement;
    return this.grouped(() => {
      this.sql.run(
        `INSERT INTO fanout_attempts (delivery_id, subscription_id, tenant_id, message_id, attempted_at, status_code, latency_ms,
           outcome, error_code, response_snippet, trigger)
         VALUES (@deliveryId, @subscriptionId, @tenantId, @messageId, @attemptedAt, @statusCode, @latencyMs, @outcome, @errorCode,
           @responseSnippet, @trigger)`,
        attempt,
      );
      return (
        this.sql.run(
          `UPDATE fanout_deliveries SET status = @status, attempts = attempts + 1, retry_step = @retryStep,
             next_attempt_at = @nextAttemptAt, first_attempt_at = COALESCE(first_attempt_at, @attemptedAt),
             last_status = @statusCode, last_error = @errorCode, locked_by = NULL, locked_until = NULL, updated_at = @now,
             delivered_at = CASE WHEN @status = 'delivered' THEN @now ELSE delivered_at END
           WHERE id = @deliveryId AND locked_by = @workerId`,
          {
            status: settlement.status,
            retryStep: settlement.retryStep,
            nextAttemptAt: settlement.nextAttemptAt,
            attemptedAt: attempt.attemptedAt,
            statusCode: attempt.statusCode,
            errorCode: attempt.errorCode,
            now,
            deliveryId: settlement.deliveryId,
            workerId: settlement.workerId,
          },
        ).changes > 0
      );
    });
  }

  async nextDueAt(subscriptionId: string): Promise<number | null> {
    const row = this.sql.get<{ due: number | null }>(
      `SELECT min(next_attempt_at) AS due FROM fanout_deliveries WHERE subscription_id = ? AND status = 'pending'`,
      [subscriptionId],
    );
    return row?.due ?? null;
  }

  async expedite(subscriptionId: string, now: number): Promise<number> {
    return this.sql.run(
      `UPDATE fanout_deliveries SET next_attempt_at = @now, updated_at = @now
       WHERE subscription_id = @subscriptionId AND status = 'pending' AND next_attempt_at > @now`,
      { subscriptionId, now },
    ).changes;
  }

  async getDelivery(id: number): Promise<Delivery | null> {
    const row = this.sql.get<DeliveryRow>('SELECT * FROM fanout_deliveries WHERE id = ?', [id]);
    return row ? toDelivery(row) : null;
  }

  async listDeliveries(query: DeliveryQuery): Promise<Delivery[]> {
    const where = ['subscription_id = @subscriptionId'];
    if (query.status !== undefined) where.push('status = @status');
    if (query.since !== undefined) where.push('created_at >= @since');
    if (query.until !== undefined) where.push('created_at < @until');
    if (query.before !== undefined) where.push('id < @before');
    return this.sql
      .all<DeliveryRow>(`SELECT * FROM fanout_deliveries WHERE ${where.join(' AND ')} ORDER BY id DESC LIMIT @limit`, {
        subscriptionId: query.subscriptionId,
        status: query.status ?? null,
        since: query.since ?? null,
        until: query.until ?? null,
        before: query.before ?? null,
        limit: query.limit,
      })
      .map(toDelivery);
  }

  async listAttempts(deliveryId: number): Promise<DeliveryAttempt[]> {
    return this.sql.all<AttemptRow>('SELECT * FROM fanout_attempts WHERE delivery_id = ? ORDER BY id', [deliveryId]).map(toAttempt);
  }

  async deliveryCounts(subscriptionId: string): Promise<DeliveryCounts> {
    const counts: DeliveryCounts = { pending: 0, delivered: 0, failed: 0 };
    for (const row of this.sql.all<{ status: keyof DeliveryCounts; n: number }>(
      'SELECT status, count(*) AS n FROM fanout_deliveries WHERE subscription_id = ? GROUP BY status',
      [subscriptionId],
    )) {
      counts[row.status] = row.n;
    }
    return counts;
  }

  async replayDelivery(id: number, now: number): Promise<boolean> {
    return (
      this.sql.run(
        `UPDATE fanout_deliveries SET status = 'pending', retry_step = 0, next_attempt_at = @now, updated_at = @now, delivered_at = NULL
         WHERE id = @id AND (locked_until IS NULL OR locked_until <= @now)`,
        { id, now },
      ).changes > 0
    );
  }

  async replayFailed(subscriptionId: string, since: number, until: number, now: number): Promise<number> {
    return this.sql.run(
      `UPDATE fanout_deliveries SET status = 'pending', retry_step = 0, next_attempt_at = @now, updated_at = @now
       WHERE subscription_id = @subscriptionId AND status = 'failed' AND created_at >= @since AND created_at < @until`,
      { subscriptionId, since, until, now },
    ).changes;
  }

  async prune(olderThan: number): Promise<{ deliveries: number; messages: number }> {
    return this.sql.write(() => {
      this.sql.run(
        `DELETE FROM fanout_attempts WHERE delivery_id IN (
           SELECT id FROM fanout_deliveries WHERE status <> 'pending' AND updated_at < ?)`,
        [olderThan],
      );
      const deliveries = this.sql.run(`DELETE FROM fanout_deliveries WHERE status <> 'pending' AND updated_at < ?`, [olderThan]).changes;
      const messages = this.sql.run(
        `DELETE FROM fanout_messages WHERE created_at < ? AND NOT EXISTS (SELECT 1 FROM fanout_deliveries d WHERE d.message_id = fanout_messages.id)`,
        [olderThan],
      ).changes;
      return { deliveries, messages };
    });
  }
}

function healthParams(health: SubscriptionHealth) {
  return {
    consecutiveFailures: health.consecutiveFailures,
    failingSince: health.failingSince,
    lastSuccessAt: health.lastSuccessAt,
    lastFailureAt: health.lastFailureAt,
    alertedAt: health.alertedAt,
  };
}
