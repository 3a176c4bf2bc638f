// A subscription's retry schedule: the waits before the 2nd, 3rd, … attempt of a delivery.
// The default grows exponentially (5 s to 8 h, about 15 h in all, 10 attempts); a subscription
// may set its own. Each wait is jittered by ±`jitter` (default 20%), so deliveries that failed
// together do not all come back together.

/** `250ms`, `5s`, `2m`, `1h`, `1d`, or a number of milliseconds. */
export function parseDuration(value: string | number): number | null {
  if (typeof value === 'number') return Number.isFinite(value) && value >= 0 ? Math.round(value) : null;
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/.exec(value);
  if (!match) return null;
  const unit = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }[(match[2] ?? 'ms') as 'ms'];
  return Math.round(Number(match[1]) * unit);
}

export function formatDuration(ms: number): string {
  for (const [unit, size] of [['d', 86_400_000], ['h', 3_600_000], ['m', 60_000], ['s', 1_000]] as const) {
    if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}

export const DEFAULT_RETRY_SCHEDULE = ['5s', '30s', '2m', '10m', '30m', '1h', '2h', '4h', '8h'] as const;

/** The longest schedule and longest single wait a subscription may ask for. */
export const MAX_SCHEDULE_STEPS = 20;
export const MAX_STEP_MS = 24 * 3_600_000;

export type ParsedSchedule = { ok: true; schedule: number[] } | { ok: false; problem: string };

export function parseSchedule(values: readonly (string | number)[] | string): ParsedSchedule {
  const list = typeof values === 'string' ? values.split(',').filter((v) => v.trim() !== '') : values;
  if (list.length === 0) return { ok: false, problem: 'retrySchedule: at least one wait is needed' };
  if (list.length > MAX_SCHEDULE_STEPS) return { ok: false, problem: `retrySchedule: at most ${MAX_SCHEDULE_STEPS} waits` };
  const schedule: number[] = [];
  for (const value of list) {
    const ms = parseDuration(value);
    if (ms === null || ms > MAX_STEP_MS) return { ok: false, problem: `retrySchedule: ${JSON.stringify(value)} is not a duration up to 24h (e.g. 30s, 5m, 2h)` };
    schedule.push(ms);
  }
  return { ok: true, schedule };
}

/**
 * The wait after the `step`-th counted failure (1 = the first), or null when the schedule is
 * used up. Jittered uniformly within ±jitter of the scheduled wait.
 */
export function retryDelay(schedule: readonly number[], step: number, random: () => number = Math.random, jitter = 0.2): number | null {
  const base = schedule[step - 1];
  if (base === undefined) return null;
  const factor = 1 - jitter + random() * 2 * jitter;
  return Math.max(0, Math.round(base * factor));
}
