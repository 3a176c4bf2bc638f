// Where a backfill keeps its place, in the store's per-tenant kv state: the checkpoint (last
// page and patient id done, written after each page) and the summary `backfill.last` (what the
// dashboard shows, and who is running it). A run killed at any point resumes from the last
// checkpoint; the page in flight is walked again, which changes nothing twice (links, ledger
// and idempotency keys make every write a no-op the second time).
import { hostname } from 'node:os';
import type { Store } from '../store/types.ts';
import type { BackfillSummary } from './backfill-report.ts';

export const CHECKPOINT_KEY = 'backfill.checkpoint';
export const SUMMARY_KEY = 'backfill.last';
/** When a backfill (not a dry run) last walked every patient: scheduled reconciliation waits for one. */
export const COMPLETED_KEY = 'backfill.completedAt';

/** A running backfill that has not said anything for this long is taken to be dead. */
export const STALE_AFTER_MS = 5 * 60_000;

export interface BackfillCheckpoint {
  version: 1;
  runId: string;
  /** The statuses walked (null = all); another selection starts afresh. */
  statuses: string[] | null;
  /** Index of the status being walked. */
  pass: number;
  /** The last page (1-based) fully done in this pass; 0 = none. */
  page: number;
  pageSize: number;
  /** The highest patient id done; patients are listed in id order. */
  lastPatientId: number;
  /** The summary as of the checkpoint, so a resumed run reports the whole run. */
  summary: BackfillSummary;
}

export function processOwner(): string {
  return `${hostname()}:${process.pid}`;
}

function parse<T>(text: string | null): T | null {
  if (!text) return null;
  try {
    return JSON.parse(text) as T;
  } catch {
    return null;
  }
}

export async function loadCheckpoint(store: Store, tenantId: string): Promise<BackfillCheckpoint | null> {
  const checkpoint = parse<BackfillCheckpoint>(await store.getState(tenantId, CHECKPOINT_KEY));
  return checkpoint?.version === 1 ? checkpoint : null;
}

export async function saveCheckpoint(store: Store, tenantId: string, checkpoint: BackfillCheckpoint): Promise<void> {
  await store.setState(tenantId, CHECKPOINT_KEY, JSON.stringify(checkpoint));
}

/** The store has no delete for kv state: an empty value means "no checkpoint". */
export async function clearCheckpoint(store: Store, tenantId: string): Promise<void> {
  await store.setState(tenantId, CHECKPOINT_KEY, '');
}

export async function loadSummary(store: Store, tenantId: string): Promise<BackfillSummary | null> {
  return parse<BackfillSummary>(await store.getState(tenantId, SUMMARY_KEY));
}

export async function saveSummary(store: Store, summary: BackfillSummary): Promise<void> {
  await store.setState(summary.tenantId, SUMMARY_KEY, JSON.stringify(summary));
}

/**
 * Whether the summary shows a backfill still running somewhere. A run of a process of this
 * host that no longer exists (killed) is not; elsewhere we go by its heartbeat.
 */
export function isRunningElsewhere(summary: BackfillSummary | null, now: number, self = processOwner()): boolean {
  if (!summary || summary.status !== 'running' || summary.dryRun) return false;
  if (summary.owner === self) return true;
  const [host, pid] = [summary.owner.slice(0, summary.owner.lastIndexOf(':')), Number(summary.owner.slice(summary.owner.lastIndexOf(':') + 1))];
  if (host === hostname() && Number.isInteger(pid)) return processAlive(pid);
  return now - summary.heartbeatAt < STALE_AFTER_MS;
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists, it is just not ours to signal.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
