// `spruce-sync config check -c <file>`: validates a config as `start` would (environment
// variables, every key, every value) without opening the database or starting anything.
// Exit 0 when it is valid, 1 with every problem listed by path when it is not.
import type { Command } from 'commander';
import { ConfigError, loadConfig } from '../config/load-config.ts';

export function registerConfigCommand(program: Command): void {
  const config = program.command('config').description('Work with the config file');
  config
    .command('check')
    .description('Validate a config without starting: exit 0 when valid, 1 with every problem listed by path')
    .requiredOption('-c, --config <file>', 'YAML or JSON config file')
    .action(async (options: { config: string }) => {
      try {
        const loaded = await loadConfig(options.config);
        const tenants = loaded.tenants.map((t) => t.id);
        // No tenants is a valid start: clinics may all be added later (tenants add, the admin API).
        const listed = tenants.length === 0 ? 'no tenants in the file' : `${tenants.length} tenant${tenants.length === 1 ? '' : 's'}: ${tenants.join(', ')}`;
        console.log(`${options.config}: valid (${listed})`);
      } catch (error) {
        if (!(error instanceof ConfigError)) throw error;
        console.error(`${options.config}: ${error.message}`);
        process.exitCode = 1;
      }
    });
}
