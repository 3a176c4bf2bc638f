// `npm run bench:recovery [-- --patients 200] [--spry-rate 20] [--stores sqlite,postgres] [--no-write]`
// Recovery after a crash: Spry edits N new patients, the service acknowledges every webhook,
// starts syncing (Spry paced at `--spry-rate` calls/s, three calls per patient), and is killed
// with SIGKILL while most patients are still in flight, holding leases on the jobs it runs. A new
// process starts on the same database; we time from its start until Spruce shows every patient,
// each exactly once (one contact per patient, one create each). Leases keep their default length
// (60 s): recovery within seconds means nobody waited for them (src/store/lease-recovery.ts).
// On PostgreSQL the restarted process is a new instance; the killed one's leases are reclaimed
// when its heartbeat has been silent for 10 s. Appends its table to docs/BENCHMARKS.md.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort, registerSandboxWebhooks, SANDBOX_SPRY_ORG, startSandbox, type Sandbox } from '../src/sandbox/environment.ts';
import { openStore } from '../src/store/open-store.ts';
import { spryExternalId } from '../src/sync/desired-contact.ts';
import { dropSchema, findPostgres, uniqueSchema } from '../test/support/postgres.ts';
import { scriptArgs } from './lib/args.ts';
import { appendSection } from './lib/report.ts';
import { describeLoad, describeMachine } from './lib/machine.ts';
import { startOneInstance } from './lib/one-instance.ts';

const { option, flag } = scriptArgs();
const patients = Number(option('--patients') ?? 200);
const spryRate = Number(option('--spry-rate') ?? 20);
const stores = (option('--stores') ?? 'sqlite,postgres').split(',') as ('sqlite' | 'postgres')[];
const write = !flag('--no-write');
const TARGET_S = 45;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Result {
  store: string;
  /** Acknowledged and not yet in Spruce when the process was killed. */
  inFlight: number;
  /** Jobs leased by the killed process. */
  leased: number;
  /** Restart → listening, and restart → every patient in Spruce. */
  startSeconds: number;
  syncedSeconds: number;
  contacts: number;
  creates: number;
  duplicates: number;
  spryCallsAfter: number;
}

/** Patients with exactly one linked contact carrying `name(id)`; and those linked more than once. */
function synced(sandbox: Sandbox, ids: number[], name: (id: number) => string): { done: number; duplicated: number } {
  const names = new Map<string, string[]>();
  for (const contact of sandbox.spruce.contacts()) {
    for (const link of contact.integrationLinks ?? []) names.set(link.externalId, [...(names.get(link.externalId) ?? []), contact.familyName ?? '']);
  }
  let done = 0;
  let duplicated = 0;
  for (const id of ids) {
    const found = names.get(spryExternalId(SANDBOX_SPRY_ORG, id)) ?? [];
    if (found.length > 1) duplicated++;
    if (found.length === 1 && found[0] === name(id)) done++;
  }
  return { done, duplicated };
}

async function measure(kind: 'sqlite' | 'postgres', pgUrl: string | null): Promise<Result> {
  const cleanup: (() => Promise<unknown>)[] = [];
  try {
    // Spruce unlimited: the Spry pace alone decides how long the backlog takes (3 calls/patient).
    const sandbox = await startSandbox({ patients, spruceRateLimitPerMinute: 0 });
    cleanup.push(() => sandbox.close());
    const port = await freePort();
    const secrets = await registerSandboxWebhooks(sandbox, `http://127.0.0.1:${port}`);
    const dir = await mkdtemp(path.join(tmpdir(), 'spruce-sync-bench-recovery-'));
    cleanup.push(() => rm(dir, { recursive: true, force: true }));
    const schema = uniqueSchema('bench_recovery');
    // One key for the service and our reader (PostgreSQL requires one; on SQLite it stands in for the key file).
    const encryptionKey = randomBytes(32).toString('base64');
    const database = kind === 'postgres' ? { url: pgUrl!, schema, encryptionKey } : { url: `sqlite:${path.join(dir, 'recovery.db')}`, encryptionKey };
    if (kind === 'postgres') cleanup.push(() => dropSchema(pgUrl!, schema));
    const cluster = await startOneInstance(sandbox, { port, dir, database, secrets, spryRequestsPerSecond: spryRate });
    cleanup.push(() => cluster.stopAll());

    const ids = sandbox.spry.patientIds(SANDBOX_SPRY_ORG).slice(0, patients);
    const name = (id: number) => `Recovered${id}`;
    for (const id of ids) sandbox.spry.staff.editPatient(SANDBOX_SPRY_ORG, id, { last_name: name(id) });

    // Kill once every webhook is acknowledged (stored) and the workers hold leases.
    const reader = await openStore(database.url, { schema: kind === 'postgres' ? schema : undefined, encryptionKey });
    cleanup.push(() => reader.close());
    for (;;) {
      const stored = (await reader.searchEvents({ source: 'spry', limit: patients + 10 })).length;
      const [stats] = await reader.queueStats();
      if (stored >= ids.length && (stats?.running ?? 0) > 0) break;
      await sleep(20);
    }
    await cluster.kill(0);
    const inFlight = ids.length - synced(sandbox, ids, name).done;
    const [stats] = await reader.queueStats();
    const leased = stats?.running ?? 0;

    const spryBefore = sandbox.spry.requestLog.length;
    const started = performance.now();
    await cluster.start(0);
    const startSeconds = (performance.now() - started) / 1000;
    const deadline = started + 300_000;
    while (synced(sandbox, ids, name).done < ids.length) {
      if (performance.now() > deadline) throw new Error(`${kind}: ${ids.length - synced(sandbox, ids, name).done} patients not synced 300 s after the restart`);
      await sleep(50);
    }
    const syncedSeconds = (performance.now() - started) / 1000;
    await sleep(2_000);
    const creates = sandbox.spruce.requestLog.filter((r) => r.method === 'POST' && r.route === 'POST /v1/contacts' && r.status < 300).length;
    return {
      store: kind === 'postgres' ? 'PostgreSQL' : 'SQLite',
      inFlight,
      leased,
      startSeconds,
      syncedSeconds,
      contacts: sandbox.spruce.contacts().length,
      creates,
      duplicates: synced(sandbox, ids, name).duplicated,
      spryCallsAfter: sandbox.spry.requestLog.length - spryBefore,
    };
  } finally {
    for (const step of cleanup.reverse()) await step().catch(() => {});
  }
}

const pgUrl = await findPostgres();
const load = describeLoad();
const results: Result[] = [];
for (const kind of stores) {
  if (kind === 'postgres' && !pgUrl) {
    console.warn('PostgreSQL is not reachable: its row is skipped (set SPRUCE_SYNC_TEST_PG_URL).');
    continue;
  }
  const result = await measure(kind, pgUrl);
  console.log(`${result.store}: ${result.inFlight} in flight (${result.leased} leased) at the kill; all synced ${result.syncedSeconds.toFixed(1)} s after the restart`);
  results.push(result);
}

const table = [
  '| store | in flight at SIGKILL (jobs leased) | restart → listening s | listening → all synced s | restart → all synced s | target | contacts (creates) | duplicates | Spry calls after restart |',
  '| --- | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: |',
  ...results.map(
    (r) =>
      `| ${r.store} | ${r.inFlight} (${r.leased}) | ${r.startSeconds.toFixed(1)} | ${(r.syncedSeconds - r.startSeconds).toFixed(1)} | ${r.syncedSeconds.toFixed(1)} | < ${TARGET_S} s: ${r.syncedSeconds < TARGET_S ? 'met' : 'NOT met'} | ${r.contacts} (${r.creates}) | ${r.duplicates} | ${r.spryCallsAfter} |`,
  ),
].join('\n');
const section = `
### Recovery after SIGKILL — ${new Date().toISOString().replace(/\.\d+Z$/, 'Z')}

Machine: ${describeMachine()}. Load average (1/5/15 min) at the start: ${load}. Command: \`npm run bench:recovery -- ${process.argv.slice(2).join(' ')}\`.

${patients} new Spry patients edited at once; the service (\`spruce-sync start\` with its default workers and 60 s leases, Spry paced at ${spryRate} calls/s, Spruce unlimited) acknowledges every webhook and is killed with SIGKILL while it holds leases. A new process starts on the same database (on PostgreSQL: a new instance id; the dead one's heartbeat row goes silent). Timed from its start until every patient has exactly one contact carrying the edit. Syncing ${patients} patients needs ${3 * patients} Spry calls, ${(3 * patients / spryRate).toFixed(0)} s at ${spryRate}/s.

${table}
`;
await appendSection(section, write);
