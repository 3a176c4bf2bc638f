// What the rate-limit headers imply for a backfill. Spruce reports its per-organization budget
// per 60 s window in `s-ratelimit-limit` (and a daily one where it applies); backfill leaves a
// fifth of it to live traffic (RatePacer's default) and spends about 2 calls per new patient
// (create, link). Spry publishes no limit: we keep to spry.requestsPerSecond and spend about
// 2 calls per patient (cases, appointments) besides one page per backfill.pageSize patients.
import type { TenantConfig } from '../config/schema.ts';
import { headerValue, intHeader } from '../http/retry-after.ts';
import { ok, warn, type CheckResult } from './types.ts';
import type { Exchange } from './wire-tap.ts';

const BULK_SHARE = 0.8;
const SPRUCE_CALLS_PER_PATIENT = 2;
const SPRY_CALLS_PER_PATIENT = 2;
/** Headers some gateways put before an API; Spry documents none. */
const SPRY_LIMIT_HEADERS = ['x-ratelimit-limit', 'ratelimit-limit', 'x-rate-limit-limit'];

export interface BackfillBudget {
  spruceLimitPerMinute: number | null;
  spruceDailyLimit: number | null;
  /** Patients a minute each side allows; null when unlimited. */
  sprucePatientsPerMinute: number | null;
  spryPatientsPerMinute: number;
  patientsPerMinute: number;
  /** Minutes a backfill of `patients` takes at that pace, when the count is known. */
  minutes?: number;
  /** Days the daily limit stretches it to, when there is one. */
  days?: number;
}

/** The latest answer carrying the header, so a mid-window answer does not hide the limit. */
function latest(exchanges: readonly Exchange[], name: string): number | undefined {
  for (let i = exchanges.length - 1; i >= 0; i--) {
    const value = intHeader(exchanges[i]!.headers, name);
    if (value !== undefined) return value;
  }
  return undefined;
}

export function backfillBudget(tenant: TenantConfig, spruce: readonly Exchange[], patients: number | undefined): BackfillBudget {
  const limit = latest(spruce, 's-ratelimit-limit') ?? null;
  const daily = latest(spruce, 's-ratelimit-daily-limit') ?? null;
  const sprucePerMinute = limit === null ? null : Math.floor((limit * BULK_SHARE) / SPRUCE_CALLS_PER_PATIENT);
  const pageCalls = 1 / tenant.backfill.pageSize;
  const spryPerMinute = Math.floor((tenant.spry.requestsPerSecond * 60) / (SPRY_CALLS_PER_PATIENT + pageCalls));
  const perMinute = Math.max(0, Math.min(spryPerMinute, sprucePerMinute ?? Infinity));
  const budget: BackfillBudget = {
    spruceLimitPerMinute: limit,
    spruceDailyLimit: daily,
    sprucePatientsPerMinute: sprucePerMinute,
    spryPatientsPerMinute: spryPerMinute,
    patientsPerMinute: perMinute,
  };
  if (patients !== undefined && perMinute > 0) budget.minutes = Math.ceil(patients / perMinute);
  if (patients !== undefined && daily !== null) {
    const perDay = Math.floor((daily * BULK_SHARE) / SPRUCE_CALLS_PER_PATIENT);
    if (perDay > 0 && patients > perDay) budget.days = Math.ceil(patients / perDay);
  }
  return budget;
}

export function budgetCheck(tenant: TenantConfig, spry: readonly Exchange[], spruce: readonly Exchange[], patients: number | undefined): CheckResult {
  const check = 'budget.backfill';
  if (spruce.length === 0) return ok(check, 'no Spruce answer to read the rate limit from');
  const b = backfillBudget(tenant, spruce, patients);
  const spruceText = b.spruceLimitPerMinute === null ? 'Spruce sends no s-ratelimit-limit (not limited)' : `Spruce allows ${b.spruceLimitPerMinute}/min (~${b.sprucePatientsPerMinute} new patients/min for backfill)`;
  const spryHeader = SPRY_LIMIT_HEADERS.find((name) => spry.some((e) => headerValue(e.headers, name) !== undefined));
  const spryText = `Spry at ${tenant.spry.requestsPerSecond}/s (~${b.spryPatientsPerMinute} patients/min)${spryHeader ? `; Spry sends ${spryHeader}` : ''}`;
  const total = patients === undefined || b.minutes === undefined ? '' : `: ${patients} patients in ~${b.minutes < 90 ? `${b.minutes} min` : `${(b.minutes / 60).toFixed(1)} h`}`;
  const message = `${spruceText}; ${spryText} → ~${b.patientsPerMinute} patients/min${total}`;
  if (b.days !== undefined) {
    return warn(check, `${message}, but the daily limit of ${b.spruceDailyLimit} stretches it over ${b.days} days`, {
      action: 'run the backfill in daily slices (it resumes where it stopped) or ask Spruce for a higher daily limit',
      assumption: 'spruce.rate-limit-headers',
    });
  }
  if (b.patientsPerMinute === 0) {
    return warn(check, `${message}: no budget for a backfill`, { action: 'ask Spruce for a higher limit', assumption: 'spruce.rate-limit-headers' });
  }
  return ok(check, message);
}
