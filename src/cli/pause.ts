// `spruce-sync pause|resume <tenant> [--direction …]`: stop or restart a tenant's workers (or one
// direction). Webhooks keep being accepted while paused; waiting jobs drain in order on resume.
// A running service notices within one poll interval.
import type { Command } from 'commander';
import { AdminError } from '../errors.ts';
import { requireTenant } from '../operations/context.ts';
import { isDirection } from '../operations/directions.ts';
import { pausedDirections } from '../operations/pause.ts';
import { printJson, withAdmin } from './admin-context.ts';

export function registerPauseCommands(program: Command): void {
  for (const action of ['pause', 'resume'] as const) {
    program
      .command(`${action} <tenant>`)
      .description(
        action === 'pause'
          ? 'Pause a tenant (or one direction): events are still accepted and wait in the queue'
          : 'Resume a tenant (or one direction): waiting events drain in order',
      )
      .requiredOption('-c, --config <file>', 'the service config file')
      .option('--direction <direction>', 'only spry-to-spruce or spruce-to-spry')
      .option('--json', 'print JSON')
      .action(async (tenantId: string, options: { config: string; direction?: string; json?: boolean }) => {
        await withAdmin(options.config, async (ctx) => {
          requireTenant(ctx, tenantId);
          if (options.direction !== undefined && !isDirection(options.direction)) {
            throw new AdminError('bad_request', 'direction: spry-to-spruce or spruce-to-spry');
          }
          const scope = options.direction ?? 'all';
          const state = action === 'pause' ? await ctx.pauses.pause(tenantId, scope, 'cli') : await ctx.pauses.resume(tenantId, scope, 'cli');
          if (options.json) return printJson({ tenantId, paused: state });
          const paused = pausedDirections(state);
          console.log(`${tenantId}: ${state.all ? 'paused' : paused.length > 0 ? `paused ${paused.join(', ')}` : 'running'}`);
        });
      });
  }
}
