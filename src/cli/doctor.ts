// `spruce-sync doctor`: checks, read-only, what we assume about Spry and Spruce against the live
// systems of each tenant, one line per check; exit code 1 when any check fails. It writes to
// neither system; its output holds ids, counts and status codes only. The config file's tenants
// need no database; for a tenant added through the admin API or `tenants add` it reads the tenant
// directory (and nothing else) from the configured database.
import type { Command } from 'commander';
import { systemClock } from '../clock.ts';
import { openConfiguredStore } from '../config/database.ts';
import { ConfigError } from '../config/load-config.ts';
import type { Config, TenantConfig } from '../config/schema.ts';
import { formatReport } from '../doctor/format.ts';
import { runDoctor } from '../doctor/run-doctor.ts';
import { CliProblem, runCli } from './backfill.ts';
import { printJson } from './admin-context.ts';
import { failureLine } from './failure.ts';
import { loadForSetup } from './setup.ts';
import { databaseMayHoldTenants, directoryTenants, unknownTenantMessage } from './tenant-lookup.ts';

interface DoctorCliOptions {
  config: string;
  tenant?: string;
  publicUrl?: string;
  json?: boolean;
}

export function registerDoctorCommand(program: Command): void {
  program
    .command('doctor')
    .description('Check, read-only, our assumptions about Spry and Spruce against the live systems (exit 1 when a check fails)')
    .requiredOption('-c, --config <file>', 'the service config file')
    .option('-t, --tenant <id>', 'only this tenant (default: every tenant)')
    .option('--public-url <url>', 'where Spry and Spruce should deliver webhooks (default: server.publicUrl)')
    .option('--json', 'print JSON')
    .action((options: DoctorCliOptions) =>
      runCli(async () => {
        let config: Config;
        try {
          // Like setup, it runs before the webhook secrets exist, and needs none of them.
          config = await loadForSetup(options.config, { names: new Map() });
        } catch (error) {
          if (error instanceof ConfigError) throw new CliProblem(error.message);
          throw error;
        }
        const inConfig = options.tenant !== undefined && config.tenants.some((t) => t.id === options.tenant);
        // A config tenant named: no database needed. Otherwise the directory's tenants count too.
        const added = inConfig ? [] : await addedTenants(config, options.tenant !== undefined);
        const tenants = [...config.tenants, ...added];
        if (options.tenant && !tenants.some((t) => t.id === options.tenant)) {
          throw new CliProblem(unknownTenantMessage(options.tenant, tenants.map((t) => t.id)));
        }
        if (tenants.length === 0) throw new CliProblem('no tenants to check: list them in the config or add one (spruce-sync tenants add)');
        const report = await runDoctor({ ...config, tenants }, { tenantIds: options.tenant ? [options.tenant] : undefined, publicUrl: options.publicUrl });
        if (options.json) printJson(report);
        else console.log(formatReport(report));
        return report.ok ? 0 : 1;
      }),
    );
}

/**
 * The tenants added through the admin API or the CLI. Unreadable directory: a refusal when a
 * tenant was named (it may be one of them), else a warning and the config's tenants alone.
 */
async function addedTenants(config: Config, named: boolean): Promise<TenantConfig[]> {
  if (!databaseMayHoldTenants(config.database.url)) return [];
  try {
    const store = await openConfiguredStore(config.database);
    try {
      const { tenants, skipped } = await directoryTenants(store, config.tenants, systemClock.now());
      for (const id of skipped) console.error(`warning: tenant ${id} in the tenant directory is not a valid tenant definition: skipped`);
      return tenants;
    } finally {
      await store.close();
    }
  } catch (error) {
    if (named) throw new CliProblem(`cannot read the tenant directory: ${failureLine(error)}`);
    console.error(`warning: cannot read the tenant directory (${failureLine(error)}): checking the config's tenants only`);
    return [];
  }
}
