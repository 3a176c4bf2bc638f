// `spruce-sync backfill`: gives every Spry patient of a tenant exactly one linked Spruce contact.
// A progress bar on a terminal, one plain line a second otherwise, a report at the end (ids and
// codes only). Ctrl-C stops after the patients in flight; run it again to resume.
//
// Also home of what the tenant commands (backfill, reconcile, setup) share: opening one
// tenant's context from the config, and progress output.
import cliProgress from 'cli-progress';
import type { Command } from 'commander';
import { pino } from 'pino';
import { systemClock } from '../clock.ts';
import { openConfiguredStore } from '../config/database.ts';
import { ConfigError, loadConfig } from '../config/load-config.ts';
import type { Config, TenantConfig } from '../config/schema.ts';
import { SyncError } from '../errors.ts';
import { failureLine } from './failure.ts';
import { unknownTenantMessage } from './tenant-lookup.ts';
import { createLogger } from '../observe/logger.ts';
import { directoryTenant } from '../tenants/definition.ts';
import { tenantContext } from '../service.ts';
import type { SpryPatientStatus } from '../spry/types.ts';
import type { Store } from '../store/types.ts';
import { runBackfill, type BackfillProgress } from '../sync/backfill.ts';
import { formatBackfillReport } from '../sync/backfill-report.ts';
import type { TenantContext } from '../sync/tenant-context.ts';

/** A config problem or a bad option (CLI_USAGE): printed as it is, exit code 1, no stack. */
export class CliProblem extends SyncError {
  constructor(message: string) {
    super('CLI_USAGE', message);
    this.name = 'CliProblem';
  }
}

export interface OpenTenant {
  config: Config;
  tenant: TenantConfig;
  store: Store;
  ctx: TenantContext;
  close(): Promise<void>;
}

/** Loads the config, picks the tenant (the only one when not named), opens the store and the clients. */
export async function openTenant(
  configFile: string,
  tenantId: string | undefined,
  options: { verbose?: boolean; load?: (file: string) => Promise<Config> } = {},
): Promise<OpenTenant> {
  let config: Config;
  try {
    config = await (options.load ?? loadConfig)(configFile);
  } catch (error) {
    if (error instanceof ConfigError) throw new CliProblem(error.message);
    throw error;
  }
  const store = await openConfiguredStore(config.database);
  // A tenant of the config file, or one added through the admin API or `tenants add`.
  const tenant = tenantId
    ? (config.tenants.find((t) => t.id === tenantId) ?? (await directoryTenant(store, tenantId, systemClock.now()).catch(() => null)))
    : config.tenants.length === 1
      ? config.tenants[0]
      : undefined;
  if (!tenant) {
    const added = await store.listTenantSummaries().then(
      (rows) => rows.filter((t) => t.removedAt === null).map((t) => t.id),
      () => [],
    );
    await store.close();
    const known = [...new Set([...config.tenants.map((t) => t.id), ...added])];
    throw new CliProblem(tenantId ? unknownTenantMessage(tenantId, known) : `--tenant is needed (tenants: ${known.join(', ')})`);
  }
  // Logs go to stderr, and only warnings unless asked: stdout is for progress and the report.
  const logger = createLogger({ level: options.verbose ? config.log.level : 'error', destination: pino.destination(2) });
  const ctx = tenantContext(tenant, { store, clock: systemClock, logger });
  return {
    config,
    tenant,
    store,
    ctx,
    async close() {
      await Promise.allSettled([(ctx.spry as { close?: () => Promise<void> }).close?.(), (ctx.spruce as { close?: () => Promise<void> }).close?.()]);
      await store.close();
    },
  };
}

/** Runs a command body: a CliProblem is a message and exit code 1; anything else a code, never PHI. */
export async function runCli(fn: () => Promise<number | void>): Promise<void> {
  try {
    const code = await fn();
    if (typeof code === 'number') process.exitCode = code;
  } catch (error) {
    if (error instanceof CliProblem) console.error(error.message);
    else console.error(failureLine(error));
    process.exitCode = 1;
  }
}

/** Ctrl-C (or SIGTERM) aborts the returned signal once; a second one exits at once. */
export function stopSignal(): { signal: AbortSignal; dispose(): void } {
  const controller = new AbortController();
  const onSignal = (name: string) => {
    if (controller.signal.aborted) process.exit(130);
    console.error(`${name}: finishing the patients in flight, then stopping (again to quit now)`);
    controller.abort(new Error(name));
  };
  const onInt = () => onSignal('SIGINT');
  const onTerm = () => onSignal('SIGTERM');
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onTerm);
  return {
    signal: controller.signal,
    dispose() {
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
    },
  };
}

export interface ProgressView {
  update(done: number, total: number, detail: Record<string, string | number>): void;
  stop(): void;
}

/**
 * A bar on a terminal (done/total, rate, ETA and the given details); elsewhere (logs, CI, a
 * parent process) a plain line at most once a second, and always the last one.
 */
export function progressView(label: string, stream: NodeJS.WriteStream = process.stderr): ProgressView {
  const startedAt = Date.now();
  let doneAtStart: number | undefined;
  const rateOf = (done: number) => {
    doneAtStart ??= done;
    const seconds = (Date.now() - startedAt) / 1000;
    return seconds > 0 ? (done - doneAtStart) / seconds : 0;
  };
  if (stream.isTTY) {
    const bar = new cliProgress.SingleBar(
      {
        format: `${label} [{bar}] {value}/{total} {percentage}% | {rate}/s | ETA {eta_formatted} | {detail}`,
        stream,
        etaBuffer: 200,
        fps: 5,
        hideCursor: true,
      },
      cliProgress.Presets.shades_classic,
    );
    let started = false;
    return {
      update(done, total, detail) {
        const payload = { rate: rateOf(done).toFixed(1), detail: describe(detail) };
        if (!started) {
          bar.start(total, done, payload);
          started = true;
        } else {
          bar.setTotal(total);
          bar.update(done, payload);
        }
      },
      stop: () => bar.stop(),
    };
  }
  let lastLine = 0;
  let pending: (() => void) | undefined;
  return {
    update(done, total, detail) {
      const print = () => {
        const rate = rateOf(done);
        const eta = rate > 0 ? `${Math.ceil((total - done) / rate)}s` : '-';
        console.log(`${label}: ${done}/${total} (${total ? Math.floor((done / total) * 100) : 100}%) ${rate.toFixed(1)}/s ETA ${eta} ${describe(detail)}`);
        lastLine = Date.now();
        pending = undefined;
      };
      if (Date.now() - lastLine >= 1000) print();
      else pending = print;
    },
    stop: () => pending?.(),
  };
}

function describe(detail: Record<string, string | number>): string {
  return Object.entries(detail)
    .map(([key, value]) => `${key}=${value}`)
    .join(' ');
}

const STATUSES: readonly SpryPatientStatus[] = ['ACTIVE', 'INACTIVE', 'ARCHIVED'];

export function parseStatuses(value: string | undefined): SpryPatientStatus[] | undefined {
  if (!value) return undefined;
  const list = value.split(',').map((s) => s.trim().toUpperCase()).filter(Boolean);
  const bad = list.filter((s) => !STATUSES.includes(s as SpryPatientStatus));
  if (bad.length > 0) throw new CliProblem(`--status: ${bad.join(', ')} is not one of ${STATUSES.join(', ')}`);
  return list as SpryPatientStatus[];
}

function positiveInt(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value) || Number(value) < 1) throw new CliProblem(`${name}: a whole number above 0`);
  return Number(value);
}

interface BackfillCliOptions {
  config: string;
  tenant?: string;
  dryRun?: boolean;
  status?: string;
  matchExisting?: boolean;
  restart?: boolean;
  concurrency?: string;
  json?: boolean;
  verbose?: boolean;
}

export function registerBackfillCommand(program: Command): void {
  program
    .command('backfill')
    .description('Give every Spry patient exactly one linked Spruce contact (resumable; --dry-run changes nothing)')
    .requiredOption('-c, --config <file>', 'the service config file')
    .option('-t, --tenant <id>', 'the tenant (needed when the config has several)')
    .option('--dry-run', 'change nothing; report what would be created, linked, updated')
    .option('--status <list>', 'only patients with these statuses, e.g. ACTIVE,INACTIVE')
    .option('--match-existing', 'link contacts without a Spry link by birth date plus phone or email (default: backfill.matchExisting)')
    .option('--no-match-existing', 'do not match contacts without a Spry link')
    .option('--restart', 'ignore the checkpoint of an unfinished run and start from the first patient')
    .option('--concurrency <n>', 'patients in flight at once (default: backfill.concurrency, else sized from the Spry budget)')
    .option('--json', 'print the final summary as JSON')
    .option('--verbose', 'log at the config level to stderr')
    .action((options: BackfillCliOptions) =>
      runCli(async () => {
        const statuses = parseStatuses(options.status);
        const concurrency = positiveInt(options.concurrency, '--concurrency');
        const open = await openTenant(options.config, options.tenant, { verbose: options.verbose });
        const stop = stopSignal();
        const view = progressView(options.dryRun ? 'backfill (dry run)' : 'backfill');
        try {
          const summary = await runBackfill(
            open.ctx,
            { dryRun: options.dryRun, statuses, matchExisting: options.matchExisting, restart: options.restart, concurrency, signal: stop.signal },
            (p: BackfillProgress) => view.update(p.done, p.total, progressDetail(p)),
          );
          view.stop();
          if (options.json) console.log(JSON.stringify(summary, null, 2));
          else for (const line of formatBackfillReport(summary)) console.log(line);
          if (summary.status === 'interrupted') {
            console.log('stopped: run the same command again to resume');
            return 130;
          }
          return summary.counts.failed > 0 ? 2 : 0;
        } finally {
          view.stop();
          stop.dispose();
          await open.close();
        }
      }),
    );
}

function progressDetail(p: BackfillProgress): Record<string, number> {
  const c = p.counts;
  return { created: c.created, linked: c.linked + c.matched, updated: c.updated, unchanged: c.unchanged, ambiguous: c.ambiguous, errors: c.failed };
}
