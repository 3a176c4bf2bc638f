// Every tenant's figures at once, for the operator who hosts many clinics: its backlog, dead
// letters, the age of its oldest due waiting job, what limits its calls now (API budgets and
// circuit breakers, as the workers' claim gate reads them) and why it needs attention — those
// that do first. The cost does not grow with the tenants: one grouped query of the queue, one
// read of the directory, and the rest from memory, so the Clinics page stays quick at 1,000.
import type { CircuitState } from '../fanout/circuit.ts';
import { CLAIM_SOON_MS, type GaugeReading } from '../queue/tenant-admission.ts';
import type { TenantSource, TenantStatus } from '../store/ports.ts';
import type { AdminContext } from './context.ts';
import type { Direction } from './directions.ts';
import { pausedDirections } from './pause.ts';

/** Why a tenant needs an operator's look, most urgent first (the order tenants are sorted by). */
export const ATTENTION_REASONS = [
  /** A circuit breaker is open: its Spry or Spruce keeps failing; its jobs are held back. */
  'vendor_failing',
  /** Jobs that ran out of attempts (replayable). */
  'dead_letters',
  /** Its oldest due job has waited longer than WAITING_LONG_MS. */
  'waiting_long',
  /** An API budget has no slot within CLAIM_SOON_MS: its jobs are left out of claims meanwhile. */
  'budget_exhausted',
  /** Held by an operator: its jobs wait until it is resumed or enabled. */
  'paused',
  'disabled',
] as const;

export type AttentionReason = (typeof ATTENTION_REASONS)[number];

/** The age of the oldest due waiting job above which a tenant is behind (the dashboard warns from here too). */
export const WAITING_LONG_MS = 5 * 60_000;

/** One limit on a tenant's calls. */
export interface TenantLimitFigure {
  /** `spruce_budget`, `spry_budget`, `spruce_circuit`, `spry_circuit` (as on /metrics). */
  limit: string;
  /** Until this limit lets the tenant's next live call go (0 = now). */
  readyInMs: number;
  /** Circuits: closed, open, or half_open (the next call probes). */
  circuit: CircuitState | null;
  /** Spruce's published budget in its current window, as last seen; null while none is known. */
  window: { limit: number; used: number; remaining: number; endsInMs: number } | null;
}

export interface TenantFigures {
  tenantId: string;
  /** config: from the config file; api: added through the admin API or CLI; null: not in the directory. */
  source: TenantSource | null;
  status: TenantStatus;
  paused: { all: boolean; directions: Direction[] };
  waitingJobs: number;
  runningJobs: number;
  deadJobs: number;
  /** Age of the oldest job that is due and unclaimed; null when none is. */
  oldestWaitingAgeMs: number | null;
  /** null where this process runs no workers (the limits live in the service's memory). */
  limits: TenantLimitFigure[] | null;
  /** The longest of the limits' waits; null without limits. */
  readyInMs: number | null;
  /** Most urgent first; empty when all is well. */
  attention: AttentionReason[];
}

export interface TenantFiguresQuery {
  /** Part of a tenant id (case ignored). */
  search?: string;
  /** Only tenants that need attention. */
  attention?: boolean;
  /** Default 50. */
  limit?: number;
  offset?: number;
}

export interface TenantFiguresPage {
  at: number;
  /** Every tenant, whatever the filter. */
  total: number;
  /** Of them, those that need attention. */
  needAttention: number;
  /** Those the filter kept; `tenants` is the page [offset, offset + limit) of them. */
  matched: number;
  offset: number;
  limit: number;
  tenants: TenantFigures[];
}

export async function tenantFigures(ctx: AdminContext, query: TenantFiguresQuery = {}): Promise<TenantFiguresPage> {
  const [queue, directory] = await Promise.all([ctx.store.queueStats(), ctx.store.listTenantSummaries()]);
  const now = ctx.clock.now();
  const stored = new Map(directory.filter((t) => t.removedAt === null).map((t) => [t.id, t]));
  // The running tenants, and any the directory has that this instance has not loaded yet.
  const ids = [...new Set([...ctx.tenantIds, ...stored.keys()])];
  const jobs = new Map(queue.map((row) => [row.tenantId, row]));
  const readings = ctx.tenantLimits ? groupBy(ctx.tenantLimits(), (r) => r.tenantId) : null;

  const all = ids.map((tenantId): TenantFigures => {
    const row = jobs.get(tenantId);
    const pause = ctx.pauses.cached(tenantId);
    const limits = readings ? (readings.get(tenantId) ?? []).map((r) => limitFigure(r, now)) : null;
    const figures: Omit<TenantFigures, 'attention'> = {
      tenantId,
      source: stored.get(tenantId)?.source ?? null,
      status: stored.get(tenantId)?.status ?? 'enabled',
      paused: { all: pause.all, directions: pausedDirections(pause) },
      waitingJobs: row?.waiting ?? 0,
      runningJobs: row?.running ?? 0,
      deadJobs: row?.dead ?? 0,
      // A job waiting for a later retry is not late: only a due one ages.
      oldestWaitingAgeMs: row === undefined || row.oldestRunAt === null || row.oldestRunAt > now ? null : now - row.oldestRunAt,
      limits,
      readyInMs: limits && limits.length > 0 ? Math.max(...limits.map((l) => l.readyInMs)) : null,
    };
    return { ...figures, attention: attention(figures) };
  });

  const search = query.search?.trim().toLowerCase();
  const matched = all
    .filter((t) => (!search || t.tenantId.includes(search)) && (!query.attention || t.attention.length > 0))
    .sort(byUrgency);
  const limit = query.limit ?? 50;
  const offset = query.offset ?? 0;
  return {
    at: now,
    total: all.length,
    needAttention: all.filter((t) => t.attention.length > 0).length,
    matched: matched.length,
    offset,
    limit,
    tenants: matched.slice(offset, offset + limit),
  };
}

function limitFigure(reading: GaugeReading, now: number): TenantLimitFigure {
  const window = reading.window ?? null;
  return {
    limit: reading.gauge,
    readyInMs: Math.max(0, Math.round(reading.readyInMs)),
    circuit: reading.circuit ?? null,
    window: window && {
      limit: window.limit,
      remaining: window.remaining,
      used: Math.max(0, window.limit - window.remaining),
      endsInMs: Math.max(0, window.endsAt - now),
    },
  };
}

export function attention(t: Omit<TenantFigures, 'attention'>): AttentionReason[] {
  const reasons = new Set<AttentionReason>();
  for (const limit of t.limits ?? []) {
    if (limit.circuit === 'open' || limit.circuit === 'half_open') reasons.add('vendor_failing');
    else if (limit.limit.endsWith('_circuit') && limit.readyInMs > 0) reasons.add('vendor_failing');
    if (limit.limit.endsWith('_budget') && limit.readyInMs > CLAIM_SOON_MS) reasons.add('budget_exhausted');
  }
  if (t.deadJobs > 0) reasons.add('dead_letters');
  if (t.oldestWaitingAgeMs !== null && t.oldestWaitingAgeMs > WAITING_LONG_MS) reasons.add('waiting_long');
  if (t.paused.all || t.paused.directions.length > 0) reasons.add('paused');
  if (t.status === 'disabled') reasons.add('disabled');
  return ATTENTION_REASONS.filter((reason) => reasons.has(reason));
}

/** Most urgent first: the worst reason, then more reasons, the longest wait, the biggest backlog; then by id. */
export function byUrgency(a: TenantFigures, b: TenantFigures): number {
  const worst = (t: TenantFigures) => (t.attention.length === 0 ? ATTENTION_REASONS.length : ATTENTION_REASONS.indexOf(t.attention[0]!));
  return (
    worst(a) - worst(b) ||
    b.attention.length - a.attention.length ||
    (b.oldestWaitingAgeMs ?? -1) - (a.oldestWaitingAgeMs ?? -1) ||
    b.waitingJobs - a.waitingJobs ||
    b.deadJobs - a.deadJobs ||
    (a.tenantId < b.tenantId ? -1 : a.tenantId > b.tenantId ? 1 : 0)
  );
}

function groupBy<T>(items: readonly T[], key: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const k = key(item);
    const group = groups.get(k);
    if (group) group.push(item);
    else groups.set(k, [item]);
  }
  return groups;
}
