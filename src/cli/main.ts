// The `spruce-sync` command line. Each command lives in its own module and registers itself.
import { Command } from 'commander';
import { registerAuditCommand } from './audit.ts';
import { registerBackfillCommand } from './backfill.ts';
import { registerConfigCommand } from './config-check.ts';
import { registerDlqCommand } from './dlq.ts';
import { registerDoctorCommand } from './doctor.ts';
import { registerEventsCommand } from './events.ts';
import { registerInitCommand } from './init.ts';
import { registerPauseCommands } from './pause.ts';
import { registerPruneCommand } from './prune.ts';
import { registerRekeyCommand } from './rekey.ts';
import { registerReconcileCommand } from './reconcile.ts';
import { registerSetupCommand } from './setup.ts';
import { registerStatusCommand } from './status.ts';
import { registerSubscriptionsCommand } from './subscriptions.ts';
import { registerTenantsCommand } from './tenants.ts';
import { registerDemoCommand } from './demo.ts';
import { registerSandboxCommand } from './sandbox.ts';
import { registerStartCommand } from './start.ts';
import { packageVersion } from './version.ts';
import { failureLine } from './failure.ts';

const program = new Command()
  .name('spruce-sync')
  .description('Keeps Spry EMR and Spruce Health in sync, both ways.')
  .version(packageVersion(), '-V, --version', 'print the version')
  // Program options only before a command: `subscriptions add --version` is that command's own.
  .enablePositionalOptions()
  .showHelpAfterError();

registerInitCommand(program);
registerConfigCommand(program);
registerStartCommand(program);
registerSandboxCommand(program);
registerDemoCommand(program);
registerStatusCommand(program);
registerEventsCommand(program);
registerDlqCommand(program);
registerPauseCommands(program);
registerPruneCommand(program);
registerRekeyCommand(program);
registerAuditCommand(program);
registerBackfillCommand(program);
registerReconcileCommand(program);
registerSetupCommand(program);
registerDoctorCommand(program);
registerSubscriptionsCommand(program);
registerTenantsCommand(program);

try {
  await program.parseAsync(process.argv);
} catch (error) {
  // A failure no command handled: one line with a code, never a stack (it may quote data).
  console.error(failureLine(error));
  process.exitCode = 1;
}
