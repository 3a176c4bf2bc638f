// `npm run bench:burst [-- --deliveries 1000] [--via direct,proxy] [--no-write]`: a burst of
// simultaneous signed Spry webhooks (one edit each of N patients, fired in one loop, so the
// Spry simulator opens one connection per delivery) to one `spruce-sync start` instance on
// SQLite, either directly or through the scale-out benchmark's round-robin proxy
// (test/chaos/round-robin.ts). Counts the deliveries acknowledged on their first attempt and
// names what the others met (timeout, connection reset …), to find the hop that refuses a
// burst. The sync itself is not waited for. Appends its table to docs/BENCHMARKS.md.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort, registerSandboxWebhooks, SANDBOX_SPRY_ORG, startSandbox } from '../src/sandbox/environment.ts';
import { RoundRobinProxy } from '../test/chaos/round-robin.ts';
import { scriptArgs } from './lib/args.ts';
import { describeLoad, describeMachine } from './lib/machine.ts';
import { startOneInstance } from './lib/one-instance.ts';
import { appendSection, percentile } from './lib/report.ts';

const { option, flag } = scriptArgs();
const deliveries = Number(option('--deliveries') ?? 1_000);
const vias = (option('--via') ?? 'direct,proxy').split(',') as ('direct' | 'proxy')[];
/** The tenant's Spry ceiling: lifted by default (syncing runs flat out during the burst, as in the scale-out benchmark). */
const spryRates = (option('--spry-rate') ?? '100000').split(',').map(Number);
const write = !flag('--no-write');
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Result {
  via: string;
  firstOk: number;
  failures: Record<string, number>;
  p50: number;
  p99: number;
  max: number;
  allAnsweredMs: number;
}

async function measure(via: 'direct' | 'proxy', spryRate: number): Promise<Result> {
  const cleanup: (() => Promise<unknown>)[] = [];
  try {
    const sandbox = await startSandbox({ patients: deliveries, spruceRateLimitPerMinute: 0 });
    cleanup.push(() => sandbox.close());
    const port = await freePort();
    // One instance: the proxy always forwards to it (it is up before the burst).
    const proxy = new RoundRobinProxy(() => [port]);
    const publicUrl = via === 'proxy' ? await proxy.listen() : `http://127.0.0.1:${port}`;
    if (via === 'proxy') cleanup.push(() => proxy.close());
    const secrets = await registerSandboxWebhooks(sandbox, publicUrl);
    const dir = await mkdtemp(path.join(tmpdir(), 'spruce-sync-bench-burst-'));
    cleanup.push(() => rm(dir, { recursive: true, force: true }));
    const cluster = await startOneInstance(sandbox, { port, dir, database: { url: `sqlite:${path.join(dir, 'burst.db')}` }, secrets, spryRequestsPerSecond: spryRate });
    cleanup.push(() => cluster.stopAll());

    const { dispatcher } = sandbox.spry;
    dispatcher.attempts.length = 0;
    const ids = sandbox.spry.patientIds(SANDBOX_SPRY_ORG).slice(0, deliveries);
    const started = performance.now();
    for (const id of ids) sandbox.spry.staff.editPatient(SANDBOX_SPRY_ORG, id, { last_name: `Burst${id}` });
    // Every first attempt answered or failed (the sender's timeout is 10 s).
    while (dispatcher.attempts.filter((a) => a.attempt === 1).length < ids.length) {
      if (performance.now() - started > 60_000) throw new Error('first attempts still open after 60 s');
      await sleep(20);
    }
    const allAnsweredMs = performance.now() - started;
    const first = dispatcher.attempts.filter((a) => a.attempt === 1);
    const failures: Record<string, number> = {};
    for (const a of first) {
      if (a.status !== null && a.status >= 200 && a.status < 300) continue;
      const why = a.status !== null ? `HTTP ${a.status}` : (a.error ?? 'error');
      failures[why] = (failures[why] ?? 0) + 1;
    }
    const durations = first.map((a) => a.durationMs);
    return {
      via: `${via === 'proxy' ? 'through the round-robin proxy' : 'direct'}, Spry ceiling ${spryRate}/s`,
      firstOk: first.length - Object.values(failures).reduce((a, b) => a + b, 0),
      failures,
      p50: percentile(durations, 50),
      p99: percentile(durations, 99),
      max: Math.max(...durations),
      allAnsweredMs,
    };
  } finally {
    for (const step of cleanup.reverse()) await step().catch(() => {});
  }
}

const load = describeLoad();
const results: Result[] = [];
for (const via of vias) for (const spryRate of spryRates) {
  const result = await measure(via, spryRate);
  console.log(`${result.via}: ${result.firstOk}/${deliveries} acknowledged on the first attempt; failures ${JSON.stringify(result.failures)}; p99 ${result.p99} ms`);
  results.push(result);
}
const table = [
  '| path | acknowledged on the 1st attempt | failed 1st attempts (why) | 1st attempt p50 / p99 / max ms | all 1st attempts answered ms |',
  '| --- | ---: | --- | --- | ---: |',
  ...results.map(
    (r) =>
      `| ${r.via} | ${r.firstOk} / ${deliveries} | ${Object.entries(r.failures).map(([why, n]) => `${n} × ${why}`).join(', ') || '—'} | ${r.p50} / ${r.p99} / ${r.max} | ${Math.round(r.allAnsweredMs)} |`,
  ),
].join('\n');
const section = `
### Burst of ${deliveries} simultaneous webhooks — ${new Date().toISOString().replace(/\.\d+Z$/, 'Z')}

Machine: ${describeMachine()}. Load average (1/5/15 min) at the start: ${load}. Command: \`npm run bench:burst -- ${process.argv.slice(2).join(' ')}\`.

${deliveries} Spry patient edits fired in one loop; the Spry simulator (in the benchmark process, undici, one connection per delivery, 10 s timeout on the sandbox clock) sends each signed \`patient.updated\` to one \`spruce-sync start\` (SQLite, FULL), directly or through the round-robin proxy of the scale-out benchmark (in the benchmark process too).

${table}
`;
await appendSection(section, write);
