// A removed tenant's data goes after the retention period (retention.payloadDays after its
// removal): first its fan-out rows (subscriptions with their signing secrets, messages whose data
// may be PHI, deliveries, attempts), then its PHI in the main store, which marks it purged and
// writes the audit entry counting what went. In that order, so that a run interrupted between
// the two finds the tenant still due and finishes; the fan-out purge of a tenant already
// emptied deletes nothing. Its audit trail is kept. Runs on the leader, beside the pruning.
import type { Clock } from '../clock.ts';
import type { FanoutStore } from '../fanout/types.ts';
import type { Logger } from '../observe/logger.ts';
import type { TenantDirectory } from '../store/ports.ts';
import type { ScheduledTask } from '../sync/scheduler.ts';

const DAY_MS = 86_400_000;

export interface PurgeRemovedOptions {
  directory: Pick<TenantDirectory, 'listTenantSummaries' | 'purgeRemovedTenants'>;
  /** The fan-out store (same database, tables of its own); absent where no fan-out runs. */
  fanout?: Pick<FanoutStore, 'purgeTenant'>;
  clock: Clock;
  logger: Logger;
  /** retention.payloadDays: how long a removed tenant's data outlives its removal. */
  payloadDays: number;
}

/** Purges every tenant removed more than the retention period ago and not purged yet; returns their ids. */
export async function purgeRemovedTenants(options: PurgeRemovedOptions): Promise<string[]> {
  const { directory, fanout, clock, logger } = options;
  const now = clock.now();
  // Whole milliseconds: the cutoff goes to a bigint column on PostgreSQL.
  const removedBefore = Math.floor(now - options.payloadDays * DAY_MS);
  const due = (await directory.listTenantSummaries()).filter((t) => t.removedAt !== null && t.removedAt < removedBefore && t.purgedAt === null);
  if (due.length === 0) return [];
  const fanoutDeleted = new Map<string, Record<string, number>>();
  for (const { id } of fanout ? due : []) {
    const counts = await fanout!.purgeTenant(id);
    fanoutDeleted.set(id, {
      fanout_subscriptions: counts.subscriptions,
      fanout_messages: counts.messages,
      fanout_deliveries: counts.deliveries,
      fanout_attempts: counts.attempts,
    });
  }
  const purged = await directory.purgeRemovedTenants(removedBefore, now, fanoutDeleted);
  for (const tenantId of purged) logger.info({ tenantId }, 'removed tenant: PHI and fan-out data purged after the retention period; audit trail kept');
  return purged;
}

/** The scheduled duty (`tenants:purge-removed`): with the retention runs' period, at start too. */
export function purgeRemovedTenantsTask(options: PurgeRemovedOptions & { everyMinutes: number }): ScheduledTask {
  return {
    name: 'tenants:purge-removed',
    everyMs: (options.everyMinutes || 60) * 60_000,
    runOnStart: true,
    run: () => purgeRemovedTenants(options),
  };
}
