// One line in the append-only audit trail: which record, which system, what kind of change,
// and the event that caused it. Detail holds ids, field names and codes, never values.
import type { TenantContext } from './tenant-context.ts';

export async function audit(
  ctx: TenantContext,
  system: 'spry' | 'spruce',
  recordType: string,
  recordId: string,
  action: string,
  eventId: number | undefined,
  detail?: Record<string, unknown>,
): Promise<void> {
  await ctx.store.appendAudit({
    at: ctx.clock.now(),
    tenantId: ctx.config.id,
    system,
    recordType,
    recordId,
    action,
    eventId: eventId ?? null,
    detail,
  });
}
