// Dead letters and their replay. Replaying re-enqueues the dead job with fresh attempts and
// requeues its dead events; the handler converges on current state, so a replay is safe, and a
// second replay of the same letter finds nothing dead and changes nothing (idempotent).
import { AdminError } from '../errors.ts';
import type { DeadJob, DeadJobQuery } from '../store/admin-types.ts';
import type { AdminContext } from './context.ts';
import { directionOfTask, tasksOf, type Direction } from './directions.ts';

export interface DeadLetterView extends DeadJob {
  direction: Direction | null;
  /** The stable code from `lastError` (`SPRUCE_REJECTED: …` → `SPRUCE_REJECTED`). */
  errorCode: string | null;
}

export interface DeadLetterFilter {
  tenantId?: string;
  direction?: Direction;
  jobKey?: string;
  errorCode?: string;
  /** Died in [since, until). */
  since?: number;
  until?: number;
}

export function toDeadLetterView(job: DeadJob): DeadLetterView {
  const code = job.lastError ? /^([A-Z][A-Z0-9_]*):/.exec(job.lastError)?.[1] ?? null : null;
  return { ...job, direction: directionOfTask(job.task), errorCode: code };
}

function toQuery(filter: DeadLetterFilter, limit: number, beforeId?: number): DeadJobQuery {
  return {
    tenantId: filter.tenantId,
    tasks: filter.direction ? [...tasksOf(filter.direction)] : undefined,
    jobKey: filter.jobKey,
    errorCode: filter.errorCode,
    since: filter.since,
    until: filter.until,
    beforeId,
    limit,
  };
}

export async function listDeadLetters(
  ctx: AdminContext,
  filter: DeadLetterFilter,
  page: { limit: number; before?: number },
): Promise<{ deadLetters: DeadLetterView[]; nextBefore: number | null }> {
  const rows = await ctx.store.listDeadJobs(toQuery(filter, page.limit + 1, page.before));
  const shown = rows.slice(0, page.limit);
  return { deadLetters: shown.map(toDeadLetterView), nextBefore: rows.length > page.limit ? shown[shown.length - 1]!.id : null };
}

export interface ReplayEventResult {
  eventId: number;
  tenantId: string;
  jobKey: string | null;
  /** False when there was nothing dead to replay (already replayed, or never dead). */
  replayed: boolean;
  status: string;
}

export async function replayEvent(ctx: AdminContext, eventId: number, by: string): Promise<ReplayEventResult> {
  const [event] = await ctx.store.listEventSummaries({ eventId, limit: 1 });
  if (!event) throw new AdminError('unknown_event', `no event ${eventId}`);
  const base = { eventId, tenantId: event.tenantId, jobKey: event.jobKey };
  if (event.status === 'queued') return { ...base, replayed: false, status: 'queued' };
  if (event.status !== 'dead' || !event.jobKey) {
    throw new AdminError('not_dead', `event ${eventId} is ${event.status}: only dead letters can be replayed`);
  }
  const replayed = await ctx.store.replayDeadJob(event.tenantId, event.jobKey, ctx.clock.now());
  if (replayed) {
    ctx.onQueued?.(event.tenantId);
    ctx.logger?.info({ tenantId: event.tenantId, eventId, jobKey: event.jobKey, by }, 'dead letter replayed');
  }
  return { ...base, replayed, status: 'queued' };
}

export interface ReplayManyResult {
  matched: number;
  replayed: number;
  /** The first jobs replayed (up to 100), for the record. */
  jobs: { tenantId: string; key: string }[];
  /** True when `max` stopped the run before every match was replayed. */
  truncated: boolean;
}

/** Replays every dead letter matching the filter, up to `max`, newest first. */
export async function replayDeadLetters(ctx: AdminContext, filter: DeadLetterFilter, max: number, by: string): Promise<ReplayManyResult> {
  const result: ReplayManyResult = { matched: 0, replayed: 0, jobs: [], truncated: false };
  const tenants = new Set<string>();
  let before: number | undefined;
  for (;;) {
    const page = await ctx.store.listDeadJobs(toQuery(filter, Math.min(500, max - result.matched + 1), before));
    for (const job of page) {
      if (result.matched >= max) {
        result.truncated = true;
        break;
      }
      result.matched++;
      if (await ctx.store.replayDeadJob(job.tenantId, job.key, ctx.clock.now())) {
        result.replayed++;
        tenants.add(job.tenantId);
        if (result.jobs.length < 100) result.jobs.push({ tenantId: job.tenantId, key: job.key });
      }
    }
    if (result.truncated || page.length === 0) break;
    before = page[page.length - 1]!.id;
  }
  for (const tenantId of tenants) ctx.onQueued?.(tenantId);
  ctx.logger?.info({ ...filter, matched: result.matched, replayed: result.replayed, by }, 'dead letters replayed');
  return result;
}
