// What `spruce-sync doctor` reports: one result per check, per tenant. Results carry counts,
// ids, routes and status codes only; never a value read from a patient or contact record.

export type CheckStatus = 'ok' | 'warn' | 'fail' | 'skip';

export interface CheckResult {
  /** Stable id, e.g. `spry.patients.page`; the doctor's section of docs/vendor-contract.md lists them. */
  check: string;
  status: CheckStatus;
  /** What was found. */
  message: string;
  /** What to do about a warn or fail (or why a check was skipped). */
  action?: string;
  /** On warn and fail: the id of the assumption in docs/vendor-contract.md found not to hold. */
  assumption?: string;
}

export interface TenantDoctorReport {
  tenantId: string;
  /** Epoch ms the run started. */
  startedAt: number;
  checks: CheckResult[];
  ok: boolean;
}

export interface DoctorReport {
  tenants: TenantDoctorReport[];
  /** No check failed in any tenant (warnings allowed). */
  ok: boolean;
}

type Extra = Pick<CheckResult, 'action' | 'assumption'>;

export const ok = (check: string, message: string): CheckResult => ({ check, status: 'ok', message });
export const warn = (check: string, message: string, extra: Extra = {}): CheckResult => ({ check, status: 'warn', message, ...extra });
export const fail = (check: string, message: string, extra: Extra = {}): CheckResult => ({ check, status: 'fail', message, ...extra });
export const skip = (check: string, reason: string): CheckResult => ({ check, status: 'skip', message: reason });

export function tenantReport(tenantId: string, startedAt: number, checks: CheckResult[]): TenantDoctorReport {
  return { tenantId, startedAt, checks, ok: checks.every((c) => c.status !== 'fail') };
}
