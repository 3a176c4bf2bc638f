// `spruce-sync events search`: the event log by business keys, newest first, with attempts.
import type { Command } from 'commander';
import { AdminError } from '../errors.ts';
import type { EventSource, EventStatus } from '../store/types.ts';
import { searchEventViews } from '../operations/event-views.ts';
import { cliInt, cliTime, isoTime, printJson, printTable, withAdmin } from './admin-context.ts';

interface SearchOptions {
  config: string;
  tenant?: string;
  source?: string;
  type?: string;
  status?: string;
  patient?: string;
  contact?: string;
  job?: string;
  since?: string;
  until?: string;
  before?: string;
  limit: string;
  json?: boolean;
}

const SOURCES = ['spry', 'spruce'];
const STATUSES = ['queued', 'processed', 'dead', 'ignored', 'test'];

function oneOf(value: string | undefined, allowed: string[], name: string): string | undefined {
  if (value !== undefined && !allowed.includes(value)) throw new AdminError('bad_request', `${name}: one of ${allowed.join(', ')}`);
  return value;
}

export function registerEventsCommand(program: Command): void {
  const events = program.command('events').description('The inbound event log');
  events
    .command('search')
    .description('Search events by tenant, Spry patient id, Spruce contact id, type, status and time (newest first)')
    .requiredOption('-c, --config <file>', 'the service config file')
    .option('--tenant <id>', 'tenant id')
    .option('--source <source>', 'spry or spruce')
    .option('--type <type>', 'event type, e.g. patient.updated')
    .option('--status <status>', STATUSES.join(', '))
    .option('--patient <id>', 'Spry patient id')
    .option('--contact <id>', 'Spruce contact id')
    .option('--job <key>', 'job key, e.g. spry-patient:74:123')
    .option('--since <time>', 'received since: 30m, 2h, 7d, ISO 8601 or epoch ms')
    .option('--until <time>', 'received before')
    .option('--before <id>', 'page: events older than this id')
    .option('--limit <n>', 'at most this many (≤ 200)', '50')
    .option('--json', 'print JSON')
    .action(async (options: SearchOptions) => {
      await withAdmin(options.config, async (ctx) => {
        const page = await searchEventViews(ctx, {
          tenantId: options.tenant,
          source: oneOf(options.source, SOURCES, 'source') as EventSource | undefined,
          type: options.type,
          status: oneOf(options.status, STATUSES, 'status') as EventStatus | undefined,
          patientId: cliInt(options.patient, 'patient'),
          contactId: options.contact,
          jobKey: options.job,
          since: cliTime(options.since, 'since'),
          until: cliTime(options.until, 'until'),
          beforeId: cliInt(options.before, 'before'),
          limit: cliInt(options.limit, 'limit') ?? 50,
        });
        if (options.json) return printJson(page);
        printTable(
          ['id', 'received', 'tenant', 'source', 'type', 'status', 'patient', 'contact', 'attempts', 'reason'],
          page.events.map((e) => {
            const last = e.attempts.at(-1);
            return [
              e.id,
              isoTime(e.receivedAt),
              e.tenantId,
              e.source,
              e.type,
              e.status,
              e.patientId,
              e.contactId,
              last ? `${e.attempts.length} last ${last.outcome}${last.errorCode ? ` ${last.errorCode}` : ''}${last.requestId ? ` (${last.requestId})` : ''}` : '-',
              e.reason,
            ];
          }),
        );
        if (page.nextBefore) console.log(`more: --before ${page.nextBefore}`);
      });
    });
}
