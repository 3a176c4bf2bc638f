// `spruce-sync setup`: registers our webhook endpoint with Spruce and our subscription with Spry
// when they are missing (a second run finds them and changes nothing), keeps the signing
// secrets they return in the database, and says how to put them into the config. Secrets are
// printed only with --show-secrets. It runs before the secrets exist: environment variables the
// config names for webhook secrets may still be unset.
import type { Command } from 'commander';
import { ConfigError, loadConfig } from '../config/load-config.ts';
import type { Config } from '../config/schema.ts';
import { systemClock } from '../clock.ts';
import { AdminError } from '../errors.ts';
import { runSetup, type SetupResult } from '../sync/setup.ts';
import { TenantAdmin } from '../tenants/tenant-admin.ts';
import { CliProblem, openTenant, runCli, type OpenTenant } from './backfill.ts';

const UNSET_SECRET = /^tenants\.(\d+)\.(spry|spruce)\.webhookSecrets\.\d+: environment variable ([A-Za-z_][A-Za-z0-9_]*) is not set$/;

/** Environment variables of webhook secrets that are not set yet, by tenant index and system. */
export interface PendingSecrets {
  names: Map<string, string>;
}

/** Loads the config, standing in for webhook-secret variables that setup is about to provide. */
export async function loadForSetup(file: string, pending: PendingSecrets): Promise<Config> {
  try {
    return await loadConfig(file);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    const unset = error.problems.map((p) => UNSET_SECRET.exec(p)).filter((m): m is RegExpExecArray => m !== null);
    // The empty value an unset variable leaves behind is reported too, under the same path.
    const paths = new Set(unset.map((m) => m[0].slice(0, m[0].indexOf(':'))));
    if (unset.length === 0 || error.problems.some((p) => !paths.has(p.slice(0, p.indexOf(':'))))) throw error;
    const env: Record<string, string | undefined> = { ...process.env };
    for (const match of unset) {
      env[match[3]!] = 'not-set-yet';
      pending.names.set(`${match[1]}.${match[2]}`, match[3]!);
    }
    return loadConfig(file, env);
  }
}

interface SetupCliOptions {
  config: string;
  tenant?: string;
  publicUrl?: string;
  showSecrets?: boolean;
  verbose?: boolean;
}

export function registerSetupCommand(program: Command): void {
  program
    .command('setup')
    .description('Register our webhooks with Spry and Spruce when missing, and keep the secrets they return in the database')
    .requiredOption('-c, --config <file>', 'the service config file')
    .option('-t, --tenant <id>', 'the tenant (needed when the config has several)')
    .option('--public-url <url>', 'how Spry and Spruce reach this service, https://… (default: server.publicUrl)')
    .option('--show-secrets', 'print the signing secrets (from this run, or stored by an earlier one)')
    .option('--verbose', 'log at the config level to stderr')
    .action((options: SetupCliOptions) =>
      runCli(async () => {
        const pending: PendingSecrets = { names: new Map() };
        const open = await openTenant(options.config, options.tenant, { verbose: options.verbose, load: (file) => loadForSetup(file, pending) });
        try {
          const publicUrl = options.publicUrl ?? open.config.server.publicUrl;
          if (!publicUrl) throw new CliProblem('--public-url is needed (or server.publicUrl in the config)');
          try {
            new URL(publicUrl);
          } catch {
            throw new CliProblem(`--public-url: ${publicUrl} is not a URL`);
          }
          const result = await runSetup(open.ctx, { publicUrl });
          const index = open.config.tenants.indexOf(open.tenant);
          const envName = (system: 'spry' | 'spruce') => pending.names.get(`${index}.${system}`) ?? `${system.toUpperCase()}_WEBHOOK_SECRET`;

          const { spry, spruce } = result;
          console.log(`Spry subscription ${spry.subscription.id}: ${spry.created ? 'created' : 'already registered'}${spry.subscription.is_active ? '' : ' (inactive)'} → ${result.urls.spry}`);
          if (spry.missingEventTypes.length > 0) console.log(`  it does not send ${spry.missingEventTypes.join(', ')}: add them in Spry`);
          console.log(`Spruce webhook endpoint ${spruce.endpoint.id}: ${spruce.created ? 'created' : 'already registered'} (${spruce.endpoint.status}) → ${result.urls.spruce}`);
          const where = `the database (kv setup.spry.signatureKey / setup.spruce.signingSecret of tenant ${open.tenant.id}${result.sealed ? ', sealed with the database encryption key' : ''})`;
          if (spry.created || spruce.created) console.log(`The signing secrets they returned are kept in ${where}.`);
          for (const [system, secret] of [['spry', result.secrets.spry], ['spruce', result.secrets.spruce]] as const) {
            if (!secret) {
              console.log(`The ${system} secret is not known here (registered elsewhere): rotate it in ${system === 'spry' ? 'Spry' : 'Spruce'} or remove the registration and run setup again.`);
            } else if (options.showSecrets) {
              console.log(`${envName(system)}=${secret}`);
            }
          }
          if (index === -1) {
            // A tenant of the directory (added through the API or `tenants add`): its secrets live
            // there, so setup puts the ones Spry and Spruce sign with in their place itself.
            const stored = await storeDirectorySecrets(open, result.secrets);
            if (stored.length > 0) {
              console.log(
                `Tenant ${open.tenant.id}'s webhook secrets in the tenant directory are now the ones ${stored.map((s) => (s === 'spry' ? 'Spry' : 'Spruce')).join(' and ')} sign with` +
                  ' (the ones given before are no longer accepted); running services pick them up within seconds.',
              );
            }
            // Not known here (registered elsewhere), or not writable from here: the operator's step.
            const left = (['spry', 'spruce'] as const).filter((system) => {
              const secret = result.secrets[system];
              return !secret || (!stored.includes(system) && open.tenant[system].webhookSecrets[0] !== secret);
            });
            if (left.length > 0) {
              console.log(
                `The service reads tenant ${open.tenant.id}'s webhook secrets from the tenant directory: when you have them, run\n` +
                  `  spruce-sync tenants update ${open.tenant.id} -c ${options.config} ${left.map((system) => `--${system}-webhook-secret <${system} secret>`).join(' ')}` +
                  `${!left.some((system) => result.secrets[system]) ? '' : options.showSecrets ? ' with the values above' : ' (run setup again with --show-secrets to print them)'}.`,
              );
            }
            return 0;
          }
          console.log(
            [
              'The service reads webhook secrets from its config: keep',
              `  tenants[${index}].spry.webhookSecrets: ["\${${envName('spry')}}"] and tenants[${index}].spruce.webhookSecrets: ["\${${envName('spruce')}}"]`,
              `and set those variables${options.showSecrets ? ' to the values above' : ' (run again with --show-secrets to print them)'}.`,
            ].join('\n'),
          );
          return 0;
        } finally {
          await open.close();
        }
      }),
    );
}

/**
 * Writes the signing secrets Spry and Spruce use into a directory tenant whose webhook secrets
 * differ (the placeholders given at `add`, typically), with no overlap: a delivery to our URL is
 * signed with these and nothing else. Answers the systems changed; a config-file tenant of the
 * service (not changeable here) changes nothing.
 */
async function storeDirectorySecrets(open: OpenTenant, secrets: SetupResult['secrets']): Promise<('spry' | 'spruce')[]> {
  const patch: Record<string, { webhookSecrets: string[] }> = {};
  for (const system of ['spry', 'spruce'] as const) {
    const secret = secrets[system];
    // Current already (a second run): nothing to do.
    if (secret && open.tenant[system].webhookSecrets[0] !== secret) patch[system] = { webhookSecrets: [secret] };
  }
  const systems = Object.keys(patch) as ('spry' | 'spruce')[];
  if (systems.length === 0) return [];
  try {
    await new TenantAdmin({ directory: open.store, clock: systemClock, actor: 'cli' }).update(open.tenant.id, patch, { overlapMinutes: 0 });
    return systems;
  } catch (error) {
    if (error instanceof AdminError && error.code === 'config_tenant') return [];
    throw error;
  }
}
