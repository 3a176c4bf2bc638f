// Bootstrap backfill against the sandbox (real HTTP, a real SQLite file): 2,000 patients into a
// Spruce org that already holds 500 of them (many pages of Spry's list; 100,000 patients is the
// benchmark's job, `npm run bench:backfill`); the same backfill killed twice (SIGKILL of the CLI)
// and resumed; a dry run that predicts the real one; ambiguous matches reported, never guessed.
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SANDBOX_SPRY_ORG, startSandbox, type Sandbox } from '../../src/sandbox/environment.ts';
import type { SpryPatient } from '../../src/spry/types.ts';
import { runBackfill } from '../../src/sync/backfill.ts';
import type { BackfillSummary } from '../../src/sync/backfill-report.ts';
import { canonicalOrg, linkedContacts, openBench, seedExistingContacts, type Bench } from './backfill-support.ts';
import { contactsOfPatient, eventually, startWorld, type World } from './support.ts';

const PATIENTS = 2_000;
const SEED = 11;

let sandbox: Sandbox | undefined;
let bench: Bench | undefined;
let world: World | undefined;
/** The org after the uninterrupted run, to compare the killed-and-resumed one with. */
let uninterrupted: string[] | undefined;

afterEach(async () => {
  await world?.close();
  world = undefined;
  await bench?.close();
  await sandbox?.close();
  bench = undefined;
  sandbox = undefined;
});

async function bigWorld(): Promise<{ sandbox: Sandbox; bench: Bench; existing: Awaited<ReturnType<typeof seedExistingContacts>> }> {
  sandbox = await startSandbox({ seed: SEED, patients: PATIENTS, spruceRateLimitPerMinute: 0 });
  const existing = await seedExistingContacts(sandbox, { linked: 250, unlinked: 250, ambiguous: 0, every: 3 });
  expect([existing.linked.size, existing.unlinked.size]).toEqual([250, 250]);
  bench = await openBench(sandbox, { backfill: { matchExisting: true } });
  return { sandbox, bench, existing };
}

/** Every patient has exactly one contact carrying its link, named as in Spry. */
function expectOneContactEach(world: Sandbox): void {
  const byPatient = linkedContacts(world);
  const wrong = world.spry.patients(SANDBOX_SPRY_ORG).filter((p) => {
    const contacts = byPatient.get(p.patient_id) ?? [];
    return contacts.length !== 1 || contacts[0]!.familyName !== p.last_name;
  });
  expect(wrong.map((p) => p.patient_id)).toEqual([]);
}

/** The summary in the store holds ids and counts, none of the patients' details. */
function expectNoPhi(stored: string, patients: SpryPatient[]): void {
  for (const p of patients.slice(0, 200)) {
    for (const value of [p.last_name, p.email_address, p.mobile, p.date_of_birth]) {
      if (value && value.length > 3) expect(stored).not.toContain(value);
    }
  }
}

describe('backfill', () => {
  it('gives 2,000 patients exactly one linked contact each in an org already holding 500 of them', async () => {
    const { sandbox, bench, existing } = await bigWorld();
    const summary = await runBackfill(bench.ctx);

    expect(summary).toMatchObject({ status: 'completed', total: PATIENTS, done: PATIENTS });
    expect(summary.counts).toMatchObject({ created: PATIENTS - 500, linked: 250, matched: 250, ambiguous: 0, failed: 0 });
    expectOneContactEach(sandbox);
    expect(sandbox.spruce.contacts()).toHaveLength(PATIENTS);
    // The contacts that were there are the ones now linked: nothing was created beside them.
    const byPatient = linkedContacts(sandbox);
    for (const [patientId, contactId] of [...existing.linked, ...existing.unlinked]) expect(byPatient.get(patientId)![0]!.id).toBe(contactId);
    for (const patientId of [...existing.linked.keys()].slice(0, 50)) {
      expect((await bench.store.getLinkByPatient(bench.config.tenants[0]!.id, patientId))?.contactId).toBe(existing.linked.get(patientId));
    }

    const stored = (await bench.store.getState(bench.config.tenants[0]!.id, 'backfill.last'))!;
    expect(JSON.parse(stored)).toMatchObject({ status: 'completed', done: PATIENTS, counts: summary.counts });
    expectNoPhi(stored, sandbox.spry.patients(SANDBOX_SPRY_ORG));
    expect(await bench.store.getState(bench.config.tenants[0]!.id, 'backfill.checkpoint')).toBe('');
    expect(sandbox.spruce.violations).toEqual([]);
    uninterrupted = canonicalOrg(sandbox);
  });

  it('killed twice mid-way (SIGKILL of the CLI) and resumed, ends identical and creates no duplicate', async () => {
    expect(uninterrupted, 'runs after the uninterrupted backfill').toBeDefined();
    const { sandbox, bench } = await bigWorld();
    const configFile = path.join(bench.dir, 'config.json');
    await writeFile(configFile, JSON.stringify(bench.rawConfig));

    const first = await runCli(configFile, 500);
    expect(first.killed).toBe(true);
    const second = await runCli(configFile, 1_200);
    expect(second.killed).toBe(true);
    expect(second.output).toMatch(/backfill: \d+\/2000/);
    const last = await runCli(configFile);
    expect(last.killed).toBe(false);
    expect(last.code).toBe(0);
    expect(last.output).toMatch(/resumed after patient \d+/);
    expect(last.output).toContain('backfill completed');

    const summary = JSON.parse((await bench.store.getState(bench.config.tenants[0]!.id, 'backfill.last'))!) as BackfillSummary;
    expect(summary).toMatchObject({ status: 'completed', done: PATIENTS });
    expect(summary.counts.failed).toBe(0);
    expectOneContactEach(sandbox);
    expect(sandbox.spruce.contacts()).toHaveLength(PATIENTS);
    expect(canonicalOrg(sandbox)).toEqual(uninterrupted);
    expect(sandbox.spruce.violations).toEqual([]);
  });

  it('reports what it would do in a dry run, changing nothing; ambiguous matches are reported, never guessed', async () => {
    sandbox = await startSandbox({ seed: 5, patients: 300, spruceRateLimitPerMinute: 0 });
    const existing = await seedExistingContacts(sandbox, { linked: 8, unlinked: 8, ambiguous: 5, every: 7 });
    bench = await openBench(sandbox, { backfill: { matchExisting: true } });
    const tenantId = bench.config.tenants[0]!.id;
    const contactsBefore = canonicalOrg(sandbox);
    const writesBefore = sandbox.spruce.requestLog.length;

    const dry = await runBackfill(bench.ctx, { dryRun: true });
    expect(dry).toMatchObject({ status: 'completed', dryRun: true, done: 300 });
    expect(dry.counts).toMatchObject({ created: 300 - 21, linked: 8, matched: 8, ambiguous: 5, failed: 0 });
    const writes = sandbox.spruce.requestLog.slice(writesBefore).filter((r) => r.method !== 'GET' && r.route !== 'POST /v1/contacts/search');
    expect(writes).toEqual([]);
    expect(canonicalOrg(sandbox)).toEqual(contactsBefore);
    expect(await bench.store.getState(tenantId, 'backfill.last')).toBeNull();
    for (const id of sandbox.spry.patientIds(SANDBOX_SPRY_ORG).slice(0, 20)) expect(await bench.store.getLinkByPatient(tenantId, id)).toBeNull();

    const real = await runBackfill(bench.ctx);
    expect(real.counts).toEqual(dry.counts);
    const ambiguousIds = [...existing.ambiguous.keys()].sort((a, b) => a - b);
    expect(real.ambiguous.map((a) => a.patientId).sort((a, b) => a - b)).toEqual(ambiguousIds);
    for (const a of real.ambiguous) expect(a.contactIds).toEqual([...existing.ambiguous.get(a.patientId)!].sort());
    const byPatient = linkedContacts(sandbox);
    for (const patientId of ambiguousIds) expect(byPatient.get(patientId)).toBeUndefined();

    // The operator removes the duplicates; the next run links the one left, and leaves the rest.
    for (const [, [, duplicate]] of existing.ambiguous) sandbox.spruce.staff.deleteContact(duplicate!);
    const again = await runBackfill(bench.ctx);
    expect(again.counts).toMatchObject({ created: 0, matched: 5, ambiguous: 0, updated: 0, unchanged: 295, failed: 0 });
    expectOneContactEach(sandbox);
    for (const [patientId, [kept]] of existing.ambiguous) expect(linkedContacts(sandbox).get(patientId)![0]!.id).toBe(kept);
    expect(sandbox.spruce.violations).toEqual([]);
  });

  it('leaves live traffic its share of the Spruce budget while it runs at the default limit (100/min)', async () => {
    world = await startWorld({
      patients: 400,
      // A few patients in flight are enough to use this budget (the sandbox's Spry allows 20/s).
      service: { tenant: { backfill: { concurrency: 3 }, schedules: { catchUpOnStart: false, catchUpEveryMinutes: 0, reconcileEveryMinutes: 0 } } },
    });
    const ctx = world.service.contexts.get(world.config.tenants[0]!.id)!;
    const controller = new AbortController();
    let done = 0;
    const running = runBackfill(ctx, { signal: controller.signal }, (p) => (done = p.done));
    await eventually(() => done >= 3, 30_000, 'the backfill to get going');

    // A patient the backfill will not reach for minutes is edited in Spry: its sync goes first.
    const patientId = world.sandbox.spry.patientIds(SANDBOX_SPRY_ORG).at(-1)!;
    const editedAt = Date.now();
    world.sandbox.spry.staff.editPatient(SANDBOX_SPRY_ORG, patientId, { last_name: 'LiveDuringBackfill' });
    await eventually(() => contactsOfPatient(world!, patientId)[0]?.familyName === 'LiveDuringBackfill', 20_000, 'the live edit');
    const liveSeconds = (Date.now() - editedAt) / 1000;
    expect(liveSeconds).toBeLessThan(10);
    controller.abort();
    const summary = await running;
    expect(summary.status).toBe('interrupted');
    expect(summary.done).toBeLessThan(400);
    expect(world.sandbox.spruce.requestLog.filter((r) => r.status === 429)).toEqual([]);
    expect(world.sandbox.spruce.violations).toEqual([]);
  });
});

interface CliRun {
  killed: boolean;
  code: number | null;
  output: string;
}

/** Runs `spruce-sync backfill` as a child process; SIGKILLs it once it reports `killAt` patients done. */
function runCli(configFile: string, killAt?: number): Promise<CliRun> {
  const child = spawn(process.execPath, ['bin/spruce-sync.js', 'backfill', '--config', configFile, '--tenant', 'sandbox-pt'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  let killed = false;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the backfill CLI took too long: ${output.slice(-2000)}`));
    }, 90_000);
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const done = [...output.matchAll(/backfill: (\d+)\//g)].map((m) => Number(m[1])).pop() ?? 0;
      if (killAt !== undefined && !killed && done >= killAt) {
        killed = true;
        child.kill('SIGKILL');
      }
    });
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ killed, code, output });
    });
  });
}