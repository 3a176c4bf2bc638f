import type { Command } from 'commander';

export function registerSandboxCommand(program: Command): void {
  program
    .command('sandbox')
    .description('Start the Spry and Spruce simulators and print their URLs and credentials')
    .option('--seed <n>', 'seed for the fake data', '1')
    .option('--patients <n>', 'patients to generate', '200')
    .option('--host <host>', 'interface to listen on', '127.0.0.1')
    .option('--spry-port <port>', 'Spry simulator port (0 = any free port)', '4010')
    .option('--spruce-port <port>', 'Spruce simulator port (0 = any free port)', '4020')
    .action(async () => {
      console.error('The sandbox is being built (issue 2).');
      process.exitCode = 1;
    });
}
