// Which tenants' jobs may be claimed now. A job taken for a tenant whose API budget has no slot
// soon would only hold a worker while it waits in that tenant's pacer, which is how one busy
// clinic used to stall every other one; a tenant whose vendor is failing (circuit open) would do
// the same while its calls time out. Such tenants are left out of the claim until their budget
// or circuit frees up; their jobs stay due and keep their attempts. The store's claim does the
// rest: it rotates across the tenants with work and caps what one tenant holds (sql/queue.ts).
import type { CircuitState } from '../fanout/circuit.ts';
import type { BudgetWindow, Priority, SlotForecast } from '../http/types.ts';

/** A tenant whose next call could go within this long is claimed for (see TenantAdmission). */
export const CLAIM_SOON_MS = 1_000;

/** What else a gauge can say truthfully, for the operator's per-tenant figures. */
export interface GaugeDetail {
  /** A circuit breaker's state; `half_open` once the cool-down is over (the next call probes). */
  circuit?: CircuitState;
  /** A published budget's window as last seen (Spruce); null while none is known. */
  window?: BudgetWindow | null;
}

/** What says how soon a tenant could make its next outbound call. */
export interface TenantGauge {
  /** What it is, for metrics: e.g. `spruce_budget`, `spry_circuit`. */
  name: string;
  /** Milliseconds until this could let the tenant's next call go (0 = now). No side effect. */
  readyIn(): number;
  /** No side effect either. */
  detail?(): GaugeDetail;
}

/** A limiter's forecast for live traffic (jobs are live unless marked bulk), with its window when it knows one. */
export function slotGauge(name: string, forecast: SlotForecast & { currentWindow?(): BudgetWindow | null }, priority: Priority = 'live'): TenantGauge {
  const gauge: TenantGauge = { name, readyIn: () => forecast.nextSlotIn(priority) };
  if (forecast.currentWindow) gauge.detail = () => ({ window: forecast.currentWindow!() });
  return gauge;
}

/** A circuit breaker's time to its next probe, and its state. */
export function circuitGauge(name: string, breaker: { closedIn(): number; readonly state?: CircuitState }): TenantGauge {
  const gauge: TenantGauge = { name, readyIn: () => breaker.closedIn() };
  if (breaker.state !== undefined) {
    // The breaker turns half-open lazily, at the first call after its cool-down: say so as soon as it would.
    gauge.detail = () => ({ circuit: breaker.state === 'open' && breaker.closedIn() === 0 ? 'half_open' : breaker.state });
  }
  return gauge;
}

/** One gauge's reading, for /metrics and the operator's figures. */
export interface GaugeReading extends GaugeDetail {
  tenantId: string;
  gauge: string;
  readyInMs: number;
}

export interface HeldTenants {
  /** Tenants whose jobs are not to be claimed now. */
  tenants: string[];
  /** When the first of them is ready again, milliseconds from now; undefined when none is held. */
  readyIn?: number;
}

export class TenantAdmission {
  private readonly gauges = new Map<string, TenantGauge[]>();

  /**
   * @param soonMs a tenant whose next call could go within this long is claimed for: its job
   *   waits at most that long for its budget, which keeps the budget busy without hoarding workers.
   */
  constructor(private readonly soonMs = CLAIM_SOON_MS) {}

  /** Adds what limits one tenant's calls (its Spruce pacer, its Spry bucket, its breakers). */
  watch(tenantId: string, ...gauges: TenantGauge[]): void {
    this.gauges.set(tenantId, [...(this.gauges.get(tenantId) ?? []), ...gauges]);
  }

  /** Stops watching a tenant (it was removed). */
  forget(tenantId: string): void {
    this.gauges.delete(tenantId);
  }

  /** Every gauge of every tenant, as it reads now (metrics). */
  readings(): GaugeReading[] {
    return [...this.gauges].flatMap(([tenantId, gauges]) => gauges.map((g) => ({ tenantId, gauge: g.name, readyInMs: g.readyIn(), ...g.detail?.() })));
  }

  /** The tenants to leave out of the next claim. */
  held(): HeldTenants {
    const tenants: string[] = [];
    let readyIn: number | undefined;
    for (const [tenantId, gauges] of this.gauges) {
      const wait = Math.max(0, ...gauges.map((g) => g.readyIn()));
      if (wait <= this.soonMs) continue;
      tenants.push(tenantId);
      readyIn = Math.min(readyIn ?? Infinity, wait - this.soonMs);
    }
    return readyIn === undefined ? { tenants } : { tenants, readyIn };
  }
}
