// Optional per-tenant alerts: a JSON POST to the tenant's configured URL when a condition starts
// (`firing`) and when it recovers (`resolved`). Conditions:
//   dead_letters        dead-letter jobs above `deadLettersAbove` (read from the store)
//   signature_failures  at least `signatureFailures` webhook signature failures in the window
//   api_failing         at least `apiFailureRate` of a system's calls failed in the window
//                       (no answer or 5xx; at least MIN_CALLS calls)
// Counts of this instance only; with several instances, give alerts to one of them. Bodies
// carry ids, names of conditions and numbers, never PHI.
//
// The watch list follows the tenant directory (`watch` / `forget`, called as the registry starts
// and stops tenants): a tenant added at run time is watched from then on, a removed one no longer.
// A disabled tenant stays watched: its webhooks are still verified and stored (a signature
// failure still means a wrong secret somewhere) and its dead letters still wait for an operator.
// Only `api_failing` is held while it sends nothing (`sending`): no calls say nothing about its
// vendors, so the condition neither fires nor resolves until it sends again.
import type { CancelTimer, Clock } from '../clock.ts';
import type { AlertsConfig } from '../config/schema.ts';
import type { CallReport, RemoteSystem } from '../http/types.ts';
import type { JobQueue } from '../store/ports.ts';

export type AlertName = 'dead_letters' | 'signature_failures' | 'api_failing';

export interface AlertNotice {
  tenantId: string;
  alert: AlertName;
  /** For api_failing: which remote system. */
  system?: RemoteSystem;
  state: 'firing' | 'resolved';
  value: number;
  threshold: number;
  /** ISO 8601. */
  at: string;
  service: 'spruce-sync';
}

export type PostAlert = (url: string, body: AlertNotice, headers: Record<string, string>) => Promise<void>;

/** Calls fewer than this in the window never count as "failing". */
export const MIN_CALLS = 5;

/** Counts per second over a sliding window, in a bounded map. */
export class WindowCounter {
  private readonly seconds = new Map<number, number>();

  constructor(private readonly windowMs: number) {}

  add(now: number, n = 1): void {
    const second = Math.floor(now / 1000);
    this.seconds.set(second, (this.seconds.get(second) ?? 0) + n);
    this.trim(now);
  }

  total(now: number): number {
    this.trim(now);
    let sum = 0;
    for (const n of this.seconds.values()) sum += n;
    return sum;
  }

  private trim(now: number): void {
    const oldest = Math.floor((now - this.windowMs) / 1000);
    for (const second of this.seconds.keys()) if (second <= oldest) this.seconds.delete(second);
  }
}

export const postJson: PostAlert = async (url, body, headers) => {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(5_000),
  });
  // Drain the body so the connection can be reused.
  await response.arrayBuffer().catch(() => undefined);
  if (!response.ok) throw new Error(`alert receiver answered ${response.status}`);
};

interface TenantWatch {
  config: AlertsConfig;
  signatureFailures: WindowCounter;
  calls: Record<RemoteSystem, { all: WindowCounter; failed: WindowCounter }>;
  /** Conditions currently firing, e.g. `dead_letters`, `api_failing:spruce`. */
  firing: Set<string>;
}

export interface WatchedTenant {
  id: string;
  alerts?: AlertsConfig;
}

export interface AlertMonitorOptions {
  /** The tenants watched from the start; `watch` and `forget` change the list later. */
  tenants: readonly WatchedTenant[];
  /** Whether the tenant sends out now (not disabled); default: always. */
  sending?: (tenantId: string) => boolean;
  store: Pick<JobQueue, 'queueStats'>;
  clock: Clock;
  post?: PostAlert;
  onSent?: (notice: AlertNotice) => void;
  /** A failed POST or check (logged by the caller); the state still changes, so no storm of retries. */
  onError?: (error: unknown, tenantId: string) => void;
  /**
   * Runs the timed check only where this instance leads the `alerts` duty, so N instances post
   * one notice, not N. Default: always (one instance). The leader's call counters are its own.
   */
  runIfLeader?: (duty: string, fn: () => Promise<void>) => Promise<unknown>;
}

export class AlertMonitor {
  private readonly watches = new Map<string, TenantWatch>();
  private readonly options: AlertMonitorOptions;
  private cancel: CancelTimer | null = null;

  constructor(options: AlertMonitorOptions) {
    this.options = options;
    for (const tenant of options.tenants) this.watch(tenant);
  }

  /**
   * Watches a tenant with its alerts config (or stops, when it has none). Watching one watched
   * already (its definition changed) keeps what it knows: the conditions firing, and the counts
   * unless the window changed.
   */
  watch(tenant: WatchedTenant): void {
    const existing = this.watches.get(tenant.id);
    if (!tenant.alerts) {
      this.forget(tenant.id);
      return;
    }
    if (existing && existing.config.windowSeconds === tenant.alerts.windowSeconds) {
      existing.config = tenant.alerts;
      return;
    }
    const windowMs = tenant.alerts.windowSeconds * 1000;
    const pair = () => ({ all: new WindowCounter(windowMs), failed: new WindowCounter(windowMs) });
    this.watches.set(tenant.id, {
      config: tenant.alerts,
      signatureFailures: new WindowCounter(windowMs),
      calls: { spry: pair(), spruce: pair() },
      firing: existing?.firing ?? new Set(),
    });
  }

  /** No longer watched (removed): nothing more is posted for it, not even a `resolved`. */
  forget(tenantId: string): void {
    this.watches.delete(tenantId);
  }

  /** The tenants watched now. */
  get watched(): string[] {
    return [...this.watches.keys()];
  }

  /** True when some tenant has alerts configured. */
  get enabled(): boolean {
    return this.watches.size > 0;
  }

  readonly recordSignatureFailure = (tenantId: string): void => {
    this.watches.get(tenantId)?.signatureFailures.add(this.options.clock.now());
  };

  readonly recordApiCall = (tenantId: string, call: CallReport): void => {
    const watch = this.watches.get(tenantId);
    if (!watch) return;
    const now = this.options.clock.now();
    const counters = watch.calls[call.system];
    counters.all.add(now);
    if (call.status === 0 || call.status >= 500) counters.failed.add(now);
  };

  /** Evaluates every condition and posts the transitions. */
  async check(): Promise<AlertNotice[]> {
    const { store, clock } = this.options;
    if (this.watches.size === 0) return [];
    const now = clock.now();
    const dead = new Map((await store.queueStats()).map((row) => [row.tenantId, row.dead]));
    const sent: AlertNotice[] = [];
    for (const [tenantId, watch] of this.watches) {
      const { config } = watch;
      const conditions: { key: string; alert: AlertName; system?: RemoteSystem; active: boolean; value: number; threshold: number }[] = [];
      const deadCount = dead.get(tenantId) ?? 0;
      conditions.push({ key: 'dead_letters', alert: 'dead_letters', active: deadCount > config.deadLettersAbove, value: deadCount, threshold: config.deadLettersAbove });
      const failures = watch.signatureFailures.total(now);
      conditions.push({
        key: 'signature_failures',
        alert: 'signature_failures',
        active: failures >= config.signatureFailures,
        value: failures,
        threshold: config.signatureFailures,
      });
      // A tenant that sends nothing (disabled) makes no calls: its vendors' conditions stay as they were.
      const sending = this.options.sending?.(tenantId) ?? true;
      for (const system of sending ? (['spry', 'spruce'] as const) : []) {
        const all = watch.calls[system].all.total(now);
        const rate = all === 0 ? 0 : watch.calls[system].failed.total(now) / all;
        conditions.push({
          key: `api_failing:${system}`,
          alert: 'api_failing',
          system,
          active: all >= MIN_CALLS && rate >= config.apiFailureRate,
          value: Math.round(rate * 1000) / 1000,
          threshold: config.apiFailureRate,
        });
      }
      for (const condition of conditions) {
        const was = watch.firing.has(condition.key);
        if (was === condition.active) continue;
        if (condition.active) watch.firing.add(condition.key);
        else watch.firing.delete(condition.key);
        const notice: AlertNotice = {
          tenantId,
          alert: condition.alert,
          ...(condition.system ? { system: condition.system } : {}),
          state: condition.active ? 'firing' : 'resolved',
          value: condition.value,
          threshold: condition.threshold,
          at: new Date(now).toISOString(),
          service: 'spruce-sync',
        };
        try {
          await (this.options.post ?? postJson)(config.url, notice, config.headers);
          this.options.onSent?.(notice);
          sent.push(notice);
        } catch (error) {
          this.options.onError?.(error, tenantId);
        }
      }
    }
    return sent;
  }

  /** Checks every `everyMs`, also while nothing is watched: a tenant with alerts may be added later. */
  start(everyMs: number): void {
    if (this.cancel) return;
    const { clock } = this.options;
    const runIfLeader = this.options.runIfLeader ?? ((_duty, fn) => fn());
    const tick = () => {
      // Nothing watched: not even the leadership lock is asked for.
      (this.enabled ? runIfLeader('alerts', async () => void (await this.check())) : Promise.resolve())
        .catch((error: unknown) => this.options.onError?.(error, '*'))
        .finally(() => {
          if (this.cancel) this.cancel = clock.setTimer(everyMs, tick);
        });
    };
    this.cancel = clock.setTimer(everyMs, tick);
  }

  stop(): void {
    this.cancel?.();
    this.cancel = null;
  }
}
