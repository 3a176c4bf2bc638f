// The `spruce-sync` command line. Each command lives in its own module and registers itself.
import { Command } from 'commander';
import { registerSandboxCommand } from './sandbox.ts';
import { registerStartCommand } from './start.ts';

const program = new Command()
  .name('spruce-sync')
  .description('Keeps Spry EMR and Spruce Health in sync, both ways.')
  .showHelpAfterError();

registerStartCommand(program);
registerSandboxCommand(program);

await program.parseAsync(process.argv);
