// Pausing a tenant, or one direction of it. The state lives in the store (kv state), so every
// instance, the admin API and the CLI see the same thing. Webhooks keep being accepted and
// stored while paused: a pause only stops workers from claiming the paused jobs, which wait in
// the queue, in order, and drain when resumed.
//
// The worker pool asks for its claim filters before every claim, synchronously, so this keeps a
// cached copy refreshed on a timer (and at once after a change made through this instance).
import type { CancelTimer, Clock } from '../clock.ts';
import type { Store } from '../store/types.ts';
import { DIRECTION_NAMES, tasksOf, type Direction } from './directions.ts';

/** The kv state key (per tenant). */
export const PAUSE_STATE_KEY = 'admin.pause';

export type PauseScope = 'all' | Direction;

export interface PauseState {
  /** The whole tenant: every task, including ones of no direction (backfill, reconcile). */
  all: boolean;
  /** Directions paused on their own (when `all` is false). */
  directions: Direction[];
  /** When the state last changed, and by whom (`admin-api`, `cli`). */
  changedAt: number | null;
  changedBy: string | null;
}

export const RUNNING: PauseState = Object.freeze({ all: false, directions: [], changedAt: null, changedBy: null }) as PauseState;

export function isPaused(state: PauseState): boolean {
  return state.all || state.directions.length > 0;
}

/** Directions not running: both when the whole tenant is paused. */
export function pausedDirections(state: PauseState): Direction[] {
  return state.all ? [...DIRECTION_NAMES] : state.directions;
}

export function parsePauseState(text: string | null): PauseState {
  if (!text) return RUNNING;
  try {
    const raw = JSON.parse(text) as Partial<PauseState>;
    return {
      all: raw.all === true,
      directions: DIRECTION_NAMES.filter((d) => raw.directions?.includes(d)),
      changedAt: typeof raw.changedAt === 'number' ? raw.changedAt : null,
      changedBy: typeof raw.changedBy === 'string' ? raw.changedBy : null,
    };
  } catch {
    // A damaged value must not stop the sync: treat it as running.
    return RUNNING;
  }
}

/** The state after pausing `scope`. */
export function withPause(state: PauseState, scope: PauseScope): Omit<PauseState, 'changedAt' | 'changedBy'> {
  if (scope === 'all') return { all: true, directions: state.directions };
  return { all: state.all, directions: DIRECTION_NAMES.filter((d) => d === scope || state.directions.includes(d)) };
}

/** The state after resuming `scope`: resuming one direction of a paused tenant leaves the other paused. */
export function withResume(state: PauseState, scope: PauseScope): Omit<PauseState, 'changedAt' | 'changedBy'> {
  if (scope === 'all') return { all: false, directions: [] };
  return { all: false, directions: pausedDirections(state).filter((d) => d !== scope) };
}

export interface PauseControlOptions {
  store: Store;
  clock: Clock;
  /** The configured tenants. */
  tenantIds: readonly string[];
  /** A failed refresh keeps the last known state; it is reported here. */
  onError?: (error: unknown) => void;
}

export class PauseControl {
  private readonly options: PauseControlOptions;
  private readonly cache = new Map<string, PauseState>();
  private cancel: CancelTimer | null = null;

  constructor(options: PauseControlOptions) {
    this.options = options;
  }

  /** Reads the state of one tenant from the store (fresh: another process may have changed it). */
  async read(tenantId: string): Promise<PauseState> {
    const state = parsePauseState(await this.options.store.getState(tenantId, PAUSE_STATE_KEY));
    this.cache.set(tenantId, state);
    return state;
  }

  /** Every tenant's state in one query: one per tenant each poll was most of PostgreSQL's idle load at 1,000 tenants. */
  async refresh(): Promise<void> {
    const states = await this.options.store.statesOf(PAUSE_STATE_KEY);
    for (const id of this.options.tenantIds) this.cache.set(id, parsePauseState(states.get(id) ?? null));
  }

  /** Refreshes every `intervalMs` until stop(). */
  start(intervalMs: number): void {
    const tick = () => {
      this.refresh().then(
        () => undefined,
        (error: unknown) => this.options.onError?.(error),
      ).finally(() => {
        if (this.cancel) this.cancel = this.options.clock.setTimer(intervalMs, tick);
      });
    };
    this.cancel = this.options.clock.setTimer(intervalMs, tick);
  }

  stop(): void {
    this.cancel?.();
    this.cancel = null;
  }

  async pause(tenantId: string, scope: PauseScope, by: string): Promise<PauseState> {
    return this.change(tenantId, (state) => withPause(state, scope), by);
  }

  async resume(tenantId: string, scope: PauseScope, by: string): Promise<PauseState> {
    return this.change(tenantId, (state) => withResume(state, scope), by);
  }

  private async change(
    tenantId: string,
    next: (state: PauseState) => Omit<PauseState, 'changedAt' | 'changedBy'>,
    by: string,
  ): Promise<PauseState> {
    const state: PauseState = { ...next(await this.read(tenantId)), changedAt: this.options.clock.now(), changedBy: by };
    await this.options.store.setState(tenantId, PAUSE_STATE_KEY, JSON.stringify(state));
    this.cache.set(tenantId, state);
    return state;
  }

  /** The last known state (no store round trip). */
  cached(tenantId: string): PauseState {
    return this.cache.get(tenantId) ?? RUNNING;
  }

  /** For WorkerPool.tenantFilter: the tenants not wholly paused; undefined when none is. */
  tenantFilter(): string[] | undefined {
    const { tenantIds } = this.options;
    if (!tenantIds.some((id) => this.cached(id).all)) return undefined;
    return tenantIds.filter((id) => !this.cached(id).all);
  }

  /** For WorkerPool.taskFilter: the tasks of paused directions; undefined when none is. */
  taskFilter(): { tenantId: string; task: string }[] | undefined {
    const pairs: { tenantId: string; task: string }[] = [];
    for (const tenantId of this.options.tenantIds) {
      const state = this.cached(tenantId);
      if (state.all) continue;
      for (const direction of state.directions) for (const task of tasksOf(direction)) pairs.push({ tenantId, task });
    }
    return pairs.length > 0 ? pairs : undefined;
  }
}
