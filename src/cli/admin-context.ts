// Shared by the operator commands (status, events, dlq, pause/resume, prune, audit): open the
// service's own store from its config, run, close, and print tables or JSON. They act on the
// same store as a running service, which notices within one poll interval.
import { systemClock } from '../clock.ts';
import { openConfiguredStore } from '../config/database.ts';
import { ConfigError, loadConfig } from '../config/load-config.ts';
import type { Config } from '../config/schema.ts';
import { AdminError } from '../errors.ts';
import { parseTime, type AdminContext } from '../operations/context.ts';
import { PauseControl } from '../operations/pause.ts';
import { failureLine } from './failure.ts';

export interface CliContext extends AdminContext {
  config: Config;
}

/** Opens the store named in the config, runs `fn`, closes; refusals become a message and exit code 1. */
export async function withAdmin(configFile: string, fn: (ctx: CliContext) => Promise<void>): Promise<void> {
  await withConfiguredStore(configFile, (config) => openConfiguredStore(config.database), async (store, config) => {
    // The config's tenants, and those added through the API or CLI (not removed).
    const added = (await store.listTenantSummaries()).filter((t) => t.removedAt === null).map((t) => t.id);
    const tenantIds = [...new Set([...config.tenants.map((t) => t.id), ...added])];
    await fn({ config, store, clock: systemClock, tenantIds, pauses: new PauseControl({ store, clock: systemClock, tenantIds }) });
  });
}

/**
 * Loads the config, opens a store from it, runs `fn`, closes. A wrong config prints every
 * problem; an AdminError prints its message; any other failure (a store that cannot be opened
 * or fails midway) prints one line with a code, never a driver's stack or message; each sets
 * exit code 1.
 */
export async function withConfiguredStore<S extends { close(): Promise<void> }>(
  configFile: string,
  open: (config: Config) => Promise<S>,
  fn: (store: S, config: Config) => Promise<void>,
): Promise<void> {
  let config: Config;
  try {
    config = await loadConfig(configFile);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    console.error(error.message);
    process.exitCode = 1;
    return;
  }
  let store: S;
  try {
    store = await open(config);
  } catch (error) {
    console.error(`cannot open the database: ${failureLine(error)}`);
    process.exitCode = 1;
    return;
  }
  try {
    await fn(store, config);
  } catch (error) {
    console.error(error instanceof AdminError ? error.message : failureLine(error));
    process.exitCode = 1;
  } finally {
    await store.close();
  }
}

const UNITS: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `30m`, `2h`, `7d` (that long ago), an ISO 8601 time, or epoch milliseconds. */
export function cliTime(value: string | undefined, name: string, now = Date.now()): number | undefined {
  const relative = value === undefined ? null : /^(\d+)([smhd])$/.exec(value);
  if (relative) return now - Number(relative[1]) * UNITS[relative[2]!]!;
  return parseTime(value, name);
}

export function cliInt(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value)) throw new AdminError('bad_request', `${name}: expected a whole number`);
  return Number(value);
}

/** Prints rows as aligned columns under upper-case headers. */
export function printTable(headers: string[], rows: (string | number | null | undefined)[][]): void {
  const cells = [headers.map((h) => h.toUpperCase()), ...rows.map((row) => row.map((c) => (c === null || c === undefined ? '-' : String(c))))];
  const widths = headers.map((_, i) => Math.max(...cells.map((row) => row[i]!.length)));
  for (const row of cells) console.log(row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ').trimEnd());
}

export function printJson(value: unknown): void {
  console.log(JSON.stringify(value, null, 2));
}

export function isoTime(ms: number | null | undefined): string {
  return ms === null || ms === undefined ? '-' : new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export function shortDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return '-';
  if (ms < 1_000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(ms / 1_000).toFixed(1)}s`;
  if (ms < 3_600_000) return `${(ms / 60_000).toFixed(1)}m`;
  return `${(ms / 3_600_000).toFixed(1)}h`;
}
