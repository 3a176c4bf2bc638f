import { describe, expect, it } from 'vitest';
import { tenantSchema } from '../config/schema.ts';
import { backfillBudget, budgetCheck } from './budget-checks.ts';
import type { Exchange } from './wire-tap.ts';

const tenant = tenantSchema.parse({
  id: 'acme',
  spry: { baseUrl: 'https://spry.test', clientId: 'c', clientSecret: 's', organisationId: 1, webhookSecrets: ['w'], chartUrl: 'https://x/{patientId}' },
  spruce: { baseUrl: 'https://spruce.test/v1', accessId: 'aid', secretKey: 'sk', webhookSecrets: ['w'] },
});

function withHeaders(headers: Record<string, string>): Exchange {
  return { method: 'GET', path: '/organization', status: 200, headers, body: '{}', sentAt: 0, answeredAt: 1 };
}

describe('backfillBudget', () => {
  it('spends 80% of the Spruce window at 2 calls a patient, and Spry at its configured rate', () => {
    const budget = backfillBudget(tenant, [withHeaders({ 's-ratelimit-limit': '100', 's-ratelimit-remaining': '97' })], 6000);
    expect(budget).toMatchObject({ spruceLimitPerMinute: 100, sprucePatientsPerMinute: 40, spryPatientsPerMinute: 149, patientsPerMinute: 40, minutes: 150 });
    expect(budget.days).toBeUndefined();
  });

  it('reads no header as no Spruce limit, leaving Spry to set the pace', () => {
    const budget = backfillBudget(tenant, [withHeaders({})], 1000);
    expect(budget).toMatchObject({ spruceLimitPerMinute: null, sprucePatientsPerMinute: null, patientsPerMinute: 149, minutes: 7 });
  });

  it('counts the days a daily limit stretches a backfill over', () => {
    const budget = backfillBudget(tenant, [withHeaders({ 's-ratelimit-limit': '600', 's-ratelimit-daily-limit': '10000' })], 12_000);
    expect(budget.days).toBe(3);
  });
});

describe('budgetCheck', () => {
  it('says patients per minute and the time for the whole organisation', () => {
    const result = budgetCheck(tenant, [], [withHeaders({ 's-ratelimit-limit': '100' })], 6000);
    expect(result.status).toBe('ok');
    expect(result.message).toBe('Spruce allows 100/min (~40 new patients/min for backfill); Spry at 5/s (~149 patients/min) → ~40 patients/min: 6000 patients in ~2.5 h');
  });

  it('warns when the daily limit stretches the backfill over days', () => {
    const result = budgetCheck(tenant, [], [withHeaders({ 's-ratelimit-limit': '600', 's-ratelimit-daily-limit': '10000' })], 12_000);
    expect(result).toMatchObject({ status: 'warn', assumption: 'spruce.rate-limit-headers' });
    expect(result.message).toMatch(/stretches it over 3 days$/);
  });
});
