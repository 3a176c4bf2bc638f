// `npm run bench:backfill [-- --patients N] [--slice-seconds S] [--limited-only] [--compare-loan] [--no-write]`: time and peak
// memory (RSS) of backfilling N patients (default 100,000) into the sandbox, in two settings:
//   1. the sandbox's default Spruce rate limit (100 requests/min): far too slow to run in full
//      (tens of hours), so a fixed slice is measured and the full run projected from its
//      steady rate (the slice's first minute, with the pacer learning the budget, left out);
//   2. the limit lifted (and Spry's ceiling raised): run in full (left out with --limited-only).
// --compare-loan measures the limited slice twice more, interleaved: bulk kept off the whole
// live reserve (idleReserveForLive = 0.2, the old policy) and borrowing it while live traffic
// is quiet (the default), so the machine's noise lands on both.
// The simulators run in a child process; the backfill runs here, as `spruce-sync backfill`
// runs it (same function, SQLite store with the default synchronous=FULL). Appends the results
// to docs/BENCHMARKS.md.
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFile, mkdtemp, readFile, rm } from 'node:fs/promises';
import { cpus, loadavg, tmpdir, totalmem, type as osType, release } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { systemClock } from '../src/clock.ts';
import { parseConfig } from '../src/config/load-config.ts';
import { createLogger } from '../src/observe/logger.ts';
import { tenantContext } from '../src/service.ts';
import { runBackfill, type BackfillProgress } from '../src/sync/backfill.ts';
import type { BackfillSummary } from '../src/sync/backfill-report.ts';
import { scriptArgs } from './lib/args.ts';
import { openConfiguredStore } from '../src/config/database.ts';

const { option, flag, all: args } = scriptArgs();
const patients = Number(option('--patients') ?? 100_000);
const sliceSeconds = Number(option('--slice-seconds') ?? 240);
const limitedOnly = flag('--limited-only');
const compareLoan = flag('--compare-loan');
const write = !flag('--no-write');

interface SandboxInfo {
  pid: number;
  spryUrl: string;
  spruceUrl: string;
  spry: { organisationId: number; clientId: string; clientSecret: string };
  spruce: { accessId: string; secretKey: string };
}

async function startSandboxProcess(rateLimit: number): Promise<{ info: SandboxInfo; child: ChildProcess }> {
  const child = spawn(process.execPath, ['bin/run-ts.js', 'bench/backfill-sandbox.ts', String(patients), String(rateLimit)], { stdio: ['pipe', 'pipe', 'inherit'] });
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', resolve);
    child.once('exit', (code) => reject(new Error(`the sandbox exited (${code})`)));
  });
  return { info: JSON.parse(line) as SandboxInfo, child };
}

/** Peak resident memory of a process so far (Linux), in MB. */
async function peakRssOf(pid: number): Promise<number | null> {
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const kb = /VmHWM:\s+(\d+) kB/.exec(status)?.[1];
    return kb ? Number(kb) / 1024 : null;
  } catch {
    return null;
  }
}

interface Run {
  summary: BackfillSummary;
  seconds: number;
  /** Patients per second over the steady part (after the first minute) of a slice, or the whole run. */
  steadyPerSecond: number;
  peakRssMb: number;
  sandboxPeakRssMb: number | null;
  spruceCalls: number;
  /** Answers 429 (over the limit) from Spruce. */
  spruce429: number;
}

async function measure(rateLimit: number, spryRps: number, sliceMs?: number, sprucePacing?: { idleReserveForLive: number }): Promise<Run> {
  const { info, child } = await startSandboxProcess(rateLimit);
  const dir = await mkdtemp(path.join(tmpdir(), 'spruce-sync-bench-'));
  const databaseUrl = `sqlite:${path.join(dir, 'bench.db')}`;
  try {
    const config = parseConfig({
      database: { url: databaseUrl },
      log: { level: 'silent' },
      tenants: [
        {
          id: 'bench',
          spry: { baseUrl: info.spryUrl, ...info.spry, webhookSecrets: ['unused'], chartUrl: `${info.spryUrl}/patients/{patientId}`, requestsPerSecond: spryRps },
          spruce: { baseUrl: info.spruceUrl, ...info.spruce, webhookSecrets: ['unused'] },
        },
      ],
    });
    const store = await openConfiguredStore(config.database);
    let spruceCalls = 0;
    let spruce429 = 0;
    const ctx = tenantContext(config.tenants[0]!, {
      store,
      clock: systemClock,
      logger: createLogger({ level: 'silent' }),
      sprucePacing,
      onApiCall: (_tenant, call) => {
        if (call.system !== 'spruce') return;
        spruceCalls += 1;
        if (call.status === 429) spruce429 += 1;
      },
    });
    let peakRss = process.memoryUsage().rss;
    const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 100);
    const controller = new AbortController();
    const stopAt = sliceMs === undefined ? undefined : setTimeout(() => controller.abort(new Error('slice over')), sliceMs);
    const startedAt = Date.now();
    let steadyFrom: { at: number; done: number } | undefined;
    let lastShown = 0;
    const onProgress = (p: BackfillProgress) => {
      const now = Date.now();
      if (!steadyFrom && now - startedAt >= 60_000) steadyFrom = { at: now, done: p.doneHere };
      if (now - lastShown >= 10_000) {
        lastShown = now;
        console.error(`  ${p.doneHere}/${p.total} after ${((now - startedAt) / 1000).toFixed(0)} s`);
      }
    };
    const summary = await runBackfill(ctx, { signal: controller.signal }, onProgress);
    const seconds = (Date.now() - startedAt) / 1000;
    clearInterval(sampler);
    clearTimeout(stopAt);
    const steady = sliceMs !== undefined && steadyFrom ? (summary.doneHere - steadyFrom.done) / ((Date.now() - steadyFrom.at) / 1000) : summary.doneHere / seconds;
    const sandboxPeak = await peakRssOf(info.pid);
    await store.close();
    return { summary, seconds, steadyPerSecond: steady, peakRssMb: peakRss / 1e6, sandboxPeakRssMb: sandboxPeak, spruceCalls, spruce429 };
  } finally {
    child.stdin!.end();
    await new Promise((resolve) => child.once('exit', resolve));
    await rm(dir, { recursive: true, force: true });
  }
}

const hours = (s: number) => (s / 3600).toFixed(1);
const perMinute = (run: Run) => (run.steadyPerSecond * 60).toFixed(1);
console.error(`backfill benchmark: ${patients} patients`);
console.error(`1: default Spruce limit (100/min), a ${sliceSeconds} s slice`);
const limited = await measure(100, 5, sliceSeconds * 1000);
const projectedSeconds = patients / limited.steadyPerSecond;
const loanRuns: { policy: string; run: Run }[] = [];
if (compareLoan) {
  for (const [policy, idleReserveForLive] of [
    ['no loan (bulk always leaves 20 %)', 0.2],
    ['loan (the default)', 0.05],
  ] as const) {
    console.error(`compare: ${policy}, a ${sliceSeconds} s slice`);
    loanRuns.push({ policy, run: await measure(100, 5, sliceSeconds * 1000, { idleReserveForLive }) });
  }
}
let lifted: Run | undefined;
if (!limitedOnly) {
  console.error(`2: limit lifted, the whole run`);
  lifted = await measure(0, 2_000);
}

const cpu = cpus();
const lines = [
  '',
  `## Backfill of ${patients.toLocaleString('en-US')} patients (${new Date().toISOString().slice(0, 10)})`,
  '',
  `Machine: ${cpu.length} × ${cpu[0]?.model ?? 'CPU'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, ${osType()} ${release()}, Node ${process.version}; load average at the end ${loadavg().map((l) => l.toFixed(1)).join(' / ')}.`,
  `Command: \`npm run bench:backfill${args.length ? ` -- ${args.join(' ')}` : ''}\` (bench/backfill.ts). Simulators in a child process; the backfill`,
  'in the benchmark process (the function `spruce-sync backfill` runs), SQLite with synchronous=FULL, no pre-existing contacts, no live traffic.',
  '',
  '| setting | patients done | time | patients/s | Spruce calls (429s) | peak RSS backfill | peak RSS simulators |',
  '| --- | --- | --- | --- | --- | --- | --- |',
  `| default limit 100/min, Spry 5/s: **${sliceSeconds} s slice measured** | ${limited.summary.doneHere} | ${limited.seconds.toFixed(0)} s | ${limited.steadyPerSecond.toFixed(3)} (${perMinute(limited)}/min, steady: after the first minute) | ${limited.spruceCalls} (${limited.spruce429}) | ${limited.peakRssMb.toFixed(0)} MB | ${limited.sandboxPeakRssMb?.toFixed(0) ?? '?'} MB |`,
  `| default limit, **projected** for all ${patients.toLocaleString('en-US')} | — | **≈ ${hours(projectedSeconds)} h** | | | | |`,
  ...loanRuns.map(
    ({ policy, run }) =>
      `| default limit, ${policy}: ${sliceSeconds} s slice | ${run.summary.doneHere} | ${run.seconds.toFixed(0)} s | ${run.steadyPerSecond.toFixed(3)} (${perMinute(run)}/min steady) | ${run.spruceCalls} (${run.spruce429}) | ${run.peakRssMb.toFixed(0)} MB | ${run.sandboxPeakRssMb?.toFixed(0) ?? '?'} MB |`,
  ),
  ...(lifted
    ? [
        `| limit lifted, Spry 2,000/s: **run in full** | ${lifted.summary.done} (${lifted.summary.counts.created} created, ${lifted.summary.counts.failed} failed) | ${lifted.seconds.toFixed(0)} s | ${lifted.steadyPerSecond.toFixed(0)} | ${lifted.spruceCalls} (${lifted.spruce429}) | ${lifted.peakRssMb.toFixed(0)} MB | ${lifted.sandboxPeakRssMb?.toFixed(0) ?? '?'} MB |`,
      ]
    : []),
  '',
  `At the default limit the Spruce budget decides: a new contact costs two calls (create, integration link) plus one`,
  `search per page of ${100} patients. Bulk traffic leaves 20 of the 100 calls a minute to live traffic while live traffic is about,`,
  `and 5 while it is quiet (no live call asked for in the last minute): at most about 47 new patients a minute with no live traffic.`,
  '',
];
console.log(lines.join('\n'));
if (write) await appendFile('docs/BENCHMARKS.md', lines.join('\n'));
