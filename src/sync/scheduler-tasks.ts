// The service's recurring work per tenant, from its `schedules` config: catch-up on missed
// webhooks (at start and every few minutes) and reconciliation with repair (every hour by
// default, patients updated since the last run; only once a backfill has completed).
import type { Config } from '../config/schema.ts';
import { COMPLETED_KEY, isRunningElsewhere, loadSummary } from './backfill-checkpoint.ts';
import { catchUp } from './catch-up.ts';
import { runReconcile } from './reconcile.ts';
import type { ScheduledTask } from './scheduler.ts';
import type { TenantContext } from './tenant-context.ts';

export function tenantTasks(
  config: Config,
  contexts: ReadonlyMap<string, TenantContext>,
  options: { onQueued?: () => void } = {},
): ScheduledTask[] {
  const tasks: ScheduledTask[] = [];
  for (const tenant of config.tenants) {
    const ctx = contexts.get(tenant.id);
    if (!ctx) continue;
    const { catchUpOnStart, catchUpEveryMinutes, reconcileEveryMinutes } = tenant.schedules;
    if (catchUpOnStart || catchUpEveryMinutes > 0) {
      tasks.push({
        name: `catch-up:${tenant.id}`,
        runOnStart: catchUpOnStart,
        everyMs: catchUpEveryMinutes * 60_000,
        run: (signal) => catchUp(ctx, { publicUrl: config.server.publicUrl, maxAttempts: config.workers.maxAttempts, onQueued: options.onQueued, signal }),
      });
    }
    if (reconcileEveryMinutes > 0) {
      tasks.push({
        name: `reconcile:${tenant.id}`,
        everyMs: reconcileEveryMinutes * 60_000,
        run: async (signal) => {
          // Before the first backfill every patient would be "missing": the backfill brings them.
          const backfilled = await ctx.store.getState(tenant.id, COMPLETED_KEY);
          if (!backfilled || isRunningElsewhere(await loadSummary(ctx.store, tenant.id), ctx.clock.now())) {
            ctx.logger.info({ tenantId: tenant.id }, 'scheduled reconcile skipped: no completed backfill yet, or one is running');
            return;
          }
          const summary = await runReconcile(ctx, { fix: true, signal });
          if (summary.repairs.queued > 0) options.onQueued?.();
        },
      });
    }
  }
  return tasks;
}
