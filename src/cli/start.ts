import type { Command } from 'commander';
import { ConfigError, loadConfig } from '../config/load-config.ts';
import { createLogger } from '../observe/logger.ts';
import { startService, type RunningService } from '../service.ts';
import { failureCode, failureLine } from './failure.ts';
import { installProcessGuard } from './process-guard.ts';

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
      const logger = createLogger({ level: config.log.level, format: config.log.format });
      const starting = startService(config, { logger });
      // Installed before the service is up, so a signal or crash during start-up drains too.
      installProcessGuard({
        logger,
        shutdownTimeoutMs: config.server.shutdownTimeoutMs,
        drain: async () => {
          const service = await starting.catch(() => undefined);
          await service?.close();
        },
      });
      let service: RunningService;
      try {
        service = await starting;
      } catch (error) {
        logger.fatal({ code: 'START_FAILED', cause: failureCode(error) }, 'spruce-sync could not start');
        console.error(`spruce-sync could not start: ${failureLine(error)}`);
        process.exit(1);
      }
      // The one plain line on stdout: scripts and supervisors wait for it.
      console.log(`spruce-sync listening on ${service.url}`);
    });
}
