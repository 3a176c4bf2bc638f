// The doctor's report as text: per tenant a heading, then one line per check with what was
// found, the assumption that did not hold and what to do.
import type { CheckResult, DoctorReport, TenantDoctorReport } from './types.ts';

export function formatCheck(result: CheckResult, width: number): string {
  const assumption = result.assumption ? ` [${result.assumption}]` : '';
  const action = result.action ? ` → ${result.action}` : '';
  return `  ${result.status.padEnd(4)}  ${result.check.padEnd(width)}  ${result.message}${assumption}${action}`;
}

export function formatTenant(report: TenantDoctorReport): string[] {
  const counts = (['ok', 'warn', 'fail', 'skip'] as const)
    .map((status) => [status, report.checks.filter((c) => c.status === status).length] as const)
    .filter(([, n]) => n > 0)
    .map(([status, n]) => `${n} ${status}`);
  const width = Math.max(...report.checks.map((c) => c.check.length));
  return [`tenant ${report.tenantId}: ${report.ok ? 'nothing failed' : 'FAILED'} (${counts.join(', ')})`, ...report.checks.map((c) => formatCheck(c, width))];
}

export function formatReport(report: DoctorReport): string {
  return report.tenants.map((t) => formatTenant(t).join('\n')).join('\n\n');
}
