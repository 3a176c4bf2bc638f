// `doctor` for one tenant or all: read-only checks of our assumptions about Spry and Spruce
// against the live systems, run through the ordinary clients (docs/vendor-contract.md lists
// every assumption and the check that covers it). Nothing is written to either system.
import { systemClock, type Clock } from '../clock.ts';
import type { Config, TenantConfig } from '../config/schema.ts';
import { errorCode } from '../errors.ts';
import type { RetryPolicy } from '../http/http-client.ts';
import { budgetCheck } from './budget-checks.ts';
import { clockCheck } from './clock-checks.ts';
import { openProbe } from './probe.ts';
import { spruceChecks } from './spruce-checks.ts';
import { spryChecks } from './spry-checks.ts';
import { fail, skip, tenantReport, type DoctorReport, type TenantDoctorReport } from './types.ts';

export interface DoctorOptions {
  clock?: Clock;
  /** Where our webhooks should point (`server.publicUrl`). */
  publicUrl?: string;
  /** Default: the service's (transient failures retried with backoff). */
  retry?: Partial<RetryPolicy>;
}

export async function runTenantDoctor(tenant: TenantConfig, options: DoctorOptions = {}): Promise<TenantDoctorReport> {
  const clock = options.clock ?? systemClock;
  const startedAt = clock.now();
  const target = { tenantId: tenant.id, publicUrl: options.publicUrl, now: startedAt };
  const probe = openProbe(tenant, clock, options.retry);
  try {
    // Different systems, different budgets: both sides at once.
    const [spry, spruce] = await Promise.all([
      spryChecks(probe, target),
      spruceChecks(probe, { ...target, fieldNames: tenant.sync.fieldNames, tag: tenant.sync.tag }),
    ]);
    const spryAnswers = probe.spryTap.all();
    const spruceAnswers = probe.spruceTap.all();
    return tenantReport(tenant.id, startedAt, [
      ...spry.results,
      ...spruce,
      spryAnswers.length > 0 ? clockCheck('spry', spryAnswers) : skip('clock.spry', 'no answer from Spry'),
      spruceAnswers.length > 0 ? clockCheck('spruce', spruceAnswers) : skip('clock.spruce', 'no answer from Spruce'),
      budgetCheck(tenant, spryAnswers, spruceAnswers, spry.patientCount),
    ]);
  } catch (error) {
    // Every vendor answer is judged inside the checks; reaching here is a fault of the doctor itself.
    return tenantReport(tenant.id, startedAt, [fail('doctor', `the checks stopped early (${errorCode(error)})`, { action: 'tell us; the other tenants were checked' })]);
  } finally {
    await probe.close();
  }
}

/** Every tenant of the config, or the ones named, one after another (each keeps to its own budgets). */
export async function runDoctor(config: Config, options: DoctorOptions & { tenantIds?: string[] } = {}): Promise<DoctorReport> {
  const tenants = options.tenantIds ? config.tenants.filter((t) => options.tenantIds!.includes(t.id)) : config.tenants;
  const reports: TenantDoctorReport[] = [];
  for (const tenant of tenants) reports.push(await runTenantDoctor(tenant, { ...options, publicUrl: options.publicUrl ?? config.server.publicUrl }));
  return { tenants: reports, ok: reports.every((r) => r.ok) };
}

/** One tenant's doctor as the service runs it (admin API): the service's clock and public URL. */
export function configDoctor(config: Config, clock: Clock): (tenantId: string) => Promise<TenantDoctorReport> {
  return (tenantId) => {
    const tenant = config.tenants.find((t) => t.id === tenantId);
    if (!tenant) return Promise.reject(new Error(`no tenant ${tenantId}`));
    return runTenantDoctor(tenant, { clock, publicUrl: config.server.publicUrl });
  };
}
