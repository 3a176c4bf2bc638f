// `spruce-sync doctor`: checks, read-only, what we assume about Spry and Spruce against the live
// systems of each tenant, one line per check; exit code 1 when any check fails. It opens no
// database and writes to neither system; its output holds ids, counts and status codes only.
import type { Command } from 'commander';
import { ConfigError } from '../config/load-config.ts';
import type { Config } from '../config/schema.ts';
import { formatReport } from '../doctor/format.ts';
import { runDoctor } from '../doctor/run-doctor.ts';
import { CliProblem, runCli } from './backfill.ts';
import { printJson } from './admin-context.ts';
import { loadForSetup } from './setup.ts';

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
        if (options.tenant && !config.tenants.some((t) => t.id === options.tenant)) {
          throw new CliProblem(`no tenant ${options.tenant} in the config (tenants: ${config.tenants.map((t) => t.id).join(', ')})`);
        }
        const report = await runDoctor(config, { tenantIds: options.tenant ? [options.tenant] : undefined, publicUrl: options.publicUrl });
        if (options.json) printJson(report);
        else console.log(formatReport(report));
        return report.ok ? 0 : 1;
      }),
    );
}
