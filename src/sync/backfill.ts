// Bootstrap backfill: gives every Spry patient exactly one linked Spruce contact, reusing the
// per-patient sync (mapping, diff, idempotent create, link). Pages are walked in patient-id
// order; per page a few batched searches find the contacts that already exist (by our
// integration link, then, opt-in, by birth date plus phone or email), the patients run with
// bounded concurrency at bulk priority, and a checkpoint is written when the page is done.
// Killed and started again, it resumes at the checkpoint and creates nothing twice.
import { randomUUID } from 'node:crypto';
import { errorCode, isRetryable, stoppedWhileWaiting, SyncError } from '../errors.ts';
import type { SpruceContact } from '../spruce/types.ts';
import type { SpryPatient, SpryPatientStatus } from '../spry/types.ts';
import { audit } from './audit.ts';
import { bulkContext, dryRunContext, runEndedBy } from './backfill-context.ts';
import {
  clearCheckpoint,
  COMPLETED_KEY,
  isRunningElsewhere,
  loadCheckpoint,
  loadSummary,
  processOwner,
  saveCheckpoint,
  saveSummary,
  type BackfillCheckpoint,
} from './backfill-checkpoint.ts';
import { contactsByLink, matchPatients, unlinkedCandidates, type MatchVerdict } from './backfill-match.ts';
import { countPatients, walkPatientPages, type PatientPage } from './backfill-pages.ts';
import { countOutcome, NO_COUNTS, pushCapped, type BackfillSummary } from './backfill-report.ts';
import { spryExternalId } from './desired-contact.ts';
import { syncPatient } from './sync-patient.ts';
import type { TenantContext } from './tenant-context.ts';

export interface BackfillOptions {
  /** Read everything, change nothing, report what would happen. */
  dryRun?: boolean;
  /** Only patients with these statuses (walked one status after another); default all. */
  statuses?: SpryPatientStatus[];
  /** Default: the tenant's `backfill.matchExisting`. */
  matchExisting?: boolean;
  /** Default: the tenant's `backfill.pageSize`. */
  pageSize?: number;
  /** Patients in flight at once; default: sized from the tenant's Spry budget. */
  concurrency?: number;
  /** Ignore a checkpoint and start from the first patient. */
  restart?: boolean;
  /** Stops the run after the patients in flight; it can be resumed later. */
  signal?: AbortSignal;
}

export type BackfillProgress = Pick<BackfillSummary, 'total' | 'done' | 'doneHere' | 'counts' | 'startedAt' | 'status'> & {
  /** The patient just done (absent for page and end notices). */
  patientId?: number;
};

export type OnBackfillProgress = (progress: BackfillProgress) => void;

/** Attempts per patient before it is reported as failed (retryable errors only). */
const ATTEMPTS = 3;
const RETRY_DELAYS_MS = [1_000, 5_000];

/** Each patient takes about two Spry calls: enough patients in flight to keep that budget busy. */
export function defaultConcurrency(requestsPerSecond: number): number {
  return Math.min(32, Math.max(2, Math.ceil(requestsPerSecond)));
}

export async function runBackfill(
  ctx: TenantContext,
  options: BackfillOptions = {},
  onProgress?: OnBackfillProgress,
): Promise<BackfillSummary> {
  const tenantId = ctx.config.id;
  const settings = ctx.config.backfill;
  const dryRun = options.dryRun ?? false;
  const statuses = options.statuses?.length ? [...new Set(options.statuses)] : undefined;
  const matchExisting = options.matchExisting ?? settings.matchExisting;
  const pageSize = options.pageSize ?? settings.pageSize;
  const concurrency = options.concurrency ?? (settings.concurrency || defaultConcurrency(ctx.config.spry.requestsPerSecond));
  // Interrupted, a call waiting out the Spruce window gives up at once (the page runs again on resume).
  const bulk = bulkContext(ctx, options.signal);
  const work = dryRun ? dryRunContext(bulk) : bulk;
  const now = () => ctx.clock.now();

  if (!dryRun && isRunningElsewhere(await loadSummary(ctx.store, tenantId), now())) {
    throw new SyncError('SYNC_CONFLICT', 'a backfill of this tenant is already running', { retryable: true, ids: { tenantId } });
  }
  const saved = dryRun || options.restart ? null : await loadCheckpoint(ctx.store, tenantId);
  const resume = saved && sameSelection(saved, statuses ?? null, pageSize) ? saved : null;
  const total = await countPatients(bulk.spry, statuses);
  const summary: BackfillSummary = resume
    ? { ...resume.summary, status: 'running', total: Math.max(total, resume.summary.done), doneHere: 0, owner: processOwner(), heartbeatAt: now(), resumedAfter: resume.lastPatientId }
    : {
        tenantId,
        runId: randomUUID(),
        status: 'running',
        dryRun,
        statuses: statuses ?? null,
        matchExisting,
        startedAt: now(),
        updatedAt: now(),
        total,
        done: 0,
        doneHere: 0,
        counts: { ...NO_COUNTS },
        ambiguous: [],
        failures: [],
        owner: processOwner(),
        heartbeatAt: now(),
      };
  delete summary.finishedAt;
  delete summary.error;
  const notify = (patientId?: number) =>
    onProgress?.({ total: summary.total, done: summary.done, doneHere: summary.doneHere, counts: { ...summary.counts }, startedAt: summary.startedAt, status: summary.status, patientId });
  if (!dryRun) await saveSummary(ctx.store, { ...summary, updatedAt: now() });
  ctx.logger.info({ tenantId, runId: summary.runId, dryRun, total, resumedAfter: summary.resumedAfter }, 'backfill started');
  notify();

  try {
    const pages = walkPatientPages(bulk.spry, {
      statuses,
      pageSize,
      from: resume ? { pass: resume.pass, page: resume.page, lastPatientId: resume.lastPatientId } : undefined,
      signal: options.signal,
    });
    for await (const page of pages) {
      const finished = await runPage(work, page, { matchExisting, concurrency, signal: options.signal, summary, onPatient: notify });
      if (!finished) break;
      summary.updatedAt = summary.heartbeatAt = now();
      if (!dryRun) {
        const lastPatientId = page.patients[page.patients.length - 1]!.patient_id;
        const checkpoint: BackfillCheckpoint = { version: 1, runId: summary.runId, statuses: summary.statuses, pass: page.pass, page: page.page, pageSize, lastPatientId, summary };
        await saveCheckpoint(ctx.store, tenantId, checkpoint);
        await saveSummary(ctx.store, summary);
      }
      notify();
    }
    summary.status = options.signal?.aborted ? 'interrupted' : 'completed';
  } catch (error) {
    Object.assign(summary, runEndedBy(error, options.signal));
    if (summary.status === 'failed') throw error;
  } finally {
    summary.finishedAt = summary.updatedAt = now();
    if (!dryRun) {
      if (summary.status === 'completed') {
        await clearCheckpoint(ctx.store, tenantId);
        await ctx.store.setState(tenantId, COMPLETED_KEY, String(summary.finishedAt));
      }
      await saveSummary(ctx.store, summary);
    }
    ctx.logger.info({ tenantId, runId: summary.runId, status: summary.status, done: summary.done, counts: summary.counts }, 'backfill ended');
    notify();
  }
  return summary;
}

function sameSelection(checkpoint: BackfillCheckpoint, statuses: string[] | null, pageSize: number): boolean {
  return JSON.stringify(checkpoint.statuses) === JSON.stringify(statuses) && checkpoint.pageSize === pageSize;
}

interface PageRun {
  matchExisting: boolean;
  concurrency: number;
  signal?: AbortSignal;
  summary: BackfillSummary;
  onPatient: (patientId: number) => void;
}

/** Runs one page; false when it was stopped before every patient was done. */
async function runPage(ctx: TenantContext, page: PatientPage, run: PageRun): Promise<boolean> {
  const plans = await planPage(ctx, page.patients, run.matchExisting);
  let next = 0;
  const worker = async () => {
    while (next < page.patients.length && !run.signal?.aborted) {
      const patient = page.patients[next++]!;
      await runPatient(ctx, patient, plans.get(patient.patient_id)!, run);
      run.summary.done += 1;
      run.summary.doneHere += 1;
      run.onPatient(patient.patient_id);
    }
  };
  await Promise.all(Array.from({ length: Math.min(run.concurrency, page.patients.length) }, worker));
  return next >= page.patients.length && !run.signal?.aborted;
}

/** What each patient of the page starts from: the contacts carrying its link, or a match verdict. */
interface PatientPlan {
  linked: boolean;
  contactsWithLink: SpruceContact[];
  match?: MatchVerdict;
}

async function planPage(ctx: TenantContext, patients: SpryPatient[], matchExisting: boolean): Promise<Map<number, PatientPlan>> {
  const org = ctx.config.spry.organisationId;
  const plans = new Map<number, PatientPlan>();
  for (const patient of patients) {
    // A patient we already link needs no search: its sync reads our link table.
    const linked = (await ctx.store.getLinkByPatient(ctx.config.id, patient.patient_id)) !== null;
    plans.set(patient.patient_id, { linked, contactsWithLink: [] });
  }
  const unlinked = patients.filter((p) => !plans.get(p.patient_id)!.linked);
  const byLink = await contactsByLink(ctx.spruce, unlinked.map((p) => spryExternalId(org, p.patient_id)));
  for (const patient of unlinked) plans.get(patient.patient_id)!.contactsWithLink = byLink.get(spryExternalId(org, patient.patient_id)) ?? [];
  if (!matchExisting) return plans;
  const needMatch = unlinked.filter((p) => plans.get(p.patient_id)!.contactsWithLink.length === 0);
  if (needMatch.length === 0) return plans;
  const verdicts = matchPatients(needMatch, await unlinkedCandidates(ctx.spruce, needMatch));
  for (const [patientId, verdict] of verdicts) plans.get(patientId)!.match = verdict;
  return plans;
}

async function runPatient(ctx: TenantContext, patient: SpryPatient, plan: PatientPlan, run: PageRun): Promise<void> {
  const { summary } = run;
  const patientId = patient.patient_id;
  if (plan.match?.kind === 'ambiguous') {
    summary.counts.ambiguous += 1;
    pushCapped(summary.ambiguous, { patientId, contactIds: plan.match.contactIds });
    await audit(ctx, 'spruce', 'patient', String(patientId), 'ambiguous_match', undefined, { contactIds: plan.match.contactIds, source: 'backfill' });
    return;
  }
  const matched = plan.match?.kind === 'one' ? plan.match : undefined;
  const contactsWithLink = matched ? [matched.contact] : plan.contactsWithLink;
  for (let attempt = 1; ; attempt++) {
    try {
      const result = await syncPatient(ctx, patientId, undefined, { patient, contactsWithLink: plan.linked ? undefined : contactsWithLink });
      countOutcome(summary.counts, result.outcome, matched !== undefined && result.outcome === 'linked');
      if (matched && result.outcome === 'linked') {
        await audit(ctx, 'spruce', 'link', matched.contact.id, 'match', undefined, { patientId, by: `birthDate+${matched.by}`, source: 'backfill' });
      }
      return;
    } catch (error) {
      // Interrupted before its call was sent: not a failure; the page runs again on resume.
      if (stoppedWhileWaiting(error, run.signal)) return;
      if (attempt < ATTEMPTS && isRetryable(error) && !run.signal?.aborted) {
        const delay = (error instanceof SyncError && error.retryAfterSeconds ? error.retryAfterSeconds * 1000 : 0) || RETRY_DELAYS_MS[attempt - 1]!;
        const slept = await ctx.clock.sleep(delay, run.signal).then(() => true, () => false);
        if (slept) continue;
      }
      summary.counts.failed += 1;
      const status = error instanceof SyncError ? error.status : undefined;
      pushCapped(summary.failures, { patientId, code: errorCode(error), ...(status ? { status } : {}) });
      ctx.logger.warn({ tenantId: ctx.config.id, patientId, code: errorCode(error), status }, 'backfill: patient failed');
      return;
    }
  }
}
