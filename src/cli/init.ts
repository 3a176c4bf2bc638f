// `spruce-sync init [--out config.yaml]`: writes a first config (src/config/initial-config.ts)
// with mode 0600, never over an existing file unless --force, and says what to do next.
import { chmod, open } from 'node:fs/promises';
import type { Command } from 'commander';
import { INITIAL_CONFIG_ENV, initialConfig } from '../config/initial-config.ts';

interface InitOptions {
  out: string;
  force?: boolean;
  tenant: string;
  database: string;
}

export function registerInitCommand(program: Command): void {
  program
    .command('init')
    .description('Write a commented config with a generated admin token and encryption key (mode 0600)')
    .option('-o, --out <file>', 'where to write it', 'config.yaml')
    .option('--force', 'overwrite the file when it exists')
    .option('-t, --tenant <id>', 'the tenant id (a-z, 0-9 and -), part of the webhook URLs', 'clinic')
    .option('--database <url>', 'sqlite:<file> or postgres://user@host:5432/db', 'sqlite:./data/spruce-sync.db')
    .action(async (options: InitOptions) => {
      if (!/^[a-z0-9-]+$/.test(options.tenant)) {
        console.error('--tenant: use a-z, 0-9 and -');
        process.exitCode = 1;
        return;
      }
      const text = initialConfig({ tenantId: options.tenant, databaseUrl: options.database });
      try {
        // 'wx' creates or fails, so an existing config is never replaced by accident.
        const file = await open(options.out, options.force ? 'w' : 'wx', 0o600);
        try {
          await file.writeFile(text);
        } finally {
          await file.close();
        }
        // The mode of open() applies only to a new file: an overwritten one is narrowed too.
        await chmod(options.out, 0o600);
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        console.error(code === 'EEXIST' ? `${options.out} exists: not overwritten (use --force to replace it)` : `${options.out}: cannot be written (${code ?? 'error'})`);
        process.exitCode = 1;
        return;
      }
      console.log(
        [
          `wrote ${options.out} (mode 0600) with a new admin token and database encryption key`,
          'next:',
          `  1. set ${INITIAL_CONFIG_ENV.join(', ')}`,
          '     (setup runs without the two webhook secrets and prints them with --show-secrets)',
          `  2. spruce-sync config check -c ${options.out}`,
          `  3. spruce-sync setup -c ${options.out} --public-url https://<how the vendors reach this service> --show-secrets`,
          `  4. spruce-sync backfill -c ${options.out} --dry-run, then without --dry-run`,
          `  5. spruce-sync start -c ${options.out}`,
          'back the encryption key up apart from the database: without it the stored data cannot be read',
        ].join('\n'),
      );
    });
}
