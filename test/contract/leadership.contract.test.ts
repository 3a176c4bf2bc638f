// Leadership of scheduled duties: one leader per duty among instances on one PostgreSQL, taken
// over within seconds when the leader's session dies; always the leader on the embedded store.
import { afterEach, describe, expect, it } from 'vitest';
import { LocalLeadership } from '../../src/store/leadership.ts';
import { PostgresLeadership } from '../../src/store/postgres/leadership.ts';
import { eventually } from '../e2e/support.ts';
import { adminQuery, findPostgres, skipNotice, uniqueSchema } from '../support/postgres.ts';

const pgUrl = await findPostgres();
if (!pgUrl) console.warn(skipNotice('leadership'));

const open: PostgresLeadership[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((l) => l.close()));
});

function elector(namespace: string, changes: string[] = [], name = ''): PostgresLeadership {
  const leadership = new PostgresLeadership({
    url: pgUrl!,
    namespace,
    retryMs: 100,
    heartbeatMs: 100,
    onChange: (duty, leader) => changes.push(`${name}${duty}:${leader ? 'up' : 'down'}`),
  });
  open.push(leadership);
  return leadership;
}

/** The server session holding the lock of `duty` in `namespace` (as pg_locks shows it). */
async function holderPid(namespace: string, duty: string): Promise<number | undefined> {
  const rows = await adminQuery<{ pid: number }>(
    pgUrl!,
    `SELECT pid FROM pg_locks
     WHERE locktype = 'advisory' AND granted AND objsubid = 2
       AND classid::bigint = (hashtext('spruce-sync:leader')::bigint & 4294967295)
       AND objid::bigint = (hashtext($1)::bigint & 4294967295)`,
    [`${namespace}:${duty}`],
  );
  return rows[0]?.pid;
}

describe.skipIf(!pgUrl)('PostgreSQL leadership', () => {
  it('gives each duty one leader; the first call for a duty is decided, not guessed', async () => {
    const ns = uniqueSchema('lead');
    const a = elector(ns);
    const b = elector(ns);
    const ranOnA = await a.runIfLeader('reconcile', async () => 'a');
    const ranOnB = await b.runIfLeader('reconcile', async () => 'b');
    expect(ranOnA).toBe('a');
    expect(ranOnB).toBeUndefined();
    expect(a.isLeader('reconcile')).toBe(true);
    expect(b.isLeader('reconcile')).toBe(false);
    // Another duty is a separate election: B may lead it.
    expect(await b.runIfLeader('catch-up', async () => 'b')).toBe('b');
    expect(await a.runIfLeader('catch-up', async () => 'a')).toBeUndefined();
    // One session per instance holds all its duties: connections do not grow with tenants.
    expect(await a.runIfLeader('reconcile:t2', async () => 'a')).toBe('a');
    expect(await holderPid(ns, 'reconcile:t2')).toBe(await holderPid(ns, 'reconcile'));
    expect(await holderPid(ns, 'catch-up')).not.toBe(await holderPid(ns, 'reconcile'));
    // Another namespace (another deployment on the same database) leads on its own.
    expect(await elector(uniqueSchema('lead')).runIfLeader('reconcile', async () => 'c')).toBe('c');
  });

  it('hands leadership over within seconds when the leader session dies, aborting its running duty', async () => {
    const ns = uniqueSchema('lead');
    const changes: string[] = [];
    const a = elector(ns, changes, 'a:');
    const b = elector(ns, changes, 'b:');
    let signal: AbortSignal | undefined;
    let releaseRun!: () => void;
    const running = a.runIfLeader('reconcile', async (s) => {
      signal = s;
      await new Promise<void>((resolve) => (releaseRun = resolve));
      return s.aborted;
    });
    await eventually(() => signal !== undefined, 5_000, 'A to start its duty');
    expect(await b.runIfLeader('reconcile', async () => true)).toBeUndefined();

    const pid = await holderPid(ns, 'reconcile');
    expect(pid).toBeTypeOf('number');
    const cutAt = Date.now();
    await adminQuery(pgUrl!, 'SELECT pg_terminate_backend($1)', [pid]);

    await eventually(() => b.isLeader('reconcile'), 5_000, 'B to take over');
    expect(Date.now() - cutAt).toBeLessThan(3_000);
    expect(a.isLeader('reconcile')).toBe(false);
    expect(signal!.aborted).toBe(true);
    releaseRun();
    expect(await running).toBe(true);
    expect(await b.runIfLeader('reconcile', async () => 'b')).toBe('b');
    expect(await a.runIfLeader('reconcile', async () => 'a')).toBeUndefined();
    expect(changes).toEqual(['a:reconcile:up', 'a:reconcile:down', 'b:reconcile:up']);
    // B's lock is held by a live session: A keeps following.
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(a.isLeader('reconcile')).toBe(false);
  });

  it('hands leadership over when the leader shuts down', async () => {
    const ns = uniqueSchema('lead');
    const a = elector(ns);
    const b = elector(ns);
    expect(await a.runIfLeader('reconcile', async () => true)).toBe(true);
    expect(await b.runIfLeader('reconcile', async () => true)).toBeUndefined();
    await a.close();
    await eventually(() => b.isLeader('reconcile'), 5_000, 'B to take over');
    expect(await holderPid(ns, 'reconcile')).toBeTypeOf('number');
    await b.close();
    await eventually(async () => (await holderPid(ns, 'reconcile')) === undefined, 5_000, 'the lock to be released');
  });

  it('does not lead while the database is unreachable, and does not crash', async () => {
    const changes: string[] = [];
    const unreachable = new PostgresLeadership({ url: 'postgres://nobody@127.0.0.1:1/none', namespace: 'x', retryMs: 50, onChange: (d, l) => changes.push(`${d}:${l}`) });
    open.push(unreachable);
    expect(await unreachable.runIfLeader('reconcile', async () => true)).toBeUndefined();
    expect(changes).toEqual([]);
  });
});

describe('embedded leadership', () => {
  it('always leads: one process owns the SQLite file', async () => {
    const local = new LocalLeadership();
    expect(local.isLeader()).toBe(true);
    expect(await local.runIfLeader('reconcile', async (signal) => signal.aborted)).toBe(false);
    await local.close();
  });
});
