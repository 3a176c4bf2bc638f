// One `spruce-sync start` child process on the sandbox, as the standalone benchmarks start it:
// quiet logs, no schedules (nothing calls but the load), the tenant's Spry ceiling given.
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { sandboxConfig, type registerSandboxWebhooks, type Sandbox } from '../../src/sandbox/environment.ts';
import { Cluster } from '../../test/chaos/cluster.ts';

export async function startOneInstance(
  sandbox: Sandbox,
  options: {
    port: number;
    dir: string;
    database: { url: string; schema?: string; encryptionKey?: string };
    secrets: Awaited<ReturnType<typeof registerSandboxWebhooks>>;
    spryRequestsPerSecond: number;
  },
): Promise<Cluster> {
  const config = sandboxConfig(sandbox, {
    port: options.port,
    databaseUrl: options.database.url,
    secrets: options.secrets,
    config: { database: options.database, log: { level: 'warn' } },
    tenant: { schedules: { catchUpOnStart: false, catchUpEveryMinutes: 0, reconcileEveryMinutes: 0 } },
  }) as { tenants: { spry: Record<string, unknown> }[] };
  config.tenants[0]!.spry.requestsPerSecond = options.spryRequestsPerSecond;
  const configFile = path.join(options.dir, 'config.json');
  await writeFile(configFile, JSON.stringify(config));
  const cluster = new Cluster([{ port: options.port, configFile }]);
  await cluster.start(0);
  return cluster;
}
