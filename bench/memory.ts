// Scenario 5, memory: the resident set size of one service process (`spruce-sync start`,
// read from /proc/<pid>/status) at rest, and under the ingest and freshness loads (sampled
// every 100 ms by those scenarios, whose service also runs as a child process).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort, registerSandboxWebhooks, sandboxConfig, startSandbox } from '../src/sandbox/environment.ts';
import type { FreshnessResult } from './freshness.ts';
import type { IngestResult } from './ingest.ts';
import { RssSampler, startServiceProcess } from './lib/processes.ts';
import { num, type RunContext, type ScenarioReport } from './lib/report.ts';
import { sleep } from './lib/world.ts';

export interface RestMemory {
  seconds: number;
  patients: number;
  afterStartMiB: number;
  meanMiB: number;
  maxMiB: number;
}

/** A freshly started service with one sandbox tenant (default schedules), left alone. */
export async function measureRest(options: { quick: boolean }, context: Pick<RunContext, 'log'>): Promise<RestMemory> {
  const patients = 200;
  const seconds = options.quick ? 5 : 20;
  const sandbox = await startSandbox({ patients, spruceRateLimitPerMinute: 100_000 });
  const dir = await mkdtemp(path.join(tmpdir(), 'spruce-sync-bench-mem-'));
  try {
    const port = await freePort();
    const secrets = await registerSandboxWebhooks(sandbox, `http://127.0.0.1:${port}`);
    const config = sandboxConfig(sandbox, { port, databaseUrl: `sqlite:${path.join(dir, 'rest.db')}`, secrets, config: { log: { level: 'warn' } } });
    const service = await startServiceProcess(config);
    try {
      // Start-up work (migrations, catch-up on start) first; then nothing happens.
      await sleep(3_000);
      const afterStartMiB = service.memory().rssMiB;
      const sampler = new RssSampler(service.pid, 250).start();
      await sleep(seconds * 1000);
      const rss = sampler.stop();
      context.log(`memory at rest: ${num(rss.meanMiB)} MiB (max ${num(rss.maxMiB)})`);
      return { seconds, patients, afterStartMiB, meanMiB: rss.meanMiB, maxMiB: rss.maxMiB };
    } finally {
      await service.stop();
    }
  } finally {
    await sandbox.close();
    await rm(dir, { recursive: true, force: true });
  }
}

export function memoryReport(input: { rest: RestMemory; ingest?: IngestResult; freshness?: FreshnessResult }): ScenarioReport {
  const rows: (string | number)[][] = [
    [`at rest: started, then idle ${input.rest.seconds} s (sandbox tenant, ${input.rest.patients} patients, default schedules)`, num(input.rest.afterStartMiB), num(input.rest.meanMiB), num(input.rest.maxMiB), '—'],
  ];
  for (const run of input.ingest?.runs.filter((r) => r.target !== 'bare') ?? []) {
    rows.push([
      `ingest load, synchronous=${run.target} (${num(run.rps)} req/s, ${input.ingest!.connections} connections, ${input.ingest!.durationSeconds} s)`,
      num(run.rss.restMiB),
      num(run.rss.meanMiB),
      num(run.rss.maxMiB),
      '—',
    ]);
  }
  for (const f of input.freshness?.runs ?? []) {
    rows.push([
      `freshness load, ${f.concurrency} workers (${num(f.achievedRate)} changes/s, ${f.changes} changes, ${input.freshness!.settings.latencyMs} ms API latency)`,
      num(f.rss.restMiB),
      num(f.rss.meanMiB),
      num(f.rss.maxMiB),
      num(f.rss.afterMiB),
    ]);
  }
  const setup = [
    'Resident set size (VmRSS from /proc/<pid>/status) of one `spruce-sync start` process, sampled every 100–250 ms. "Before" is the process idle just before ' +
      'the load (for freshness: after its warm-up synced every patient). The service is a child process of the benchmark, so these are its own pages only.',
  ];
  if (!input.ingest || !input.freshness) setup.push('Run with the ingest and freshness scenarios (the default) to get the rows under load.');
  return {
    title: 'Memory',
    setup,
    tables: [{ columns: ['state', 'before MiB', 'mean MiB', 'max MiB', 'after load MiB'], rows }],
    notes: ['No target in issue #8 for these (backfill has its own: peak RSS < 250 MB for 100k patients, `npm run bench:backfill`).'],
  };
}
