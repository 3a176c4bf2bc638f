// `spruce-sync audit search` (and `audit export`, audit-export.ts): the audit trail — which record in which system was read or
// changed, when, and which event caused it.
import type { Command } from 'commander';
import { AdminError } from '../errors.ts';
import { AUDIT_SYSTEMS, type AuditSystem } from '../store/types.ts';
import { cliInt, cliTime, isoTime, printJson, printTable, withAdmin } from './admin-context.ts';
import { registerAuditExportCommand } from './audit-export.ts';

interface AuditOptions {
  config: string;
  tenant?: string;
  system?: string;
  recordType?: string;
  record?: string;
  action?: string;
  event?: string;
  since?: string;
  until?: string;
  before?: string;
  limit: string;
  json?: boolean;
}

export function registerAuditCommand(program: Command): void {
  const audit = program.command('audit').description('The audit trail of every read and write of PHI, and of every change to a tenant');
  audit
    .command('search')
    .description('Search audit entries, newest first')
    .requiredOption('-c, --config <file>', 'the service config file')
    .option('--tenant <id>', 'tenant id')
    .option('--system <system>', 'spry, spruce, or spruce-sync (changes to tenants)')
    .option('--record-type <type>', 'patient, contact, link, communication, tenant, …')
    .option('--record <id>', 'record id: Spry patient id, Spruce contact id, …')
    .option('--action <action>', 'read, create, update, delete, link, unlink, skip, add, rotate-secret, disable, enable, remove, purge, …')
    .option('--event <id>', 'the inbound event that caused it')
    .option('--since <time>', '30m, 2h, 7d, ISO 8601 or epoch ms')
    .option('--until <time>', 'before this time')
    .option('--before <id>', 'page: entries older than this id')
    .option('--limit <n>', 'at most this many (≤ 500)', '100')
    .option('--json', 'print JSON')
    .action(async (options: AuditOptions) => {
      await withAdmin(options.config, async (ctx) => {
        const system = options.system as AuditSystem | undefined;
        if (system !== undefined && !AUDIT_SYSTEMS.includes(system)) throw new AdminError('bad_request', `system: one of ${AUDIT_SYSTEMS.join(', ')}`);
        const limit = Math.min(500, cliInt(options.limit, 'limit') ?? 100);
        const rows = await ctx.store.searchAuditRecords({
          tenantId: options.tenant,
          system,
          recordType: options.recordType,
          recordIds: options.record === undefined ? undefined : [options.record],
          action: options.action,
          eventId: cliInt(options.event, 'event'),
          since: cliTime(options.since, 'since'),
          until: cliTime(options.until, 'until'),
          beforeId: cliInt(options.before, 'before'),
          limit: limit + 1,
        });
        const entries = rows.slice(0, limit);
        const nextBefore = rows.length > limit ? entries.at(-1)!.id : null;
        if (options.json) return printJson({ entries, nextBefore });
        printTable(
          ['id', 'at', 'tenant', 'system', 'record', 'action', 'event', 'detail'],
          entries.map((a) => [a.id, isoTime(a.at), a.tenantId, a.system, `${a.recordType} ${a.recordId}`, a.action, a.eventId, a.detail ? JSON.stringify(a.detail) : '']),
        );
        if (nextBefore) console.log(`more: --before ${nextBefore}`);
      });
    });
  registerAuditExportCommand(audit);
}
