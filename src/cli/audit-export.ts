// `spruce-sync audit export`: the audit trail as JSON lines, oldest first, read a page at a time
// (never the whole table) and written as it is read, to stdout or a new 0600 file.
import { open } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Command } from 'commander';
import { auditLine, auditRecords } from '../observe/audit-archive.ts';
import { AdminError } from '../server/admin/context.ts';
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
        if (since !== undefined && until !== undefined && until <= since) throw new AdminError(400, 'bad_request', 'until: must be after since');
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
        const file = await open(options.out, 'wx', 0o600).catch((error: NodeJS.ErrnoException) => {
          throw new AdminError(400, 'bad_request', error.code === 'EEXIST' ? `out: ${options.out} exists already` : `out: cannot create ${options.out} (${error.code})`);
        });
        try {
          await pipeline(lines, file.createWriteStream({ autoClose: false }));
          await file.sync();
        } finally {
          await file.close();
        }
      });
    });
}
