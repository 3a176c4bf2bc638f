// The event log as operators see it: business keys, status, and the attempts of the job that
// carried each event. No payloads: they are never read on this path.
import type { EventSummary, EventSummaryQuery } from '../store/admin-types.ts';
import type { JobAttempt } from '../store/types.ts';
import type { AdminContext } from './context.ts';

export interface AttemptView {
  startedAt: number;
  finishedAt: number;
  outcome: JobAttempt['outcome'];
  errorCode: string | null;
  /** Spruce's `s-request-id` (or Spry's correlation id) of the failing call. */
  requestId: string | null;
}

export interface EventView {
  id: number;
  tenantId: string;
  source: EventSummary['source'];
  type: string;
  status: EventSummary['status'];
  eventKey: string;
  occurredAt: number;
  receivedAt: number;
  updatedAt: number;
  patientId: number | null;
  contactId: string | null;
  subject: Record<string, string | number>;
  jobKey: string | null;
  reason: string | null;
  payloadPruned: boolean;
  attempts: AttemptView[];
}

export const MAX_PAGE = 200;
/** Attempts read per page of events; a hot key's history beyond this is cut. */
const MAX_ATTEMPTS_PER_PAGE = 2_000;

function attemptView(attempt: JobAttempt): AttemptView {
  return {
    startedAt: attempt.startedAt,
    finishedAt: attempt.finishedAt,
    outcome: attempt.outcome,
    errorCode: attempt.errorCode,
    requestId: attempt.requestId,
  };
}

/**
 * Attempts belong to a job key, not to an event: an event's are those of its key that finished
 * after it arrived and started before it was settled (still queued: no upper bound).
 */
export function attemptsOfEvent(event: EventSummary, attempts: JobAttempt[]): JobAttempt[] {
  if (!event.jobKey) return [];
  return attempts.filter(
    (a) =>
      a.jobKey === event.jobKey &&
      a.tenantId === event.tenantId &&
      a.finishedAt >= event.receivedAt &&
      (event.status === 'queued' || a.startedAt <= event.updatedAt),
  );
}

export function toEventView(event: EventSummary, attempts: JobAttempt[]): EventView {
  const patient = Number(event.subject.patientId);
  const contact = event.subject.contactId;
  return {
    id: event.id,
    tenantId: event.tenantId,
    source: event.source,
    type: event.type,
    status: event.status,
    eventKey: event.eventKey,
    occurredAt: event.occurredAt,
    receivedAt: event.receivedAt,
    updatedAt: event.updatedAt,
    patientId: Number.isSafeInteger(patient) ? patient : null,
    contactId: contact === undefined ? null : String(contact),
    subject: event.subject,
    jobKey: event.jobKey,
    reason: event.reason,
    payloadPruned: event.payloadPruned,
    attempts: attemptsOfEvent(event, attempts).map(attemptView),
  };
}

/** Attaches attempts to summaries with one store query per tenant on the page. */
export async function withAttempts(ctx: AdminContext, events: EventSummary[]): Promise<EventView[]> {
  const byTenant = new Map<string, EventSummary[]>();
  for (const event of events) {
    if (!event.jobKey) continue;
    byTenant.set(event.tenantId, [...(byTenant.get(event.tenantId) ?? []), event]);
  }
  const attempts: JobAttempt[] = [];
  for (const [tenantId, list] of byTenant) {
    attempts.push(
      ...(await ctx.store.listAttemptsForKeys({
        tenantId,
        jobKeys: [...new Set(list.map((e) => e.jobKey!))],
        since: Math.min(...list.map((e) => e.receivedAt)),
        limit: MAX_ATTEMPTS_PER_PAGE,
      })),
    );
  }
  return events.map((event) => toEventView(event, attempts));
}

export interface EventPage {
  events: EventView[];
  /** Pass as `before` for the next (older) page; null on the last page. */
  nextBefore: number | null;
}

export async function searchEventViews(ctx: AdminContext, query: EventSummaryQuery): Promise<EventPage> {
  const limit = Math.min(Math.max(1, query.limit), MAX_PAGE);
  // One extra row tells whether an older page exists, without counting.
  const rows = await ctx.store.listEventSummaries({ ...query, limit: limit + 1 });
  const page = rows.slice(0, limit);
  return { events: await withAttempts(ctx, page), nextBefore: rows.length > limit ? page[page.length - 1]!.id : null };
}
