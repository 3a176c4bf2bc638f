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
  /** Per target, sorted send times already promised (sent or scheduled) for the rate limit. */
  private readonly reserved = new Map<string, number[]>();
  private readonly cancels = new Set<() => void>();
  /** Clock deadlines of the requests in flight (their timeouts). */
  private readonly deadlines = new Set<{ at: number }>();
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

  /**
   * The earliest clock time at which something is due: a retry or a held delivery to send, or
   * the timeout of a request in flight. Lets a driver step the clock from one to the next.
   */
  nextDueAt(): number | undefined {
    let next: number | undefined;
    for (const d of this.deliveries.values()) {
      const at = d.state.status === 'pending' ? d.state.nextAttemptAt : undefined;
      if (at !== undefined && (next === undefined || at < next)) next = at;
    }
    for (const deadline of this.deadlines) if (next === undefined || deadline.at < next) next = deadline.at;
    return next;
  }

  stop(): void {
    this.stopped = true;
    for (const cancel of this.cancels) cancel();
    this.cancels.clear();
  }

  /** Forgets every delivery and attempt and cancels pending retries; the dispatcher stays usable. */
  reset(): void {
    for (const cancel of this.cancels) cancel();
    this.cancels.clear();
    this.deliveries.clear();
    this.reserved.clear();
    this.attempts.length = 0;
  }

  private schedule(delivery: Delivery, delayMs: number, duplicate = false): void {
    const now = this.options.clock.now();
    const at = this.reserveSlot(delivery.target.id, now + delayMs, now);
    delivery.state.nextAttemptAt = at;
    if (at <= now) {
      // Due now: start at once rather than through a zero-delay timer, so the request is in
      // flight (and settle() waits for it) even on a clock that only moves when advanced.
      void this.attempt(delivery, duplicate);
      return;
    }
    const cancel = this.options.clock.setTimer(at - now, () => {
      this.cancels.delete(cancel);
      void this.attempt(delivery, duplicate);
    });
    this.cancels.add(cancel);
  }

  /**
   * Earliest time at or after `from` when one more send to the target keeps every 60 s window
   * within `maxPerMinute` (a sliding log: any `max + 1` sends span at least 60 s), and reserves
   * it. A sustained overflow thus goes out at exactly the allowed rate, spaced as it arrived.
   * Reserving when scheduling (not when sending) is what makes a burst of simultaneous events
   * wait their turn instead of all going out at once.
   */
  private reserveSlot(targetId: string, from: number, now: number): number {
    const max = this.options.maxPerMinute;
    if (!max) return from;
    const times = this.reserved.get(targetId) ?? [];
    // Sends older than a minute before now constrain nothing any more.
    const keep = upperBound(times, now - 60_000);
    if (keep > 0) times.splice(0, keep);
    this.reserved.set(targetId, times);
    let at = from;
    for (;;) {
      const p = upperBound(times, at);
      // With `at` inserted at index p, every run of max + 1 sends holding it must span 60 s.
      const at_ = (i: number) => (i < p ? times[i]! : i === p ? at : times[i - 1]!);
      let moveTo: number | null = null;
      for (let i = Math.max(0, p - max); i <= p && i + max <= times.length; i++) {
        if (at_(i + max) - at_(i) >= 60_000) continue;
        // Last of the run: it must wait a minute after the run's first; else step past the next send.
        moveTo = i + max === p ? at_(i) + 60_000 : times[p]!;
        break;
      }
      if (moveTo === null) break;
      at = Math.max(moveTo, at + 1);
    }
    times.splice(upperBound(times, at), 0, at);
    return at;
  }

  private async attempt(delivery: Delivery, duplicate: boolean): Promise<void> {
    if (this.stopped) return;
    const { state } = delivery;
    state.attempts += 1;
    state.nextAttemptAt = undefined;
    const sends = duplicate ? 2 : 1;
    let delivered = false;
    this.inFlight++;
    const deadline = { at: this.options.clock.now() + this.options.timeoutMs };
    this.deadlines.add(deadline);
    try {
      const results = await Promise.all(Array.from({ length: sends }, () => this.send(delivery, state.attempts)));
      delivered = results.some((ok) => ok);
    } finally {
      this.inFlight--;
      this.deadlines.delete(deadline);
    }
    if (!this.isCurrent(delivery)) {
      // Forgotten by reset() while in flight: record nothing, retry nothing.
    } else if (delivered) {
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

  private isCurrent(delivery: Delivery): boolean {
    return this.deliveries.get(deliveryKey(delivery.target.id, delivery.event.id)) === delivery;
  }

  private async send(delivery: Delivery, attempt: number): Promise<boolean> {
    const { clock, timeoutMs } = this.options;
    const at = clock.now();
    const headers = this.options.headers(delivery.event, delivery.target, attempt, at);
    let status: number | null = null;
    let error: string | null = null;
    // The timeout runs on the injected clock, so a test can make a receiver "take 11 s" without
    // waiting 11 s. Racing it (not only aborting undici) settles the attempt the moment the
    // clock says so. undici's own timeouts stay as a real-time safety net.
    const controller = new AbortController();
    let cancelTimeout: () => void = () => {};
    const timedOut = new Promise<never>((_, reject) => {
      cancelTimeout = clock.setTimer(timeoutMs, () => {
        const reason = new Error('webhook receiver timed out');
        reason.name = 'TimeoutError';
        controller.abort(reason);
        reject(reason);
      });
    });
    timedOut.catch(() => {});
    try {
      const response = await Promise.race([
        request(delivery.target.url, {
          method: 'POST',
          headers,
          body: delivery.event.body,
          headersTimeout: timeoutMs,
          bodyTimeout: timeoutMs,
          signal: controller.signal,
        }),
        timedOut,
      ]);
      await Promise.race([response.body.dump(), timedOut]);
      status = response.statusCode;
    } catch (err) {
      const { name, code } = err as { name?: string; code?: string };
      error =
        name === 'TimeoutError' || code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT'
          ? 'timeout'
          : (code ?? 'error');
    } finally {
      cancelTimeout();
    }
    if (!this.isCurrent(delivery)) return false;
    this.attempts.push({
      eventId: delivery.event.id,
      targetId: delivery.target.id,
      attempt,
      at,
      status,
      error,
      durationMs: clock.now() - at,
      headers,
    });
    return status !== null && status >= 200 && status < 300;
  }
}

function deliveryKey(targetId: string, eventId: string): string {
  return `${targetId}\u0000${eventId}`;
}

/** Index of the first element > value in a sorted array. */
function upperBound(sorted: number[], value: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid]! <= value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
