import type { Command } from 'commander';
import { ConfigError, loadConfig } from '../config/load-config.ts';
import { startService } from '../service.ts';

export function registerStartCommand(program: Command): void {
  program
    .command('start')
    .description('Run the service: webhook ingress and sync workers')
    .requiredOption('-c, --config <file>', 'YAML or JSON config file')
    .action(async (options: { config: string }) => {
      let config;
      try {
        config = await loadConfig(options.config);
      } catch (error) {
        if (error instanceof ConfigError) {
          console.error(error.message);
          process.exit(1);
        }
        throw error;
      }
      const service = await startService(config);
      console.log(`spruce-sync listening on ${service.url}`);
      let stopping = false;
      const stop = async (signal: string) => {
        if (stopping) return;
        stopping = true;
        console.log(`${signal}: finishing running jobs, then stopping`);
        await service.close();
        process.exit(0);
      };
      process.on('SIGTERM', () => void stop('SIGTERM'));
      process.on('SIGINT', () => void stop('SIGINT'));
    });
}
