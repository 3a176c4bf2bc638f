// The sender side of webhooks, as both real systems run it: one POST per event per endpoint,
// a timeout, a fixed retry schedule on the (injectable) clock, a per-endpoint rate limit that
// delays rather than drops, and the faults a test asks for. Each simulator supplies its own
// body and signed headers.
import { request } from 'undici';
import type { Clock } from '../clock.ts';
import type { FaultInjector } from './faults.ts';

export interface DeliveryTarget {
  id: string;
  url: string;
}

export interface OutboundEvent {
  id: string;
  /** The exact bytes sent (and signed). */
  body: string;
}

export type DeliveryStatus = 'pending' | 'delivered' | 'failed' | 'dropped';

export interface DeliveryAttempt {
  eventId: string;
  targetId: string;
  /** 1-based. Duplicated sends share the attempt number. */
  attempt: number;
  at: number;
  /** HTTP status, or null when there was no answer (error, timeout). */
  status: number | null;
  error: string | null;
  durationMs: number;
  headers: Record<string, string>;
}

export interface DeliveryState {
  eventId: string;
  targetId: string;
  status: DeliveryStatus;
  attempts: number;
  attemptLimit: number;
  deliveredAt?: number;
  nextAttemptAt?: number;
}

export interface DispatcherOptions {
  clock: Clock;
  /** The receiver must answer 2xx within this. */
  timeoutMs: number;
  /** Waits after each failed attempt; attempts = retryDelaysMs.length + 1. */
  retryDelaysMs: number[];
  /** Signed headers for one attempt (each attempt may carry a new delivery id). */
  headers: (event: OutboundEvent, target: DeliveryTarget, attempt: number, now: number) => Record<string, string>;
  faults?: FaultInjector;
  /** At most this many sends per target per 60 s; more wait their turn. */
  maxPerMinute?: number;
}

interface Delivery {
  event: OutboundEvent;
  target: DeliveryTarget;
  state: DeliveryState;
}

export class WebhookDispatcher {
  readonly attempts: DeliveryAttempt[] = [];
  private readonly deliveries = new Map<string, Delivery>();
  private readonly sentAt = new Map<string, number[]>();
  private readonly cancels = new Set<() => void>();
  private inFlight = 0;
  private idleWaiters: (() => void)[] = [];
  private stopped = false;

  constructor(private readonly options: DispatcherOptions) {}

  /** Starts delivering `event` to `target`; returns its state record (updated in place). */
  dispatch(target: DeliveryTarget, event: OutboundEvent): DeliveryState {
    const state: DeliveryState = {
      eventId: event.id,
      targetId: target.id,
      status: 'pending',
      attempts: 0,
      attemptLimit: this.options.retryDelaysMs.length + 1,
    };
    const delivery: Delivery = { event, target, state };
    this.deliveries.set(deliveryKey(target.id, event.id), delivery);
    const decision = this.options.faults?.decideDelivery() ?? { drop: false, duplicate: false, delayMs: 0 };
    if (decision.drop) {
      state.status = 'dropped';
      return state;
    }
    this.schedule(delivery, decision.delayMs, decision.duplicate);
    return state;
  }

  state(targetId: string, eventId: string): DeliveryState | undefined {
    return this.deliveries.get(deliveryKey(targetId, eventId))?.state;
  }

  /** Resolves once no request is in flight (pending retries on the clock do not count). */
  settle(): Promise<void> {
    if (this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Deliveries still waiting for a retry or their turn. */
  pendingCount(): number {
    let pending = 0;
    for (const d of this.deliveries.values()) if (d.state.status === 'pending') pending++;
    return pending;
  }

  stop(): void {
    this.stopped = true;
    for (const cancel of this.cancels) cancel();
    this.cancels.clear();
  }

  private schedule(delivery: Delivery, delayMs: number, duplicate = false): void {
    const now = this.options.clock.now();
    const at = Math.max(now + delayMs, this.nextSlot(delivery.target.id, now + delayMs));
    delivery.state.nextAttemptAt = at;
    const cancel = this.options.clock.setTimer(at - now, () => {
      this.cancels.delete(cancel);
      void this.attempt(delivery, duplicate);
    });
    this.cancels.add(cancel);
  }

  /** Earliest time at or after `from` when the target's per-minute budget has room. */
  private nextSlot(targetId: string, from: number): number {
    const max = this.options.maxPerMinute;
    if (!max) return from;
    const sent = (this.sentAt.get(targetId) ?? []).filter((t) => t > from - 60_000);
    this.sentAt.set(targetId, sent);
    if (sent.length < max) return from;
    return sent[sent.length - max]! + 60_000;
  }

  private async attempt(delivery: Delivery, duplicate: boolean): Promise<void> {
    if (this.stopped) return;
    const { state } = delivery;
    state.attempts += 1;
    state.nextAttemptAt = undefined;
    const sends = duplicate ? 2 : 1;
    let delivered = false;
    this.inFlight++;
    try {
      const results = await Promise.all(Array.from({ length: sends }, () => this.send(delivery, state.attempts)));
      delivered = results.some((ok) => ok);
    } finally {
      this.inFlight--;
    }
    if (delivered) {
      state.status = 'delivered';
      state.deliveredAt = this.options.clock.now();
    } else if (state.attempts >= state.attemptLimit) {
      state.status = 'failed';
    } else {
      this.schedule(delivery, this.options.retryDelaysMs[state.attempts - 1]!);
    }
    if (this.inFlight === 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const resolve of waiters) resolve();
    }
  }

  private async send(delivery: Delivery, attempt: number): Promise<boolean> {
    const { clock, timeoutMs } = this.options;
    const at = clock.now();
    const sent = this.sentAt.get(delivery.target.id) ?? [];
    sent.push(at);
    this.sentAt.set(delivery.target.id, sent);
    const headers = this.options.headers(delivery.event, delivery.target, attempt, at);
    const startedAt = Date.now();
    let status: number | null = null;
    let error: string | null = null;
    try {
      const response = await request(delivery.target.url, {
        method: 'POST',
        headers,
        body: delivery.event.body,
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
        signal: AbortSignal.timeout(timeoutMs),
      });
      status = response.statusCode;
      await response.body.dump();
    } catch (err) {
      error = (err as Error).name === 'TimeoutError' ? 'timeout' : ((err as { code?: string }).code ?? 'error');
    }
    this.attempts.push({
      eventId: delivery.event.id,
      targetId: delivery.target.id,
      attempt,
      at,
      status,
      error,
      durationMs: Date.now() - startedAt,
      headers,
    });
    return status !== null && status >= 200 && status < 300;
  }
}

function deliveryKey(targetId: string, eventId: string): string {
  return `${targetId}\u0000${eventId}`;
}
