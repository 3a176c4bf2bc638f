// At `tenants add`: do the tenant's vendor base URLs answer from here? Any HTTP answer counts (the
// credentials are the doctor's business); a vendor that does not answer is a warning, not a
// refusal: a clinic may be added before its network path is open.
import type { TenantConfig } from '../config/schema.ts';

const TIMEOUT_MS = 3_000;

export async function probeVendors(tenant: TenantConfig): Promise<string[]> {
  const targets = [
    ['spry.baseUrl', tenant.spry.baseUrl],
    ['spruce.baseUrl', tenant.spruce.baseUrl],
  ] as const;
  const answers = await Promise.all(targets.map(async ([field, url]) => ((await responds(url)) ? null : `${field}: not reachable from this service right now`)));
  return answers.filter((warning): warning is string => warning !== null);
}

async function responds(url: string): Promise<boolean> {
  try {
    const response = await fetch(url, { method: 'GET', redirect: 'manual', signal: AbortSignal.timeout(TIMEOUT_MS) });
    await response.body?.cancel();
    return true;
  } catch {
    return false;
  }
}
