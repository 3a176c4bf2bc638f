// Paces calls to Spruce from its `s-ratelimit-limit` / `s-ratelimit-remaining` headers (per
// organization, per 60 s window; an absent header means not limited). The budget left is spread
// over the time left in the window, so a steady flow never hits the wall and a 429 is rare; a
// 429 pauses every caller for its Retry-After. Bulk traffic (backfill) leaves a share of the
// budget to live traffic; while live traffic is quiet it borrows most of that share, keeping a
// small margin so the next live sync still goes at once, and gives the rest back as soon as a
// live call is asked for (the window it borrowed in ends within one window).
//
// The daily limit (s-ratelimit-daily-*) is not paced: its reset time is unknown, so it is left
// to the 429 and its Retry-After.
//
// Spruce publishes neither the window's start nor how it slides, so the window end is an
// estimate that is never earlier than the real one: it is anchored at the time an answer showed
// a fresh window, never at a grant (a window may open only when a request arrives, a little
// after we sent it). When the estimate runs out, one probe goes first and its answer says
// whether the server has turned too; until then the budget is what the server last reported,
// so being wrong makes us slower, never over budget.
import { systemClock, type Clock } from '../clock.ts';
import { PriorityGate, type GateDecision } from './priority-gate.ts';
import { intHeader } from './retry-after.ts';
import type { BudgetWindow, Permit, Priority, RequestLimiter, ResponseObservation, SlotForecast } from './types.ts';

/** What the pacer knows about one organization's budget. */
export interface PacerBudget {
  /** Whether any answer has been seen; until then one request at a time finds the budget out. */
  observed: boolean;
  /** Requests per window; null while the answers carry no limit header (not limited). */
  limit: number | null;
  /** Budget left at the latest answer (the lowest report of the current window). */
  remaining: number;
  /** Estimated end of the current window, epoch ms. */
  windowEndsAt: number;
  /** Nobody sends before this (a 429's Retry-After), epoch ms. */
  pausedUntil: number;
  /** Requests granted whose answer has not been seen yet. */
  inFlight: number;
  lastGrantAt: number;
  /** Our window estimate ran out and a probe asks the server whether its window turned too. */
  probing?: boolean;
  /** When a live call was last asked for (granted or not), epoch ms; bulk borrows after a quiet spell. */
  lastLiveAt?: number;
  /** The window (by its estimated end) in which bulk borrowed from the live share. */
  loanWindowEndsAt?: number;
}

export const UNKNOWN_BUDGET: PacerBudget = {
  observed: false,
  limit: null,
  remaining: 0,
  windowEndsAt: 0,
  pausedUntil: 0,
  inFlight: 0,
  lastGrantAt: 0,
};

/**
 * Where the budget lives. In memory it is one instance's; a store backed by a shared database
 * row (one per organization, updated in a transaction) makes N instances share one budget.
 */
export interface PacerStateStore {
  /** Applies `change` atomically and returns its result. */
  update<T>(change: (budget: PacerBudget) => [PacerBudget, T]): Promise<T>;
}

export class MemoryPacerState implements PacerStateStore {
  private budget: PacerBudget = UNKNOWN_BUDGET;

  get current(): PacerBudget {
    return this.budget;
  }

  update<T>(change: (budget: PacerBudget) => [PacerBudget, T]): Promise<T> {
    const [next, result] = change(this.budget);
    this.budget = next;
    return Promise.resolve(result);
  }
}

export interface PacerPolicy {
  windowMs: number;
  /** Share of the budget (0–1) bulk traffic leaves to live traffic. */
  reserveForLive: number;
  /** Share (0–reserveForLive) bulk leaves to live while live traffic is quiet. */
  idleReserveForLive: number;
  /** Live traffic is quiet when no live call was asked for within this long. */
  liveQuietMs: number;
  /** Pause after a 429 without Retry-After when the window end is unknown. */
  defaultPauseMs: number;
  /** How long a probe that found the server's window still open waits before the next probe. */
  probeIntervalMs: number;
  /**
   * Live calls go at once while more than this share (0–1) of the window's budget is left, so a
   * burst of edits syncs in milliseconds; below it they are spread over the rest of the window.
   */
  burstAbove: number;
}

/** Decides whether one request of `priority` may go now; when it may, accounts for it. */
export function planGrant(
  budget: PacerBudget,
  priority: Priority,
  now: number,
  policy: PacerPolicy,
): [PacerBudget, GateDecision] {
  // Asking is enough to count as live traffic: a live call waiting for budget is live work.
  if (priority === 'live') budget = { ...budget, lastLiveAt: now };
  if (now < budget.pausedUntil) return [budget, wait(budget.pausedUntil - now)];
  const grant = (b: PacerBudget): [PacerBudget, GateDecision] => [
    { ...b, inFlight: b.inFlight + 1, lastGrantAt: now },
    { grant: true },
  ];
  if (budget.limit === null) {
    // Before the first answer the budget is unknown: a burst could overrun it, so probe with one.
    // The answer pokes the gate, so this wait rarely runs its course.
    if (!budget.observed && budget.inFlight > 0) return [budget, wait(policy.windowMs)];
    return grant(budget);
  }

  const limit = budget.limit;
  if (now >= budget.windowEndsAt) {
    // One probe at a time until an answer shows the server's window has turned too.
    if (budget.probing && budget.inFlight > 0) return [budget, wait(policy.probeIntervalMs)];
    return grant({ ...budget, probing: true });
  }
  const b = budget;
  const reserve = priority === 'bulk' ? Math.ceil(limit * liveShare(b, now, policy)) : 0;
  const available = b.remaining - b.inFlight - reserve;
  // Out of budget: wait for the window to turn (or for an answer that says it already has).
  if (available <= 0) return [b, wait(b.windowEndsAt - now)];
  if (priority === 'live' && available > limit * policy.burstAbove) return grant(b);
  // In a window where bulk borrowed, what it left is the margin kept for live to use at once.
  if (priority === 'live' && b.loanWindowEndsAt === b.windowEndsAt) return grant(b);
  const due = b.lastGrantAt + (b.windowEndsAt - now) / available;
  if (due > now) return [b, wait(due - now)];
  const borrowing = priority === 'bulk' && b.remaining - b.inFlight <= Math.ceil(limit * policy.reserveForLive);
  return grant(borrowing ? { ...b, loanWindowEndsAt: b.windowEndsAt } : b);
}

/** The share bulk leaves to live: all of it while live traffic is about, a margin while it is quiet. */
function liveShare(budget: PacerBudget, now: number, policy: PacerPolicy): number {
  const quiet = budget.lastLiveAt === undefined || now - budget.lastLiveAt >= policy.liveQuietMs;
  return quiet ? Math.min(policy.idleReserveForLive, policy.reserveForLive) : policy.reserveForLive;
}

/** Folds one answer (or the lack of one) into the budget. */
export function observeAnswer(
  budget: PacerBudget,
  answer: ResponseObservation,
  now: number,
  policy: PacerPolicy,
): PacerBudget {
  const b: PacerBudget = { ...budget, inFlight: Math.max(0, budget.inFlight - 1) };
  if (answer.status === undefined) return b;
  b.observed = true;

  const limit = intHeader(answer.headers, 's-ratelimit-limit');
  const remaining = intHeader(answer.headers, 's-ratelimit-remaining');

  if (answer.status === 429) {
    const knownEnd = b.windowEndsAt > now ? b.windowEndsAt - now : policy.defaultPauseMs;
    const pauseMs = answer.retryAfterSeconds !== undefined ? answer.retryAfterSeconds * 1000 : knownEnd;
    return {
      ...b,
      limit: limit ?? b.limit,
      remaining: 0,
      probing: false,
      // The server's word on when budget frees up beats our estimate.
      windowEndsAt: now + pauseMs,
      pausedUntil: Math.max(b.pausedUntil, now + pauseMs),
    };
  }

  if (limit === undefined || remaining === undefined) {
    // A 5xx may come from a proxy that never saw Spruce's counters: it says nothing about them.
    return answer.status >= 500 ? b : { ...b, limit: null };
  }
  // Answers to concurrent requests can arrive out of order, so a higher count than ours only
  // means a new window when it is higher than the requests in flight could explain. A probe's
  // answer means one too when the server counts no more than what is in flight.
  const freshWindow =
    b.limit === null || remaining > b.remaining + budget.inFlight || (b.probing === true && remaining >= limit - budget.inFlight);
  if (freshWindow) return { ...b, limit, remaining, windowEndsAt: now + policy.windowMs, probing: false };
  // A probe that found the server's window still open: it ends any moment; ask again shortly.
  if (b.probing) return { ...b, limit, remaining, windowEndsAt: Math.max(b.windowEndsAt, now + policy.probeIntervalMs) };
  return { ...b, limit, remaining: Math.min(b.remaining, remaining) };
}

function wait(ms: number): GateDecision {
  return { grant: false, waitMs: Math.max(1, Math.ceil(ms)) };
}

export interface RatePacerOptions {
  clock?: Clock;
  /** Default: in memory (this instance only). */
  state?: PacerStateStore;
  /** Default 60. */
  windowSeconds?: number;
  /** Share of the budget (0–1) that bulk traffic leaves to live traffic. Default 0.2. */
  reserveForLive?: number;
  /**
   * Share bulk leaves to live while live traffic is quiet. Default 0.05: at Spruce's default 100
   * calls/min, 5 calls, enough for a new patient's sync (search, create, link) to go at once.
   */
  idleReserveForLive?: number;
  /** Live traffic is quiet after this long without a live call. Default: one window. */
  liveQuietSeconds?: number;
  /** Pause after a 429 that names no Retry-After and no window end is known. Default 5. */
  defaultPauseSeconds?: number;
  /** Live calls are not spaced while more than this share of the budget is left. Default 0.25; 1 = always spread. */
  burstAbove?: number;
}

export class RatePacer implements RequestLimiter, SlotForecast {
  private readonly clock: Clock;
  private readonly state: PacerStateStore;
  private readonly policy: PacerPolicy;
  private readonly gate: PriorityGate;
  /** The budget as this instance last saw it (a shared one may have moved since). */
  private seen: PacerBudget = UNKNOWN_BUDGET;

  constructor(options: RatePacerOptions = {}) {
    this.clock = options.clock ?? systemClock;
    this.state = options.state ?? new MemoryPacerState();
    const reserveForLive = options.reserveForLive ?? 0.2;
    if (!(reserveForLive >= 0 && reserveForLive < 1)) throw new RangeError('reserveForLive must be in [0, 1)');
    const idleReserveForLive = options.idleReserveForLive ?? Math.min(0.05, reserveForLive);
    if (!(idleReserveForLive >= 0 && idleReserveForLive <= reserveForLive)) throw new RangeError('idleReserveForLive must be in [0, reserveForLive]');
    const windowMs = (options.windowSeconds ?? 60) * 1000;
    this.policy = {
      windowMs,
      reserveForLive,
      idleReserveForLive,
      liveQuietMs: options.liveQuietSeconds !== undefined ? options.liveQuietSeconds * 1000 : windowMs,
      defaultPauseMs: (options.defaultPauseSeconds ?? 5) * 1000,
      probeIntervalMs: 1000,
      burstAbove: options.burstAbove ?? 0.25,
    };
    this.gate = new PriorityGate({
      clock: this.clock,
      decide: (priority) => this.change((b) => planGrant(b, priority, this.clock.now(), this.policy)),
      giveBack: () => void this.forget(),
    });
  }

  /** Callers waiting for a grant. */
  get waiting(): number {
    return this.gate.waiting;
  }

  async acquire(priority: Priority, signal?: AbortSignal): Promise<Permit> {
    await this.gate.wait(priority, signal);
    let released = false;
    return {
      release: (answer) => {
        if (released) return;
        released = true;
        const poke = () => this.gate.poke();
        this.change((b) => [observeAnswer(b, answer, this.clock.now(), this.policy), undefined]).then(poke, poke);
      },
    };
  }

  /**
   * When the next request of `priority` could go: what planGrant would answer now on the budget
   * last seen, and not before the callers already waiting here have gone (live ones go first).
   */
  nextSlotIn(priority: Priority): number {
    const ahead = this.gate.waitingAhead(priority);
    const decision = planGrant(this.seen, priority, this.clock.now(), this.policy)[1];
    const wait = decision.grant ? 0 : decision.waitMs;
    return ahead > 0 ? Math.max(wait, 1) : wait;
  }

  /**
   * The window's limit and what was left at its latest answer, as this instance last saw them;
   * null while no limit is known (no answer yet, or Spruce sent none) or once the window ended
   * (the next answer says what the new one holds). No side effect.
   */
  currentWindow(): BudgetWindow | null {
    const { limit, remaining, windowEndsAt } = this.seen;
    if (limit === null || this.clock.now() >= windowEndsAt) return null;
    return { limit, remaining, endsAt: windowEndsAt };
  }

  private change<T>(fn: (budget: PacerBudget) => [PacerBudget, T]): Promise<T> {
    return this.state.update((b) => {
      const [next, result] = fn(b);
      this.seen = next;
      return [next, result];
    });
  }

  private async forget(): Promise<void> {
    await this.change((b) => [{ ...b, inFlight: Math.max(0, b.inFlight - 1) }, undefined]);
    this.gate.poke();
  }
}
