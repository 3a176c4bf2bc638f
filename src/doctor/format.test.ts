import { describe, expect, it } from 'vitest';
import { formatReport } from './format.ts';
import { fail, ok, skip, tenantReport, warn } from './types.ts';

describe('formatReport', () => {
  it('prints a heading per tenant and one line per check, with the broken assumption and what to do', () => {
    const report = tenantReport('acme', 0, [
      ok('spry.token', 'token issued'),
      fail('spruce.endpoint', 'endpoint wde_1 is paused', { assumption: 'setup.spruce-endpoint-active', action: 'resume it' }),
      warn('clock.spruce', 'our clock is 40 s ahead', { assumption: 'clock.skew' }),
      skip('spruce.deliveries', 'needs our webhook endpoint'),
    ]);
    expect(report.ok).toBe(false);
    expect(formatReport({ tenants: [report], ok: report.ok }).split('\n')).toEqual([
      'tenant acme: FAILED (1 ok, 1 warn, 1 fail, 1 skip)',
      '  ok    spry.token         token issued',
      '  fail  spruce.endpoint    endpoint wde_1 is paused [setup.spruce-endpoint-active] → resume it',
      '  warn  clock.spruce       our clock is 40 s ahead [clock.skew]',
      '  skip  spruce.deliveries  needs our webhook endpoint',
    ]);
  });

  it('counts a warning as passing', () => {
    expect(tenantReport('acme', 0, [warn('clock.spry', 'x')]).ok).toBe(true);
  });
});
