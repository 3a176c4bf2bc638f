// The queue's task names and the sync functions that run them.
import { SyncError } from '../errors.ts';
import type { Job } from '../store/types.ts';
import { handleItemEvents } from './inbound-activity.ts';
import { handleContactEvents } from './inbound-contact.ts';
import { syncPatient } from './sync-patient.ts';
import type { TenantContext } from './tenant-context.ts';

export type TaskHandler = (job: Job) => Promise<void>;

export function syncHandlers(contexts: ReadonlyMap<string, TenantContext>): Record<string, TaskHandler> {
  const contextOf = (job: Job): TenantContext => {
    const ctx = contexts.get(job.tenantId);
    if (!ctx) {
      throw new SyncError('CONFIG_INVALID', 'job for a tenant that is not configured', { retryable: false, ids: { tenantId: job.tenantId, jobId: job.id } });
    }
    return ctx;
  };

  return {
    'spry.patient': async (job) => {
      const ctx = contextOf(job);
      const patientId = Number(job.params.patientId);
      const result = await syncPatient(ctx, patientId, job.lastEventId || undefined);
      ctx.logger.info(
        { tenantId: job.tenantId, patientId, contactId: result.contactId, outcome: result.outcome, changed: result.changed, jobId: job.id },
        'patient synced',
      );
    },
    'spruce.contact': async (job) => {
      const ctx = contextOf(job);
      await handleContactEvents(ctx, await ctx.store.listQueuedEvents(job.tenantId, job.key, job.lastEventId));
    },
    'spruce.item': async (job) => {
      const ctx = contextOf(job);
      await handleItemEvents(ctx, await ctx.store.listQueuedEvents(job.tenantId, job.key, job.lastEventId));
    },
  };
}
