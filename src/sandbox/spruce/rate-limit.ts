// Per-organization request budget [doc: per 60 s window, and some per 24 h; numbers
// unpublished]. [ours] Fixed windows on the injected clock: a window opens with the first
// request after the previous one closed and lasts 60 s (or 24 h). Every answered request
// counts; a request refused with 429 does not.

export interface RateLimitConfig {
  perMinute: number;
  perDay: number;
}

export interface RateDecision {
  allowed: boolean;
  /** Response headers: `s-ratelimit-*` (daily ones only when a daily limit applies). */
  headers: Record<string, string>;
  /** Seconds until the window that refused the request frees (on refusal). */
  retryAfterSeconds?: number;
}

interface Window {
  start: number;
  count: number;
}

const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;

export class RateLimiter {
  private readonly minute = new Map<string, Window>();
  private readonly day = new Map<string, Window>();

  reset(): void {
    this.minute.clear();
    this.day.clear();
  }

  private window(map: Map<string, Window>, key: string, length: number, now: number): Window {
    let w = map.get(key);
    if (!w || now >= w.start + length) map.set(key, (w = { start: now, count: 0 }));
    return w;
  }

  check(key: string, config: RateLimitConfig, now: number): RateDecision {
    const headers: Record<string, string> = {};
    const limits: { w: Window; limit: number; length: number; name: string }[] = [];
    if (config.perMinute > 0) limits.push({ w: this.window(this.minute, key, MINUTE, now), limit: config.perMinute, length: MINUTE, name: '' });
    if (config.perDay > 0) limits.push({ w: this.window(this.day, key, DAY, now), limit: config.perDay, length: DAY, name: 'daily-' });
    const full = limits.filter((l) => l.w.count >= l.limit);
    const allowed = full.length === 0;
    if (allowed) for (const l of limits) l.w.count++;
    for (const l of limits) {
      headers[`s-ratelimit-${l.name}limit`] = String(l.limit);
      headers[`s-ratelimit-${l.name}remaining`] = String(Math.max(0, l.limit - l.w.count));
    }
    if (allowed) return { allowed, headers };
    const frees = Math.max(...full.map((l) => l.w.start + l.length));
    return { allowed, headers, retryAfterSeconds: Math.max(1, Math.ceil((frees - now) / 1000)) };
  }
}
