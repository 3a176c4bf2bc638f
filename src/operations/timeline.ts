// A patient's timeline: every event about the patient (Spry) or their linked contact (Spruce),
// every attempt of the jobs that carried them, and every audit entry on either record — both
// directions in one list, newest first. Found by Spry patient id or Spruce contact id.
import { AdminError } from '../errors.ts';
import type { AuditRecord } from '../store/admin-types.ts';
import type { AdminContext } from './context.ts';
import { requireTenant } from './context.ts';
import { withAttempts, type AttemptView, type EventView } from './event-views.ts';

const PER_KIND = 200;

export type TimelineItem =
  | { kind: 'event'; at: number; event: Omit<EventView, 'attempts'> }
  | { kind: 'attempt'; at: number; eventId: number; jobKey: string; attempt: AttemptView }
  | { kind: 'audit'; at: number; audit: AuditRecord };

export interface Timeline {
  tenantId: string;
  patientId: number | null;
  contactId: string | null;
  items: TimelineItem[];
}

export async function patientTimeline(
  ctx: AdminContext,
  tenantId: string,
  key: { patientId?: number; contactId?: string },
): Promise<Timeline> {
  requireTenant(ctx, tenantId);
  const { store } = ctx;
  let { patientId, contactId } = key;
  if (patientId === undefined && contactId === undefined) {
    throw new AdminError('bad_request', 'give patientId or contactId');
  }
  if (patientId !== undefined && contactId === undefined) contactId = (await store.getLinkByPatient(tenantId, patientId))?.contactId;
  if (contactId !== undefined && patientId === undefined) patientId = (await store.getLinkByContact(tenantId, contactId))?.patientId;

  const [patientEvents, contactEvents] = await Promise.all([
    patientId === undefined ? [] : store.listEventSummaries({ tenantId, patientId, limit: PER_KIND }),
    contactId === undefined ? [] : store.listEventSummaries({ tenantId, contactId, limit: PER_KIND }),
  ]);
  const unique = new Map([...patientEvents, ...contactEvents].map((e) => [e.id, e]));
  const events = await withAttempts(ctx, [...unique.values()]);

  // Audit record ids: the patient id (Spry), the contact id (Spruce), and `patient:<id>` for a
  // contact that could not be made.
  const recordIds = [
    ...(patientId === undefined ? [] : [String(patientId), `patient:${patientId}`]),
    ...(contactId === undefined ? [] : [contactId]),
  ];
  const audits = await store.searchAuditRecords({ tenantId, recordIds, limit: PER_KIND });

  const items: TimelineItem[] = [];
  for (const { attempts, ...event } of events) {
    items.push({ kind: 'event', at: event.receivedAt, event });
    for (const attempt of attempts) items.push({ kind: 'attempt', at: attempt.finishedAt, eventId: event.id, jobKey: event.jobKey!, attempt });
  }
  // Coalesced events share their job's attempts: list each attempt once.
  const seen = new Set<string>();
  const deduped = items.filter((item) => {
    if (item.kind !== 'attempt') return true;
    const key = `${item.jobKey}|${item.attempt.startedAt}|${item.attempt.finishedAt}|${item.attempt.outcome}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
  for (const audit of audits) deduped.push({ kind: 'audit', at: audit.at, audit });
  deduped.sort((a, b) => b.at - a.at);
  return { tenantId, patientId: patientId ?? null, contactId: contactId ?? null, items: deduped };
}
