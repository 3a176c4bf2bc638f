// What a backfill did, as counts and ids: kept in the store (`backfill.last`) for the dashboard,
// printed at the end of the CLI run. Ids and error codes only: never a name, phone, email,
// birth date or address.
import type { PatientSyncOutcome } from './sync-patient.ts';

export interface BackfillCounts {
  /** New contacts. */
  created: number;
  /** Existing contacts that carried our integration link, now linked in our store. */
  linked: number;
  /** Hand-made contacts matched by birth date plus phone or email, now linked. */
  matched: number;
  /** Linked contacts that needed a change. */
  updated: number;
  unchanged: number;
  /** Contacts of archived patients deleted (when the tenant's policy says so). */
  deleted: number;
  /** Patients gone from Spry between the page and their sync. */
  missing: number;
  /** Several possible contacts: reported, nothing done. */
  ambiguous: number;
  failed: number;
}

export const NO_COUNTS: BackfillCounts = {
  created: 0,
  linked: 0,
  matched: 0,
  updated: 0,
  unchanged: 0,
  deleted: 0,
  missing: 0,
  ambiguous: 0,
  failed: 0,
};

export interface AmbiguousPatient {
  patientId: number;
  contactIds: string[];
}

export interface BackfillFailure {
  patientId: number;
  /** A stable error code (SPRUCE_REJECTED, NETWORK_TIMEOUT, …) and the HTTP status if any. */
  code: string;
  status?: number;
}

export type BackfillStatus = 'running' | 'completed' | 'interrupted' | 'failed';

export interface BackfillSummary {
  tenantId: string;
  runId: string;
  status: BackfillStatus;
  dryRun: boolean;
  /** Patient statuses walked; null = all. */
  statuses: string[] | null;
  matchExisting: boolean;
  startedAt: number;
  updatedAt: number;
  finishedAt?: number;
  /** Patients to walk (as Spry counted them when the run began). */
  total: number;
  /** Patients done, across resumed runs. */
  done: number;
  /** Done by this process (for its rate). */
  doneHere: number;
  /** Patient id the run resumed after, when it did. */
  resumedAfter?: number;
  counts: BackfillCounts;
  /** The first ones, up to REPORT_ID_LIMIT. */
  ambiguous: AmbiguousPatient[];
  failures: BackfillFailure[];
  /** Who runs it (host:pid) and when it last said so: a crashed run is told from a live one. */
  owner: string;
  heartbeatAt: number;
  /** Why the whole run stopped (a code), when it failed. */
  error?: string;
}

/** Ids kept per list in the summary; the counts are always complete. */
export const REPORT_ID_LIMIT = 1000;

export function countOutcome(counts: BackfillCounts, outcome: PatientSyncOutcome, matched: boolean): void {
  if (outcome === 'linked' && matched) counts.matched++;
  else if (outcome === 'patient_missing') counts.missing++;
  else counts[outcome]++;
}

export function pushCapped<T>(list: T[], item: T): void {
  if (list.length < REPORT_ID_LIMIT) list.push(item);
}

/** The end-of-run report, line by line. */
export function formatBackfillReport(summary: BackfillSummary, shownIds = 20): string[] {
  const c = summary.counts;
  const would = summary.dryRun ? 'would be ' : '';
  const lines = [
    `backfill ${summary.status}${summary.dryRun ? ' (dry run: nothing was changed)' : ''} for tenant ${summary.tenantId}: ${summary.done}/${summary.total} patients`,
    `  ${would}created:   ${c.created}`,
    `  ${would}linked:    ${c.linked}   (existing contacts carrying our integration link)`,
    `  ${would}matched:   ${c.matched}   (birth date plus phone or email${summary.matchExisting ? '' : '; matching is off'})`,
    `  ${would}updated:   ${c.updated}`,
    `  unchanged: ${c.unchanged}`,
  ];
  if (c.deleted) lines.push(`  ${would}deleted:   ${c.deleted}   (archived patients)`);
  if (c.missing) lines.push(`  missing:   ${c.missing}   (gone from Spry meanwhile)`);
  lines.push(`  ambiguous: ${c.ambiguous}`);
  for (const a of summary.ambiguous.slice(0, shownIds)) lines.push(`    patient ${a.patientId}: contacts ${a.contactIds.join(', ')}`);
  if (c.ambiguous > shownIds) lines.push(`    … and ${c.ambiguous - Math.min(shownIds, summary.ambiguous.length)} more`);
  lines.push(`  failed:    ${c.failed}`);
  for (const f of summary.failures.slice(0, shownIds)) lines.push(`    patient ${f.patientId}: ${f.code}${f.status ? ` (HTTP ${f.status})` : ''}`);
  if (c.failed > shownIds) lines.push(`    … and ${c.failed - Math.min(shownIds, summary.failures.length)} more`);
  if (summary.error) lines.push(`  stopped by: ${summary.error}`);
  if (summary.resumedAfter !== undefined) lines.push(`  resumed after patient ${summary.resumedAfter}`);
  if (summary.finishedAt !== undefined) {
    const seconds = Math.max(0.001, (summary.finishedAt - summary.startedAt) / 1000);
    lines.push(`  took ${seconds.toFixed(1)} s`);
  }
  return lines;
}
