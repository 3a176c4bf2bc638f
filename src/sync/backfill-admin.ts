// Backfill and reconciliation started from the admin API: the request answers at once with what
// was started, the run goes on in the background, and its progress is read from the kv state
// (`backfill.last`, `reconcile.last`; a dry run's summary goes to `backfill.lastDryRun`, so it
// never hides the real run's). The shape matches AdminActions of server/admin/operation-routes.
import { errorCode, SyncError } from '../errors.ts';
import type { SpryPatientStatus } from '../spry/types.ts';
import { runBackfill } from './backfill.ts';
import { runReconcile } from './reconcile.ts';
import type { TenantContext } from './tenant-context.ts';

export const DRY_RUN_SUMMARY_KEY = 'backfill.lastDryRun';

const STATUSES: readonly SpryPatientStatus[] = ['ACTIVE', 'INACTIVE', 'ARCHIVED'];

export interface BackgroundOperations {
  backfill(tenantId: string, options: Record<string, unknown>): Promise<Record<string, unknown>>;
  reconcile(tenantId: string, options: Record<string, unknown>): Promise<Record<string, unknown>>;
  /** Resolves when every run started here has ended. */
  idle(): Promise<void>;
  /** Stops the runs after their patients in flight (a backfill resumes from its checkpoint) and waits for them. */
  stop(): Promise<void>;
}

function bad(message: string): SyncError {
  return new SyncError('PAYLOAD_INVALID', message, { retryable: false });
}

function flag(options: Record<string, unknown>, name: string): boolean | undefined {
  const value = options[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'boolean') throw bad(`${name}: true or false`);
  return value;
}

function statusesOf(options: Record<string, unknown>): SpryPatientStatus[] | undefined {
  const value = options.statuses;
  if (value === undefined) return undefined;
  if (!Array.isArray(value) || value.some((s) => !STATUSES.includes(s as SpryPatientStatus))) throw bad(`statuses: a list of ${STATUSES.join(', ')}`);
  return value as SpryPatientStatus[];
}

export function backgroundOperations(contexts: ReadonlyMap<string, TenantContext>): BackgroundOperations {
  const running = new Map<string, Promise<unknown>>();
  const stopping = new AbortController();
  const { signal } = stopping;
  const contextOf = (tenantId: string) => {
    const ctx = contexts.get(tenantId);
    if (!ctx) throw bad(`no tenant ${tenantId}`);
    return ctx;
  };
  const start = (key: string, ctx: TenantContext, run: () => Promise<unknown>) => {
    if (signal.aborted) throw new SyncError('SYNC_CONFLICT', 'the service is stopping', { retryable: true, ids: { tenantId: ctx.config.id } });
    if (running.has(key)) throw new SyncError('SYNC_CONFLICT', `a ${key.split(':')[0]} of this tenant is already running here`, { retryable: true, ids: { tenantId: ctx.config.id } });
    const promise = run()
      .catch((error: unknown) => ctx.logger.error({ tenantId: ctx.config.id, operation: key, code: errorCode(error) }, 'background operation failed'))
      .finally(() => running.delete(key));
    running.set(key, promise);
  };

  return {
    async backfill(tenantId, options) {
      const ctx = contextOf(tenantId);
      const dryRun = flag(options, 'dryRun') ?? false;
      const chosen = { dryRun, statuses: statusesOf(options), matchExisting: flag(options, 'matchExisting'), restart: flag(options, 'restart') };
      start(`backfill:${tenantId}`, ctx, async () => {
        const summary = await runBackfill(ctx, { ...chosen, signal });
        if (dryRun) await ctx.store.setState(tenantId, DRY_RUN_SUMMARY_KEY, JSON.stringify(summary));
      });
      return { operation: 'backfill', ...chosen, progress: dryRun ? DRY_RUN_SUMMARY_KEY : 'backfill.last' };
    },
    async reconcile(tenantId, options) {
      const ctx = contextOf(tenantId);
      const chosen = { fix: flag(options, 'fix') ?? false, all: flag(options, 'all') ?? false };
      start(`reconcile:${tenantId}`, ctx, () => runReconcile(ctx, { ...chosen, signal }));
      return { operation: 'reconcile', ...chosen, progress: 'reconcile.last' };
    },
    async idle() {
      await Promise.all([...running.values()]);
    },
    async stop() {
      stopping.abort();
      await Promise.all([...running.values()]);
    },
  };
}
