// Catch-up after downtime: what the webhooks did not bring, fetched. From Spruce, the delivery
// log of our endpoint since we last looked, fed through the same inbox as a delivery (same
// dedupe key, so what already arrived is not stored twice). From Spry, which keeps no such log,
// the patients updated since we last looked whose update we never heard of: their sync is
// queued (it fetches the current records, so the missed events themselves are not needed).
// Runs at start and every few minutes (scheduler-tasks.ts), at bulk priority.
import { parseSpruceEnvelope, spruceInboundEvent } from '../ingest/spruce-envelope.ts';
import { spruceItems } from '../spruce/pages.ts';
import type { SpruceApi, SpruceWebhookEndpoint } from '../spruce/types.ts';
import { bulkContext, runEndedBy } from './backfill-context.ts';
import { walkPatientPages } from './backfill-pages.ts';
import { queuePatientSync } from './inbound-contact.ts';
import type { TenantContext } from './tenant-context.ts';
import { webhookUrls } from './webhook-registration.ts';

export const CATCH_UP_KEYS = {
  /** Spruce events with an eventTime from here on were read (epoch ms). */
  spruceSince: 'catchup.spruce.since',
  /** Spry patients updated from here on were looked at (epoch ms). */
  sprySince: 'catchup.spry.since',
  /** Our Spruce webhook endpoint (written by `setup`, or found by URL). */
  endpointId: 'spruce.webhookEndpointId',
  last: 'catchup.last',
} as const;

/** Clocks disagree and logs lag a little: every run looks this much further back (repeats are deduped). */
export const CATCH_UP_OVERLAP_MS = 5 * 60_000;

/** Spry's largest page. */
const SPRY_PAGE = 500;

export interface CatchUpOptions {
  /** Where this service is reachable (`server.publicUrl`): identifies our Spruce endpoint. */
  publicUrl?: string;
  /** Attempts of the jobs the fed events create (`workers.maxAttempts`). */
  maxAttempts?: number;
  /** Called when something was queued, to wake the workers. */
  onQueued?: () => void;
  /**
   * Stops the run's calls waiting for their turn (the service stopping): the side it stops, and
   * any not started, end `interrupted` and keep their checkpoint, so the next run covers the span.
   */
  signal?: AbortSignal;
}

export interface CatchUpReport {
  tenantId: string;
  startedAt: number;
  finishedAt?: number;
  spruce: { endpointId?: string; since?: number; read: number; stored: number; duplicates: number } & SideEnd;
  spry: { since?: number; read: number; queued: number; alreadySeen: number } & SideEnd;
}

/** How a side ended when it did not run through: skipped by design, stopped by the service, or failed. */
interface SideEnd {
  skipped?: string;
  interrupted?: true;
  error?: string;
}

export async function catchUp(ctx: TenantContext, options: CatchUpOptions = {}): Promise<CatchUpReport> {
  const bulk = bulkContext(ctx, options.signal);
  const report: CatchUpReport = {
    tenantId: ctx.config.id,
    startedAt: ctx.clock.now(),
    spruce: { read: 0, stored: 0, duplicates: 0 },
    spry: { read: 0, queued: 0, alreadySeen: 0 },
  };
  // Each side on its own: one of them being down does not stop the other catching up.
  await runSide(report.spruce, () => catchUpSpruce(bulk, report, options), options.signal);
  await runSide(report.spry, () => catchUpSpry(bulk, report), options.signal);
  report.finishedAt = ctx.clock.now();
  await ctx.store.setState(ctx.config.id, CATCH_UP_KEYS.last, JSON.stringify(report));
  if (report.spruce.stored + report.spry.queued > 0) options.onQueued?.();
  ctx.logger.info({ tenantId: ctx.config.id, spruce: report.spruce, spry: report.spry }, 'catch-up done');
  return report;
}

async function runSide(end: SideEnd, run: () => Promise<void>, signal: AbortSignal | undefined): Promise<void> {
  if (signal?.aborted) {
    end.interrupted = true;
    return;
  }
  try {
    await run();
  } catch (error) {
    const ended = runEndedBy(error, signal);
    if (ended.status === 'interrupted') end.interrupted = true;
    else end.error = ended.error;
  }
}

/**
 * Where the last run started (each run covers everything up to its own start); before the
 * first run, the newest event we hold.
 */
async function sinceOf(ctx: TenantContext, key: string, source: 'spry' | 'spruce'): Promise<number | undefined> {
  const saved = Number((await ctx.store.getState(ctx.config.id, key)) || NaN);
  if (Number.isFinite(saved)) return saved;
  return (await ctx.store.latestEventTime(ctx.config.id, source)) ?? undefined;
}

async function catchUpSpruce(ctx: TenantContext, report: CatchUpReport, options: CatchUpOptions): Promise<void> {
  const tenantId = ctx.config.id;
  const endpoint = await findOurEndpoint(ctx, options.publicUrl);
  if (!endpoint) {
    report.spruce.skipped = 'no_endpoint';
    return;
  }
  report.spruce.endpointId = endpoint.id;
  // Nothing before our endpoint existed was ever meant for us.
  const since = (await sinceOf(ctx, CATCH_UP_KEYS.spruceSince, 'spruce')) ?? Date.parse(endpoint.createdAt);
  const startTime = new Date(Math.max(0, since - CATCH_UP_OVERLAP_MS)).toISOString();
  report.spruce.since = since;
  const events = spruceItems((paginationToken) => ctx.spruce.listWebhookEndpointEvents(endpoint.id, { startTime, paginationToken }));
  const occurrences = new Map<string, Set<string>>();
  for await (const logged of events) {
    report.spruce.read += 1;
    const parsed = parseSpruceEnvelope(parseJson(logged.data));
    if (!parsed.ok) continue;
    const event = spruceInboundEvent(tenantId, parsed.envelope, Buffer.from(logged.data, 'utf8'), ctx.clock.now());
    event.eventKey = occurrenceKey(occurrences, event.eventKey, logged.id);
    // Found by a sweep, not sent live: the tenant's live work is claimed first.
    if (event.job) event.job = { ...event.job, priority: 'bulk', ...(options.maxAttempts ? { maxAttempts: options.maxAttempts } : {}) };
    const { inserted } = await ctx.store.insertEvent(event);
    if (inserted) report.spruce.stored += 1;
    else report.spruce.duplicates += 1;
  }
  await ctx.store.setState(tenantId, CATCH_UP_KEYS.spruceSince, String(report.startedAt));
}

/**
 * Two different events can be byte for byte the same (a number changed and changed back within
 * one second): live, the second looks like a redelivery and is dropped; the log, which keeps
 * one entry per event (its id), tells them apart. The first entry with a digest keeps the key a
 * live delivery had; the n-th distinct entry with the same digest gets `#n`, so catch-up brings
 * the one live delivery could not.
 */
export function occurrenceKey(seen: Map<string, Set<string>>, key: string, logId: string): string {
  if (!key.startsWith('sha256:')) return key;
  let ids = seen.get(key);
  if (!ids) seen.set(key, (ids = new Set()));
  ids.add(logId);
  const n = [...ids].indexOf(logId) + 1;
  return n === 1 ? key : `${key}#${n}`;
}

async function catchUpSpry(ctx: TenantContext, report: CatchUpReport): Promise<void> {
  const tenantId = ctx.config.id;
  const since = await sinceOf(ctx, CATCH_UP_KEYS.sprySince, 'spry');
  if (since === undefined) {
    // A fresh installation: nothing was missed yet (the backfill brings the rest).
    report.spry.skipped = 'first_run';
  } else {
    report.spry.since = since;
    const updatedSince = new Date(Math.max(0, since - CATCH_UP_OVERLAP_MS)).toISOString();
    for await (const page of walkPatientPages(ctx.spry, { pageSize: SPRY_PAGE, updatedSince })) {
      for (const patient of page.patients) {
        report.spry.read += 1;
        if (await heardOf(ctx, patient.patient_id, Date.parse(patient.updated_date))) {
          report.spry.alreadySeen += 1;
          continue;
        }
        await queuePatientSync(ctx, patient.patient_id, 'bulk');
        report.spry.queued += 1;
      }
    }
  }
  await ctx.store.setState(tenantId, CATCH_UP_KEYS.sprySince, String(report.startedAt));
}

/** Whether we hold an event about the patient at least as new as its last update. */
async function heardOf(ctx: TenantContext, patientId: number, updatedAt: number): Promise<boolean> {
  const events = await ctx.store.listEventSummaries({ tenantId: ctx.config.id, source: 'spry', patientId, limit: 5 });
  // Spry timestamps are whole seconds; updated_date has milliseconds.
  return events.some((e) => e.occurredAt + 1000 > updatedAt);
}

/**
 * Our endpoint among the organization's: the one `setup` stored, else the one at our public
 * URL, else the only one whose path is our tenant's webhook route.
 */
export async function findOurEndpoint(ctx: TenantContext, publicUrl?: string): Promise<SpruceWebhookEndpoint | undefined> {
  const tenantId = ctx.config.id;
  const endpoints = await (ctx.spruce as SpruceApi).listWebhookEndpoints();
  const stored = await ctx.store.getState(tenantId, CATCH_UP_KEYS.endpointId);
  const route = `/webhooks/spruce/${tenantId}`;
  const byRoute = endpoints.filter((e) => {
    try {
      return new URL(e.url).pathname.replace(/\/+$/, '') === route;
    } catch {
      return false;
    }
  });
  const found =
    endpoints.find((e) => e.id === stored) ??
    (publicUrl ? endpoints.find((e) => e.url === webhookUrls(publicUrl, tenantId).spruce) : undefined) ??
    (byRoute.length === 1 ? byRoute[0] : undefined);
  if (found && found.id !== stored) await ctx.store.setState(tenantId, CATCH_UP_KEYS.endpointId, found.id);
  return found;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
