// The sync functions that run the queue's tasks (the task registry, tasks.ts, names them).
import { randomUUID } from 'node:crypto';
import { SyncError } from '../errors.ts';
import type { SpryApi } from '../spry/types.ts';
import type { Job } from '../store/types.ts';
import { handleItemEvents } from './inbound-activity.ts';
import { handleContactEvents } from './inbound-contact.ts';
import { bulkContext, stopWaitingOn } from './backfill-context.ts';
import { syncPatient } from './sync-patient.ts';
import { jobHandlers, type TaskName } from './tasks.ts';
import type { TenantContext } from './tenant-context.ts';
import { stopWritesOnAbort, wrapped } from './write-guard.ts';

/**
 * What the worker pool tells a run: `signal` aborts when the run lost its job's lease;
 * `stopping`, when the pool stops (calls then stop waiting for their turn).
 */
export interface TaskRun {
  signal: AbortSignal;
  stopping?: AbortSignal;
}

export type TaskHandler = (job: Job, run: TaskRun) => Promise<void>;

/**
 * An outcome of the sync worth telling the clinic's other systems (the fan-out): ids and field
 * names only, never PHI. `key` is unique per outcome, so a notice offered twice counts once.
 */
export interface SyncNotice {
  tenantId: string;
  /** `contact.created`, `contact.updated`, `patient.updated`, `chart.activity_recorded`, … */
  kind: string;
  key: string;
  ids: Record<string, string | number>;
  detail?: Record<string, unknown>;
  at: number;
}

export interface SyncHooks {
  /** Awaited, and must not throw: a notice never fails the sync. */
  onNotice?: (notice: SyncNotice) => Promise<void>;
}

const NOTICED_OUTCOMES = new Set(['created', 'linked', 'updated', 'deleted']);

export function syncHandlers(contexts: ReadonlyMap<string, TenantContext>, hooks: SyncHooks = {}): Record<TaskName, TaskHandler> {
  /** The job's tenant context, its Spry and Spruce writes refused once the run lost its lease. */
  const contextOf = (job: Job, run: TaskRun): TenantContext => {
    const ctx = contexts.get(job.tenantId);
    if (!ctx) {
      throw new SyncError('CONFIG_INVALID', 'job for a tenant that is not configured', { retryable: false, ids: { tenantId: job.tenantId, jobId: job.id } });
    }
    // Work a sweep found calls at bulk priority, behind the tenant's live calls (its budget split).
    const work = job.priority === 'bulk' ? bulkContext(ctx, run.stopping) : stopWaitingOn(ctx, run.stopping);
    return stopWritesOnAbort(work, run.signal);
  };
  const notify = hooks.onNotice;
  /** Unique per run of a job: each run's outcome is a notice of its own. */
  const runKey = (job: Job) => `${job.id}:${job.attempts}:${randomUUID()}`;

  return jobHandlers<TaskRun>({
    'spry.patient': async ({ patientId }, job, run) => {
      const ctx = contextOf(job, run);
      const result = await syncPatient(ctx, patientId, job.lastEventId || undefined);
      ctx.logger.info(
        { tenantId: job.tenantId, patientId, contactId: result.contactId, outcome: result.outcome, changed: result.changed, jobId: job.id },
        'patient synced',
      );
      if (notify && NOTICED_OUTCOMES.has(result.outcome)) {
        const ids: Record<string, string | number> = { patientId };
        if (result.contactId) ids.contactId = result.contactId;
        await notify({
          tenantId: job.tenantId,
          kind: `contact.${result.outcome}`,
          key: result.outcome === 'created' ? `contact.created:${result.contactId}` : `contact.${result.outcome}:${runKey(job)}`,
          ids,
          detail: result.changed.length > 0 ? { changed: result.changed } : undefined,
          at: ctx.clock.now(),
        });
      }
    },
    'spruce.contact': async ({ contactId }, job, run) => {
      const ctx = contextOf(job, run);
      // Write-backs to Spry are told as they land.
      const observed = notify
        ? withSpry(ctx, {
            patchPatient: async (patientId, patch) => {
              const patient = await ctx.spry.patchPatient(patientId, patch);
              await notify({
                tenantId: job.tenantId,
                kind: 'patient.updated',
                key: `patient.updated:${patientId}:${runKey(job)}`,
                ids: { patientId, contactId },
                detail: { changed: Object.keys(patch), cause: 'spruce_edit' },
                at: ctx.clock.now(),
              });
              return patient;
            },
          })
        : ctx;
      await handleContactEvents(observed, await ctx.store.listQueuedEvents(job.tenantId, job.key, job.lastEventId));
    },
    'spruce.item': async ({ itemId }, job, run) => {
      const ctx = contextOf(job, run);
      const observed = notify
        ? withSpry(ctx, {
            recordCommunication: async (patientId, entry) => {
              const recorded = await ctx.spry.recordCommunication(patientId, entry);
              await notify({
                tenantId: job.tenantId,
                kind: 'chart.activity_recorded',
                key: `chart.activity_recorded:${recorded.communication_id}:${entry.external_id}`,
                ids: { patientId, communicationId: recorded.communication_id, itemId },
                detail: { kind: entry.kind, direction: entry.direction },
                at: ctx.clock.now(),
              });
              return recorded;
            },
          })
        : ctx;
      await handleItemEvents(observed, await ctx.store.listQueuedEvents(job.tenantId, job.key, job.lastEventId));
    },
  });
}

/** The tenant context with some Spry calls wrapped (the client itself is untouched). */
function withSpry(ctx: TenantContext, overrides: Partial<Pick<SpryApi, 'patchPatient' | 'recordCommunication'>>): TenantContext {
  return { ...ctx, spry: wrapped(ctx.spry, (property) => (Object.hasOwn(overrides, property) ? overrides[property as keyof typeof overrides] : undefined)) };
}
