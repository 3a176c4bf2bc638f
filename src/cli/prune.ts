// `spruce-sync prune`: retention now — removes payloads of processed events older than the
// configured age (dead letters and waiting events keep theirs) and reports what it did.
import type { Command } from 'commander';
import { systemClock } from '../clock.ts';
import { AdminError } from '../errors.ts';
import { pruneInbox } from '../observe/retention.ts';
import { isoTime, printJson, withAdmin } from './admin-context.ts';

export function registerPruneCommand(program: Command): void {
  program
    .command('prune')
    .description('Remove payloads of processed events older than retention.payloadDays (dead letters and queued events are kept)')
    .requiredOption('-c, --config <file>', 'the service config file')
    .option('--days <n>', 'override retention.payloadDays')
    .option('--json', 'print JSON')
    .action(async (options: { config: string; days?: string; json?: boolean }) => {
      await withAdmin(options.config, async (ctx) => {
        const days = options.days === undefined ? ctx.config.retention.payloadDays : Number(options.days);
        if (!(days > 0)) throw new AdminError('bad_request', 'days: a positive number');
        const report = await pruneInbox(ctx.store, { clock: systemClock, payloadDays: days });
        if (options.json) return printJson(report);
        console.log(`pruned ${report.events} payloads (${report.bytes} bytes) of events received before ${isoTime(report.olderThan)} in ${report.durationMs} ms`);
      });
    });
}
