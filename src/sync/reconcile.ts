// Reconciliation: compares Spry with Spruce and reports (and, with `fix`, repairs) what the
// webhooks left wrong: missing contacts, links to deleted contacts, lost or duplicated
// integration links, contacts our store does not know, field drift, archived patients' contacts.
// It walks the Spry patients updated since the last run (or all of them) a page at a time, with
// one batched Spruce search per page, at bulk priority. `reconcile.last` keeps the outcome.
import { randomUUID } from 'node:crypto';
import type { SpruceContact } from '../spruce/types.ts';
import { bulkContext, runEndedBy } from './backfill-context.ts';
import { contactsByLink } from './backfill-match.ts';
import { countPatients, walkPatientPages } from './backfill-pages.ts';
import { spryExternalId } from './desired-contact.ts';
import { leaveDeletedKey } from './inbound-contact.ts';
import { checkPatient, FINDING_KINDS, type Finding, type FindingKind, type PatientObservation } from './reconcile-checks.ts';
import { NO_REPAIRS, repairPatient, type RepairTally } from './reconcile-repair.ts';
import type { TenantContext } from './tenant-context.ts';

export const RECONCILE_SUMMARY_KEY = 'reconcile.last';
export const RECONCILE_WATERMARK_KEY = 'reconcile.watermark';
/** Spry's clock and ours may disagree a little: each watermark run looks this far further back. */
const WATERMARK_OVERLAP_MS = 5 * 60_000;
/** Ids kept per kind in the summary (counts are complete). */
const IDS_PER_KIND = 200;

export interface ReconcileOptions {
  /** Repair what is found (queue patient syncs, fix links). */
  fix?: boolean;
  /** Every patient, not only those updated since the last run. */
  all?: boolean;
  pageSize?: number;
  signal?: AbortSignal;
}

export interface ReconcileSummary {
  tenantId: string;
  runId: string;
  status: 'running' | 'completed' | 'interrupted' | 'failed';
  fix: boolean;
  /** Patients updated since this time were checked; absent = all patients. */
  since?: number;
  startedAt: number;
  finishedAt?: number;
  total: number;
  checked: number;
  /** Findings per kind. */
  counts: Record<FindingKind, number>;
  /** Per kind, the first patients found (with the contact and field names concerned). */
  found: Record<FindingKind, { patientId: number; contactId?: string; extraContactIds?: string[]; fields?: string[] }[]>;
  repairs: RepairTally;
  error?: string;
}

export type OnReconcileProgress = (progress: Pick<ReconcileSummary, 'total' | 'checked' | 'counts'>) => void;

function byKind<T>(make: () => T): Record<FindingKind, T> {
  return Object.fromEntries(FINDING_KINDS.map((k) => [k, make()])) as Record<FindingKind, T>;
}

export async function runReconcile(ctx: TenantContext, options: ReconcileOptions = {}, onProgress?: OnReconcileProgress): Promise<ReconcileSummary> {
  const tenantId = ctx.config.id;
  const bulk = bulkContext(ctx, options.signal);
  const watermark = options.all ? null : Number((await ctx.store.getState(tenantId, RECONCILE_WATERMARK_KEY)) || NaN);
  const since = watermark && Number.isFinite(watermark) ? watermark - WATERMARK_OVERLAP_MS : undefined;
  const updatedSince = since === undefined ? undefined : new Date(since).toISOString();
  const summary: ReconcileSummary = {
    tenantId,
    runId: randomUUID(),
    status: 'running',
    fix: options.fix ?? false,
    ...(since === undefined ? {} : { since }),
    startedAt: ctx.clock.now(),
    total: await countPatients(bulk.spry, undefined, updatedSince),
    checked: 0,
    counts: byKind(() => 0),
    found: byKind(() => []),
    repairs: { ...NO_REPAIRS },
  };
  const save = () => ctx.store.setState(tenantId, RECONCILE_SUMMARY_KEY, JSON.stringify(summary));
  await save();
  const catalog = await ctx.catalog.get();
  try {
    for await (const page of walkPatientPages(bulk.spry, { pageSize: options.pageSize ?? ctx.config.backfill.pageSize, updatedSince, signal: options.signal })) {
      for (const seen of await observePage(bulk, page.patients)) {
        const findings = checkPatient(ctx.config, catalog, seen);
        record(summary, findings);
        if (summary.fix && findings.some((f) => f.actionable)) await repairPatient(bulk, seen, findings, summary.repairs, summary.runId);
        summary.checked += 1;
      }
      await save();
      onProgress?.({ total: summary.total, checked: summary.checked, counts: { ...summary.counts } });
    }
    summary.status = options.signal?.aborted ? 'interrupted' : 'completed';
    // Only a whole run moves the watermark: an interrupted one is started over next time.
    if (summary.status === 'completed') await ctx.store.setState(tenantId, RECONCILE_WATERMARK_KEY, String(summary.startedAt));
  } catch (error) {
    Object.assign(summary, runEndedBy(error, options.signal));
    if (summary.status === 'failed') throw error;
  } finally {
    summary.finishedAt = ctx.clock.now();
    await save();
    ctx.logger.info({ tenantId, runId: summary.runId, status: summary.status, checked: summary.checked, counts: summary.counts, repairs: summary.repairs }, 'reconcile ended');
  }
  return summary;
}

/** Reads what a page of patients needs: link rows, link carriers (one search), lost contacts, ledgers. */
async function observePage(ctx: TenantContext, patients: PatientObservation['patient'][]): Promise<PatientObservation[]> {
  const tenantId = ctx.config.id;
  const org = ctx.config.spry.organisationId;
  const carriers = await contactsByLink(ctx.spruce, patients.map((p) => spryExternalId(org, p.patient_id)));
  const observed: PatientObservation[] = [];
  for (const patient of patients) {
    const link = await ctx.store.getLinkByPatient(tenantId, patient.patient_id);
    const found = carriers.get(spryExternalId(org, patient.patient_id)) ?? [];
    let linkedContact: SpruceContact | null | undefined;
    if (link && !found.some((c) => c.id === link.contactId)) linkedContact = await ctx.spruce.getContact(link.contactId);
    const keeper = (link && (found.find((c) => c.id === link.contactId) ?? linkedContact)) || found[0];
    observed.push({
      patient,
      link,
      carriers: found,
      linkedContact,
      ledger: keeper ? await ctx.store.getLedger(tenantId, 'spruce', keeper.id) : null,
      leftDeleted: await ctx.store.isFlagSet(tenantId, leaveDeletedKey(patient.patient_id)),
    });
  }
  return observed;
}

function record(summary: ReconcileSummary, findings: Finding[]): void {
  for (const f of findings) {
    summary.counts[f.kind] += 1;
    const list = summary.found[f.kind];
    if (list.length >= IDS_PER_KIND) continue;
    list.push({
      patientId: f.patientId,
      ...(f.contactId ? { contactId: f.contactId } : {}),
      ...(f.extraContactIds ? { extraContactIds: f.extraContactIds } : {}),
      ...(f.fields ? { fields: f.fields } : {}),
    });
  }
}

/** The report, line by line: counts and ids per kind, what was repaired. */
export function formatReconcileReport(summary: ReconcileSummary, shownIds = 10): string[] {
  const scope = summary.since === undefined ? 'all patients' : `patients updated since ${new Date(summary.since).toISOString()}`;
  const lines = [`reconcile ${summary.status} for tenant ${summary.tenantId} (${scope}): ${summary.checked}/${summary.total} checked`];
  const titles: Record<FindingKind, string> = {
    missing: 'missing contacts',
    dangling_link: 'links to deleted contacts',
    link_missing: 'integration links lost',
    duplicate_links: 'duplicate links',
    untracked: 'contacts not in our store',
    drift: 'field drift',
    archived: 'archived patients with a contact',
  };
  for (const kind of FINDING_KINDS) {
    const found = summary.found[kind];
    lines.push(`  ${titles[kind].padEnd(34)} ${summary.counts[kind]}`);
    for (const f of found.slice(0, shownIds)) {
      const parts = [`patient ${f.patientId}`];
      if (f.contactId) parts.push(`contact ${f.contactId}`);
      if (f.extraContactIds) parts.push(`also on ${f.extraContactIds.join(', ')}`);
      if (f.fields) parts.push(`fields ${f.fields.join(', ')}`);
      lines.push(`    ${parts.join(': ')}`);
    }
    if (summary.counts[kind] > shownIds) lines.push(`    … and ${summary.counts[kind] - shownIds} more`);
  }
  const r = summary.repairs;
  if (summary.fix) {
    lines.push(`  repaired: ${r.queued} patient syncs queued, ${r.linksDropped} dangling links dropped, ${r.integrationLinksRemoved} duplicate integration links removed, ${r.integrationLinksAdded} integration links restored`);
  } else {
    lines.push('  nothing was changed (use --fix to repair)');
  }
  if (summary.error) lines.push(`  stopped by: ${summary.error}`);
  return lines;
}
