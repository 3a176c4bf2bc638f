// A Spruce budget shared by every instance of a deployment: the RatePacer's state kept in one
// database row per tenant (store/postgres/shared-rows.ts changes it under SELECT ... FOR UPDATE),
// so N instances pace one budget and together stay under the organization's limit.
//
// What is shared as is: the limit, what is left of the window, its estimated end, a 429 pause,
// the last grant (so spreading is global). What needs care is the count of requests in flight:
// an instance that dies mid-request never reports the answer. So each instance's unanswered
// grants are kept apart, with their times, and one unanswered for longer than `inFlightTtlMs`
// (well past the HTTP timeout) is forgotten.
//
// The pacer pokes its waiters when an answer changes the budget, but only its own: an answer
// seen by another instance does not wake ours. So no wait here is longer than `maxWaitMs`; a
// waiter then simply asks again.
import type { Clock } from '../clock.ts';
import type { GateDecision } from './priority-gate.ts';
import { UNKNOWN_BUDGET, type PacerBudget, type PacerStateStore } from './rate-pacer.ts';

/** The shared row: the budget minus in-flight, plus each instance's unanswered grant times. */
export interface SharedPacerRecord {
  budget: Omit<PacerBudget, 'inFlight'>;
  /** Instance id → times (epoch ms) of its grants not answered yet, oldest first. */
  inFlight: Record<string, number[]>;
}

/** A record changed atomically (a database row under a lock). */
export interface AtomicRecord<S> {
  update<T>(change: (state: S) => [S, T]): Promise<T>;
}

export interface SharedPacerStateOptions {
  /** `null` until the first instance writes it. */
  record: AtomicRecord<SharedPacerRecord | null>;
  /** Unique per running process (a restarted process is a new instance). */
  instanceId: string;
  clock: Clock;
  /** An unanswered grant older than this is forgotten: its instance died. Default 60 000 (4 × the HTTP timeout). */
  inFlightTtlMs?: number;
  /** Longest wait before a waiter asks the shared budget again. Default 1 000. */
  maxWaitMs?: number;
}

export class SharedPacerState implements PacerStateStore {
  private readonly ttlMs: number;
  private readonly maxWaitMs: number;

  constructor(private readonly options: SharedPacerStateOptions) {
    this.ttlMs = options.inFlightTtlMs ?? 60_000;
    this.maxWaitMs = options.maxWaitMs ?? 1_000;
  }

  update<T>(change: (budget: PacerBudget) => [PacerBudget, T]): Promise<T> {
    const { record, instanceId, clock } = this.options;
    return record.update((stored) => {
      const now = clock.now();
      const inFlight = liveGrants(stored?.inFlight ?? {}, now - this.ttlMs);
      const total = Object.values(inFlight).reduce((sum, times) => sum + times.length, 0);
      const { inFlight: _unused, ...unknown } = UNKNOWN_BUDGET;
      const [next, result] = change({ ...(stored?.budget ?? unknown), inFlight: total });

      // The change granted (+1) or settled (−1) one of this instance's requests.
      const mine = [...(inFlight[instanceId] ?? [])];
      const delta = next.inFlight - total;
      for (let i = 0; i < delta; i++) mine.push(now);
      if (delta < 0) mine.splice(0, -delta);
      if (mine.length > 0) inFlight[instanceId] = mine;
      else delete inFlight[instanceId];

      const { inFlight: _total, ...budget } = next;
      return [{ budget, inFlight }, capWait(result, this.maxWaitMs)];
    });
  }
}

/** Grants newer than `since`, instances with none dropped. */
function liveGrants(inFlight: Record<string, number[]>, since: number): Record<string, number[]> {
  const live: Record<string, number[]> = {};
  for (const [instance, times] of Object.entries(inFlight)) {
    const kept = times.filter((t) => t > since);
    if (kept.length > 0) live[instance] = kept;
  }
  return live;
}

/** The pacer's "wait N ms" answers, shortened to at most `maxMs`; other results pass through. */
function capWait<T>(result: T, maxMs: number): T {
  const decision = result as GateDecision | undefined;
  if (decision && typeof decision === 'object' && decision.grant === false && decision.waitMs > maxMs) {
    return { ...decision, waitMs: maxMs } as T;
  }
  return result;
}
