// `npm run bench:claim [-- --claims 200] [--limit 1] [--stores sqlite,postgres] [--compare]`:
// what one fair claim (store/sql/queue.ts `claim`) costs with a backlog of due jobs, in
// milliseconds per claim (issues 15 and 16). The worker pool claims after every job it
// finishes, usually one job (its free slots), so this is database time spent per job; on SQLite
// it is the service's event loop. Shapes: one tenant with 1,000 and with 10,000 due jobs, and
// 1,000 tenants with 10 each. The last 8 jobs claimed stay leased (8 busy workers); older ones
// are finished (deleted, untimed), so each claim finds the backlog one job shorter.
// --compare also times the statement before issue 15 (every due job ranked), in turns with the
// current one on the same database, so both see the same machine load. Prints a table; writes nothing.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { openStore } from '../src/store/open-store.ts';
import { raw, skipLocked, sql, type Db } from '../src/store/sql/sql.ts';
import type { ClaimOptions, Store } from '../src/store/types.ts';
import { dropSchema, findPostgres, uniqueSchema } from '../test/support/postgres.ts';
import { scriptArgs } from './lib/args.ts';
import { describeLoad, describeMachine, loadAverage } from './lib/machine.ts';
import { markdownTable, type Cell } from './lib/report.ts';

const { option, flag } = scriptArgs();
const compare = flag('--compare');
const claims = Number(option('--claims') ?? 200);
const limit = Number(option('--limit') ?? 1);
const stores = (option('--stores') ?? 'sqlite,postgres').split(',') as ('sqlite' | 'postgres')[];

const T0 = 1_700_000_000_000;
const LEASE_MS = 60_000;
/** Jobs running at once (the pool's workers, busy): more claimed are finished, oldest first. */
const HELD = 8;
const shapes = [
  { tenants: 1, jobs: 1_000 },
  { tenants: 1, jobs: 10_000 },
  { tenants: 1_000, jobs: 10 },
];

interface Opened {
  store: Store;
  close(): Promise<void>;
}

async function open(kind: 'sqlite' | 'postgres', pgUrl: string | undefined): Promise<Opened> {
  const encryptionKey = randomBytes(32).toString('base64');
  if (kind === 'postgres') {
    const schema = uniqueSchema('bench_claim');
    const store = await openStore(pgUrl!, { schema, encryptionKey });
    return { store, close: async () => (await store.close(), await dropSchema(pgUrl!, schema)) };
  }
  const dir = mkdtempSync(path.join(tmpdir(), 'spruce-sync-bench-claim-'));
  const store = await openStore(`sqlite:${path.join(dir, 'claim.db')}`, { encryptionKey, synchronous: 'NORMAL' });
  return { store, close: async () => (await store.close(), rmSync(dir, { recursive: true, force: true })) };
}

/**
 * The claim as it was before issue 15 (commit 42e1892), without the filters the benchmark does
 * not use: every due job of every tenant ranked. Kept only to compare against.
 */
function claimBefore(db: Db, options: ClaimOptions): Promise<unknown[]> {
  const { now } = options;
  const claimable = sql`state = 'waiting' AND run_at <= ${now} AND (locked_until IS NULL OR locked_until <= ${now})`;
  const capped = options.perTenantLimit === undefined ? raw('') : sql`WHERE turn <= ${options.perTenantLimit}`;
  return db.all(sql`
    WITH held AS (
      SELECT tenant_id, count(*) AS n FROM jobs WHERE state = 'waiting' AND locked_until > ${now} GROUP BY tenant_id
    ),
    turns AS (
      SELECT d.id, d.run_at,
             ROW_NUMBER() OVER (PARTITION BY d.tenant_id ORDER BY d.bulk, d.run_at, d.id) + coalesce(h.n, 0) AS turn
      FROM (SELECT id, tenant_id, run_at, bulk FROM jobs WHERE ${claimable}) d
      LEFT JOIN held h ON h.tenant_id = d.tenant_id
    ),
    due AS (
      SELECT id FROM jobs
      WHERE id IN (SELECT id FROM turns ${capped} ORDER BY turn, run_at, id LIMIT ${options.limit}) AND ${claimable}
      ${skipLocked}
    )
    UPDATE jobs SET locked_by = ${options.workerId}, locked_until = ${now + options.leaseMs}, attempts = attempts + 1,
      claimed_seq = enqueue_seq, updated_at = ${now}
    WHERE id IN (SELECT id FROM due)
    RETURNING *`);
}

type Variant = 'now' | 'before';

/** Milliseconds per claim of `limit` jobs with `shape` waiting, all due, for each variant (taking turns, 10 claims at a time). */
async function measure(kind: 'sqlite' | 'postgres', pgUrl: string | undefined, shape: (typeof shapes)[number]): Promise<Record<Variant, number>> {
  const { store, close } = await open(kind, pgUrl);
  try {
    for (let t = 0; t < shape.tenants; t++) {
      for (let i = 0; i < shape.jobs; i++) {
        await store.enqueueJob(`t${t}`, { key: `spry-patient:${i}`, task: 'spry.patient', params: { patientId: i } }, T0 + i);
      }
    }
    await store.refreshStatistics();
    // The store's own connection, for the old statement (SqlStore keeps it protected).
    const db = (store as unknown as { db: Db }).db;
    const options = { workerId: 'bench', now: T0 + 10_000_000, leaseMs: LEASE_MS, limit, perTenantLimit: 2 * claims * limit + 2 };
    const claimWith: Record<Variant, () => Promise<unknown>> = {
      now: () => store.claimJobs(options),
      before: () => claimBefore(db, options),
    };
    const variants: Variant[] = compare ? ['now', 'before'] : ['now'];
    // Warm each statement (and its plan) before timing.
    for (const v of variants) await claimWith[v]();
    // The jobs under lease, oldest first: past HELD of them, the oldest is finished (its row
    // deleted, untimed), as a pool of busy workers would, so a tenant holds what it would.
    const leased: number[] = [];
    const spent: Record<Variant, number> = { now: 0, before: 0 };
    for (let done = 0; done < claims; done += 10) {
      for (const v of variants) {
        for (let i = 0; i < 10; i++) {
          const started = performance.now();
          const jobs = (await claimWith[v]()) as { id: number }[];
          spent[v] += performance.now() - started;
          leased.push(...jobs.map((j) => j.id));
          while (leased.length > HELD) await db.run(sql`DELETE FROM jobs WHERE id = ${leased.shift()!}`);
        }
      }
    }
    const batches = Math.ceil(claims / 10) * 10;
    return { now: spent.now / batches, before: spent.before / batches };
  } finally {
    await close();
  }
}

const pgUrl = stores.includes('postgres') ? ((await findPostgres()) ?? undefined) : undefined;
const rows: Cell[][] = [];
for (const kind of stores) {
  if (kind === 'postgres' && !pgUrl) {
    console.log('PostgreSQL not reachable: skipped');
    continue;
  }
  const name = kind === 'sqlite' ? 'SQLite' : 'PostgreSQL';
  const now: Cell[] = [name];
  const before: Cell[] = [`${name}, before (every due job ranked)`];
  for (const shape of shapes) {
    const ms = await measure(kind, pgUrl, shape);
    now.push(Number(ms.now.toFixed(2)));
    before.push(Number(ms.before.toFixed(2)));
    console.log(`${name}: ${shape.tenants} tenant(s) × ${shape.jobs} due: ${ms.now.toFixed(2)} ms per claim of ${limit}${compare ? ` (before: ${ms.before.toFixed(2)})` : ''}`);
  }
  rows.push(...(compare ? [before, now] : [now]));
}
console.log(`\nMachine: ${describeMachine()}; load average ${describeLoad(loadAverage())}; ${claims} claims of ${limit} job(s) each, ms per claim:\n`);
console.log(
  markdownTable({
    columns: ['store', ...shapes.map((s) => `${s.tenants.toLocaleString('en')} tenant${s.tenants > 1 ? 's' : ''} × ${s.jobs.toLocaleString('en')} due`)],
    rows,
  }),
);
