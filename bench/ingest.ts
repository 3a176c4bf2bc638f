// Scenario 1, ingest: signed Spry webhooks over loopback (autocannon, fixed connections and
// duration) into the real service with its durable SQLite store, synchronous=FULL (fsync per
// group commit, before any acknowledgement) and NORMAL, against a bare Fastify route that only
// answers 200, in the same run. After each run of the service it is SIGKILLed and every
// acknowledged event id is looked up in the database file.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import autocannon, { type AutocannonResult } from 'autocannon';
import Database from 'better-sqlite3';
import { freePort } from '../src/sandbox/environment.ts';
import { metricSum } from './lib/metrics.ts';
import { RssSampler, startBareServer, startServiceProcess, type ChildServer } from './lib/processes.ts';
import { num, type RunContext, type ScenarioReport } from './lib/report.ts';
import { deliveryFactory, DeliveryPool } from './lib/spry-webhooks.ts';
import { cpuProfileArgs, monotonicMicros, writeProfileWindow } from './lib/cpu-profile.ts';

export const INGEST_TENANT = 'bench-pt';
const ORGANISATION_ID = 74;
const ADMIN_TOKEN = 'bench-admin-token-0123456789';
/** Distinct patients the events are about (their jobs absorb the events, as in production). */
const PATIENT_IDS = Array.from({ length: 1_000 }, (_, i) => 10_001 + i);

export interface IngestOptions {
  quick: boolean;
  connections?: number;
  durationSeconds?: number;
  warmupSeconds?: number;
  /** Rounds of (bare, FULL, NORMAL); default 1 in the short form, else 2. */
  rounds?: number;
}

export type IngestTarget = 'bare' | 'FULL' | 'NORMAL';

export interface IngestRun {
  target: IngestTarget;
  label: string;
  rps: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  ok: number;
  non2xx: number;
  errors: number;
  /** Service only: acknowledged event ids found in the database after a SIGKILL. */
  durable?: { acknowledged: number; found: number; missing: number; stored: number };
  /** Service only: outbound API calls the service made during the run (must be 0: workers held). */
  apiCalls?: number;
  /** CPU time the server process spent per answered request (µs): steadier than req/s on a shared machine. */
  cpuMicrosPerRequest: number;
  /** Of which in the kernel (system time: socket I/O, WAL writes, fsync), µs per request. */
  systemMicrosPerRequest: number;
  /** RSS of the server process before and during the load, MiB. */
  rss: { restMiB: number; meanMiB: number; maxMiB: number };
}

export interface IngestResult {
  runs: IngestRun[];
  connections: number;
  durationSeconds: number;
  report: ScenarioReport;
}

/** The config of a service whose only tenant is paused and has no schedules: ingest only. */
/**
 * `SPRUCE_SYNC_BENCH_PROFILE=<file>`: each service run writes V8's tick log to `<file>.<label>`
 * as it runs (it is killed, so a profile written at exit would be lost); read it with
 * `node --prof-process <file>.<label>`.
 */
function profileArgs(label: string): string[] {
  const file = process.env.SPRUCE_SYNC_BENCH_PROFILE;
  return file ? ['--prof', '--no-logfile-per-isolate', `--logfile=${file}.${label.replace(/[^A-Za-z0-9=#-]+/g, '_')}`] : [];
}

export function ingestServiceConfig(options: { port: number; databaseUrl: string; synchronous: 'FULL' | 'NORMAL'; secret: string }): Record<string, unknown> {
  return {
    server: { host: '127.0.0.1', port: options.port },
    database: { url: options.databaseUrl, synchronous: options.synchronous },
    log: { level: 'info' },
    admin: { token: ADMIN_TOKEN },
    tenants: [
      {
        id: INGEST_TENANT,
        // Never called while the tenant is paused; a closed port if it were.
        spry: {
          baseUrl: 'http://127.0.0.1:9',
          clientId: 'bench',
          clientSecret: 'bench',
          organisationId: ORGANISATION_ID,
          webhookSecrets: [options.secret],
          chartUrl: 'http://127.0.0.1:9/patients/{patientId}',
        },
        spruce: { baseUrl: 'http://127.0.0.1:9/v1', accessId: 'bench', secretKey: 'bench', webhookSecrets: ['bench-spruce-secret'] },
        schedules: { catchUpOnStart: false, catchUpEveryMinutes: 0, reconcileEveryMinutes: 0 },
      },
    ],
  };
}

async function pauseTenant(baseUrl: string): Promise<void> {
  const response = await fetch(`${baseUrl}/admin/api/tenants/${INGEST_TENANT}/pause`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
    body: '{}',
  });
  if (!response.ok) throw new Error(`pausing the tenant failed: ${response.status} ${await response.text()}`);
}

interface Load {
  result: AutocannonResult;
  acknowledged: string[];
}

async function fire(url: string, pool: DeliveryPool, connections: number, duration: number, collect: boolean): Promise<Load> {
  const acknowledged: string[] = [];
  const result = await autocannon({
    url,
    connections,
    pipelining: 1,
    duration,
    timeout: 10,
    requests: [
      {
        method: 'POST',
        path: `/webhooks/spry/${INGEST_TENANT}`,
        setupRequest: (request, context) => {
          const delivery = pool.take();
          context.eventId = delivery.eventId;
          return {
            ...request,
            headers: { 'content-type': 'application/json', 'x-sprypt-signature': delivery.signature, 'x-event-id': delivery.eventId },
            body: delivery.body,
          };
        },
        onResponse: collect
          ? (status, _body, context) => {
              if (status >= 200 && status < 300) acknowledged.push(context.eventId as string);
            }
          : undefined,
      },
    ],
  });
  return { result, acknowledged };
}

/** Event keys of this run found in the database file (read after the service was killed). */
function storedKeys(databaseFile: string, prefix: string): Set<string> {
  const db = new Database(databaseFile, { readonly: true, fileMustExist: true });
  try {
    const rows = db
      // Filed or still staged (store/sqlite/staged-events.ts): both are acknowledged and durable.
      .prepare(
        ['events', 'staged_events']
          .map((table) => `SELECT event_key AS key FROM ${table} WHERE tenant_id = @tenant AND source = 'spry' AND event_key >= @from AND event_key < @to`)
          .join(' UNION ALL '),
      )
      .all({ tenant: INGEST_TENANT, from: prefix, to: `${prefix}\uffff` }) as { key: string }[];
    return new Set(rows.map((r) => r.key));
  } finally {
    db.close();
  }
}

async function measure(target: IngestTarget, label: string, options: Required<Omit<IngestOptions, 'quick' | 'rounds'>>, log: (line: string) => void): Promise<IngestRun> {
  const secret = randomBytes(24).toString('hex');
  const port = await freePort();
  const dir = await mkdtemp(path.join(tmpdir(), 'spruce-sync-bench-ingest-'));
  const databaseFile = path.join(dir, 'ingest.db');
  let server: ChildServer | undefined;
  try {
    server =
      target === 'bare'
        ? await startBareServer(port, { nodeArgs: cpuProfileArgs(label) })
        : await startServiceProcess(ingestServiceConfig({ port, databaseUrl: `sqlite:${databaseFile}`, synchronous: target, secret }), {
            nodeArgs: [...profileArgs(label), ...cpuProfileArgs(label)],
          });
    if (target !== 'bare') await pauseTenant(server.url);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const restMiB = server.memory().rssMiB;
    const runTag = randomBytes(4).toString('hex');
    const make = (tag: string) => deliveryFactory({ secret, organisationId: ORGANISATION_ID, patientIds: PATIENT_IDS, runTag: tag });
    // Warm-up (JIT, connections, SQLite page cache), not counted.
    await fire(server.url, new DeliveryPool(make(`${runTag}w`), 0), options.connections, options.warmupSeconds, false);
    const pool = new DeliveryPool(make(runTag), Math.min(200_000, 12_000 * options.durationSeconds));
    const sampler = new RssSampler(server.pid, 100).start();
    const cpuBefore = server.cpuSplit();
    const fromUs = monotonicMicros();
    const { result, acknowledged } = await fire(server.url, pool, options.connections, options.durationSeconds, target !== 'bare');
    const toUs = monotonicMicros();
    const cpuAfter = server.cpuSplit();
    const cpuSeconds = cpuAfter.user + cpuAfter.system - cpuBefore.user - cpuBefore.system;
    const answered = Math.max(1, result['2xx'] + result.non2xx);
    await writeProfileWindow(label, { fromUs, toUs, requests: result['2xx'] + result.non2xx });
    const rss = sampler.stop();
    const run: IngestRun = {
      target,
      label,
      rps: result.requests.average,
      p50: result.latency.p50,
      p90: result.latency.p90,
      p99: result.latency.p99,
      max: result.latency.max,
      ok: result['2xx'],
      non2xx: result.non2xx,
      errors: result.errors + result.timeouts,
      cpuMicrosPerRequest: (cpuSeconds * 1e6) / answered,
      systemMicrosPerRequest: ((cpuAfter.system - cpuBefore.system) * 1e6) / answered,
      rss: { restMiB, meanMiB: rss.meanMiB, maxMiB: rss.maxMiB },
    };
    if (target !== 'bare') {
      run.apiCalls = await metricSum(server.url, 'spruce_sync_api_calls_total');
      // A crash right after the last acknowledgement: nothing may be lost. (A profiled run stops
      // cleanly instead, for V8 to write its profile.)
      if (process.env.SPRUCE_SYNC_BENCH_CPU_PROF) await server.stop();
      else await server.kill();
      server = undefined;
      const stored = storedKeys(databaseFile, `evt_bench_${runTag}_`);
      const missing = acknowledged.filter((id) => !stored.has(id)).length;
      run.durable = { acknowledged: acknowledged.length, found: acknowledged.length - missing, missing, stored: stored.size };
    }
    log(`ingest ${label}: ${num(run.rps)} req/s, ${num(run.cpuMicrosPerRequest, 0)} µs CPU/request (${num(run.systemMicrosPerRequest, 0)} in the kernel), p50 ${run.p50} ms, p99 ${run.p99} ms, 2xx ${run.ok}, non-2xx ${run.non2xx}, errors ${run.errors}` +
      (run.durable ? `, acknowledged ${run.durable.acknowledged}, missing after SIGKILL ${run.durable.missing}` : ''));
    return run;
  } finally {
    await server?.stop().catch(() => {});
    await rm(dir, { recursive: true, force: true });
  }
}

export async function runIngest(options: IngestOptions, context: Pick<RunContext, 'log'>): Promise<IngestResult> {
  const settings = {
    connections: options.connections ?? 10,
    durationSeconds: options.durationSeconds ?? (options.quick ? 5 : 15),
    warmupSeconds: options.warmupSeconds ?? (options.quick ? 1 : 3),
  };
  // Interleaved, so that a neighbour's load on a shared machine hits every server alike; the
  // full run takes two rounds.
  const rounds = options.rounds ?? (options.quick ? 1 : 2);
  const plan: [IngestTarget, string][] = [];
  for (let round = 1; round <= rounds; round++) {
    const suffix = rounds > 1 ? ` #${round}` : '';
    plan.push(['bare', `bare Fastify${suffix}`], ['FULL', `spruce-sync, synchronous=FULL${suffix}`], ['NORMAL', `spruce-sync, synchronous=NORMAL${suffix}`]);
  }
  plan.push(['bare', 'bare Fastify (again, last)']);
  const runs: IngestRun[] = [];
  for (const [target, label] of plan) {
    runs.push(await measure(target, label, { connections: settings.connections, durationSeconds: settings.durationSeconds, warmupSeconds: settings.warmupSeconds }, context.log));
  }
  return { runs, connections: settings.connections, durationSeconds: settings.durationSeconds, report: ingestReport(runs, settings) };
}

function ingestReport(runs: IngestRun[], settings: { connections: number; durationSeconds: number; warmupSeconds: number }): ScenarioReport {
  const bare = runs.filter((r) => r.target === 'bare');
  const bareRps = bare.reduce((sum, r) => sum + r.rps, 0) / bare.length;
  const ratioOf = (r: IngestRun) => (r.target === 'bare' ? `${(r.rps / bareRps).toFixed(2)} (ref.)` : (r.rps / bareRps).toFixed(2));
  const rows = runs.map((r) => [
    r.label,
    num(r.rps),
    ratioOf(r),
    num(r.p50, 0),
    num(r.p90, 0),
    num(r.p99, 0),
    num(r.max, 0),
    `${num(r.cpuMicrosPerRequest, 0)} (${num(r.systemMicrosPerRequest, 0)})`,
    r.ok,
    r.non2xx + r.errors,
    r.durable ? `${r.durable.found} / ${r.durable.acknowledged}` : '—',
  ]);
  const notes: string[] = [];
  for (const target of ['FULL', 'NORMAL'] as const) {
    const of = runs.filter((x) => x.target === target);
    const rps = of.reduce((sum, r) => sum + r.rps, 0) / of.length;
    const ratio = rps / bareRps;
    const p99 = Math.max(...of.map((r) => r.p99));
    const acknowledged = of.reduce((n, r) => n + r.durable!.acknowledged, 0);
    const missing = of.reduce((n, r) => n + r.durable!.missing, 0);
    const cpu = of.reduce((sum, r) => sum + r.cpuMicrosPerRequest, 0) / of.length;
    const bareCpu = bare.reduce((sum, r) => sum + r.cpuMicrosPerRequest, 0) / bare.length;
    const verdicts = [
      `${num(rps)} req/s = ${ratio.toFixed(2)}× bare Fastify's ${num(bareRps)} (mean of ${of.length} and ${bare.length} runs; target ≥ 0.5: ${ratio >= 0.5 ? 'met' : 'NOT met'})`,
      `CPU per request ${num(cpu, 0)} µs vs ${num(bareCpu, 0)} µs for the bare route (${(cpu / bareCpu).toFixed(1)}× its CPU; target ≤ 2.5×: ${cpu <= 2.5 * bareCpu ? 'met' : 'NOT met'})`,
      `p99 ≤ ${num(p99, 0)} ms (target < 25 ms: ${p99 < 25 ? 'met' : 'NOT met'})`,
      `acknowledged events durable: ${missing === 0 ? `all ${acknowledged} found` : `${missing} of ${acknowledged} MISSING`}`,
      `outbound API calls during the runs: ${of.reduce((n, r) => n + (r.apiCalls ?? 0), 0)}`,
    ];
    notes.push(`**synchronous=${target}:** ${verdicts.join('; ')}.`);
  }
  return {
    title: 'Ingest',
    setup: [
      `autocannon 8 in the benchmark process, ${settings.connections} connections, no pipelining, ${settings.durationSeconds} s per server after a ${settings.warmupSeconds} s warm-up that is not counted. ` +
        'Each request is a distinct signed Spry `patient.updated` delivery (unique `event_id`, `X-Sprypt-Signature` HMAC over the exact body, ' +
        `about one of ${PATIENT_IDS.length} patients), made ahead of time. Every server runs alone in its own child process on loopback: ` +
        'the bare reference is Fastify 5 with one route that parses the JSON and answers 200 (`bench/lib/bare-server.ts`), interleaved with the service runs and once more at the end ' +
        '(ratios are against the mean of the bare runs; on 2 cores the load generator may be what limits the bare route); ' +
        'the service is `spruce-sync start` with a fresh SQLite file (WAL), which verifies the signature, parses the envelope, stages the event in one group-committed ' +
        'transaction and only then answers 200; filings move the staged events into the event log and feed their per-patient jobs in batches while the load runs ' +
        '(their CPU is counted; src/store/sqlite/staged-events.ts).',
      'Workers are held honestly: the tenant is paused through the admin API before the load (a paused tenant\'s webhooks are still verified, stored and ' +
        'acknowledged; its jobs wait unclaimed), with catch-up and reconcile schedules off, so the numbers are ingest only. The table\'s last column: ' +
        'after each run the service is SIGKILLed, and each acknowledged (2xx) event id is looked up in the database file. ' +
        'A process kill is not a power cut: only synchronous=FULL also survives the machine going down (NORMAL may lose the last commits then).',
    ],
    tables: [
      {
        columns: ['server', 'req/s', 'vs bare', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms', 'server CPU µs/req (of it kernel)', '2xx', 'non-2xx + errors', 'acknowledged found in store'],
        rows,
      },
    ],
    notes,
  };
}
