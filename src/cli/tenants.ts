// `spruce-sync tenants add|list|show|update|disable|enable|remove`: the tenant directory from the
// command line. `add` takes the fields of a config tenant from a YAML (or JSON) file, from flags,
// or both (flags win). Acts on the service's database; running instances pick the change up
// within a couple of seconds, with no restart.
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { parse } from 'yaml';
import { systemClock } from '../clock.ts';
import { openConfiguredStore } from '../config/database.ts';
import { AdminError } from '../errors.ts';
import { mergePatch } from '../tenants/definition.ts';
import { TenantAdmin, type TenantView } from '../tenants/tenant-admin.ts';
import { cliInt, isoTime, printJson, printTable, withConfiguredStore } from './admin-context.ts';

interface FieldFlags {
  file?: string;
  id?: string;
  spryBaseUrl?: string;
  spryClientId?: string;
  spryClientSecret?: string;
  spryOrganisationId?: string;
  spryWebhookSecret?: string[];
  spryChartUrl?: string;
  spruceBaseUrl?: string;
  spruceAccessId?: string;
  spruceSecretKey?: string;
  spruceWebhookSecret?: string[];
}

type Common = { config: string; json?: boolean };

function withTenants(configFile: string, fn: (admin: TenantAdmin) => Promise<void>): Promise<void> {
  return withConfiguredStore(configFile, (config) => openConfiguredStore(config.database), (store) => fn(new TenantAdmin({ directory: store, clock: systemClock, actor: 'cli' })));
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

function withFieldFlags(command: Command): Command {
  return command
    .option('-f, --file <file>', 'a YAML or JSON file with the fields of a config tenant')
    .option('--spry-base-url <url>')
    .option('--spry-client-id <id>')
    .option('--spry-client-secret <secret>')
    .option('--spry-organisation-id <n>')
    .option('--spry-webhook-secret <secret>', 'repeat for several', collect)
    .option('--spry-chart-url <url>', 'must contain {patientId}')
    .option('--spruce-base-url <url>')
    .option('--spruce-access-id <id>')
    .option('--spruce-secret-key <secret>')
    .option('--spruce-webhook-secret <secret>', 'repeat for several', collect);
}

/** The fields given: the file's, with the flags' on top. */
async function fields(flags: FieldFlags): Promise<Record<string, unknown>> {
  let fromFile: unknown = {};
  if (flags.file) {
    try {
      fromFile = parse(await readFile(flags.file, 'utf8')) ?? {};
    } catch (error) {
      throw new AdminError('bad_request', `${flags.file}: cannot be read as YAML or JSON (${(error as NodeJS.ErrnoException).code ?? 'syntax error'})`);
    }
  }
  const spry = defined({
    baseUrl: flags.spryBaseUrl,
    clientId: flags.spryClientId,
    clientSecret: flags.spryClientSecret,
    organisationId: cliInt(flags.spryOrganisationId, '--spry-organisation-id'),
    webhookSecrets: flags.spryWebhookSecret,
    chartUrl: flags.spryChartUrl,
  });
  const spruce = defined({ baseUrl: flags.spruceBaseUrl, accessId: flags.spruceAccessId, secretKey: flags.spruceSecretKey, webhookSecrets: flags.spruceWebhookSecret });
  const fromFlags = defined({ id: flags.id, spry: Object.keys(spry).length ? spry : undefined, spruce: Object.keys(spruce).length ? spruce : undefined });
  return mergePatch(fromFile, fromFlags) as Record<string, unknown>;
}

function defined(values: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(values).filter(([, v]) => v !== undefined));
}

function print(tenant: TenantView, json: boolean | undefined, warnings: string[] = []): void {
  if (json) return printJson(warnings.length ? { tenant, warnings } : { tenant });
  printTable(
    ['field', 'value'],
    [
      ['id', tenant.id],
      ['source', tenant.source],
      ['status', tenant.removedAt === null ? tenant.status : `removed ${isoTime(tenant.removedAt)}`],
      ['updated', isoTime(tenant.updatedAt)],
      ['definition', JSON.stringify(tenant.definition)],
    ],
  );
  for (const warning of warnings) console.error(`warning: ${warning}`);
}

export function registerTenantsCommand(program: Command): void {
  const tenants = program.command('tenants').description('Clinics served by this deployment: add, change, disable, enable, remove (no restart needed)');
  const configured = (command: Command) => command.requiredOption('-c, --config <file>', 'the service config file').option('--json', 'print JSON');

  withFieldFlags(configured(tenants.command('add').description('Add a tenant: the fields of a config tenant, from --file and/or flags')))
    .option('--id <id>', 'a-z, 0-9 and -')
    .action(async (o: Common & FieldFlags) => {
      await withTenants(o.config, async (admin) => {
        const added = await admin.add(await fields(o));
        print(added.tenant, o.json, added.warnings);
        if (!o.json) console.log(`next: spruce-sync doctor --tenant ${added.tenant.id}, then setup, then backfill --dry-run (docs/operating.md)`);
      });
    });

  configured(tenants.command('list').description('Every tenant, its source and status'))
    .option('--all', 'include removed tenants')
    .action(async (o: Common & { all?: boolean }) => {
      await withTenants(o.config, async (admin) => {
        const all = await admin.list({ includeRemoved: o.all });
        if (o.json) return printJson({ tenants: all });
        printTable(
          ['id', 'source', 'status', 'updated'],
          all.map((t) => [t.id, t.source, t.removedAt === null ? t.status : 'removed', isoTime(t.updatedAt)]),
        );
      });
    });

  configured(tenants.command('show <tenant>').description("A tenant's definition (secrets are never shown)")).action(async (id: string, o: Common) => {
    await withTenants(o.config, async (admin) => print(await admin.show(id), o.json));
  });

  withFieldFlags(configured(tenants.command('update <tenant>').description('Change a tenant added through the API or CLI (objects merge, lists replace)')))
    .option('--overlap-minutes <n>', 'how long a replaced webhook secret stays valid (default 1440)')
    .action(async (id: string, o: Common & FieldFlags & { overlapMinutes?: string }) => {
      await withTenants(o.config, async (admin) => {
        const changed = await admin.update(id, await fields(o), { overlapMinutes: cliInt(o.overlapMinutes, '--overlap-minutes') });
        print(changed.tenant, o.json);
      });
    });

  for (const [action, status] of [
    ['disable', 'disabled'],
    ['enable', 'enabled'],
  ] as const) {
    configured(
      tenants
        .command(`${action} <tenant>`)
        .description(action === 'disable' ? 'Disable: webhooks are still accepted and stored; nothing is sent out' : 'Enable: waiting jobs run again'),
    ).action(async (id: string, o: Common) => {
      await withTenants(o.config, async (admin) => print(await admin.setStatus(id, status), o.json));
    });
  }

  configured(tenants.command('remove <tenant>').description("Remove: webhooks get 404; PHI is purged after the retention period; the audit trail stays")).action(
    async (id: string, o: Common) => {
      await withTenants(o.config, async (admin) => print(await admin.remove(id), o.json));
    },
  );
}
