// What the operator functions share, whether the admin API, the CLI or the service calls them.
import type { Clock } from '../clock.ts';
import { AdminError } from '../errors.ts';
import type { Logger } from '../observe/logger.ts';
import type { PruneReport } from '../observe/retention.ts';
import type { GaugeReading } from '../queue/tenant-admission.ts';
import type { Store } from '../store/types.ts';
import type { TenantAdmin } from '../tenants/tenant-admin.ts';
import type { PauseControl } from './pause.ts';

export interface AdminContext {
  store: Store;
  clock: Clock;
  /** The running tenants (enabled or disabled), kept current by the tenant registry in the service. */
  tenantIds: readonly string[];
  /** The tenant directory's operations (the service's; absent in CLI contexts that do not need it). */
  tenantAdmin?: TenantAdmin;
  pauses: PauseControl;
  /**
   * What limits each running tenant's calls now (its budgets and circuits), as the workers'
   * claim gate reads it. Only a service with workers has it; absent in the CLI.
   */
  tenantLimits?: () => GaugeReading[];
  /** Wakes the workers after a replay or a resume (in the service; a no-op in the CLI). */
  onQueued?: (tenantId: string) => void;
  /** Operator actions are logged (ids and counts only). */
  logger?: Logger;
}

/** Epoch ms from `1700000000000` or an ISO 8601 time (`2024-05-01`, `2024-05-01T10:00:00Z`). */
export function parseTime(value: string | number | undefined, name: string): number | undefined {
  if (value === undefined || value === '') return undefined;
  if (typeof value === 'number') return value;
  if (/^\d{1,16}$/.test(value)) return Number(value);
  const parsed = /^\d{4}-\d{2}-\d{2}/.test(value) ? Date.parse(value) : NaN;
  if (Number.isNaN(parsed)) {
    throw new AdminError('bad_request', `${name}: expected an ISO 8601 time or epoch milliseconds`);
  }
  return parsed;
}

export function requireTenant(ctx: AdminContext, tenantId: string): void {
  if (!ctx.tenantIds.includes(tenantId)) throw new AdminError('unknown_tenant', `no tenant ${tenantId}`);
}

/** Long-running operations the service supplies (the CLI runs them itself). */
export interface AdminActions {
  /** Starts a backfill; answers what was started (ids, counts). Options come from the request body. */
  backfill?: (tenantId: string, options: Record<string, unknown>) => Promise<Record<string, unknown>>;
  reconcile?: (tenantId: string, options: Record<string, unknown>) => Promise<Record<string, unknown>>;
  /** Prunes old payloads now. */
  prune?: () => Promise<PruneReport>;
}
