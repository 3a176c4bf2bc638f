// Takes events into the fan-out: each one is matched against the tenant's subscriptions and,
// when any wants it, stored as a message with one delivery per subscription, in one
// transaction per batch. Nothing here makes an HTTP call.
//
// Inbound events are offered by the webhook route right after the inbox insert, and the route
// answers without waiting: they are gathered and written on the next turn of the event loop.
// A crash in that gap is covered at start by `recover`, which offers again the inbox events of
// the last minutes (the dedupe key makes that idempotent). Sync notices are awaited by the
// worker, so they are durable before its job completes.
import type { Clock } from '../clock.ts';
import { errorCode } from '../errors.ts';
import type { Logger } from '../observe/logger.ts';
import type { NewInboundEvent, Store } from '../store/types.ts';
import type { SyncNotice } from '../sync/handlers.ts';
import { inboundMessage, patientOrderKey, syncMessage, withId } from './messages.ts';
import type { SubscriptionRegistry } from './registry.ts';
import type { FanoutStore, Message, NewMessage } from './types.ts';

/** Waits before writing a failed batch again; after the last, the batch is logged and dropped. */
const RETRY_DELAYS_MS = [100, 1_000, 5_000];

interface Pending {
  message: NewMessage;
  done?: () => void;
}

export interface IntakeOptions {
  store: FanoutStore;
  /** For a contact's patient (ordering) and for recovery from the inbox. */
  mainStore: Pick<Store, 'getLinkByContact' | 'searchEvents'>;
  registry: SubscriptionRegistry;
  clock: Clock;
  logger?: Logger;
  /** Deliveries were created for these subscriptions: wake their lanes. */
  onDeliveries?: (subscriptionIds: string[]) => void;
}

export class FanoutIntake {
  private queue: Pending[] = [];
  private flushing: Promise<void> | null = null;
  private readonly options: IntakeOptions;
  /** Messages stored, and matched deliveries created, since start (metrics, benchmarks). */
  readonly counts = { messages: 0, deliveries: 0, failedBatches: 0 };

  constructor(options: IntakeOptions) {
    this.options = options;
  }

  /** Called by the webhook route after the inbox insert; returns at once and never throws. */
  offerInbound(event: NewInboundEvent): void {
    try {
      // Most tenants have no subscriptions: that costs the ingest path one lookup, nothing more.
      if (!this.options.registry.hasTenant(event.tenantId)) return;
      const message = inboundMessage(event, this.options.clock.now());
      if (message) this.enqueue({ message });
    } catch (error) {
      this.report(error, 'fan-out intake refused an event');
    }
  }

  /** A sync outcome; resolves once it is stored (or could not be, which is logged). */
  offerNotice(notice: SyncNotice): Promise<void> {
    if (!this.options.registry.hasTenant(notice.tenantId)) return Promise.resolve();
    return new Promise<void>((resolve) => this.enqueue({ message: syncMessage(notice), done: resolve }));
  }

  /** Writes everything offered so far. */
  async settle(): Promise<void> {
    while (this.flushing || this.queue.length > 0) {
      if (!this.flushing) this.flushing = this.flush();
      await this.flushing;
    }
  }

  /**
   * Offers again the inbox events received since `since` (oldest first); already stored ones
   * are skipped by their dedupe key. Returns how many were offered.
   */
  async recover(tenantIds: readonly string[], since: number): Promise<number> {
    let offered = 0;
    for (const tenantId of tenantIds) {
      if (!this.options.registry.hasTenant(tenantId)) continue;
      const events: NewInboundEvent[] = [];
      let beforeId: number | undefined;
      for (;;) {
        const page = await this.options.mainStore.searchEvents({ tenantId, since, beforeId, limit: 200 });
        events.push(...page);
        if (page.length < 200) break;
        beforeId = page[page.length - 1]!.id;
      }
      for (const event of events.reverse()) {
        this.offerInbound(event);
        offered += 1;
      }
    }
    await this.settle();
    return offered;
  }

  private enqueue(item: Pending): void {
    this.queue.push(item);
    if (!this.flushing) {
      this.flushing = new Promise<void>((resolve) => setImmediate(resolve)).then(() => this.flush());
    }
  }

  private async flush(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        const batch = this.queue;
        this.queue = [];
        await this.write(batch);
      }
    } finally {
      this.flushing = null;
    }
  }

  private async write(batch: Pending[]): Promise<void> {
    const { store, registry, clock } = this.options;
    try {
      const items: { message: Message; deliveries: { subscriptionId: string; version: string }[] }[] = [];
      for (const { message } of batch) {
        const subscriptions = registry.matching(message);
        if (subscriptions.length === 0) continue;
        const resolved = await this.resolvePatient(message);
        items.push({ message: withId(resolved), deliveries: subscriptions.map((s) => ({ subscriptionId: s.id, version: s.version })) });
      }
      if (items.length > 0) {
        const results = await this.insistently(() => store.insertMessages(items, clock.now()));
        const woken = new Set<string>();
        items.forEach((item, i) => {
          if (!results[i]?.inserted) return;
          this.counts.messages += 1;
          this.counts.deliveries += item.deliveries.length;
          for (const d of item.deliveries) woken.add(d.subscriptionId);
        });
        if (woken.size > 0) this.options.onDeliveries?.([...woken]);
      }
    } catch (error) {
      this.counts.failedBatches += 1;
      this.report(error, 'fan-out intake could not store a batch');
    } finally {
      for (const item of batch) item.done?.();
    }
  }

  /** A store hiccup (a busy SQLite file, a PostgreSQL failover) should not drop a batch. */
  private async insistently<T>(write: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await write();
      } catch (error) {
        if (attempt >= RETRY_DELAYS_MS.length + 1) throw error;
        await this.options.clock.sleep(RETRY_DELAYS_MS[attempt - 1]!);
      }
    }
  }

  /** A Spruce contact event about a linked contact is ordered (and tagged) by its patient. */
  private async resolvePatient(message: NewMessage): Promise<NewMessage> {
    const contactId = message.subject.contactId;
    if (message.subject.patientId !== undefined || typeof contactId !== 'string') return message;
    try {
      const link = await this.options.mainStore.getLinkByContact(message.tenantId, contactId);
      if (!link) return message;
      return { ...message, subject: { ...message.subject, patientId: link.patientId }, orderKey: patientOrderKey(link.patientId) };
    } catch {
      return message;
    }
  }

  private report(error: unknown, what: string): void {
    this.options.logger?.error({ code: errorCode(error) }, what);
  }
}
