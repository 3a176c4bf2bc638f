// `spruce-sync status`: every tenant's health in one table, and the last retention run.
import type { Command } from 'commander';
import { lastPruneReport } from '../observe/retention.ts';
import { tenantHealth } from '../operations/health.ts';
import { pausedDirections } from '../operations/pause.ts';
import { isoTime, printJson, printTable, shortDuration, withAdmin } from './admin-context.ts';

export function registerStatusCommand(program: Command): void {
  program
    .command('status')
    .description('Health of every tenant: backlog, throughput, errors, dead letters, pause state')
    .requiredOption('-c, --config <file>', 'the service config file')
    .option('--json', 'print JSON')
    .action(async (options: { config: string; json?: boolean }) => {
      await withAdmin(options.config, async (ctx) => {
        const tenants = await Promise.all(ctx.tenantIds.map((id) => tenantHealth(ctx, id)));
        const retention = await lastPruneReport(ctx.store);
        if (options.json) {
          printJson({ tenants: tenants.map(({ activity: _activity, ...rest }) => rest), retention });
          return;
        }
        printTable(
          ['tenant', 'state', 'waiting', 'queued ev', 'oldest', 'proc/min', 'errors', 'dead', 'lag avg', 'backfill', 'reconcile'],
          tenants.map((t) => [
            t.tenantId,
            t.paused.all ? 'paused' : pausedDirections(t.paused).length > 0 ? `paused:${t.paused.directions.join(',')}` : 'running',
            t.queue.waitingJobs + t.queue.runningJobs,
            t.queue.queuedEvents,
            shortDuration(t.queue.oldestQueuedAgeMs),
            t.window.throughputPerMinute,
            t.window.errorRate === null ? '-' : `${(t.window.errorRate * 100).toFixed(1)}%`,
            t.queue.deadJobs,
            shortDuration(t.window.lagMsAvg),
            String(t.backfill?.status ?? (t.backfill ? 'yes' : '-')),
            String(t.reconcile?.status ?? (t.reconcile ? 'yes' : '-')),
          ]),
        );
        console.log(
          retention
            ? `retention: last run ${isoTime(retention.startedAt)} pruned ${retention.events} payloads (${retention.bytes} bytes), ${retention.attempts ?? 0} job attempts, ${retention.fanoutAttempts ?? 0} fan-out attempts${retention.audit ? `, archived ${retention.audit.archived} audit entries` : ''}`
            : 'retention: never run',
        );
      });
    });
}
