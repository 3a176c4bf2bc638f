// Catch-up after downtime: the service is stopped for a simulated hour while both sides change
// (every delivery to it fails, Spruce gives up after its 10 attempts); a new service on the
// same database catches up at start, from Spruce's delivery log and Spry's updated_since, to
// exact agreement.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load-config.ts';
import { freePort, SANDBOX_SPRY_ORG, sandboxConfig, startSandbox, startServiceOnSandbox, type Sandbox } from '../../src/sandbox/environment.ts';
import { startService, type RunningService } from '../../src/service.ts';
import { runBackfill } from '../../src/sync/backfill.ts';
import { CATCH_UP_KEYS, type CatchUpReport } from '../../src/sync/catch-up.ts';
import { differences, snapshotOfContact, snapshotOfDesired } from '../../src/sync/contact-diff.ts';
import { desiredContact, isUpcoming } from '../../src/sync/desired-contact.ts';
import type { Config } from '../../src/config/schema.ts';
import { createLogger } from '../../src/observe/logger.ts';
import { tenantContext } from '../../src/service.ts';
import { catchUp } from '../../src/sync/catch-up.ts';
import { linkedContacts, openBench } from './backfill-support.ts';
import { contactsOfPatient, eventually, quiesce, type World } from './support.ts';

let sandbox: Sandbox | undefined;
let services: RunningService[] = [];
let dir: string | undefined;

afterEach(async () => {
  for (const service of services) await service.close().catch(() => undefined);
  services = [];
  await sandbox?.close();
  sandbox = undefined;
  if (dir) await rm(dir, { recursive: true, force: true });
});

function runCli(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; output: string }> {
  const child = spawn(process.execPath, ['bin/spruce-sync.js', ...args], { stdio: ['ignore', 'pipe', 'pipe'], env });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, output })));
}

/** Field names that differ between each patient's contact and what Spry says it should be. */
function disagreements(world: { sandbox: Sandbox; config: Config }): Record<number, string[]> {
  const tenant = world.config.tenants[0]!;
  const byPatient = linkedContacts(world.sandbox);
  const now = world.sandbox.clock.now();
  const found: Record<number, string[]> = {};
  for (const patient of world.sandbox.spry.patients(SANDBOX_SPRY_ORG)) {
    const contacts = byPatient.get(patient.patient_id) ?? [];
    if (contacts.length !== 1) {
      found[patient.patient_id] = [`${contacts.length} contacts`];
      continue;
    }
    const appointments = world.sandbox.spry.appointments(SANDBOX_SPRY_ORG, patient.patient_id).filter((a) => isUpcoming(a, now));
    appointments.sort((a, b) => Number(a.date_time) - Number(b.date_time));
    const desired = desiredContact(
      { patient, cases: world.sandbox.spry.cases(SANDBOX_SPRY_ORG, patient.patient_id), nextAppointment: appointments[0] ?? null },
      { organisationId: SANDBOX_SPRY_ORG, chartUrl: tenant.spry.chartUrl, policy: tenant.sync },
    );
    const live = snapshotOfContact(contacts[0]!);
    // The next appointment moves with the clock, not with any event: the simulated hour is not its business here.
    const diff = differences(snapshotOfDesired(desired, { fieldIds: {}, tagIds: {} }, live.tags), live, [tenant.sync.tag]).filter(
      (key) => key !== `field:${tenant.sync.fieldNames.nextAppointment}`,
    );
    if (diff.length > 0) found[patient.patient_id] = diff;
  }
  return found;
}

describe('catch-up after downtime', () => {
  it('a service stopped for a simulated hour while both sides change catches up to exact agreement', async () => {
    sandbox = await startSandbox({ patients: 20, spruceRateLimitPerMinute: 0 });
    dir = await mkdtemp(path.join(tmpdir(), 'spruce-sync-catch-up-'));
    const first = await startServiceOnSandbox(sandbox, { databaseUrl: `sqlite:${path.join(dir, 'sync.db')}` });
    services.push(first.service);
    const { config } = first;
    const tenantId = config.tenants[0]!.id;
    await runBackfill(first.service.contexts.get(tenantId)!);
    await quiesce({ ...first, sandbox } as World);
    expect(disagreements({ sandbox, config })).toEqual({});

    // Down.
    await first.service.close();
    services = [];
    const ids = sandbox.spry.patientIds(SANDBOX_SPRY_ORG);
    const contactOf = (patientId: number) => linkedContacts(sandbox!).get(patientId)![0]!;
    sandbox.spry.staff.editPatient(SANDBOX_SPRY_ORG, ids[0]!, { last_name: 'RenamedWhileDown' });
    sandbox.spry.staff.editPatient(SANDBOX_SPRY_ORG, ids[1]!, { mobile: '+12065550111' });
    sandbox.spry.staff.inactivatePatient(SANDBOX_SPRY_ORG, ids[2]!);
    const added = sandbox.spry.staff.registerPatient(SANDBOX_SPRY_ORG, { first_name: 'Nadia', last_name: 'Downtime', date_of_birth: '1991-03-04', mobile: '+12065550122' });
    sandbox.spruce.staff.editContact(contactOf(ids[3]!).id, { phoneNumbers: [{ label: 'Mobile', value: '+12065550133' }] });
    const deletedContact = contactOf(ids[4]!).id;
    sandbox.spruce.staff.deleteContact(deletedContact);
    sandbox.spruce.staff.editContact(contactOf(ids[5]!).id, { familyName: 'EditedWhileDown' });
    sandbox.spruce.staff.createContact({ category: 'patient', givenName: 'Walk', familyName: 'In', phoneNumbers: [{ value: '+12065550144' }] });
    await sandbox.spry.settle();
    await sandbox.spruce.settle();

    // An hour passes: Spruce retries every 2 minutes and gives up after 10 attempts; Spry's
    // next retry is due after the hour, so only catch-up can bring these changes in time.
    await sandbox.spruce.advance(3_600_000);
    const failed = sandbox.spruce.dispatcher.attempts.filter((a) => a.status !== 200).length;
    expect(failed).toBeGreaterThan(0);

    // Up again: a new service on the same database and port.
    const restartedAt = sandbox.clock.now();
    const second = await startService(config, { clock: sandbox.clock });
    services.push(second);
    const world = { sandbox, service: second, config } as unknown as World;
    const report = await eventually(async () => {
      const text = await second.store.getState(tenantId, CATCH_UP_KEYS.last);
      const parsed = text ? (JSON.parse(text) as CatchUpReport) : undefined;
      return parsed && parsed.startedAt >= restartedAt && parsed.finishedAt ? parsed : undefined;
    });
    expect(report.spruce.error).toBeUndefined();
    expect(report.spry.error).toBeUndefined();
    await quiesce(world);

    expect(disagreements({ sandbox, config })).toEqual({});
    expect(sandbox.spry.patient(SANDBOX_SPRY_ORG, ids[3]!)!.mobile).toBe('+12065550133');
    expect(contactOf(ids[4]!).id).not.toBe(deletedContact);
    expect(contactOf(ids[5]!).familyName).toBe(sandbox.spry.patient(SANDBOX_SPRY_ORG, ids[5]!)!.last_name);
    expect(contactOf(added.patient_id).familyName).toBe('Downtime');

    const last = JSON.parse((await second.store.getState(tenantId, CATCH_UP_KEYS.last))!) as CatchUpReport;
    expect(last.spruce.stored).toBeGreaterThanOrEqual(4);
    expect(last.spry.queued).toBe(4);
    const dead = (await second.store.queueStats(tenantId)).reduce((n, s) => n + s.dead, 0);
    expect(dead).toBe(0);
    expect(sandbox.spruce.violations).toEqual([]);
  });

  it('setup registers both webhooks once, keeps the secrets, and a service configured with them receives and catches up', async () => {
    sandbox = await startSandbox({ patients: 5, spruceRateLimitPerMinute: 0 });
    dir = await mkdtemp(path.join(tmpdir(), 'spruce-sync-setup-'));
    const port = await freePort();
    const publicUrl = `http://127.0.0.1:${port}`;
    const raw = sandboxConfig(sandbox, {
      port,
      databaseUrl: `sqlite:${path.join(dir, 'sync.db')}`,
      secrets: { spryWebhook: '${SPRY_HOOK}', spruceWebhook: '${SPRUCE_HOOK}' },
      config: { database: { url: `sqlite:${path.join(dir, 'sync.db')}`, encryptionKey: randomBytes(32).toString('hex') } },
    });
    const configFile = path.join(dir, 'config.json');
    await writeFile(configFile, JSON.stringify(raw));
    const env = { ...process.env };
    delete env.SPRY_HOOK;
    delete env.SPRUCE_HOOK;

    const first = await runCli(['setup', '--config', configFile, '--public-url', publicUrl], env);
    expect(first.code, first.output).toBe(0);
    expect(first.output).toMatch(/Spry subscription \S+: created/);
    expect(first.output).toMatch(/Spruce webhook endpoint wde_\S+: created/);
    const second = await runCli(['setup', '--config', configFile, '--public-url', publicUrl, '--show-secrets'], env);
    expect(second.code, second.output).toBe(0);
    expect(second.output).toMatch(/Spry subscription \S+: already registered/);
    expect(second.output).toMatch(/Spruce webhook endpoint \S+: already registered/);
    expect(sandbox.spry.subscriptions(SANDBOX_SPRY_ORG)).toHaveLength(1);
    expect(sandbox.spruce.webhookEndpoints()).toHaveLength(1);
    const secrets = Object.fromEntries([...second.output.matchAll(/^(SPRY_HOOK|SPRUCE_HOOK)=(.+)$/gm)].map((m) => [m[1], m[2]]));
    expect(Object.keys(secrets).sort()).toEqual(['SPRUCE_HOOK', 'SPRY_HOOK']);
    // Printed only when asked.
    expect(first.output).not.toContain(secrets.SPRY_HOOK!);

    // The service, configured with them, receives both sides' webhooks and finds its endpoint.
    const config = await loadConfig(configFile, { ...env, ...secrets });
    const service = await startService(config, { clock: sandbox.clock });
    services.push(service);
    const patientId = sandbox.spry.patientIds(SANDBOX_SPRY_ORG)[0]!;
    sandbox.spry.staff.editPatient(SANDBOX_SPRY_ORG, patientId, { last_name: 'AfterSetup' });
    await eventually(() => contactsOfPatient({ sandbox: sandbox! }, patientId)[0]?.familyName === 'AfterSetup');
    const report = await eventually(async () => {
      const text = await service.store.getState(config.tenants[0]!.id, CATCH_UP_KEYS.last);
      return text ? (JSON.parse(text) as CatchUpReport) : undefined;
    });
    expect(report.spruce.endpointId).toBe(sandbox.spruce.webhookEndpoints()[0]!.id);
    const stored = await service.store.getState(config.tenants[0]!.id, 'setup.spry.signatureKey');
    expect(stored).toBeTruthy();
    expect(Buffer.from(stored!, 'base64').toString('utf8')).not.toContain(secrets.SPRY_HOOK!);
    const contact = contactsOfPatient({ sandbox }, patientId)[0]!;
    sandbox.spruce.staff.editContact(contact.id, { emailAddresses: [{ value: 'after.setup@example.test' }] });
    await eventually(() => sandbox!.spry.patient(SANDBOX_SPRY_ORG, patientId)!.email_address === 'after.setup@example.test');
  });

  it('a run stopped while it waits for its turn ends interrupted, not failed, and keeps its checkpoint for the next run', async () => {
    sandbox = await startSandbox({ seed: 12, patients: 1_200 });
    const bench = await openBench(sandbox);
    try {
      const tenant = bench.config.tenants[0]!;
      // One Spry call per 1,000 s, and the token takes it.
      const slowSpry = { ...tenant, spry: { ...tenant.spry, requestsPerSecond: 0.001 } };
      const ctx = tenantContext(slowSpry, { store: bench.store, clock: sandbox.clock, logger: createLogger({ level: 'silent' }) });
      await bench.store.setState(tenant.id, CATCH_UP_KEYS.sprySince, '0');
      const stop = new AbortController();
      const run = catchUp(ctx, { signal: stop.signal });
      const spry = sandbox.spry;
      // The token took the one call; the first page of patients waits for its turn.
      await eventually(() => spry.requestLog.some((r) => r.route.includes('oauth/token')), 10_000, 'the token request');
      stop.abort();
      const report = await run;
      expect(spry.requestLog.filter((r) => !r.route.includes('oauth/token'))).toEqual([]);

      expect(report.spruce).toMatchObject({ skipped: 'no_endpoint' });
      expect(report.spry.interrupted).toBe(true);
      expect(report.spry.error).toBeUndefined();
      // The span was not covered: the next run starts where this one did.
      expect(await bench.store.getState(tenant.id, CATCH_UP_KEYS.sprySince)).toBe('0');
      const last = JSON.parse((await bench.store.getState(tenant.id, CATCH_UP_KEYS.last))!) as CatchUpReport;
      expect(last.spry).toMatchObject({ interrupted: true });

      // Stopped before it starts: neither side calls anything.
      const calls = spry.requestLog.length;
      const early = await catchUp(ctx, { signal: AbortSignal.abort() });
      expect([early.spruce.interrupted, early.spry.interrupted]).toEqual([true, true]);
      expect(spry.requestLog.length).toBe(calls);
    } finally {
      await bench.close();
    }
  });
});
