// `spruce-sync audit export`: the audit trail as JSON lines, oldest first, read a page at a time
// (never the whole table) and written as it is read, to stdout or a new 0600 file.
import { createWriteStream } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Command } from 'commander';
import { AdminError } from '../errors.ts';
import { auditLine, auditRecords, syncPath } from '../observe/audit-archive.ts';
import { cliTime, withAdmin } from './admin-context.ts';

interface ExportOptions {
  config: string;
  since: string;
  until?: string;
  out?: string;
}

export function registerAuditExportCommand(audit: Command): void {
  audit
    .command('export')
    .description('Write audit entries in [since, until) as JSON lines, oldest first (ids, codes, times; no PHI)')
    .requiredOption('-c, --config <file>', 'the service config file')
    .requiredOption('--since <time>', '30m, 2h, 7d (that long ago), ISO 8601 or epoch ms')
    .option('--until <time>', 'before this time (default: now)')
    .option('--out <file>', 'write to this new file (mode 0600) instead of stdout')
    .action(async (options: ExportOptions) => {
      await withAdmin(options.config, async (ctx) => {
        const since = cliTime(options.since, 'since');
        const until = cliTime(options.until, 'until');
        if (since !== undefined && until !== undefined && until <= since) throw new AdminError('bad_request', 'until: must be after since');
        const lines = Readable.from(
          (async function* () {
            for await (const record of auditRecords(ctx.store, { since, until })) yield auditLine(record);
          })(),
        );
        if (options.out === undefined) {
          await pipeline(lines, process.stdout, { end: false });
          return;
        }
        // 'wx': never overwrite an earlier export.
        const out = createWriteStream(options.out, { flags: 'wx', mode: 0o600 });
        await pipeline(lines, out).catch((error: NodeJS.ErrnoException) => {
          if (error.code === 'EEXIST') throw new AdminError('bad_request', `out: ${options.out} exists already`);
          throw error;
        });
        await syncPath(options.out);
      });
    });
}
