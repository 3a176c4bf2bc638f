// `spruce-sync prune`: retention now — removes payloads of processed events older than
// retention.payloadDays (dead letters and waiting events keep theirs), deletes job and fan-out
// delivery attempts older than retention.attemptDays, archives old audit rows when
// retention.auditArchiveAfterDays is set, and reports what it did.
import type { Command } from 'commander';
import { systemClock } from '../clock.ts';
import { openConfiguredFanoutStore } from '../config/database.ts';
import { AdminError } from '../errors.ts';
import { runRetention, retentionSettings, type PruneReport } from '../observe/retention.ts';
import { isoTime, printJson, withAdmin } from './admin-context.ts';

export function registerPruneCommand(program: Command): void {
  program
    .command('prune')
    .description(
      'Retention now: payloads of processed events past retention.payloadDays, job and fan-out attempts past retention.attemptDays, audit archiving when configured',
    )
    .requiredOption('-c, --config <file>', 'the service config file')
    .option('--days <n>', 'override retention.payloadDays and retention.attemptDays')
    .option('--json', 'print JSON')
    .action(async (options: { config: string; days?: string; json?: boolean }) => {
      await withAdmin(options.config, async (ctx) => {
        const days = options.days === undefined ? undefined : Number(options.days);
        if (days !== undefined && !(days > 0)) throw new AdminError('bad_request', 'days: a positive number');
        const fanout = await openConfiguredFanoutStore(ctx.config.database);
        let report: PruneReport;
        try {
          report = await runRetention(ctx.store, retentionSettings(ctx.config.retention, { clock: systemClock, fanout, days }));
        } finally {
          await fanout.close();
        }
        if (options.json) return printJson(report);
        for (const line of reportLines(report)) console.log(line);
      });
    });
}

function reportLines(report: PruneReport): string[] {
  const lines = [`pruned ${report.events} payloads (${report.bytes} bytes) of events received before ${isoTime(report.olderThan)} in ${report.durationMs} ms`];
  lines.push(`deleted ${report.attempts ?? 0} job attempts and ${report.fanoutAttempts ?? 0} fan-out attempts made before ${isoTime(report.attemptsOlderThan)}`);
  const audit = report.audit;
  if (!audit) lines.push('audit: kept (retention.auditArchiveAfterDays is not set)');
  else if (audit.file) lines.push(`audit: archived ${audit.archived} entries before ${isoTime(audit.beforeAt)} to ${audit.file}; deleted ${audit.deleted}`);
  else lines.push(`audit: nothing older than ${isoTime(audit.beforeAt)} to archive${audit.deleted > 0 ? `; finished deleting ${audit.deleted} archived entries` : ''}`);
  return lines;
}
