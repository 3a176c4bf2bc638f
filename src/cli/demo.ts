// `spruce-sync demo` (what `npm start` runs): the sandbox and the service together on the
// embedded default, wired as a real installation is, with a clinic's worth of activity.
import { mkdir, rm } from 'node:fs/promises';
import type { Command } from 'commander';
import { clinicMorning, frontDeskAfternoon } from '../sandbox/demo-activity.ts';
import { SANDBOX_SPRY_ORG, startSandbox, startServiceOnSandbox, type SandboxWithService } from '../sandbox/environment.ts';
import type { SpruceContact } from '../spruce/types.ts';
import { spryExternalId } from '../sync/desired-contact.ts';
import { queuePatientSync } from '../sync/inbound-contact.ts';
import { describeEvents, markStep, plural, stepActivity, tally } from './demo-report.ts';
import { integer } from './sandbox.ts';

export const DEMO_ADMIN_TOKEN = 'demo-admin-token';
const DEMO_DB = './data/demo.db';

interface DemoOptions {
  port: string;
  spryPort: string;
  sprucePort: string;
  patients: string;
  once?: boolean;
}

export function registerDemoCommand(program: Command): void {
  program
    .command('demo')
    .description('Run the sandbox and the service together, with a clinic’s worth of activity')
    .option('--port <port>', 'service port', '8080')
    .option('--spry-port <port>', 'Spry simulator port', '4010')
    .option('--spruce-port <port>', 'Spruce simulator port', '4020')
    .option('--patients <n>', 'Spry patients in the sandbox', '40')
    .option('--once', 'run the activity, print the outcome and exit (non-zero if anything failed)')
    .action(async (options: DemoOptions) => {
      const ok = await runDemo(options);
      if (options.once) process.exit(ok ? 0 : 1);
    });
}

async function runDemo(options: DemoOptions): Promise<boolean> {
  // A fresh database each run: the simulators start fresh too, and old links would point nowhere.
  await mkdir('./data', { recursive: true });
  await Promise.all(['', '-wal', '-shm'].map((suffix) => rm(`${DEMO_DB}${suffix}`, { force: true })));
  const sandbox = await startSandbox({
    patients: integer(options.patients, '--patients'),
    spruceContacts: 3,
    spryPort: integer(options.spryPort, '--spry-port'),
    sprucePort: integer(options.sprucePort, '--spruce-port'),
  });
  const world = await startServiceOnSandbox(sandbox, {
    port: integer(options.port, '--port'),
    databaseUrl: `sqlite:${DEMO_DB}`,
    config: { log: { level: 'warn' }, admin: { token: DEMO_ADMIN_TOKEN } },
  });
  const ctx = world.service.contexts.values().next().value!;
  console.log(`spruce-sync demo: service ${world.service.url}, Spry ${sandbox.spryUrl}, Spruce ${sandbox.spruceUrl}\n`);

  const existing = sandbox.spry.patientIds(SANDBOX_SPRY_ORG);
  const checks: boolean[] = [];
  const check = (passed: boolean, text: string) => {
    checks.push(passed);
    console.log(`     ${passed ? '✓' : '✗'} ${text}`);
  };

  // Ten, so the demo stays well inside the sandbox's Spruce budget (100 calls a minute).
  const initial = existing.slice(0, 10);
  step(1, `Initial sync of ${initial.length} existing Spry patients`);
  let mark = await markStep(world);
  for (const id of initial) await queuePatientSync(ctx, id);
  world.service.pool.notify();
  await settle(world);
  let activity = await stepActivity(world, mark);
  check(activity.spruce.created === initial.length, `Spruce: ${plural(activity.spruce.created, 'contact')} created, each linked to its chart`);
  detail(describeEvents(activity.events));

  step(2, 'In Spry: 3 patients registered, an appointment booked, a case opened, 4 charts edited (phone, email, address, last name)');
  mark = await markStep(world);
  const morning = clinicMorning(sandbox, initial, ctx.config.sync.fieldNames);
  await settle(world);
  activity = await stepActivity(world, mark);
  check(activity.spruce.created === morning.registered.length, `Spruce: ${plural(activity.spruce.created, 'contact')} created for the new patients`);
  detail(`Spruce: ${plural(activity.spruce.updated, 'contact update')} (fields: ${activity.spruce.updatedFields.join(', ') || 'none'})`);
  for (const expected of morning.expectations) {
    const contact = contactOf(world, expected.patientId);
    check(Boolean(contact && expected.shownBy(contact)), `${expected.label}: the Spruce contact shows it`);
  }
  detail(describeEvents(activity.events));

  const patients = initial.concat(morning.registered);
  const edited = new Set(morning.expectations.map((e) => e.patientId));
  // The front desk works on patients the morning left alone, so each outcome has one cause.
  const untouched = patients
    .filter((id) => !edited.has(id))
    .map((patientId) => ({ patientId, contactId: contactOf(world, patientId)?.id }))
    .filter((p): p is { patientId: number; contactId: string } => Boolean(p.contactId));
  step(3, 'In Spruce: the front desk changes a phone number, a patient sends a secure message, an unknown number texts in');
  mark = await markStep(world);
  const chartEntriesBefore = chartEntries(world, patients);
  const afternoon = frontDeskAfternoon(sandbox, untouched);
  await settle(world);
  activity = await stepActivity(world, mark);
  if (afternoon.phoneEdit) {
    const { patientId, mobile } = afternoon.phoneEdit;
    const chart = sandbox.spry.patient(SANDBOX_SPRY_ORG, patientId);
    check(
      activity.spry.patchedPatients.includes(patientId) && chart?.mobile === mobile,
      `Spry: the new phone written back to patient ${patientId}'s chart (${plural(activity.spry.patched, 'PATCH', 'PATCHes')}: ${activity.spry.patchedFields.join(', ')})`,
    );
    check(activity.spruce.updated === 0, `Spry's webhook for that write recognised as our own: ${plural(activity.spruce.updated, 'Spruce update')} in this step`);
  }
  const entries = chartEntries(world, patients) - chartEntriesBefore;
  if (afternoon.message) {
    const onChart = sandbox.spry.communications(SANDBOX_SPRY_ORG, afternoon.message.patientId).length;
    check(entries === 1 && onChart > 0, `Spry: the secure message recorded on patient ${afternoon.message.patientId}'s chart (${plural(entries, 'chart entry', 'chart entries')} in all)`);
  }
  check(activity.unmatched === 1, `The SMS from an unknown number: matched to no patient, left in Spruce (${activity.unmatched} unmatched)`);
  detail(describeEvents(activity.events));

  const ok = (await report(world, patients)) && checks.every(Boolean);
  console.log(`
Where to look
  Dashboard        ${world.service.url}/admin   (token: ${DEMO_ADMIN_TOKEN})
  Health           ${world.service.url}/healthz, ${world.service.url}/readyz
  Spruce contacts  ${sandbox.spruceUrl.replace(/\/v1$/, '')}/_sandbox/state
  Spry patients    ${sandbox.spryUrl}/_sandbox/state
  Webhook traffic  ${sandbox.spryUrl}/_sandbox/deliveries, ${sandbox.spruceUrl.replace(/\/v1$/, '')}/_sandbox/webhooks/attempts
  Database         ${DEMO_DB} (SQLite)
`);
  if (options.once) {
    await world.close();
    await sandbox.close();
    return ok;
  }
  console.log('Running; make changes through the sandbox control APIs and watch them sync. Ctrl-C to stop.');
  const stop = async () => {
    await world.close();
    await sandbox.close();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop());
  process.on('SIGTERM', () => void stop());
  return ok;
}

function step(n: number, text: string): void {
  console.log(`${n}. ${text}`);
}

function detail(text: string): void {
  console.log(`     ${text}`);
}

function chartEntries(world: SandboxWithService, patientIds: number[]): number {
  return patientIds.reduce((n, id) => n + world.sandbox.spry.communications(SANDBOX_SPRY_ORG, id).length, 0);
}

function contactOf(world: SandboxWithService, patientId: number): SpruceContact | undefined {
  const externalId = spryExternalId(SANDBOX_SPRY_ORG, patientId);
  return world.sandbox.spruce.contacts().find((c) => (c.integrationLinks ?? []).some((l) => l.externalId === externalId));
}

/** Waits until webhooks are delivered and the queue is empty (or a minute has passed). */
async function settle(world: SandboxWithService): Promise<void> {
  const deadline = Date.now() + 60_000;
  let quietRounds = 0;
  while (Date.now() < deadline && quietRounds < 3) {
    await world.sandbox.spry.settle();
    await world.sandbox.spruce.settle();
    const stats = await world.service.store.queueStats();
    const busy = stats.some((s) => s.waiting > 0 || s.running > 0);
    quietRounds = busy ? 0 : quietRounds + 1;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

async function report(world: SandboxWithService, patientIds: number[]): Promise<boolean> {
  const contacts = world.sandbox.spruce.contacts();
  const linked = patientIds.filter((id) => {
    const externalId = spryExternalId(SANDBOX_SPRY_ORG, id);
    return contacts.filter((c) => (c.integrationLinks ?? []).some((l) => l.externalId === externalId)).length === 1;
  }).length;
  const events = tally(await world.service.store.searchEvents({ limit: 100_000 }), await world.service.store.searchAudit({ limit: 100_000 }));
  const violations = world.sandbox.spruce.violations.length;
  console.log(`
Outcome
  Patients with exactly one linked Spruce contact: ${linked} of ${patientIds.length}
  Webhook events: ${events.received} received, ${events.real} real changes, ${events.echoes} echoes of our own writes, ${events.ignored} with nothing to do; ${events.waiting} waiting, ${events.dead} dead letters
  Spry chart entries from Spruce activity: ${chartEntries(world, patientIds)}
  OpenAPI violations seen by the Spruce simulator: ${violations}`);
  return linked === patientIds.length && events.dead === 0 && events.waiting === 0 && violations === 0;
}
