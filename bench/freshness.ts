// Scenario 2, freshness: how long a change made in Spry takes to be applied to the Spruce
// contact, at a steady 50 changes/s, with both simulators adding 50 ms to every API call.
// The service runs as its own process (`spruce-sync start`); the simulators and the clock
// that times the change live here. Latency = from the staff edit in Spry (the moment Spry
// emits its webhook) to the moment the Spruce simulator applied the PATCH that carried the
// new value (its contact.updated event time, on the same clock).
//
// Measured once per pool size on one warmed world (same database, same port: the service is
// restarted in between): by default the old default of 8 workers, then the service's default
// (no `workers.concurrency` in its config), then 8 and the default again, interleaved so that a
// burst of load from elsewhere on the shared machine does not land on one setting only.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { configSchema } from '../src/config/schema.ts';
import { freePort, registerSandboxWebhooks, SANDBOX_SPRY_ORG, sandboxConfig, startSandbox, type Sandbox } from '../src/sandbox/environment.ts';
import { FreshnessWatch } from './lib/freshness-watch.ts';
import { RssSampler, startServiceProcess, type ChildServer } from './lib/processes.ts';
import { num, percentile, type RunContext, type ScenarioReport } from './lib/report.ts';
import { sleep, until } from './lib/world.ts';

export interface FreshnessOptions {
  quick: boolean;
  ratePerSecond?: number;
  durationSeconds?: number;
  patients?: number;
  latencyMs?: number;
  /** Worker pool sizes to measure, in order; 0 = the service's default. Default [8, 0, 8, 0]. */
  concurrencies?: number[];
}

export interface FreshnessRun {
  concurrency: number;
  changes: number;
  applied: number;
  /** Changes overtaken by a later change of the same patient before they were applied. */
  superseded: number;
  /** Not applied within the drain window after the load. */
  lost: number;
  latencies: number[];
  p50: number;
  p90: number;
  p99: number;
  max: number;
  achievedRate: number;
  calls: { spry: number; spruce: number };
  errors: { spry: number; spruce: number; status429: number };
  /** From the service's job_attempts: how long one patient sync took, how busy the pool was. */
  jobs: { runs: number; p50Ms: number; p90Ms: number; meanBusyWorkers: number };
  rss: { restMiB: number; meanMiB: number; maxMiB: number; afterMiB: number };
}

export interface FreshnessResult {
  runs: FreshnessRun[];
  settings: { rate: number; durationSeconds: number; patients: number; latencyMs: number };
  report: ScenarioReport;
}

const DRAIN_MS = 30_000;

/** The service config for the sandbox: rate limits lifted, schedules off, quiet logs. */
function freshnessConfig(sandbox: Sandbox, port: number, databaseUrl: string, secrets: Awaited<ReturnType<typeof registerSandboxWebhooks>>, concurrency: number) {
  const config = sandboxConfig(sandbox, {
    port,
    databaseUrl,
    secrets,
    // 0: the service's own default, as a user who sets nothing runs it.
    config: { log: { level: 'warn' }, ...(concurrency > 0 ? { workers: { concurrency } } : {}) },
    tenant: { schedules: { catchUpOnStart: false, catchUpEveryMinutes: 0, reconcileEveryMinutes: 0 } },
  });
  const tenant = (config.tenants as Record<string, Record<string, unknown>>[])[0]!;
  // Lifted: our own Spry ceiling (default 5/s, sandbox 20/s) would be the bottleneck, not the sync.
  tenant.spry = { ...tenant.spry, requestsPerSecond: 10_000 };
  return config;
}

/** Patient sync runs in [from, to): their durations and the pool's mean occupancy. */
function jobStats(databaseFile: string, from: number, to: number): FreshnessRun['jobs'] {
  const db = new Database(databaseFile, { readonly: true, fileMustExist: true });
  try {
    const rows = db
      .prepare(`SELECT job_key AS key, started_at AS s, finished_at AS f FROM job_attempts WHERE started_at >= ? AND started_at < ?`)
      .all(from, to) as { key: string; s: number; f: number }[];
    const patient = rows.filter((r) => r.key.startsWith('spry-patient:')).map((r) => r.f - r.s);
    const busy = rows.reduce((sum, r) => sum + (Math.min(r.f, to) - r.s), 0);
    return { runs: patient.length, p50Ms: percentile(patient, 50), p90Ms: percentile(patient, 90), meanBusyWorkers: busy / Math.max(1, to - from) };
  } finally {
    db.close();
  }
}

export async function runFreshness(options: FreshnessOptions, context: Pick<RunContext, 'log'>): Promise<FreshnessResult> {
  const settings = {
    rate: options.ratePerSecond ?? 50,
    durationSeconds: options.durationSeconds ?? (options.quick ? 15 : 60),
    patients: options.patients ?? (options.quick ? 200 : 300),
    latencyMs: options.latencyMs ?? 50,
  };
  const concurrencies = options.concurrencies ?? (options.quick ? [8, 0] : [8, 0, 8, 0]);
  const log = context.log;

  // Spruce's budget lifted far above what 50 changes/s need (the sandbox default is 100/min).
  const sandbox = await startSandbox({ patients: settings.patients, spruceRateLimitPerMinute: 10_000_000, seed: 8 });
  const dir = await mkdtemp(path.join(tmpdir(), 'spruce-sync-bench-fresh-'));
  const databaseFile = path.join(dir, 'fresh.db');
  let service: ChildServer | undefined;
  try {
    const port = await freePort();
    const secrets = await registerSandboxWebhooks(sandbox, `http://127.0.0.1:${port}`);
    const start = (concurrency: number) => startServiceProcess(freshnessConfig(sandbox, port, `sqlite:${databaseFile}`, secrets, concurrency));
    service = await start(concurrencies[0]!);
    const { spry, spruce } = sandbox;
    const ids = spry.patientIds(SANDBOX_SPRY_ORG).slice(0, settings.patients);
    const contactIdOf = new Map<number, string>();

    // Warm-up without added latency: every patient gets its linked contact.
    const warmStart = Date.now();
    for (const id of ids) spry.staff.editPatient(SANDBOX_SPRY_ORG, id, { alias: 'freshness warm-up' });
    await until(
      () => {
        for (const contact of spruce.contacts()) {
          for (const link of contact.integrationLinks ?? []) {
            const match = /^spry:\d+:(\d+)$/.exec(link.externalId ?? '');
            if (match) contactIdOf.set(Number(match[1]), contact.id);
          }
        }
        return ids.every((id) => contactIdOf.has(id));
      },
      'every patient to have its contact',
      180_000,
      250,
    );
    // Let the echoes of the warm-up drain: no Spruce request for a second.
    for (let seen = -1; seen !== spruce.requestLog.length; ) {
      seen = spruce.requestLog.length;
      await sleep(1_000);
    }
    log(`freshness: ${ids.length} patients linked in ${Math.round((Date.now() - warmStart) / 1000)} s`);
    const fault = [{ latencyMs: settings.latencyMs }];
    spry.faults.setRouteFaults(fault);
    spruce.faults.setRouteFaults(fault);

    const runs: FreshnessRun[] = [];
    let seq = 0;
    for (const [index, concurrency] of concurrencies.entries()) {
      if (index > 0) {
        await service.stop();
        service = await start(concurrency);
        await sleep(1_000);
      }
      const run = await load(sandbox, service, { ...settings, ids, contactIdOf, concurrency, databaseFile, firstSeq: seq });
      seq += run.changes;
      runs.push(run);
      log(
        `freshness, ${workersLabel(concurrency)} workers: p50 ${run.p50} ms, p90 ${run.p90} ms, p99 ${run.p99} ms, max ${run.max} ms; applied ${run.applied}, superseded ${run.superseded}, ` +
          `not applied ${run.lost}; patient sync p50 ${run.jobs.p50Ms} ms, ${num(run.jobs.meanBusyWorkers)} workers busy on average`,
      );
    }
    return { runs, settings, report: freshnessReport(runs, settings) };
  } finally {
    await service?.stop().catch(() => {});
    await sandbox.close();
    await rm(dir, { recursive: true, force: true });
  }
}

async function load(
  sandbox: Sandbox,
  service: ChildServer,
  s: { rate: number; durationSeconds: number; ids: number[]; contactIdOf: Map<number, string>; concurrency: number; databaseFile: string; firstSeq: number },
): Promise<FreshnessRun> {
  const { spry, spruce } = sandbox;
  const restMiB = service.memory().rssMiB;
  const spryLogFrom = spry.requestLog.length;
  const spruceLogFrom = spruce.requestLog.length;

  // Watch Spruce's event log: every contact.updated carries the contact as it now stands.
  const watch = new FreshnessWatch(spruce, 'Fresh');

  const sampler = new RssSampler(service.pid, 100).start();
  const total = s.rate * s.durationSeconds;
  const intervalMs = 1000 / s.rate;
  const startedAt = sandbox.clock.now();
  const start = performance.now();
  for (let i = 0; i < total; i++) {
    const due = start + i * intervalMs;
    const wait = due - performance.now();
    if (wait > 1) await sleep(wait);
    const seq = s.firstSeq + i;
    const patientId = s.ids[seq % s.ids.length]!;
    const contactId = s.contactIdOf.get(patientId)!;
    const at = sandbox.clock.now();
    spry.staff.editPatient(SANDBOX_SPRY_ORG, patientId, { last_name: `Fresh${seq}` });
    watch.edited(contactId, seq, at);
  }
  const achievedRate = total / ((performance.now() - start) / 1000);
  const loadEndedAt = sandbox.clock.now();
  const drainUntil = Date.now() + DRAIN_MS;
  while (Date.now() < drainUntil && watch.waiting() > 0) await sleep(50);
  watch.stop();
  const { latencies, superseded } = watch;
  const rss = sampler.stop();
  await sleep(1_000);
  const afterMiB = service.memory().rssMiB;
  const spryLog = spry.requestLog.slice(spryLogFrom);
  const spruceLog = spruce.requestLog.slice(spruceLogFrom);
  return {
    concurrency: s.concurrency,
    changes: total,
    applied: latencies.length,
    superseded,
    lost: watch.waiting(),
    latencies,
    p50: percentile(latencies, 50),
    p90: percentile(latencies, 90),
    p99: percentile(latencies, 99),
    max: latencies.length ? Math.max(...latencies) : Number.NaN,
    achievedRate,
    calls: { spry: spryLog.length, spruce: spruceLog.length },
    errors: {
      spry: spryLog.filter((e) => e.status >= 400).length,
      spruce: spruceLog.filter((e) => e.status >= 400).length,
      status429: [...spryLog, ...spruceLog].filter((e) => e.status === 429).length,
    },
    jobs: jobStats(s.databaseFile, startedAt, loadEndedAt),
    rss: { restMiB, meanMiB: rss.meanMiB, maxMiB: rss.maxMiB, afterMiB },
  };
}

/** What the config schema fills in when `workers.concurrency` is not set. */
const DEFAULT_WORKERS = configSchema.shape.workers.parse(undefined).concurrency;

function workersLabel(concurrency: number): string {
  return concurrency > 0 ? String(concurrency) : `default (${DEFAULT_WORKERS})`;
}

function freshnessReport(runs: FreshnessRun[], s: FreshnessResult['settings']): ScenarioReport {
  const changes = runs[0]?.changes ?? 0;
  return {
    title: 'Freshness',
    setup: [
      `${s.rate} Spry patient edits per second for ${s.durationSeconds} s per row (${changes} changes, last name set to a new value each time), round robin over ` +
        `${s.patients} patients that already have their linked Spruce contact (each patient changes every ${num(s.patients / s.rate)} s). Both simulators add ` +
        `${s.latencyMs} ms to every API call (\`faults.setRouteFaults([{ latencyMs }])\`, OAuth included). Rate limits lifted, so that the sync and not a budget is ` +
        'measured: Spruce\'s simulated budget is 10,000,000 calls/min (sandbox default 100/min) and the tenant\'s Spry ceiling `spry.requestsPerSecond` is 10,000 ' +
        '(default 5). The service is `spruce-sync start` in its own process, defaults otherwise (SQLite synchronous=FULL, 100 ms coalescing window); ' +
        `pool sizes in the order measured: ${runs.map((r) => workersLabel(r.concurrency)).join(', ')} (restarted on the same database in between; "default" = ` +
        `no \`workers.concurrency\` in the config, i.e. ${DEFAULT_WORKERS}).`,
      'Latency: from the staff edit in the Spry simulator (which emits the signed webhook at once) to the moment the Spruce simulator applied the PATCH carrying ' +
        'that value (the time of its `contact.updated` event), both on the sandbox clock. It includes the webhook delivery, the durable inbox, the coalescing ' +
        `window (100 ms), the three Spry reads (in parallel, +${s.latencyMs} ms) and the PATCH (+${s.latencyMs} ms): about 200 ms is the floor by design. ` +
        'The last columns come from the service\'s own job log: how long one patient sync held a worker, and how many workers were busy on average during the load.',
    ],
    tables: [
      {
        columns: ['workers', 'changes', 'rate /s', 'applied', 'superseded', 'not applied', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms', 'Spry / Spruce calls', 'errors', 'sync run p50 / p90 ms', 'busy workers (mean)'],
        rows: runs.map((r) => [
          workersLabel(r.concurrency),
          r.changes,
          num(r.achievedRate),
          r.applied,
          r.superseded,
          r.lost,
          num(r.p50, 0),
          num(r.p90, 0),
          num(r.p99, 0),
          num(r.max, 0),
          `${r.calls.spry} / ${r.calls.spruce}`,
          r.errors.spry + r.errors.spruce,
          `${num(r.jobs.p50Ms, 0)} / ${num(r.jobs.p90Ms, 0)}`,
          num(r.jobs.meanBusyWorkers),
        ]),
      },
    ],
    notes: [
      ...runs.map(
        (r) =>
          `**${workersLabel(r.concurrency)} workers:** p50 ${num(r.p50, 0)} ms (target < 250 ms: ${r.p50 < 250 ? 'met' : 'NOT met'}); p99 ${num(r.p99, 0)} ms ` +
          `(target < 1 s: ${r.p99 < 1000 ? 'met' : 'NOT met'}); ${r.errors.status429} responses 429.`,
      ),
      '"Superseded": a later change of the same patient reached Spruce first, in the same PATCH (coalesced); its latency is not counted. ' +
        `"Not applied": still missing ${DRAIN_MS / 1000} s after the load ended.`,
    ],
  };
}
