// Which tenants' jobs may be claimed now. A job taken for a tenant whose API budget has no slot
// soon would only hold a worker while it waits in that tenant's pacer, which is how one busy
// clinic used to stall every other one; a tenant whose vendor is failing (circuit open) would do
// the same while its calls time out. Such tenants are left out of the claim until their budget
// or circuit frees up; their jobs stay due and keep their attempts. The store's claim does the
// rest: it rotates across the tenants with work and caps what one tenant holds (sql/queue.ts).
import type { Priority, SlotForecast } from '../http/types.ts';

/** What says how soon a tenant could make its next outbound call. */
export interface TenantGauge {
  /** What it is, for metrics: e.g. `spruce_budget`, `spry_circuit`. */
  name: string;
  /** Milliseconds until this could let the tenant's next call go (0 = now). No side effect. */
  readyIn(): number;
}

/** A limiter's forecast for live traffic (jobs are live unless marked bulk). */
export function slotGauge(name: string, forecast: SlotForecast, priority: Priority = 'live'): TenantGauge {
  return { name, readyIn: () => forecast.nextSlotIn(priority) };
}

/** A circuit breaker's time to its next probe. */
export function circuitGauge(name: string, breaker: { closedIn(): number }): TenantGauge {
  return { name, readyIn: () => breaker.closedIn() };
}

/** One gauge's reading, for /metrics. */
export interface GaugeReading {
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
  constructor(private readonly soonMs = 1_000) {}

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
    return [...this.gauges].flatMap(([tenantId, gauges]) => gauges.map((g) => ({ tenantId, gauge: g.name, readyInMs: g.readyIn() })));
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
