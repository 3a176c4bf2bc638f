// `npm run bench:tenants [-- --tenants 1000] [--store sqlite|postgres|both] [--quick] [--no-write]
//   [--only idle,noisy,add,hour]`: one instance serving many clinics (issue 15). Each tenant is
// its own Spry organisation and Spruce organization in the simulators (bench/lib/tenant-world.ts).
//
// Per store, with the service as its own `spruce-sync start` process (so its RSS and CPU are its
// own, not the simulators'):
//  - seeding: the tenants added through `POST /admin/api/tenants` (as an operator's script would),
//    timed; then the service restarted with them all in its directory (start time, start-up calls);
//  - idle: RSS and CPU (% of one core) over `--idle-seconds` once the start-up catch-ups are done,
//    with every tenant's default schedules running; then the operator's lists of every tenant
//    (`GET /admin/api/tenants`, its first page of 50, `/admin/api/tenant-figures`) timed, five reads each;
//  - noisy neighbour: 20 Spry edits a second spread over 100 quiet tenants for `--seconds`, first
//    alone, then while tenant 0 bursts 10,000 Spry events under a Spruce limit of 30 calls a
//    minute; freshness (Spry edit → Spruce contact updated) of the quiet tenants;
//  - a tenant added through the admin API while all this runs: until its first webhook is
//    accepted, and until its first patient is in its Spruce organization.
// Then, per store, the scheduled duties over `--hour-minutes` of simulated time: a service in
// this process on the sandbox's ControlledClock (the one way to move a service's clock: the
// process's own clock cannot be moved from outside), tenants seeded from the config file (the
// directory's bulk path), outbound calls counted per simulated second.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ControlledClock } from '../src/clock.ts';
import { parseConfig } from '../src/config/load-config.ts';
import { freePort } from '../src/sandbox/environment.ts';
import { startService } from '../src/service.ts';
import { COMPLETED_KEY } from '../src/sync/backfill-checkpoint.ts';
import { startSpreadMs, type LeaderGate } from '../src/sync/scheduler.ts';
import { dropSchema, findPostgres, uniqueSchema } from '../test/support/postgres.ts';
import { FreshnessWatch } from './lib/freshness-watch.ts';
import { scriptArgs } from './lib/args.ts';
import { describeLoad, describeMachine, loadAverage } from './lib/machine.ts';
import { cpuProfileArgs, monotonicMicros, writeProfileWindow } from './lib/cpu-profile.ts';
import { startServiceProcess, type ChildServer } from './lib/processes.ts';
import { appendSection, markdownTable, num, percentile } from './lib/report.ts';
import {
  callsSoFar,
  inParallel,
  registerTenantWebhooks,
  startTenantWorld,
  tenantDefinition,
  untilSteady,
  type BenchTenant,
  type TenantWorld,
} from './lib/tenant-world.ts';

const { option, flag, all } = scriptArgs();
const quick = flag('--quick');
const settings = {
  tenants: Number(option('--tenants') ?? (quick ? 50 : 1_000)),
  quietTenants: Number(option('--quiet-tenants') ?? (quick ? 20 : 100)),
  patientsEach: 5,
  rate: Number(option('--rate') ?? 20),
  seconds: Number(option('--seconds') ?? (quick ? 15 : 60)),
  noisyEvents: Number(option('--noisy-events') ?? (quick ? 2_000 : 10_000)),
  noisyLimit: Number(option('--noisy-limit') ?? 30),
  /** Spry edits a second of the noisy tenant (its 10,000 events in 20 s by default). */
  noisyRate: Number(option('--noisy-rate') ?? 500),
  idleSeconds: Number(option('--idle-seconds') ?? (quick ? 15 : 60)),
  hourMinutes: Number(option('--hour-minutes') ?? (quick ? 20 : 60)),
};
const storeOption = option('--store') ?? 'both';
const stores = (storeOption === 'both' ? ['sqlite', 'postgres'] : [storeOption]) as ('sqlite' | 'postgres')[];
const only = new Set((option('--only') ?? 'idle,noisy,add,hour').split(','));
const write = !flag('--no-write');
const ADMIN_TOKEN = randomBytes(24).toString('base64url');
/** What the benchmark's admin API requests carry. */
const ADMIN_HEADERS = { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' };
const DRAIN_MS = 30_000;
/**
 * "Settled": at most this many calls in 5 s. At steady state every tenant's catch-up runs once in
 * 15 minutes with about 4 calls: N / 225 calls a second; this allows four times that.
 */
const steadyCalls = Math.max(5, Math.ceil(settings.tenants / 12));
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const log = (line: string) => console.log(`[${new Date().toISOString().slice(11, 19)}] ${line}`);

type StoreKind = 'sqlite' | 'postgres';
const storeName = (kind: StoreKind) => (kind === 'postgres' ? 'PostgreSQL' : 'SQLite');

interface Database {
  url: string;
  schema?: string;
  encryptionKey: string;
}

async function database(kind: StoreKind, dir: string, pgUrl: string | null, cleanup: (() => Promise<unknown>)[]): Promise<Database> {
  const encryptionKey = randomBytes(32).toString('base64');
  if (kind === 'sqlite') return { url: `sqlite:${path.join(dir, 'tenants.db')}`, encryptionKey };
  const schema = uniqueSchema('bench_tenants');
  cleanup.push(() => dropSchema(pgUrl!, schema));
  return { url: pgUrl!, schema, encryptionKey };
}

// ---------------------------------------------------------------------------------------------
// Seeding, start, idle (service in its own process)

interface SeedResult {
  seconds: number;
  perTenantP50Ms: number;
  perTenantP99Ms: number;
  rssAfterMiB: number;
}

async function seedThroughApi(service: ChildServer, definitions: Record<string, unknown>[]): Promise<SeedResult> {
  const started = performance.now();
  const latencies = await inParallel(definitions, 8, async (definition) => {
    const t0 = performance.now();
    const response = await fetch(`${service.url}/admin/api/tenants`, {
      method: 'POST',
      headers: ADMIN_HEADERS,
      body: JSON.stringify(definition),
    });
    const text = await response.text();
    if (response.status !== 201) throw new Error(`POST /admin/api/tenants answered ${response.status}: ${text.slice(0, 300)}`);
    return performance.now() - t0;
  });
  return {
    seconds: (performance.now() - started) / 1000,
    perTenantP50Ms: percentile(latencies, 50),
    perTenantP99Ms: percentile(latencies, 99),
    rssAfterMiB: service.memory().rssMiB,
  };
}

/** Milliseconds of the operator's whole-deployment reads at this many tenants, median and max of `times` in turn. */
interface ListResult {
  path: string;
  medianMs: number;
  maxMs: number;
}

const ADMIN_LISTS = ['/admin/api/tenants', '/admin/api/tenants?limit=50', '/admin/api/tenant-figures'];

async function timeAdminLists(service: ChildServer, times = 5): Promise<ListResult[]> {
  const results: ListResult[] = [];
  for (const listPath of ADMIN_LISTS) {
    const ms: number[] = [];
    for (let i = 0; i < times; i++) {
      const t0 = performance.now();
      const response = await fetch(`${service.url}${listPath}`, { headers: ADMIN_HEADERS });
      await response.arrayBuffer();
      if (response.status !== 200) throw new Error(`GET ${listPath} answered ${response.status}`);
      ms.push(performance.now() - t0);
    }
    results.push({ path: listPath, medianMs: percentile(ms, 50), maxMs: Math.max(...ms) });
  }
  return results;
}

interface StartResult {
  listeningSeconds: number;
  settledSeconds: number;
  settled: boolean;
  calls: number;
  load: number;
}

interface IdleResult {
  seconds: number;
  rssMeanMiB: number;
  rssMaxMiB: number;
  cpuPercent: number;
  calls: number;
  load: string;
}

async function sampleIdle(service: ChildServer, world: TenantWorld, seconds: number): Promise<IdleResult> {
  const rss: number[] = [];
  const calls0 = callsSoFar(world);
  const cpu0 = service.cpuSeconds();
  const t0 = performance.now();
  while (performance.now() - t0 < seconds * 1000) {
    rss.push(service.memory().rssMiB);
    await sleep(1_000);
  }
  const elapsed = (performance.now() - t0) / 1000;
  return {
    seconds: elapsed,
    rssMeanMiB: rss.reduce((a, b) => a + b, 0) / rss.length,
    rssMaxMiB: Math.max(...rss),
    cpuPercent: ((service.cpuSeconds() - cpu0) / elapsed) * 100,
    calls: callsSoFar(world) - calls0,
    load: describeLoad(),
  };
}

// ---------------------------------------------------------------------------------------------
// Noisy neighbour

interface FreshnessRun {
  label: string;
  changes: number;
  applied: number;
  superseded: number;
  lost: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  cpuPercent: number;
  rssMaxMiB: number;
  /** Webhook delivery attempts (all tenants) not answered 2xx during the run, and why. */
  refusedDeliveries: number;
  refusedWhy: Record<string, number>;
  /** Of those, attempts to quiet tenants. */
  refusedQuiet: number;
  noisy?: { emitted: number; spruceCalls: number; status429: number; contacts: number };
  load: string;
}

const externalIdPattern = /^spry:(\d+):(\d+)$/;

/** Every quiet tenant's patients get their linked contact; returns contact id by `org:patient`. */
async function warmUp(world: TenantWorld, quiet: BenchTenant[]): Promise<Map<string, string>> {
  const contactOf = new Map<string, string>();
  const patients = quiet.flatMap((t) => world.spry.patientIds(t.spryOrg).map((id) => [t, id] as const));
  for (const [i, [tenant, id]] of patients.entries()) {
    world.spry.staff.editPatient(tenant.spryOrg, id, { alias: 'warm-up' });
    if (i % 50 === 49) await sleep(500);
  }
  const deadline = Date.now() + 300_000;
  for (;;) {
    for (const tenant of quiet) {
      for (const contact of world.spruce.contacts(tenant.spruceOrg)) {
        for (const link of contact.integrationLinks ?? []) {
          const match = externalIdPattern.exec(link.externalId ?? '');
          if (match) contactOf.set(`${match[1]}:${match[2]}`, contact.id);
        }
      }
    }
    if (patients.every(([t, id]) => contactOf.has(`${t.spryOrg}:${id}`))) break;
    if (Date.now() > deadline) throw new Error(`warm-up: ${patients.length - contactOf.size} quiet patients without a contact after 300 s`);
    await sleep(1_000);
  }
  await untilSteady(world, { minMs: 0, calls: steadyCalls, maxMs: 60_000 });
  return contactOf;
}

async function freshnessRun(
  world: TenantWorld,
  service: ChildServer,
  quiet: BenchTenant[],
  contactOf: Map<string, string>,
  options: { label: string; firstSeq: number; noisy: boolean },
): Promise<FreshnessRun> {
  const { spry, spruce, clock } = world;
  const noisyTenant = world.tenants[0]!;
  const watch = new FreshnessWatch(spruce, 'Quiet', noisyTenant.spruceOrg);
  const attemptsFrom = spry.dispatcher.attempts.length;
  const spruceLogFrom = spruce.requestLog.length;
  const cpu0 = service.cpuSeconds();
  const rss: number[] = [];
  const rssTimer = setInterval(() => rss.push(service.memory().rssMiB), 500);
  const t0 = performance.now();

  // The noisy tenant: its events at `noisyRate` a second, beside the quiet load.
  let emitted = 0;
  const noisyIds = options.noisy ? spry.patientIds(noisyTenant.spryOrg).slice(0, settings.noisyEvents) : [];
  const noisy = (async () => {
    const interval = 1000 / settings.noisyRate;
    for (let i = 0; i < noisyIds.length; i++) {
      const wait = t0 + i * interval - performance.now();
      if (wait > 1) await sleep(wait);
      spry.staff.editPatient(noisyTenant.spryOrg, noisyIds[i]!, { last_name: `Noisy${i}` });
      emitted += 1;
    }
  })();

  const patientsOf = quiet.map((t) => spry.patientIds(t.spryOrg));
  const total = settings.rate * settings.seconds;
  const interval = 1000 / settings.rate;
  for (let i = 0; i < total; i++) {
    const wait = t0 + i * interval - performance.now();
    if (wait > 1) await sleep(wait);
    const seq = options.firstSeq + i;
    const t = seq % quiet.length;
    const ids = patientsOf[t]!;
    const patientId = ids[Math.floor(seq / quiet.length) % ids.length]!;
    const contactId = contactOf.get(`${quiet[t]!.spryOrg}:${patientId}`)!;
    const at = clock.now();
    spry.staff.editPatient(quiet[t]!.spryOrg, patientId, { last_name: `Quiet${seq}` });
    watch.edited(contactId, seq, at);
  }
  await noisy;
  const loadEnded = performance.now();
  while (performance.now() - loadEnded < DRAIN_MS && watch.waiting() > 0) await sleep(50);
  watch.stop();
  clearInterval(rssTimer);
  const { latencies, superseded } = watch;
  const elapsed = (performance.now() - t0) / 1000;
  const noisyCalls = spruce.requestLog.slice(spruceLogFrom).filter((r) => r.organizationId === noisyTenant.spruceOrg);
  const refused = spry.dispatcher.attempts.slice(attemptsFrom).filter((a) => a.status === null || a.status < 200 || a.status >= 300);
  const why = (a: (typeof refused)[number]) => (a.status !== null ? `HTTP ${a.status}` : (a.error ?? 'error'));
  const noisySubscription = spry.subscriptions(noisyTenant.spryOrg)[0]?.id;
  return {
    label: options.label,
    changes: total,
    applied: latencies.length,
    superseded,
    lost: watch.waiting(),
    p50: percentile(latencies, 50),
    p90: percentile(latencies, 90),
    p99: percentile(latencies, 99),
    max: latencies.length ? Math.max(...latencies) : Number.NaN,
    cpuPercent: ((service.cpuSeconds() - cpu0) / elapsed) * 100,
    rssMaxMiB: Math.max(...rss, service.memory().rssMiB),
    refusedDeliveries: refused.length,
    refusedWhy: Object.fromEntries([...new Set(refused.map(why))].map((w) => [w, refused.filter((a) => why(a) === w).length])),
    refusedQuiet: refused.filter((a) => a.targetId !== noisySubscription).length,
    noisy: options.noisy
      ? {
          emitted,
          spruceCalls: noisyCalls.length,
          status429: noisyCalls.filter((r) => r.status === 429).length,
          contacts: spruce.contacts(noisyTenant.spruceOrg).length,
        }
      : undefined,
    load: describeLoad(),
  };
}

// ---------------------------------------------------------------------------------------------
// A tenant added at run time

interface AddResult {
  postMs: number;
  /** From the POST's answer to the first delivery answered 2xx (clock ms). */
  firstAcceptedMs: number;
  refusedBefore: number;
  /** From the POST's answer to the first patient linked in its Spruce organization. */
  firstSyncedMs: number;
  load: string;
}

async function addTenant(world: TenantWorld, service: ChildServer, serviceUrl: string): Promise<AddResult> {
  const { spry, spruce, clock, spare } = world;
  const secrets = await registerTenantWebhooks(world, spare, serviceUrl);
  const subscriptionId = spry.subscriptions(spare.spryOrg)[0]!.id;
  const t0 = performance.now();
  const response = await fetch(`${service.url}/admin/api/tenants`, {
    method: 'POST',
    headers: ADMIN_HEADERS,
    body: JSON.stringify(tenantDefinition(world, spare, secrets)),
  });
  const text = await response.text();
  if (response.status !== 201) throw new Error(`adding a tenant answered ${response.status}: ${text.slice(0, 300)}`);
  const postMs = performance.now() - t0;
  const answeredAt = clock.now();
  const patientId = spry.patientIds(spare.spryOrg)[0]!;
  const ok = (status: number | null) => status !== null && status >= 200 && status < 300;
  // Edit until a delivery is accepted (a refused one is retried by Spry only after 15 s).
  let accepted: { at: number } | undefined;
  const deadline = Date.now() + 60_000;
  for (let k = 0; !accepted; k++) {
    if (Date.now() > deadline) throw new Error('no webhook of the added tenant accepted within 60 s');
    if (k % 10 === 0) spry.staff.editPatient(spare.spryOrg, patientId, { last_name: `Added${k}` });
    await sleep(20);
    const first = spry.dispatcher.attempts.find((a) => a.targetId === subscriptionId && ok(a.status));
    if (first) accepted = { at: first.at + first.durationMs };
  }
  const refusedBefore = spry.dispatcher.attempts.filter((a) => a.targetId === subscriptionId && !ok(a.status) && a.at < accepted.at).length;
  let syncedAt: number | undefined;
  while (syncedAt === undefined) {
    if (Date.now() > deadline + 60_000) throw new Error('the added tenant\'s patient not in Spruce within 120 s');
    if (spruce.contacts(spare.spruceOrg).some((c) => (c.integrationLinks ?? []).length > 0)) syncedAt = clock.now();
    else await sleep(10);
  }
  return { postMs, firstAcceptedMs: accepted.at - answeredAt, refusedBefore, firstSyncedMs: syncedAt - answeredAt, load: describeLoad() };
}

// ---------------------------------------------------------------------------------------------
// One store: seeding, start, idle, noisy neighbour, a tenant added

interface StoreResult {
  store: string;
  registerSeconds: number;
  seed?: SeedResult;
  start?: StartResult;
  idle?: IdleResult;
  lists?: ListResult[];
  runs: FreshnessRun[];
  add?: AddResult;
}

async function measureStore(kind: StoreKind, pgUrl: string | null): Promise<StoreResult> {
  const cleanup: (() => Promise<unknown>)[] = [];
  try {
    log(`${storeName(kind)}: starting the simulators with ${settings.tenants} organisations on each side`);
    const world = await startTenantWorld({ tenants: settings.tenants, patientsEach: settings.patientsEach, noisyPatients: settings.noisyEvents, noisySpruceLimit: settings.noisyLimit });
    cleanup.push(() => world.close());
    const port = await freePort();
    const serviceUrl = `http://127.0.0.1:${port}`;
    const registerStarted = performance.now();
    const secrets = await inParallel(world.tenants, 16, (tenant) => registerTenantWebhooks(world, tenant, serviceUrl));
    const registerSeconds = (performance.now() - registerStarted) / 1000;
    log(`webhooks of ${settings.tenants} tenants registered in ${registerSeconds.toFixed(1)} s`);
    const dir = await mkdtemp(path.join(tmpdir(), 'spruce-sync-bench-tenants-'));
    cleanup.push(() => rm(dir, { recursive: true, force: true }));
    const db = await database(kind, dir, pgUrl, cleanup);
    const config = { server: { host: '127.0.0.1', port }, log: { level: 'warn' }, database: db, admin: { token: ADMIN_TOKEN }, tenants: [] };
    let service = await startServiceProcess(config);
    cleanup.push(() => service.stop());
    const result: StoreResult = { store: storeName(kind), registerSeconds, runs: [] };

    const definitions = world.tenants.map((tenant, i) => tenantDefinition(world, tenant, secrets[i]!));
    result.seed = await seedThroughApi(service, definitions);
    log(`${settings.tenants} tenants added through the admin API in ${result.seed.seconds.toFixed(1)} s (p50 ${num(result.seed.perTenantP50Ms)} ms each); RSS ${num(result.seed.rssAfterMiB)} MiB`);
    await untilSteady(world, { minMs: 0, calls: steadyCalls, maxMs: 300_000 });

    // Restarted with every tenant in its directory: what a deploy or a crash brings.
    await service.stop();
    const calls0 = callsSoFar(world);
    const started = performance.now();
    const load = loadAverage()[0];
    // SPRUCE_SYNC_BENCH_CPU_PROF (bench/lib/cpu-profile.ts): this run is profiled, its idle stretch marked.
    service = await startServiceProcess(config, { nodeArgs: cpuProfileArgs(`idle-${kind}`) });
    const listeningSeconds = (performance.now() - started) / 1000;
    // The start runs are spread over 25 ms per tenant (sync/scheduler.ts), then back to the trickle.
    const settled = await untilSteady(world, { minMs: startSpreadMs(settings.tenants + 1, 15 * 60_000) + 5_000, calls: steadyCalls, maxMs: 300_000 });
    result.start = { listeningSeconds, settledSeconds: (performance.now() - started) / 1000, settled: settled.steady, calls: callsSoFar(world) - calls0, load };
    log(`restarted with ${settings.tenants} tenants: listening after ${listeningSeconds.toFixed(1)} s, back at the steady trickle after ${result.start.settledSeconds.toFixed(1)} s (${result.start.calls} calls)`);

    if (only.has('idle')) {
      const fromUs = monotonicMicros();
      result.idle = await sampleIdle(service, world, settings.idleSeconds);
      await writeProfileWindow(`idle-${kind}`, { fromUs, toUs: monotonicMicros(), requests: Math.round(result.idle.seconds) });
      log(`idle: RSS ${num(result.idle.rssMeanMiB)} MiB (max ${num(result.idle.rssMaxMiB)}), CPU ${num(result.idle.cpuPercent)} % of one core, ${result.idle.calls} calls, load ${result.idle.load}`);
      // After the idle window, so its CPU is not counted there.
      result.lists = await timeAdminLists(service);
      for (const list of result.lists) log(`GET ${list.path}: median ${num(list.medianMs, 0)} ms, max ${num(list.maxMs, 0)} ms`);
    }

    if (only.has('noisy')) {
      const quiet = world.tenants.slice(1, 1 + settings.quietTenants);
      const warmStarted = performance.now();
      const contactOf = await warmUp(world, quiet);
      log(`warm-up: ${contactOf.size} quiet patients linked in ${((performance.now() - warmStarted) / 1000).toFixed(0)} s`);
      let seq = 0;
      for (const noisy of [false, true]) {
        const run = await freshnessRun(world, service, quiet, contactOf, { label: noisy ? 'with the noisy tenant' : 'quiet tenants only', firstSeq: seq, noisy });
        seq += run.changes;
        result.runs.push(run);
        log(`${run.label}: p50 ${num(run.p50, 0)} ms, p90 ${num(run.p90, 0)} ms, p99 ${num(run.p99, 0)} ms; applied ${run.applied}, superseded ${run.superseded}, lost ${run.lost}; load ${run.load}`);
      }
    }

    if (only.has('add')) {
      result.add = await addTenant(world, service, serviceUrl);
      log(`tenant added: POST ${num(result.add.postMs, 0)} ms; first webhook accepted ${num(result.add.firstAcceptedMs, 0)} ms later (${result.add.refusedBefore} refused before), first patient in Spruce ${num(result.add.firstSyncedMs, 0)} ms after the POST`);
    }
    return result;
  } finally {
    for (const step of cleanup.reverse()) await step().catch(() => {});
  }
}

// ---------------------------------------------------------------------------------------------
// Scheduled duties over simulated time (service in this process, on the sandbox clock)

interface HourResult {
  store: string;
  minutes: number;
  configStartSeconds: number;
  realSeconds: number;
  calls: number;
  meanPerSecond: number;
  maxPerSecond: number;
  p99PerSecond: number;
  /** After the first minute (the start-up catch-ups): the steady schedule. */
  steadyMaxPerSecond: number;
  /** Most tenants (organisations) calling in one second, overall and after the first minute. */
  maxTenantsPerSecond: number;
  steadyMaxTenantsPerSecond: number;
  /** Catch-up and reconcile runs started, and the most in one simulated second (after the first minute). */
  runs: number;
  maxRunsPerSecond: number;
  steadyMaxRunsPerSecond: number;
  firstMinuteCalls: number;
  perMinute: number[];
  load: string;
}

async function measureHour(kind: StoreKind, pgUrl: string | null): Promise<HourResult> {
  const cleanup: (() => Promise<unknown>)[] = [];
  try {
    const clock = new ControlledClock();
    const world = await startTenantWorld({ tenants: settings.tenants, patientsEach: settings.patientsEach, noisyPatients: settings.patientsEach, noisySpruceLimit: 100, clock });
    cleanup.push(() => world.close());
    const port = await freePort();
    const serviceUrl = `http://127.0.0.1:${port}`;
    const secrets = await inParallel(world.tenants, 16, (tenant) => registerTenantWebhooks(world, tenant, serviceUrl));
    const dir = await mkdtemp(path.join(tmpdir(), 'spruce-sync-bench-hour-'));
    cleanup.push(() => rm(dir, { recursive: true, force: true }));
    const db = await database(kind, dir, pgUrl, cleanup);
    const config = parseConfig({
      server: { host: '127.0.0.1', port },
      log: { level: 'silent' },
      database: db,
      tenants: world.tenants.map((tenant, i) => tenantDefinition(world, tenant, secrets[i]!)),
    });
    // Every scheduled run goes through this gate (one instance leads every duty, as it would
    // alone on PostgreSQL too): it stamps each run's start on the clock and counts the runs in
    // flight, so that a step of the clock waits for them (on PostgreSQL they wait on the
    // database in real time, and calls of runs started over many steps would otherwise bunch up).
    const runStarts: { at: number; duty: string }[] = [];
    let running = 0;
    const never = new AbortController().signal;
    const runIfLeader: LeaderGate = async (duty, fn) => {
      runStarts.push({ at: clock.now(), duty });
      running += 1;
      try {
        return await fn(never);
      } finally {
        running -= 1;
      }
    };
    const t0 = performance.now();
    const service = await startService(config, { clock, runIfLeader });
    cleanup.push(() => service.close());
    const configStartSeconds = (performance.now() - t0) / 1000;
    // Scheduled reconciliation runs only after a completed backfill: say there was one.
    for (const tenant of world.tenants) await service.store.setState(tenant.id, COMPLETED_KEY, String(clock.now()));
    const from = clock.now();
    const logFrom = { spry: world.spry.requestLog.length, spruce: world.spruce.requestLog.length };
    const realStart = performance.now();
    const end = from + settings.hourMinutes * 60_000;
    while (clock.now() < end) {
      await clock.advance(1_000);
      // Let what the second started finish before time moves on (calls are stamped on this
      // clock): until no scheduled run is in flight and no new call came for two looks 3 ms
      // apart, at most 100 ms of real time (a run waiting on its pacer waits on this clock:
      // a 3 s cap made the hour take hours of real time on PostgreSQL).
      const stepEnds = performance.now() + 100;
      for (let stable = 0, seen = callsSoFar(world); performance.now() < stepEnds && (stable < 2 || running > 0); ) {
        await sleep(3);
        const now = callsSoFar(world);
        stable = now === seen ? stable + 1 : 0;
        seen = now;
      }
    }
    const realSeconds = (performance.now() - realStart) / 1000;
    const calls = [
      ...world.spry.requestLog.slice(logFrom.spry).map((r) => ({ at: r.at, org: `spry:${r.organisationId}` })),
      ...world.spruce.requestLog.slice(logFrom.spruce).map((r) => ({ at: r.at, org: `spruce:${r.organizationId}` })),
    ].filter((c) => c.at < end);
    const stamps = calls.map((c) => c.at);
    const seconds = Math.ceil((end - from) / 1000);
    const perSecond = new Array<number>(seconds).fill(0);
    for (const at of stamps) perSecond[Math.min(seconds - 1, Math.floor((at - from) / 1000))]! += 1;
    // A Spry and a Spruce organization of the same tenant count once: by the tenant's index.
    const indexOf = new Map<string, number>(world.tenants.flatMap((t) => [[`spry:${t.spryOrg}`, t.index] as const, [`spruce:${t.spruceOrg}`, t.index] as const]));
    const tenantsPerSecond = Array.from({ length: seconds }, () => new Set<number>());
    for (const c of calls) {
      const index = indexOf.get(c.org);
      if (index !== undefined) tenantsPerSecond[Math.min(seconds - 1, Math.floor((c.at - from) / 1000))]!.add(index);
    }
    const tenantCounts = tenantsPerSecond.map((set) => set.size);
    const dutyRuns = new Array<number>(seconds).fill(0);
    for (const r of runStarts) {
      if (r.at >= from && r.at < end && /^(catch-up|reconcile):/.test(r.duty)) dutyRuns[Math.floor((r.at - from) / 1000)]! += 1;
    }
    const perMinute = Array.from({ length: Math.ceil(seconds / 60) }, (_, m) => perSecond.slice(m * 60, m * 60 + 60).reduce((a, b) => a + b, 0));
    return {
      store: storeName(kind),
      minutes: settings.hourMinutes,
      configStartSeconds,
      realSeconds,
      calls: stamps.length,
      meanPerSecond: stamps.length / seconds,
      maxPerSecond: Math.max(...perSecond),
      p99PerSecond: percentile(perSecond, 99),
      steadyMaxPerSecond: Math.max(0, ...perSecond.slice(60)),
      maxTenantsPerSecond: Math.max(...tenantCounts),
      runs: dutyRuns.reduce((a, b) => a + b, 0),
      steadyMaxRunsPerSecond: Math.max(0, ...dutyRuns.slice(60)),
      maxRunsPerSecond: Math.max(...dutyRuns),
      steadyMaxTenantsPerSecond: Math.max(0, ...tenantCounts.slice(60)),
      firstMinuteCalls: perMinute[0] ?? 0,
      perMinute,
      load: describeLoad(),
    };
  } finally {
    for (const step of cleanup.reverse()) await step().catch(() => {});
  }
}

// ---------------------------------------------------------------------------------------------

const pgUrl = stores.includes('postgres') ? await findPostgres() : null;
const startLoad = describeLoad();
const results: StoreResult[] = [];
const hours: HourResult[] = [];
for (const kind of stores) {
  if (kind === 'postgres' && !pgUrl) {
    console.warn('PostgreSQL is not reachable: its rows are skipped (set SPRUCE_SYNC_TEST_PG_URL).');
    continue;
  }
  if (['idle', 'noisy', 'add'].some((part) => only.has(part))) results.push(await measureStore(kind, pgUrl));
  if (only.has('hour')) {
    log(`${storeName(kind)}: scheduled duties over ${settings.hourMinutes} simulated minutes`);
    const hour = await measureHour(kind, pgUrl);
    hours.push(hour);
    log(`${hour.store}: ${hour.calls} calls, mean ${num(hour.meanPerSecond)}/s, max ${hour.maxPerSecond}/s (after the first minute ${hour.steadyMaxPerSecond}/s), at most ${hour.maxTenantsPerSecond} tenants calling in one second (after the first minute ${hour.steadyMaxTenantsPerSecond}); ${hour.runs} duty runs, at most ${hour.maxRunsPerSecond} started in one second (after the first minute ${hour.steadyMaxRunsPerSecond}) in ${hour.realSeconds.toFixed(0)} s real; per minute ${hour.perMinute.join(' ')}`);
  }
}

const N = settings.tenants;
const ratio = (store: StoreResult) => {
  const [alone, noisy] = store.runs;
  return alone && noisy ? noisy.p99 / alone.p99 : Number.NaN;
};
const tables: string[] = [];
if (results.some((r) => r.seed)) {
  tables.push(
    markdownTable({
      columns: ['store', 'webhooks registered (simulators) s', `${N} tenants added via POST /admin/api/tenants s`, 'per POST p50 / p99 ms', 'RSS after MiB', 'restart → listening s', 'restart → calls back at the steady trickle s (calls meanwhile)', 'load at restart'],
      rows: results.map((r) => [
        r.store,
        r.registerSeconds.toFixed(1),
        r.seed ? r.seed.seconds.toFixed(1) : '—',
        r.seed ? `${num(r.seed.perTenantP50Ms, 0)} / ${num(r.seed.perTenantP99Ms, 0)}` : '—',
        r.seed ? num(r.seed.rssAfterMiB, 0) : '—',
        r.start ? r.start.listeningSeconds.toFixed(1) : '—',
        r.start ? `${r.start.settledSeconds.toFixed(1)}${r.start.settled ? '' : ' (not quiet)'} (${r.start.calls})` : '—',
        r.start ? r.start.load.toFixed(1) : '—',
      ]),
    }),
  );
}
if (results.some((r) => r.idle)) {
  tables.push(
    markdownTable({
      columns: ['store', 'tenants', 'idle s', 'RSS mean / max MiB', 'target < 600 MB', 'CPU % of one core', 'target < 5 %', 'outbound calls in the window', 'load (1/5/15)'],
      rows: results
        .filter((r) => r.idle)
        .map((r) => [
          r.store,
          N,
          r.idle!.seconds.toFixed(0),
          `${num(r.idle!.rssMeanMiB, 0)} / ${num(r.idle!.rssMaxMiB, 0)}`,
          r.idle!.rssMaxMiB * 1.048576 < 600 ? 'met' : 'NOT met',
          num(r.idle!.cpuPercent),
          r.idle!.cpuPercent < 5 ? 'met' : 'NOT met',
          r.idle!.calls,
          r.idle!.load,
        ]),
    }),
  );
}
if (results.some((r) => r.lists)) {
  tables.push(
    markdownTable({
      columns: ['store', 'tenants', 'read', 'median ms', 'max ms (of 5)'],
      rows: results.flatMap((r) => (r.lists ?? []).map((list) => [r.store, N, `GET ${list.path}`, num(list.medianMs, 0), num(list.maxMs, 0)])),
    }),
  );
}
if (results.some((r) => r.runs.length)) {
  tables.push(
    markdownTable({
      columns: ['store', 'run', 'quiet changes', 'applied', 'superseded', 'not applied', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms', 'delivery attempts refused: all (quiet tenants) why', 'noisy: events / Spruce calls (429) / contacts made', 'service CPU %', 'RSS max MiB', 'load (1/5/15)'],
      rows: results.flatMap((r) =>
        r.runs.map((run) => [
          r.store,
          run.label,
          run.changes,
          run.applied,
          run.superseded,
          run.lost,
          num(run.p50, 0),
          num(run.p90, 0),
          num(run.p99, 0),
          num(run.max, 0),
          `${run.refusedDeliveries} (${run.refusedQuiet}) ${Object.entries(run.refusedWhy).map(([w, n]) => `${n} × ${w}`).join(', ') || ''}`.trim(),
          run.noisy ? `${run.noisy.emitted} / ${run.noisy.spruceCalls} (${run.noisy.status429}) / ${run.noisy.contacts}` : '—',
          num(run.cpuPercent, 0),
          num(run.rssMaxMiB, 0),
          run.load,
        ]),
      ),
    }),
  );
}
if (results.some((r) => r.add)) {
  tables.push(
    markdownTable({
      columns: ['store', 'POST /admin/api/tenants ms', 'answer → first webhook accepted ms', 'deliveries refused before', 'answer → first patient in its Spruce org ms', 'load (1/5/15)'],
      rows: results.filter((r) => r.add).map((r) => [r.store, num(r.add!.postMs, 0), num(r.add!.firstAcceptedMs, 0), r.add!.refusedBefore, num(r.add!.firstSyncedMs, 0), r.add!.load]),
    }),
  );
}
if (hours.length) {
  tables.push(
    markdownTable({
      columns: ['store', 'simulated minutes', 'start with the tenants in the config s', 'outbound calls', 'mean / s', 'max in one second', 'p99 of seconds', 'max / s after the first minute', 'most tenants calling in one second (after the first minute)', 'catch-up + reconcile runs: all, most started in one second (after the first minute)', 'first minute', 'real s', 'load (1/5/15)'],
      rows: hours.map((h) => [h.store, h.minutes, h.configStartSeconds.toFixed(1), h.calls, num(h.meanPerSecond), h.maxPerSecond, h.p99PerSecond, h.steadyMaxPerSecond, `${h.maxTenantsPerSecond} (${h.steadyMaxTenantsPerSecond})`, `${h.runs}: ${h.maxRunsPerSecond} (${h.steadyMaxRunsPerSecond})`, h.firstMinuteCalls, h.realSeconds.toFixed(0), h.load]),
    }),
  );
  for (const h of hours) tables.push(`Calls per simulated minute, ${h.store}: ${h.perMinute.join(' · ')}`);
}

const notes: string[] = [];
for (const r of results) {
  const [alone, noisy] = r.runs;
  if (alone && noisy) {
    notes.push(
      `**${r.store}, noisy neighbour:** quiet tenants' p99 ${num(alone.p99, 0)} ms alone, ${num(noisy.p99, 0)} ms beside the noisy tenant ` +
        `(${num(ratio(r), 2)}×; target within 1.2×: ${ratio(r) <= 1.2 ? 'met' : 'NOT met'}; p99 < 1 s: ${noisy.p99 < 1000 ? 'met' : 'NOT met'}).`,
    );
  }
}

const section = `
### ${N} tenants — ${new Date().toISOString().replace(/\.\d+Z$/, 'Z')}

Machine: ${describeMachine()}. Load average (1/5/15 min) at the start: ${startLoad}; each table gives its own. Command: \`npm run bench:tenants${all.length ? ` -- ${all.join(' ')}` : ''}\`${quick ? ' (short form)' : ''}.

${N} tenants, each its own Spry organisation (${settings.patientsEach} patients; tenant 0: ${settings.noisyEvents}) and Spruce organization (${100} calls/min; tenant 0: ${settings.noisyLimit}/min) in two simulators in the benchmark process; webhooks registered with each as \`setup\` does; default schedules (catch-up at start and every 15 min, reconcile every 60 min), default workers. The service is \`spruce-sync start\` in its own process: tenants added through \`POST /admin/api/tenants\` (8 at a time), then the service restarted so that it starts with them all; idle measured once the calls were back at the steady trickle of the periodic catch-ups (at most ${steadyCalls} calls in 5 s, waited for at least the start-run spread + 5 s), so the idle window includes the duties that fall in it. Noisy neighbour: ${settings.rate} Spry edits/s for ${settings.seconds} s spread round robin over ${Math.min(settings.quietTenants, N - 1)} quiet tenants with linked contacts (latency: Spry edit → Spruce \`contact.updated\` carrying it, on the simulators' clock), first alone, then while tenant 0 emits ${settings.noisyEvents} Spry events at ${settings.noisyRate}/s (new patients: each needs 3 Spruce calls under its ${settings.noisyLimit}/min). Added tenant: its webhooks registered, \`POST /admin/api/tenants\`, then one Spry edit every 200 ms until a delivery is answered 2xx. Scheduled duties: a service in the benchmark process on the sandbox's ControlledClock (the process of \`spruce-sync start\` runs on the system clock, which the benchmark cannot move), the same tenants from its config file, the clock advanced 1 s at a time, each step held until the scheduled runs it started had finished (at most 100 ms of real time); every call the simulators answered, and every catch-up and reconcile run started, counted per simulated second.

${tables.join('\n\n')}

${notes.map((n) => `- ${n}`).join('\n')}
`;
await appendSection(section, write);
