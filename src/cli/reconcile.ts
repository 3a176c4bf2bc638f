// `spruce-sync reconcile`: compares Spry with Spruce for one tenant and reports what differs
// (counts and ids); with --fix it repairs: link faults at once, contact content by queueing each
// patient's sync for the running service's workers.
import type { Command } from 'commander';
import { formatReconcileReport, runReconcile } from '../sync/reconcile.ts';
import { openTenant, progressView, runCli, stopSignal } from './backfill.ts';

interface ReconcileCliOptions {
  config: string;
  tenant?: string;
  fix?: boolean;
  all?: boolean;
  json?: boolean;
  verbose?: boolean;
}

export function registerReconcileCommand(program: Command): void {
  program
    .command('reconcile')
    .description('Compare Spry with Spruce (patients updated since the last run, or --all); report, and with --fix repair')
    .requiredOption('-c, --config <file>', 'the service config file')
    .option('-t, --tenant <id>', 'the tenant (needed when the config has several)')
    .option('--fix', 'repair: fix links now, queue patient syncs for the service')
    .option('--all', 'check every patient, not only those updated since the last run')
    .option('--json', 'print the summary as JSON')
    .option('--verbose', 'log at the config level to stderr')
    .action((options: ReconcileCliOptions) =>
      runCli(async () => {
        const open = await openTenant(options.config, options.tenant, { verbose: options.verbose });
        const stop = stopSignal();
        const view = progressView('reconcile');
        try {
          const summary = await runReconcile(open.ctx, { fix: options.fix, all: options.all, signal: stop.signal }, (p) =>
            view.update(p.checked, p.total, { missing: p.counts.missing, drift: p.counts.drift, links: p.counts.dangling_link + p.counts.duplicate_links + p.counts.link_missing }),
          );
          view.stop();
          if (options.json) console.log(JSON.stringify(summary, null, 2));
          else for (const line of formatReconcileReport(summary)) console.log(line);
          if (summary.fix && summary.repairs.queued > 0) console.log('the queued syncs run in the service (spruce-sync start) on the same database');
          return summary.status === 'interrupted' ? 130 : 0;
        } finally {
          view.stop();
          stop.dispose();
          await open.close();
        }
      }),
    );
}
