import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import { stringify } from 'yaml';
import { registerSandboxWebhooks, sandboxConfig, startSandbox } from '../sandbox/environment.ts';

interface SandboxCommandOptions {
  seed: string;
  patients: string;
  contacts: string;
  host: string;
  spryPort: string;
  sprucePort: string;
  spruceRateLimit: string;
  serviceUrl?: string;
  writeConfig: string;
}

export function registerSandboxCommand(program: Command): void {
  program
    .command('sandbox')
    .description('Start the Spry and Spruce simulators and print their URLs and credentials')
    .option('--seed <n>', 'seed for the fake data', '1')
    .option('--patients <n>', 'Spry patients to generate (up to 100000)', '200')
    .option('--contacts <n>', 'contacts already in the Spruce organization', '0')
    .option('--host <host>', 'interface to listen on', '127.0.0.1')
    .option('--spry-port <port>', 'Spry simulator port (0 = any free port)', '4010')
    .option('--spruce-port <port>', 'Spruce simulator port (0 = any free port)', '4020')
    .option('--spruce-rate-limit <n>', 'Spruce requests per minute per organization (0 = unlimited)', '100')
    .option('--service-url <url>', 'register webhooks for a spruce-sync at this URL and write its config')
    .option('--write-config <file>', 'where to write that config', 'data/sandbox-config.yaml')
    .action(async (options: SandboxCommandOptions) => {
      const sandbox = await startSandbox({
        seed: integer(options.seed, '--seed'),
        patients: integer(options.patients, '--patients'),
        spruceContacts: integer(options.contacts, '--contacts'),
        spruceRateLimitPerMinute: integer(options.spruceRateLimit, '--spruce-rate-limit'),
        host: options.host,
        spryPort: integer(options.spryPort, '--spry-port'),
        sprucePort: integer(options.sprucePort, '--spruce-port'),
      });
      const spry = sandbox.spry.credentials()[0]!;
      const spruce = sandbox.spruce.credentials()[0]!;
      console.log('Sandbox running (Ctrl-C to stop)\n');
      console.log(`Spry EMR     ${sandbox.spryUrl}`);
      console.log(`  OAuth client id / secret: ${spry.clientId} / ${spry.clientSecret}   organisation ${spry.organisationId}`);
      console.log(`  control API: ${sandbox.spryUrl}/_sandbox/   (docs/sandbox-spry.md)`);
      console.log(`Spruce API   ${sandbox.spruceUrl}`);
      console.log(`  access id / secret key: ${spruce.accessId} / ${spruce.secretKey}`);
      console.log(`  control API: ${sandbox.spruceUrl.replace(/\/v1$/, '')}/_sandbox/   (docs/sandbox-spruce.md)`);
      if (options.serviceUrl) {
        const url = new URL(options.serviceUrl);
        const secrets = await registerSandboxWebhooks(sandbox, url.origin);
        // A fresh token per config, so the dashboard is on (it is off without one) yet no two
        // sandboxes share a guessable password.
        const adminToken = randomBytes(24).toString('base64url');
        const config = sandboxConfig(sandbox, {
          port: Number(url.port || 80),
          databaseUrl: 'sqlite:./data/spruce-sync.db',
          secrets,
          config: { log: { level: 'info' }, admin: { token: adminToken } },
        });
        await mkdir(path.dirname(options.writeConfig), { recursive: true });
        await writeFile(options.writeConfig, stringify(config), { mode: 0o600 });
        console.log(`\nWebhooks registered for ${url.origin}`);
        console.log(`  Spry signature key:    ${secrets.spryWebhook}`);
        console.log(`  Spruce signing secret: ${secrets.spruceWebhook}`);
        console.log(`Config written to ${options.writeConfig}: npx spruce-sync start --config ${options.writeConfig}`);
        console.log(`Dashboard    ${url.origin}/admin   (admin token: ${adminToken}, also in the config)`);
      } else {
        console.log('\nWebhook secrets are issued when a receiver registers: pass --service-url to register one.');
      }
      const stop = async () => {
        await sandbox.close();
        process.exit(0);
      };
      process.on('SIGINT', () => void stop());
      process.on('SIGTERM', () => void stop());
    });
}

export function integer(value: string, flag: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 0) {
    console.error(`${flag} must be a whole number, got "${value}"`);
    process.exit(2);
  }
  return parsed;
}
