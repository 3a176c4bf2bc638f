// The subscriptions the intake matches against, in memory: reloaded from the store every poll
// interval (so CLI changes and other instances are seen within one) and updated at once by
// changes made in this process.
import { matchesAnyType } from './event-types.ts';
import { matchesFilter } from './filter.ts';
import type { NewMessage, Subscription } from './types.ts';

export class SubscriptionRegistry {
  private byId = new Map<string, Subscription>();
  private tenants = new Set<string>();

  replace(all: readonly Subscription[]): void {
    this.byId = new Map(all.map((s) => [s.id, s]));
    this.reindex();
  }

  upsert(subscription: Subscription): void {
    this.byId.set(subscription.id, subscription);
    this.reindex();
  }

  remove(id: string): void {
    this.byId.delete(id);
    this.reindex();
  }

  /** Whether the tenant has any subscription (the ingest path asks this first). */
  hasTenant(tenantId: string): boolean {
    return this.tenants.has(tenantId);
  }

  private reindex(): void {
    this.tenants = new Set([...this.byId.values()].map((s) => s.tenantId));
  }

  get(id: string): Subscription | undefined {
    return this.byId.get(id);
  }

  all(): Subscription[] {
    return [...this.byId.values()];
  }

  forTenant(tenantId: string): Subscription[] {
    return this.all().filter((s) => s.tenantId === tenantId);
  }

  /** Subscriptions of the message's tenant that receive it (paused and disabled ones too: they keep events). */
  matching(message: NewMessage): Subscription[] {
    return this.forTenant(message.tenantId).filter((s) => subscriptionWants(s, message));
  }
}

export function subscriptionWants(subscription: Subscription, message: NewMessage): boolean {
  if (message.source === 'test') return false;
  // A subscription receives what happened after it was made, not history.
  if (message.createdAt < subscription.createdAt) return false;
  if (message.phi && !subscription.allowPhi) return false;
  if (!matchesAnyType(subscription.eventTypes, message.type)) return false;
  return matchesFilter(subscription.filter, { type: message.type, source: message.source, subject: message.subject, data: message.data });
}
