// The chaos run: N `spruce-sync start` processes on one PostgreSQL schema behind a round-robin
// proxy, the sandbox on the other side, staff changing things on both sides while instances
// are SIGKILLed and restarted at random and every database session is cut once. Then the world
// must settle into agreement with nothing lost and no rate limit exceeded (see verify.ts).
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort, registerSandboxWebhooks, sandboxConfig, SANDBOX_SPRY_ORG, startSandbox, type Sandbox } from '../../src/sandbox/environment.ts';
import { openStore } from '../../src/store/open-store.ts';
import type { Store } from '../../src/store/types.ts';
import { Cluster } from './cluster.ts';
import { dropSchema, terminateSessions, uniqueSchema } from '../support/postgres.ts';
import { RoundRobinProxy } from './round-robin.ts';
import { disagreements, verify, type Verdict } from './verify.ts';
import { seededRandom, Workload } from './workload.ts';

/** PostgreSQL needs a configured key (or `encryption: off`); every instance shares it. */
const ENCRYPTION_KEY = randomBytes(32).toString('base64');

export interface ChaosOptions {
  pgUrl: string;
  instances: number;
  patients: number;
  /** Spry edits in all, the first pass over every patient included. */
  spryChanges: number;
  spruceChanges: number;
  /** SIGKILLs (each followed by a restart after 1–3 s). */
  kills: number;
  /** How long changes and kills go on. */
  chaosMs: number;
  /** The Spruce simulator's per-minute limit (its default of 100 would take hours here). */
  spruceLimitPerMinute: number;
  /** Spry's limit in the simulator and the tenant's ceiling alike. */
  spryRequestsPerSecond: number;
  /** How long the world may take to settle afterwards. */
  settleMs: number;
  seed: number;
  log?: (line: string) => void;
}

export interface ChaosReport extends Verdict {
  ok: boolean;
  seed: number;
  schema: string;
  durations: { chaosMs: number; settleMs: number; totalMs: number };
  cluster: { starts: number; kills: number; crashes: number }[];
  proxy: { forwarded: number; failedOver: number; unanswered: number };
  databaseSessionsCut: number;
  clockAdvancedMs: number;
  /** Instance output tails when something went wrong. */
  outputs?: string;
}

/** Sandbox clock jumps we allow (to run the senders' retry schedules): Spry signatures are valid for ±300 s. */
const MAX_CLOCK_ADVANCE_MS = 240_000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function runChaos(options: ChaosOptions): Promise<ChaosReport> {
  const log = options.log ?? (() => {});
  const random = seededRandom(options.seed);
  const schema = uniqueSchema('chaos');
  const appPrefix = `${schema}_i`;
  const startedAt = Date.now();
  const cleanup: (() => Promise<unknown>)[] = [];
  let cluster: Cluster | undefined;
  try {
    const sandbox = await startSandbox({ patients: options.patients, spruceRateLimitPerMinute: options.spruceLimitPerMinute });
    cleanup.push(() => sandbox.close());
    sandbox.spry.setRateLimit(options.spryRequestsPerSecond);

    const ports = await Promise.all(Array.from({ length: options.instances }, () => freePort()));
    const proxy = new RoundRobinProxy(() => cluster!.livePorts());
    const publicUrl = await proxy.listen();
    cleanup.push(() => proxy.close());
    const secrets = await registerSandboxWebhooks(sandbox, publicUrl);

    const dir = await mkdtemp(path.join(tmpdir(), 'spruce-sync-chaos-'));
    cleanup.push(() => rm(dir, { recursive: true, force: true }));
    cleanup.push(() => dropSchema(options.pgUrl, schema));
    const specs = await Promise.all(
      ports.map(async (port, index) => {
        const configFile = path.join(dir, `instance-${index}.json`);
        const config = sandboxConfig(sandbox, {
          port,
          databaseUrl: options.pgUrl,
          secrets,
          config: {
            server: { host: '127.0.0.1', port, publicUrl },
            database: { url: options.pgUrl, schema, poolSize: 6, encryptionKey: ENCRYPTION_KEY },
            // Short leases: the jobs of a killed instance come back within seconds.
            workers: { concurrency: 8, leaseMs: 4_000, pollIntervalMs: 250 },
            log: { level: 'warn' },
          },
        }) as { tenants: { spry: Record<string, unknown> }[] };
        config.tenants[0]!.spry.requestsPerSecond = options.spryRequestsPerSecond;
        await writeFile(configFile, JSON.stringify(config));
        return { port, configFile, env: { PGAPPNAME: `${appPrefix}${index}` } };
      }),
    );
    cluster = new Cluster(specs);
    const running = cluster;
    cleanup.push(() => running.stopAll());
    await cluster.startAll();
    log(`${options.instances} instances up on schema ${schema}; webhooks via ${publicUrl}`);

    const store = await openStore(options.pgUrl, { schema, migrate: false, encryptionKey: ENCRYPTION_KEY });
    cleanup.push(() => store.close());
    const patientIds = sandbox.spry.patientIds(SANDBOX_SPRY_ORG);
    const workload = new Workload(sandbox, random);

    // Chaos: changes at a steady pace, kills and one database cut at random moments.
    const chaosStarted = Date.now();
    const killAt = Array.from({ length: options.kills }, () => options.chaosMs * (0.1 + 0.75 * random())).sort((a, b) => a - b);
    const cutAt = options.chaosMs * (0.2 + 0.6 * random());
    let sessionsCut = 0;
    let cutDone = false;
    const restarts: Promise<void>[] = [];
    const firstPass = [...patientIds];
    const laterSpry = Math.max(0, options.spryChanges - firstPass.length);
    let spryDone = 0;
    let spruceDone = 0;
    for (;;) {
      const elapsed = Date.now() - chaosStarted;
      const share = Math.min(1, elapsed / options.chaosMs);
      // Every patient first (so each has a contact), then random edits; Spruce changes start
      // once contacts exist.
      while (firstPass.length > 0 && workload.counts.spry < Math.ceil(share * 3 * patientIds.length)) workload.spryEdit(firstPass.shift()!);
      while (firstPass.length === 0 && spryDone < Math.floor(share * laterSpry)) {
        workload.randomSpryEdit(patientIds);
        spryDone++;
      }
      const spruceShare = Math.max(0, (share - 0.15) / 0.85);
      while (spruceDone < Math.floor(spruceShare * options.spruceChanges) && workload.spruceChange()) spruceDone++;
      while (killAt.length > 0 && elapsed >= killAt[0]!) {
        killAt.shift();
        const up = Array.from({ length: running.size }, (_, i) => i).filter((i) => running.isUp(i));
        if (up.length < 2) continue;
        const victim = up[Math.floor(random() * up.length)]!;
        const downMs = 1_000 + random() * 2_000;
        log(`t=${(elapsed / 1000).toFixed(1)}s SIGKILL instance ${victim}, restart in ${(downMs / 1000).toFixed(1)}s`);
        restarts.push(running.kill(victim).then(() => sleep(downMs)).then(() => running.start(victim)));
      }
      if (!cutDone && elapsed >= cutAt) {
        cutDone = true;
        sessionsCut = await terminateSessions(options.pgUrl, appPrefix);
        log(`t=${(elapsed / 1000).toFixed(1)}s cut all ${sessionsCut} database sessions of the instances`);
      }
      if (share >= 1 && firstPass.length === 0 && spryDone >= laterSpry && spruceDone >= options.spruceChanges && killAt.length === 0 && cutDone) break;
      await sleep(100);
    }
    await Promise.all(restarts);
    const chaosMs = Date.now() - chaosStarted;
    log(`chaos over after ${(chaosMs / 1000).toFixed(1)}s: ${workload.counts.spry} Spry changes, ${workload.counts.spruce} Spruce changes; settling`);

    const settleStarted = Date.now();
    const advanced = await settle(sandbox, store, patientIds, options.settleMs, log);
    const settleMs = Date.now() - settleStarted;
    const verdict = await verify(sandbox, store, patientIds, workload.counts);
    const counts = cluster.counts();
    const crashes = counts.reduce((n, c) => n + c.crashes, 0);
    if (crashes > 0) verdict.problems.push(`${crashes} instance exits nobody caused`);
    if (sessionsCut === 0) verdict.problems.push('the database cut found no sessions to cut');
    const ok = verdict.problems.length === 0;
    return {
      ok,
      ...verdict,
      seed: options.seed,
      schema,
      durations: { chaosMs, settleMs, totalMs: Date.now() - startedAt },
      cluster: counts,
      proxy: { ...proxy.stats },
      databaseSessionsCut: sessionsCut,
      clockAdvancedMs: advanced,
      outputs: ok ? undefined : cluster.outputs(),
    };
  } finally {
    for (const step of cleanup.reverse()) await step().catch(() => {});
  }
}

/**
 * Waits until nothing is queued, running or waiting to be delivered and both systems agree.
 * Deliveries that failed while an instance died wait for the senders' retry schedules (Spruce:
 * 2 min): when only those are left, the sandbox clock jumps to them. Returns how far it jumped.
 */
async function settle(sandbox: Sandbox, store: Store, patientIds: number[], timeoutMs: number, log: (line: string) => void): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let advanced = 0;
  let quietSince: number | undefined;
  for (;;) {
    const stats = await store.queueStats();
    const busy = stats.reduce((n, s) => n + s.waiting + s.running, 0);
    const queued = (await store.searchEvents({ status: 'queued', limit: 1 })).length;
    const pending = sandbox.spry.dispatcher.pendingCount() + sandbox.spruce.dispatcher.pendingCount();
    const drift = busy === 0 && queued === 0 ? disagreements(sandbox, patientIds).length : -1;
    if (busy === 0 && queued === 0 && pending === 0 && drift === 0) {
      // Quiet twice in a row: a job that just finished may have caused one more webhook.
      if (quietSince !== undefined && Date.now() - quietSince > 1_000) return advanced;
      quietSince ??= Date.now();
    } else {
      quietSince = undefined;
    }
    if (Date.now() > deadline) {
      log(`not settled: ${busy} jobs, ${queued} queued events, ${pending} deliveries pending, ${drift} patients differing`);
      return advanced;
    }
    // Only retries far off on the senders' clock are left: run their schedules now.
    const due = [sandbox.spry.dispatcher.nextDueAt(), sandbox.spruce.dispatcher.nextDueAt()].filter((t): t is number => t !== undefined);
    const next = due.length ? Math.min(...due) - sandbox.clock.now() : 0;
    if (busy === 0 && queued === 0 && pending > 0 && next > 3_000 && advanced + next <= MAX_CLOCK_ADVANCE_MS) {
      log(`jumping the sandbox clock ${(next / 1000).toFixed(0)}s to ${pending} pending redeliveries`);
      await sandbox.spry.settle();
      await sandbox.spruce.settle();
      await sandbox.clock.advance(next);
      advanced += next;
    }
    await sleep(500);
  }
}
