// `spruce-sync demo` (what `npm start` runs): the sandbox and the service together on the
// embedded default, wired as a real installation is, with a clinic's worth of activity.
import { mkdir, rm } from 'node:fs/promises';
import type { Command } from 'commander';
import { clinicMorning, frontDeskAfternoon } from '../sandbox/demo-activity.ts';
import { SANDBOX_SPRY_ORG, startSandbox, startServiceOnSandbox, type SandboxWithService } from '../sandbox/environment.ts';
import { spryExternalId } from '../sync/desired-contact.ts';
import { queuePatientSync } from '../sync/inbound-contact.ts';
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
  // Ten, so the demo stays well inside the sandbox's Spruce budget (100 calls a minute).
  const initial = existing.slice(0, 10);
  step(`Initial sync of ${initial.length} existing patients`);
  for (const id of initial) await queuePatientSync(ctx, id);
  world.service.pool.notify();
  await settle(world);

  step('Spry: 3 patients registered, an appointment booked, a case opened, 3 charts edited');
  const morning = clinicMorning(sandbox, initial);
  await settle(world);

  const linked = initial.concat(morning.registered).map((id) => contactOf(world, id)).filter((c): c is string => Boolean(c));
  step('Spruce: a front-desk phone edit (written back to Spry), a secure message and an SMS');
  frontDeskAfternoon(sandbox, linked);
  await settle(world);

  const ok = await report(world, initial.concat(morning.registered));
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

function step(text: string): void {
  console.log(`• ${text}`);
}

function contactOf(world: SandboxWithService, patientId: number): string | undefined {
  const externalId = spryExternalId(SANDBOX_SPRY_ORG, patientId);
  return world.sandbox.spruce.contacts().find((c) => (c.integrationLinks ?? []).some((l) => l.externalId === externalId))?.id;
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
  const linked = patientIds.filter((id) => contactOf(world, id)).length;
  const events = await world.service.store.searchEvents({ limit: 10_000 });
  const count = (status: string) => events.filter((e) => e.status === status).length;
  const communications = patientIds.reduce((n, id) => n + world.sandbox.spry.communications(SANDBOX_SPRY_ORG, id).length, 0);
  console.log(`
Outcome
  Patients with exactly one linked Spruce contact: ${linked} of ${patientIds.length}
  Webhook events: ${events.length} received, ${count('processed')} processed, ${count('ignored')} ignored, ${count('queued')} waiting, ${count('dead')} dead letters
  Spruce activity recorded on Spry charts: ${communications}
  OpenAPI violations seen by the Spruce simulator: ${world.sandbox.spruce.violations.length}`);
  return linked === patientIds.length && count('dead') === 0 && count('queued') === 0 && world.sandbox.spruce.violations.length === 0;
}
