// `npm run bench:scale-out [-- --patients N] [--rounds R] [--setups 1,3] [--no-write]`: end-to-end throughput of Spry
// changes (edit in Spry → webhook → inbox → worker → Spry fetch → Spruce write, until Spruce
// shows it) with 1, 2 and 3 `spruce-sync start` processes on PostgreSQL against 1 on SQLite,
// in one run, on the sandbox with its rate limits lifted. Each configuration gets a fresh
// sandbox and database; a warm-up pass creates every contact, then one edit per patient (no
// coalescing possible) is timed until Spruce agrees. The setups take turns for `--rounds`
// rounds and the median counts, so a burst of load from elsewhere on the machine does not
// land on one setup only. Appends the table to docs/BENCHMARKS.md.
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import path from 'node:path';
import { freePort, registerSandboxWebhooks, sandboxConfig, SANDBOX_SPRY_ORG, startSandbox, type Sandbox } from '../src/sandbox/environment.ts';
import { spryExternalId } from '../src/sync/desired-contact.ts';
import type { DeliveryAttempt } from '../src/sandbox/webhook-dispatcher.ts';
import { Cluster } from '../test/chaos/cluster.ts';
import { adminQuery, dropSchema, findPostgres, uniqueSchema } from '../test/support/postgres.ts';
import { RoundRobinProxy } from '../test/chaos/round-robin.ts';
import { scriptArgs } from './lib/args.ts';
import { processCpuSeconds } from './lib/processes.ts';
import { appendSection } from './lib/report.ts';

const { option, flag } = scriptArgs();
const patients = Number(option('--patients') ?? 1_000);
const rounds = Number(option('--rounds') ?? 3);
const write = !flag('--no-write');

interface Setup {
  name: string;
  store: 'sqlite' | 'postgres';
  instances: number;
  /** SQLite only: FULL (the default: fsync per commit) or NORMAL. */
  synchronous?: 'FULL' | 'NORMAL';
}

interface Result extends Setup {
  seconds: number;
  perSecond: number;
  spryCalls: number;
  spruceCalls: number;
  /** Webhook deliveries of the timed pass that were not acknowledged, by what they met. */
  failedDeliveries: Record<string, number>;
  slowestAckMs: number;
  /** CPU milliseconds per change during the timed pass, by who spent them. */
  cpuMsPerChange: { instances: number; postgres: number; harness: number };
}

/** CPU seconds of every PostgreSQL server process on this machine (the server runs here too). */
function postgresCpuSeconds(): number {
  let total = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/comm`, 'utf8').trim() === 'postgres') total += processCpuSeconds(Number(entry));
    } catch {
      // The process ended between the listing and the read.
    }
  }
  return total;
}

/** CPU seconds so far of the instances, PostgreSQL and this process (simulators, proxy, sender). */
function cpuNow(cluster: Cluster): { instances: number; postgres: number; harness: number } {
  const usage = process.cpuUsage();
  return {
    instances: cluster.pids().reduce((sum, pid) => sum + processCpuSeconds(pid), 0),
    postgres: postgresCpuSeconds(),
    harness: (usage.user + usage.system) / 1e6,
  };
}

/** Counts unacknowledged delivery attempts by their status or error (the hop that refused them). */
function failureReasons(attempts: DeliveryAttempt[]): Record<string, number> {
  const reasons: Record<string, number> = {};
  for (const attempt of attempts) {
    if (attempt.status !== null && attempt.status < 300) continue;
    const reason = attempt.status === null ? (attempt.error ?? 'no answer') : `HTTP ${attempt.status}`;
    reasons[reason] = (reasons[reason] ?? 0) + 1;
  }
  return reasons;
}

const setups: Setup[] = [
  { name: 'SQLite (synchronous FULL, the default), 1 instance', store: 'sqlite', instances: 1, synchronous: 'FULL' },
  { name: 'SQLite (synchronous NORMAL), 1 instance', store: 'sqlite', instances: 1, synchronous: 'NORMAL' },
  { name: 'PostgreSQL, 1 instance', store: 'postgres', instances: 1 },
  { name: 'PostgreSQL, 2 instances', store: 'postgres', instances: 2 },
  { name: 'PostgreSQL, 3 instances', store: 'postgres', instances: 3 },
];

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Patients whose one linked contact does not yet carry `familyName(id)`. */
function behind(sandbox: Sandbox, ids: number[], familyName: (id: number) => string): number {
  const names = new Map<string, string[]>();
  for (const contact of sandbox.spruce.contacts()) {
    for (const link of contact.integrationLinks ?? []) names.set(link.externalId, [...(names.get(link.externalId) ?? []), contact.familyName ?? '']);
  }
  return ids.filter((id) => {
    const found = names.get(spryExternalId(SANDBOX_SPRY_ORG, id));
    return !found || found.length !== 1 || found[0] !== familyName(id);
  }).length;
}

async function untilSynced(sandbox: Sandbox, ids: number[], familyName: (id: number) => string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (behind(sandbox, ids, familyName) > 0) {
    if (Date.now() > deadline) throw new Error(`${behind(sandbox, ids, familyName)} patients not synced after ${timeoutMs} ms`);
    await sleep(50);
  }
}

async function measure(setup: Setup, pgUrl: string | null): Promise<Result> {
  const cleanup: (() => Promise<unknown>)[] = [];
  let cluster: Cluster | undefined;
  try {
    // Rate limits lifted: Spruce unlimited, Spry none in the simulator and a ceiling no run reaches.
    const sandbox = await startSandbox({ patients, spruceRateLimitPerMinute: 0 });
    cleanup.push(() => sandbox.close());
    const proxy = new RoundRobinProxy(() => cluster!.livePorts());
    const publicUrl = await proxy.listen();
    cleanup.push(() => proxy.close());
    const secrets = await registerSandboxWebhooks(sandbox, publicUrl);
    const dir = await mkdtemp(path.join(tmpdir(), 'spruce-sync-bench-'));
    cleanup.push(() => rm(dir, { recursive: true, force: true }));
    const schema = uniqueSchema('bench');
    const database =
      setup.store === 'postgres'
        ? { url: pgUrl!, schema, poolSize: 10, encryptionKey: randomBytes(32).toString('base64') }
        : { url: `sqlite:${path.join(dir, 'bench.db')}`, synchronous: setup.synchronous };
    if (setup.store === 'postgres') cleanup.push(() => dropSchema(pgUrl!, schema));
    const specs = [];
    for (let i = 0; i < setup.instances; i++) {
      const port = await freePort();
      const config = sandboxConfig(sandbox, {
        port,
        databaseUrl: database.url,
        secrets,
        config: { database, log: { level: 'warn' }, server: { host: '127.0.0.1', port, publicUrl } },
      }) as { tenants: { spry: Record<string, unknown> }[] };
      config.tenants[0]!.spry.requestsPerSecond = 100_000;
      const configFile = path.join(dir, `instance-${i}.json`);
      await writeFile(configFile, JSON.stringify(config));
      specs.push({ port, configFile });
    }
    cluster = new Cluster(specs);
    const running = cluster;
    cleanup.push(() => running.stopAll());
    await cluster.startAll();

    const ids = sandbox.spry.patientIds(SANDBOX_SPRY_ORG);
    for (const id of ids) sandbox.spry.staff.editPatient(SANDBOX_SPRY_ORG, id, { last_name: `Warm${id}` });
    await untilSynced(sandbox, ids, (id) => `Warm${id}`, 600_000);
    await sleep(1_000);

    const attemptsBefore = sandbox.spry.dispatcher.attempts.length;
    const spryBefore = sandbox.spry.requestLog.length;
    const spruceBefore = sandbox.spruce.requestLog.length;
    const cpuBefore = cpuNow(cluster);
    const started = performance.now();
    for (const id of ids) sandbox.spry.staff.editPatient(SANDBOX_SPRY_ORG, id, { last_name: `Timed${id}` });
    await untilSynced(sandbox, ids, (id) => `Timed${id}`, 600_000);
    const seconds = (performance.now() - started) / 1000;
    const cpuAfter = cpuNow(cluster);
    const perChange = (part: keyof typeof cpuAfter) => ((cpuAfter[part] - cpuBefore[part]) * 1000) / ids.length;
    const attempts = sandbox.spry.dispatcher.attempts.slice(attemptsBefore);
    return {
      failedDeliveries: failureReasons(attempts),
      cpuMsPerChange: { instances: perChange('instances'), postgres: setup.store === 'postgres' ? perChange('postgres') : 0, harness: perChange('harness') },
      slowestAckMs: Math.round(Math.max(0, ...attempts.map((a) => a.durationMs))),
      ...setup,
      seconds,
      perSecond: ids.length / seconds,
      spryCalls: sandbox.spry.requestLog.length - spryBefore,
      spruceCalls: sandbox.spruce.requestLog.length - spruceBefore,
    };
  } finally {
    for (const step of cleanup.reverse()) await step().catch(() => {});
  }
}

const pgUrl = await findPostgres();
if (!pgUrl) console.warn('PostgreSQL is not reachable: only the SQLite rows are measured (set SPRUCE_SYNC_TEST_PG_URL).');
// `--setups 1,3,4`: only these rows of the table (1-based), to look at one setup closely.
const chosen = option('--setups')?.split(',').map(Number);
const measured = setups.filter((setup, index) => (setup.store === 'sqlite' || pgUrl) && (!chosen || chosen.includes(index + 1)));
const runs = new Map<Setup, Result[]>(measured.map((setup) => [setup, []]));
const loadBefore = loadavg()[0]!;
for (let round = 1; round <= rounds; round++) {
  for (const setup of measured) {
    const result = await measure(setup, pgUrl);
    console.log(
      `round ${round}, ${setup.name}: ${result.perSecond.toFixed(1)} changes/s (${result.seconds.toFixed(1)} s; ${result.spryCalls} Spry + ${result.spruceCalls} Spruce calls; slowest acknowledgement ${result.slowestAckMs} ms; unacknowledged deliveries ${JSON.stringify(result.failedDeliveries)}; CPU ms per change: instances ${result.cpuMsPerChange.instances.toFixed(2)}, PostgreSQL ${result.cpuMsPerChange.postgres.toFixed(2)}, simulators+proxy ${result.cpuMsPerChange.harness.toFixed(2)})`,
    );
    runs.get(setup)!.push(result);
  }
}
const loadAfter = loadavg()[0]!;
/** The run with the median throughput. */
const median = (list: Result[]) => [...list].sort((a, b) => a.perSecond - b.perSecond)[Math.floor(list.length / 2)]!;
const results = measured.map((setup) => ({ ...median(runs.get(setup)!), all: runs.get(setup)!.map((r) => r.perSecond.toFixed(0)).join(' / ') }));

const pgVersion = pgUrl ? (await adminQuery<{ server_version: string }>(pgUrl, 'SHOW server_version'))[0]!.server_version : 'n/a';
const base = results[0]!.perSecond;
const table = [
  '| setup | Spry changes synced/s (median) | vs SQLite FULL | each round | Spry calls | Spruce calls | CPU ms per change: instances / PostgreSQL / simulators+proxy | unacknowledged deliveries |',
  '| --- | ---: | ---: | ---: | ---: | ---: | --- | --- |',
  ...results.map(
    (r) =>
      `| ${r.name} | ${r.perSecond.toFixed(1)} | ${(r.perSecond / base).toFixed(2)}× | ${r.all} | ${r.spryCalls} | ${r.spruceCalls} | ${r.cpuMsPerChange.instances.toFixed(2)} / ${r.cpuMsPerChange.postgres.toFixed(2)} / ${r.cpuMsPerChange.harness.toFixed(2)} | ${Object.entries(r.failedDeliveries).map(([k, v]) => `${k} ${v}`).join(', ') || '0'} |`,
  ),
].join('\n');
const cpu = cpus();
const section = `
## Scale-out: 1–3 instances on PostgreSQL vs 1 on SQLite

- Date: ${new Date().toISOString().slice(0, 10)}; command: \`npm run bench:scale-out -- --patients ${patients} --rounds ${rounds}\`
- Machine: ${cpu.length} × ${cpu[0]?.model.trim() ?? 'unknown CPU'}, ${Math.round(totalmem() / 2 ** 30)} GiB RAM; Node ${process.version}; PostgreSQL ${pgVersion} on the same machine; load average ${loadBefore.toFixed(1)} before, ${loadAfter.toFixed(1)} after
- Each instance is a \`spruce-sync start\` process (default workers, pool of 10) behind a round-robin proxy; the simulators, the proxy and PostgreSQL share the same cores.
- Setups take turns, ${rounds} rounds; the table shows the median round. One timed pass: one Spry edit per patient (${patients} patients, contacts already created by a warm-up pass), from the first edit until Spruce shows every one. Rate limits lifted (Spruce unlimited; Spry ceiling 100,000/s). On PostgreSQL every call still goes through the shared budget rows.

${table}
`;
await appendSection(section, write);
