// The fan-out store's statements, shared by both databases. An adapter adds what is its own:
// migrating, how writes are grouped (SQLite: one transaction per tick; PostgreSQL: advisory
// locks per order key and settlements batched through unnest).
import {
  dataContext,
  messageParams,
  secretsContext,
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
  DeliveryCounts,
  DeliveryQuery,
  FanoutPurge,
  FanoutStore,
  Message,
  Settlement,
  Subscription,
  SubscriptionHealth,
  SubscriptionStatus,
} from '../../fanout/types.ts';
import type { Cipher } from '../cipher.ts';
import { resealColumns, type ResealOptions, type ResealReport } from './reseal.ts';
import { pruneFanoutAttempts, pruneSettledDeliveries } from './retention.ts';
import { anyOf, assignments, columnNames, columnValues, only, sql, where, type Columns, type Db } from './sql.ts';

/** A subscription's settings (not its health), by column. */
function settings(subscription: Subscription, cipher: Cipher): Columns {
  const s = subscriptionParams(subscription, cipher);
  return {
    url: s.url,
    description: s.description,
    event_types: s.eventTypes,
    filter: s.filter,
    version: s.version,
    allow_phi: s.allowPhi,
    retry_schedule: s.retrySchedule,
    rate_per_second: s.ratePerSecond,
    max_in_flight: s.maxInFlight,
    ordered: s.ordered,
    status: s.status,
    status_reason: s.statusReason,
    secrets: s.secrets,
    updated_at: s.updatedAt,
  };
}

function health(h: SubscriptionHealth): Columns {
  return {
    consecutive_failures: h.consecutiveFailures,
    failing_since: h.failingSince,
    last_success_at: h.lastSuccessAt,
    last_failure_at: h.lastFailureAt,
    alerted_at: h.alertedAt,
  };
}

export abstract class SqlFanoutStore implements FanoutStore {
  constructor(
    protected readonly db: Db,
    protected readonly cipher: Cipher,
  ) {}

  abstract migrate(): Promise<void>;
  abstract close(): Promise<void>;
  abstract insertMessages(batch: { message: Message; deliveries: { subscriptionId: string; version: string }[] }[], now: number): Promise<{ inserted: boolean }[]>;
  abstract settleDelivery(settlement: Settlement, now: number): Promise<boolean>;
  /** Runs a change whose answer shows a secret once: durable before that answer. */
  protected abstract durable<T>(write: (db: Db) => Promise<T>): Promise<T>;
  /** Runs a lane's claim (SQLite groups the claims of one tick in one transaction). */
  protected abstract claiming<T>(write: (db: Db) => Promise<T>): Promise<T>;

  // Subscriptions -------------------------------------------------------------------------------

  async insertSubscription(subscription: Subscription): Promise<void> {
    const columns = { id: subscription.id, tenant_id: subscription.tenantId, created_at: subscription.createdAt, ...settings(subscription, this.cipher), ...health(subscription.health) };
    await this.durable((db) => db.run(sql`INSERT INTO fanout_subscriptions (${columnNames(columns)}) VALUES (${columnValues(columns)})`));
  }

  async getSubscription(id: string): Promise<Subscription | null> {
    const row = await this.db.get<SubscriptionRow>(sql`SELECT * FROM fanout_subscriptions WHERE id = ${id}`);
    return row ? toSubscription(row, this.cipher) : null;
  }

  async listSubscriptions(tenantId?: string): Promise<Subscription[]> {
    const rows = await this.db.all<SubscriptionRow>(
      sql`SELECT * FROM fanout_subscriptions ${where(tenantId === undefined ? [] : [sql`tenant_id = ${tenantId}`])} ORDER BY created_at, id`,
    );
    return rows.map((row) => toSubscription(row, this.cipher));
  }

  async updateSubscription(subscription: Subscription): Promise<void> {
    const columns = settings(subscription, this.cipher);
    await this.durable((db) => db.run(sql`UPDATE fanout_subscriptions SET ${assignments(columns)} WHERE id = ${subscription.id}`));
  }

  async updateHealth(id: string, h: SubscriptionHealth, now: number): Promise<void> {
    await this.db.run(sql`UPDATE fanout_subscriptions SET ${assignments({ ...health(h), updated_at: now })} WHERE id = ${id}`);
  }

  async setSubscriptionStatus(id: string, status: SubscriptionStatus, reason: string | null, now: number): Promise<boolean> {
    const changed = await this.db.run(
      sql`UPDATE fanout_subscriptions SET status = ${status}, status_reason = ${reason}, updated_at = ${now} WHERE id = ${id}`,
    );
    return changed > 0;
  }

  deleteSubscription(id: string): Promise<boolean> {
    return this.db.transaction(async (tx) => {
      await tx.run(sql`DELETE FROM fanout_attempts WHERE subscription_id = ${id}`);
      await tx.run(sql`DELETE FROM fanout_deliveries WHERE subscription_id = ${id}`);
      return (await tx.run(sql`DELETE FROM fanout_subscriptions WHERE id = ${id}`)) > 0;
    });
  }

  async purgeTenant(tenantId: string): Promise<FanoutPurge> {
    // A delivery belongs to a subscription of its tenant (deleteSubscription takes its deliveries
    // along), so the subscriptions' indexes find every row, and no table is scanned whole.
    const ofSubscriptions = sql`SELECT id FROM fanout_subscriptions WHERE tenant_id = ${tenantId}`;
    return this.db.transaction(async (tx) => {
      const attempts = await tx.run(sql`
        DELETE FROM fanout_attempts WHERE delivery_id IN (SELECT id FROM fanout_deliveries WHERE subscription_id IN (${ofSubscriptions}))`);
      const deliveries = await tx.run(sql`DELETE FROM fanout_deliveries WHERE subscription_id IN (${ofSubscriptions})`);
      const messages = await tx.run(sql`DELETE FROM fanout_messages WHERE tenant_id = ${tenantId}`);
      const subscriptions = await tx.run(sql`DELETE FROM fanout_subscriptions WHERE tenant_id = ${tenantId}`);
      return { subscriptions, messages, deliveries, attempts };
    });
  }

  /** One message row; false when its id is already there. */
  protected async insertMessage(db: Db, message: Message): Promise<boolean> {
    const m = messageParams(message, this.cipher);
    const changed = await db.run(sql`
      INSERT INTO fanout_messages (id, tenant_id, source, dedupe_key, type, occurred_at, created_at, subject, order_key, phi, data)
      VALUES (${m.id}, ${m.tenantId}, ${m.source}, ${m.dedupeKey}, ${m.type}, ${m.occurredAt}, ${m.createdAt}, ${m.subject},
              ${m.orderKey}, ${m.phi}, ${m.data})
      ON CONFLICT DO NOTHING`);
    return changed > 0;
  }

  // Deliveries -------------------------------------------------------------------------------------

  /** Oldest pending first, an ordered subscription's keys one at a time, only while it is active. */
  async claimDeliveries(options: ClaimOptions): Promise<ClaimedDelivery[]> {
    if (options.limit <= 0) return [];
    const { subscriptionId, now } = options;
    const headOfKey = options.ordered
      ? sql`AND (d.order_key IS NULL OR NOT EXISTS (
          SELECT 1 FROM fanout_deliveries e
          WHERE e.subscription_id = d.subscription_id AND e.order_key = d.order_key AND e.status = 'pending' AND e.id < d.id))`
      : sql``;
    const rows = await this.claiming((db) =>
      db.all<DeliveryRow>(sql`
        WITH heads AS (
          -- SQLite: straight off the queue index, stopping at the limit (the due index would
          -- make it sort every due row first).
          SELECT d.id FROM fanout_deliveries d ${only('sqlite', 'INDEXED BY fanout_deliveries_queue')}
          WHERE d.subscription_id = ${subscriptionId} AND d.status = 'pending' AND d.next_attempt_at <= ${now}
            AND (d.locked_until IS NULL OR d.locked_until <= ${now}) ${headOfKey}
            AND EXISTS (SELECT 1 FROM fanout_subscriptions s WHERE s.id = ${subscriptionId} AND s.status = 'active')
          ORDER BY d.id LIMIT ${options.limit}
          ${only('postgres', 'FOR UPDATE OF d SKIP LOCKED')}
        )
        UPDATE fanout_deliveries SET locked_by = ${options.workerId}, locked_until = ${now + options.leaseMs}
        WHERE id IN (SELECT id FROM heads)
        RETURNING *`),
    );
    if (rows.length === 0) return [];
    const ids = [...new Set(rows.map((r) => r.message_id))];
    const messageRows = await this.db.all<MessageRow>(sql`SELECT * FROM fanout_messages WHERE ${anyOf('id', ids)}`);
    const messages = new Map(messageRows.map((row) => [row.id, toMessage(row, this.cipher)]));
    return rows
      .sort((a, b) => a.id - b.id)
      .flatMap((row) => {
        const message = messages.get(row.message_id);
        return message ? [{ ...toDelivery(row), message }] : [];
      });
  }

  async nextDueAt(subscriptionId: string): Promise<number | null> {
    const row = await this.db.get<{ due: number | null }>(
      sql`SELECT min(next_attempt_at) AS due FROM fanout_deliveries WHERE subscription_id = ${subscriptionId} AND status = 'pending'`,
    );
    return row?.due ?? null;
  }

  expedite(subscriptionId: string, now: number): Promise<number> {
    return this.db.run(sql`
      UPDATE fanout_deliveries SET next_attempt_at = ${now}, updated_at = ${now}
      WHERE subscription_id = ${subscriptionId} AND status = 'pending' AND next_attempt_at > ${now}`);
  }

  async getDelivery(id: number): Promise<Delivery | null> {
    const row = await this.db.get<DeliveryRow>(sql`SELECT * FROM fanout_deliveries WHERE id = ${id}`);
    return row ? toDelivery(row) : null;
  }

  async listDeliveries(query: DeliveryQuery): Promise<Delivery[]> {
    const conditions = [sql`subscription_id = ${query.subscriptionId}`];
    if (query.status !== undefined) conditions.push(sql`status = ${query.status}`);
    if (query.since !== undefined) conditions.push(sql`created_at >= ${query.since}`);
    if (query.until !== undefined) conditions.push(sql`created_at < ${query.until}`);
    if (query.before !== undefined) conditions.push(sql`id < ${query.before}`);
    const rows = await this.db.all<DeliveryRow>(sql`SELECT * FROM fanout_deliveries ${where(conditions)} ORDER BY id DESC LIMIT ${query.limit}`);
    return rows.map(toDelivery);
  }

  async listAttempts(deliveryId: number) {
    const rows = await this.db.all<AttemptRow>(sql`SELECT * FROM fanout_attempts WHERE delivery_id = ${deliveryId} ORDER BY id`);
    return rows.map(toAttempt);
  }

  async deliveryCounts(subscriptionId: string): Promise<DeliveryCounts> {
    const counts: DeliveryCounts = { pending: 0, delivered: 0, failed: 0 };
    const rows = await this.db.all<{ status: keyof DeliveryCounts; n: number }>(
      sql`SELECT status, count(*) AS n FROM fanout_deliveries WHERE subscription_id = ${subscriptionId} GROUP BY status`,
    );
    for (const row of rows) counts[row.status] = Number(row.n);
    return counts;
  }

  async replayDelivery(id: number, now: number): Promise<boolean> {
    const changed = await this.db.run(sql`
      UPDATE fanout_deliveries SET status = 'pending', retry_step = 0, next_attempt_at = ${now}, updated_at = ${now}, delivered_at = NULL
      WHERE id = ${id} AND (locked_until IS NULL OR locked_until <= ${now})`);
    return changed > 0;
  }

  replayFailed(subscriptionId: string, since: number, until: number, now: number): Promise<number> {
    return this.db.run(sql`
      UPDATE fanout_deliveries SET status = 'pending', retry_step = 0, next_attempt_at = ${now}, updated_at = ${now}
      WHERE subscription_id = ${subscriptionId} AND status = 'failed' AND created_at >= ${since} AND created_at < ${until}`);
  }

  prune(olderThan: number): Promise<{ deliveries: number; messages: number }> {
    return pruneSettledDeliveries(this.db, olderThan);
  }

  pruneAttempts(options: { olderThan: number; batchSize?: number }): Promise<number> {
    return pruneFanoutAttempts(this.db, options);
  }

  /** `spruce-sync rekey`: subscription secrets and message data moved to the current key. */
  resealAll(options: ResealOptions = {}): Promise<ResealReport> {
    const ids = (row: Record<string, unknown>) => ({ tenantId: String(row.tenant_id), id: String(row.id) });
    return resealColumns(
      this.db,
      this.cipher,
      [
        { table: 'fanout_subscriptions', column: 'secrets', key: ['id'], columns: ['tenant_id'], context: (row) => secretsContext(ids(row)) },
        { table: 'fanout_messages', column: 'data', key: ['id'], columns: ['tenant_id'], context: (row) => dataContext(ids(row)) },
      ],
      options,
    );
  }
}
