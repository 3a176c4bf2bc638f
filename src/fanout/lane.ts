// One subscription's delivery lane: claims its due deliveries (oldest first, one per patient at
// a time when ordered), sends them, and settles each with the next step of its schedule. Every
// subscription has its own lane, breaker, rate limit and in-flight slots, so a slow or failing
// endpoint holds back nobody else, and no sync work waits for any of them.
import type { CancelTimer, Clock } from '../clock.ts';
import { Circuit, type CircuitOptions } from './circuit.ts';
import { renderBody } from './payload-versions.ts';
import { EndpointRateLimit } from './rate-limit.ts';
import { retryDelay } from './retry-schedule.ts';
import { signingSecrets } from './secrets.ts';
import type { Send, SendResult } from './sender.ts';
import { webhookHeaders } from './signature.ts';
import type { ClaimedDelivery, DeliveryStatus, FanoutStore, Subscription, SubscriptionHealth } from './types.ts';
import type { AddressPolicy } from './url-guard.ts';

export interface LaneSettings {
  workerId: string;
  /** How long a claim lasts: the send timeout plus a margin. */
  leaseMs: number;
  retryAfterCapMs: number;
  jitter: number;
  circuit: CircuitOptions & { disableAfterMs: number };
}

export interface LaneDeps {
  store: FanoutStore;
  clock: Clock;
  send: Send;
  settings: LaneSettings;
  policyOf: (tenantId: string) => AddressPolicy;
  random: () => number;
  /** The endpoint failed for `disableAfterMs` and the subscription was disabled. */
  onDisabled: (subscription: Subscription, health: SubscriptionHealth) => void;
  /** Every settled attempt (metrics, logs): ids, status and codes only. */
  onAttempt?: (subscription: Subscription, delivery: ClaimedDelivery, result: SendResult, status: DeliveryStatus) => void;
  onError: (error: unknown) => void;
}

export class Lane {
  private readonly inFlight = new Set<Promise<void>>();
  private circuit: Circuit;
  private limit: EndpointRateLimit;
  private health: SubscriptionHealth;
  /** A 429's Retry-After holds the whole endpoint until then. */
  private notBefore = 0;
  private timer: CancelTimer | null = null;
  private timerAt = Number.POSITIVE_INFINITY;
  private pumping = false;
  private again = false;
  private stopped = false;

  constructor(
    private subscription: Subscription,
    private readonly deps: LaneDeps,
  ) {
    this.circuit = new Circuit(deps.settings.circuit, subscription.health.consecutiveFailures);
    this.limit = new EndpointRateLimit(deps.clock, subscription.ratePerSecond);
    this.health = { ...subscription.health };
  }

  get id(): string {
    return this.subscription.id;
  }

  get busy(): boolean {
    return this.inFlight.size > 0 || this.pumping;
  }

  get circuitState(): string {
    return this.circuit.current;
  }

  /** New settings or status from the store (or the admin API). */
  update(next: Subscription): void {
    const previous = this.subscription;
    // A snapshot read before this lane's own last change (a disable) must not undo it.
    if (next.updatedAt < previous.updatedAt) return;
    this.subscription = next;
    if (next.ratePerSecond !== previous.ratePerSecond) this.limit = new EndpointRateLimit(this.deps.clock, next.ratePerSecond);
    if (next.status === 'active' && previous.status === 'disabled') {
      // Re-enabled by an operator: start afresh (the resume cleared the stored health too).
      this.circuit.reset();
      this.health = { ...next.health };
      this.notBefore = 0;
    }
    // The poll pumps every lane anyway: wake only on a change.
    if (next.status === 'active' && (previous.status !== 'active' || next.updatedAt !== previous.updatedAt)) this.pump();
  }

  pump(): void {
    if (this.stopped) return;
    if (this.pumping) {
      this.again = true;
      return;
    }
    this.pumping = true;
    this.fill()
      .catch((error: unknown) => {
        this.deps.onError(error);
        this.schedule(this.deps.clock.now() + 1_000);
      })
      .finally(() => {
        this.pumping = false;
        if (this.again) {
          this.again = false;
          this.pump();
        }
      });
  }

  /** Stops claiming; resolves when the requests in flight are settled. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.timer?.();
    this.timer = null;
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  private async fill(): Promise<void> {
    const { store, clock, settings } = this.deps;
    for (;;) {
      const sub = this.subscription;
      if (this.stopped || sub.status !== 'active') return;
      const now = clock.now();
      if (now < this.notBefore) return this.schedule(this.notBefore);
      const admission = this.circuit.admit(now);
      if (admission.mode === 'wait') return this.schedule(admission.until);
      const slots = admission.mode === 'probe' ? 1 : sub.maxInFlight;
      const free = Math.min(slots - this.inFlight.size, this.limit.available());
      if (slots - this.inFlight.size <= 0) return;
      if (free <= 0) return this.schedule(now + Math.max(1, this.limit.waitMs()));
      const claimed = await store.claimDeliveries({
        subscriptionId: sub.id,
        workerId: settings.workerId,
        now,
        leaseMs: settings.leaseMs,
        limit: free,
        ordered: sub.ordered,
      });
      for (const delivery of claimed) {
        this.limit.take();
        const probe = admission.mode === 'probe';
        if (probe) this.circuit.startProbe();
        const run: Promise<void> = this.deliver(delivery, probe)
          .catch((error: unknown) => this.deps.onError(error))
          .finally(() => {
            this.inFlight.delete(run);
            this.pump();
          });
        this.inFlight.add(run);
      }
      if (claimed.length < free) {
        const due = await store.nextDueAt(sub.id);
        if (due !== null && due > now) this.schedule(due);
        return;
      }
    }
  }

  private schedule(at: number): void {
    if (this.stopped || at >= this.timerAt) return;
    this.timer?.();
    this.timerAt = at;
    this.timer = this.deps.clock.setTimer(Math.max(0, at - this.deps.clock.now()), () => {
      this.timer = null;
      this.timerAt = Number.POSITIVE_INFINITY;
      this.pump();
    });
  }

  private async deliver(delivery: ClaimedDelivery, probe: boolean): Promise<void> {
    const { clock, send, policyOf } = this.deps;
    const sub = this.subscription;
    const sentAt = clock.now();
    const body = renderBody(delivery.version, delivery.message);
    const headers = webhookHeaders(signingSecrets(sub.secrets, sentAt), delivery.messageId, sentAt, body);
    const result = await send({ url: sub.url, headers: { ...headers }, body, phi: delivery.message.phi, policy: policyOf(sub.tenantId), now: sentAt });
    await this.settle(sub, delivery, result, sentAt, probe);
  }

  private async settle(sub: Subscription, delivery: ClaimedDelivery, result: SendResult, sentAt: number, probe: boolean): Promise<void> {
    const { store, clock, settings, random } = this.deps;
    const now = clock.now();
    const ok = result.status !== null && result.status >= 200 && result.status < 300;
    let status: DeliveryStatus = 'pending';
    let retryStep = delivery.retryStep;
    let nextAttemptAt = now;
    let outcome: 'delivered' | 'failed' | 'rate_limited' = 'failed';

    if (ok) {
      status = 'delivered';
      outcome = 'delivered';
      await this.onSuccess(sub, now);
    } else if (result.status === 429) {
      // The endpoint asked us to slow down: wait as told (within the cap), spending no retry.
      outcome = 'rate_limited';
      const asked = result.retryAfterSeconds !== undefined ? result.retryAfterSeconds * 1000 : (retryDelay(sub.retrySchedule, Math.max(1, retryStep), random, settings.jitter) ?? 1_000);
      const wait = Math.min(settings.retryAfterCapMs, Math.max(0, asked));
      this.notBefore = Math.max(this.notBefore, now + wait);
      nextAttemptAt = now + wait;
      if (probe) this.circuit.onSuccess();
    } else {
      await this.onFailure(sub, now, probe);
      if (probe) {
        // The next probe takes another delivery, so one event the endpoint refuses cannot keep
        // the circuit open for every other event.
        nextAttemptAt = Math.max(now, this.circuit.reopensAt) + 1;
      } else {
        retryStep += 1;
        const delay = retryDelay(sub.retrySchedule, retryStep, random, settings.jitter);
        const firstAttemptAt = delivery.firstAttemptAt ?? sentAt;
        const poison = this.health.lastSuccessAt !== null && this.health.lastSuccessAt > firstAttemptAt;
        if (delay !== null) {
          nextAttemptAt = now + delay;
        } else if (poison) {
          // Others got through since this one began failing: it is this event, not the endpoint.
          status = 'failed';
          retryStep -= 1;
        } else {
          // The endpoint has not answered well since: keep the event, at the schedule's last wait.
          retryStep = sub.retrySchedule.length;
          nextAttemptAt = now + (retryDelay(sub.retrySchedule, sub.retrySchedule.length, random, settings.jitter) ?? 60_000);
        }
      }
      if (result.retryAfterSeconds !== undefined && status === 'pending') {
        nextAttemptAt = Math.max(nextAttemptAt, now + Math.min(settings.retryAfterCapMs, result.retryAfterSeconds * 1000));
      }
    }

    await store.settleDelivery(
      {
        deliveryId: delivery.id,
        workerId: settings.workerId,
        status,
        retryStep,
        nextAttemptAt,
        attempt: {
          deliveryId: delivery.id,
          subscriptionId: sub.id,
          tenantId: sub.tenantId,
          messageId: delivery.messageId,
          attemptedAt: sentAt,
          statusCode: result.status,
          latencyMs: result.latencyMs,
          outcome,
          errorCode: result.errorCode,
          responseSnippet: delivery.message.phi ? null : result.snippet,
          trigger: probe ? 'probe' : delivery.attempts === 0 ? 'first' : 'retry',
        },
      },
      now,
    );
    this.deps.onAttempt?.(sub, delivery, result, status);
  }

  private async onSuccess(sub: Subscription, now: number): Promise<void> {
    const recovered = this.circuit.onSuccess();
    const was = this.health;
    this.health = { ...was, consecutiveFailures: 0, failingSince: null, lastSuccessAt: now };
    // One write when the endpoint comes back, not one per delivery.
    if (was.consecutiveFailures > 0 || was.failingSince !== null || was.lastSuccessAt === null) {
      await this.deps.store.updateHealth(sub.id, this.health, now);
    }
    // Back from an outage: what accrued meanwhile is due now, in order.
    if (recovered) await this.deps.store.expedite(sub.id, now);
  }

  private async onFailure(sub: Subscription, now: number, probe: boolean): Promise<void> {
    const { settings, store } = this.deps;
    this.circuit.onFailure(now, probe);
    const failingSince = this.health.failingSince ?? now;
    this.health = { ...this.health, consecutiveFailures: this.health.consecutiveFailures + 1, failingSince, lastFailureAt: now };
    const sustained =
      this.health.consecutiveFailures >= settings.circuit.failureThreshold && now - failingSince >= settings.circuit.disableAfterMs;
    if (sustained && this.subscription.status === 'active') {
      this.health = { ...this.health, alertedAt: now };
      await store.updateHealth(sub.id, this.health, now);
      await store.setSubscriptionStatus(sub.id, 'disabled', 'endpoint_failing', now);
      this.subscription = { ...this.subscription, status: 'disabled', statusReason: 'endpoint_failing', health: this.health, updatedAt: now };
      this.deps.onDisabled(this.subscription, this.health);
      return;
    }
    await store.updateHealth(sub.id, this.health, now);
  }
}
