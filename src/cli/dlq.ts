// `spruce-sync dlq list|replay`: dead letters, and their replay (one event, one job, or every
// one matching a filter and time window). Replaying is idempotent.
import type { Command } from 'commander';
import { AdminError } from '../errors.ts';
import { isDirection, type Direction } from '../operations/directions.ts';
import { listDeadLetters, replayDeadLetters, replayEvent, type DeadLetterFilter } from '../operations/replay.ts';
import { cliInt, cliTime, isoTime, printJson, printTable, withAdmin } from './admin-context.ts';

interface FilterOptions {
  config: string;
  tenant?: string;
  direction?: string;
  job?: string;
  errorCode?: string;
  since?: string;
  until?: string;
}

function toFilter(options: FilterOptions): DeadLetterFilter {
  if (options.direction !== undefined && !isDirection(options.direction)) {
    throw new AdminError('bad_request', 'direction: spry-to-spruce or spruce-to-spry');
  }
  return {
    tenantId: options.tenant,
    direction: options.direction as Direction | undefined,
    jobKey: options.job,
    errorCode: options.errorCode,
    since: cliTime(options.since, 'since'),
    until: cliTime(options.until, 'until'),
  };
}

function filterOptions(command: Command): Command {
  return command
    .requiredOption('-c, --config <file>', 'the service config file')
    .option('--tenant <id>', 'tenant id')
    .option('--direction <direction>', 'spry-to-spruce or spruce-to-spry')
    .option('--job <key>', 'one job key, e.g. spry-patient:74:123')
    .option('--error-code <code>', 'e.g. SPRUCE_REJECTED')
    .option('--since <time>', 'died since: 30m, 2h, 7d, ISO 8601 or epoch ms')
    .option('--until <time>', 'died before');
}

export function registerDlqCommand(program: Command): void {
  const dlq = program.command('dlq').description('Dead letters: jobs that failed for good');

  filterOptions(dlq.command('list').description('List dead letters, newest first'))
    .option('--limit <n>', 'at most this many (≤ 200)', '50')
    .option('--before <id>', 'page: older than this id')
    .option('--json', 'print JSON')
    .action(async (options: FilterOptions & { limit: string; before?: string; json?: boolean }) => {
      await withAdmin(options.config, async (ctx) => {
        const limit = Math.min(200, cliInt(options.limit, 'limit') ?? 50);
        const page = await listDeadLetters(ctx, toFilter(options), { limit, before: cliInt(options.before, 'before') });
        if (options.json) return printJson(page);
        printTable(
          ['id', 'died', 'tenant', 'direction', 'job', 'attempts', 'events', 'error'],
          page.deadLetters.map((d) => [d.id, isoTime(d.diedAt), d.tenantId, d.direction ?? d.task, d.key, `${d.attempts}/${d.maxAttempts}`, d.deadEvents, d.lastError]),
        );
        if (page.nextBefore) console.log(`more: --before ${page.nextBefore}`);
      });
    });

  filterOptions(dlq.command('replay').description('Replay one dead event (--event), or every dead letter matching the filters'))
    .option('--event <id>', 'replay the dead job of this event')
    .option('--all', 'allow a replay with no filter at all (every dead letter of every tenant)')
    .option('--max <n>', 'replay at most this many jobs', '1000')
    .option('--json', 'print JSON')
    .action(async (options: FilterOptions & { event?: string; all?: boolean; max: string; json?: boolean }) => {
      await withAdmin(options.config, async (ctx) => {
        const eventId = cliInt(options.event, 'event');
        if (eventId !== undefined) {
          const result = await replayEvent(ctx, eventId, 'cli');
          if (options.json) return printJson(result);
          console.log(result.replayed ? `event ${eventId}: job ${result.jobKey} replayed` : `event ${eventId}: nothing to replay (${result.status})`);
          return;
        }
        const filter = toFilter(options);
        if (!options.all && Object.values(filter).every((v) => v === undefined)) {
          throw new AdminError('bad_request', 'give a filter (--tenant, --direction, --job, --error-code, --since, --until), --event, or --all');
        }
        const result = await replayDeadLetters(ctx, filter, cliInt(options.max, 'max') ?? 1000, 'cli');
        if (options.json) return printJson(result);
        console.log(`replayed ${result.replayed} of ${result.matched} matching dead letters${result.truncated ? ' (--max reached: run again for the rest)' : ''}`);
      });
    });
}
