// Many clinics on one pair of simulators, for the 1,000-tenant benchmark: one Spry organisation
// and one Spruce organization per tenant (both simulators model several organisations, each
// with its own credentials, data, webhook subscriptions and Spruce rate-limit window), our
// webhooks registered with each as `setup` would, and the tenant definitions a clinic's
// operator would send to `POST /admin/api/tenants`.
import { ControlledClock } from '../../src/clock.ts';
import { createSpruceSimulator, type SpruceSimulator } from '../../src/sandbox/spruce/index.ts';
import { createSprySimulator, type SprySimulator } from '../../src/sandbox/spry/index.ts';
import { SpruceClient } from '../../src/spruce/client.ts';
import { SpryClient } from '../../src/spry/client.ts';
import { ensureWebhookRegistrations } from '../../src/sync/webhook-registration.ts';

export interface BenchTenant {
  /** Index in the world (0 = the noisy one). */
  index: number;
  id: string;
  spryOrg: number;
  spruceOrg: string;
  spry: { clientId: string; clientSecret: string };
  spruce: { accessId: string; secretKey: string };
}

export interface TenantWorld {
  clock: ControlledClock;
  spry: SprySimulator;
  spruce: SpruceSimulator;
  spryUrl: string;
  spruceUrl: string;
  /** `tenants` running ones, then one spare (not yet a tenant) to add at run time. */
  tenants: BenchTenant[];
  spare: BenchTenant;
  close(): Promise<void>;
}

export interface TenantWorldOptions {
  tenants: number;
  /** Spry patients of each tenant but the first. */
  patientsEach: number;
  /** Spry patients of tenant 0 (the noisy one). */
  noisyPatients: number;
  /** Spruce calls per minute of tenant 0's organization; the others get the sandbox default. */
  noisySpruceLimit: number;
  clock?: ControlledClock;
}

/** The sandbox's Spruce default (100 calls a minute per organization). */
export const SPRUCE_DEFAULT_LIMIT = 100;

export function tenantId(index: number): string {
  return `clinic-${String(index).padStart(4, '0')}`;
}

function benchTenant(index: number, id = tenantId(index)): BenchTenant {
  return {
    index,
    id,
    spryOrg: 1_000 + index,
    spruceOrg: `entity_0BENCH${String(index).padStart(6, '0')}`,
    spry: { clientId: `spry-bench-${index}`, clientSecret: `spry-bench-secret-${index}` },
    spruce: { accessId: `aid_bench_${index}`, secretKey: `sk_bench_${index}` },
  };
}

export async function startTenantWorld(options: TenantWorldOptions): Promise<TenantWorld> {
  const clock = options.clock ?? new ControlledClock();
  const tenants = Array.from({ length: options.tenants }, (_, i) => benchTenant(i));
  const spare = benchTenant(options.tenants, 'clinic-added');
  const all = [...tenants, spare];
  const spry = await createSprySimulator({
    clock,
    seed: 15,
    organisations: all.map((t) => ({
      organisationId: t.spryOrg,
      clientId: t.spry.clientId,
      clientSecret: t.spry.clientSecret,
      patients: t.index === 0 ? options.noisyPatients : options.patientsEach,
      name: `Clinic ${t.index}`,
    })),
  });
  const spruce = await createSpruceSimulator({
    clock,
    seed: 15,
    organizations: all.map((t) => ({
      id: t.spruceOrg,
      accessId: t.spruce.accessId,
      secretKey: t.spruce.secretKey,
      name: `Clinic ${t.index}`,
      rateLimitPerMinute: t.index === 0 ? options.noisySpruceLimit : SPRUCE_DEFAULT_LIMIT,
      contacts: 0,
    })),
  });
  const spryUrl = await spry.listen({ host: '127.0.0.1', port: 0 });
  const spruceUrl = await spruce.listen({ host: '127.0.0.1', port: 0 });
  return {
    clock,
    spry,
    spruce,
    spryUrl,
    spruceUrl,
    tenants,
    spare,
    async close() {
      await Promise.allSettled([spry.close(), spruce.close()]);
    },
  };
}

export interface TenantSecrets {
  spryWebhook: string;
  spruceWebhook: string;
}

/** Registers the tenant's webhooks with both simulators, as `spruce-sync setup` does, and returns the secrets. */
export async function registerTenantWebhooks(world: TenantWorld, tenant: BenchTenant, serviceUrl: string): Promise<TenantSecrets> {
  const spry = new SpryClient({ baseUrl: world.spryUrl, ...tenant.spry, organisationId: tenant.spryOrg, clock: world.clock, requestsPerSecond: 1_000 });
  const spruce = new SpruceClient({ baseUrl: world.spruceUrl, ...tenant.spruce, clock: world.clock });
  try {
    const registered = await ensureWebhookRegistrations({ spry, spruce, publicUrl: serviceUrl, tenantId: tenant.id });
    const spryWebhook = registered.spry.signatureKey;
    const spruceWebhook = registered.spruce.signingSecret;
    if (!spryWebhook || !spruceWebhook) throw new Error(`webhooks of ${tenant.id} were registered already`);
    return { spryWebhook, spruceWebhook };
  } finally {
    await Promise.allSettled([spry.close(), spruce.close()]);
  }
}

/** The tenant as a config file or `POST /admin/api/tenants` takes it; schedules at their defaults. */
export function tenantDefinition(world: TenantWorld, tenant: BenchTenant, secrets: TenantSecrets): Record<string, unknown> {
  return {
    id: tenant.id,
    spry: {
      baseUrl: world.spryUrl,
      ...tenant.spry,
      organisationId: tenant.spryOrg,
      webhookSecrets: [secrets.spryWebhook],
      chartUrl: `${world.spryUrl}/patients/{patientId}`,
      // As the sandbox tenant: the simulated Spry sets no limit.
      requestsPerSecond: 20,
    },
    spruce: { baseUrl: world.spruceUrl, ...tenant.spruce, webhookSecrets: [secrets.spruceWebhook] },
  };
}

/** Runs `fn` over `items`, at most `parallel` at a time. */
export async function inParallel<T, R>(items: readonly T[], parallel: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  const lane = async () => {
    for (let i = next++; i < items.length; i = next++) results[i] = await fn(items[i]!, i);
  };
  await Promise.all(Array.from({ length: Math.min(parallel, items.length) }, lane));
  return results;
}

/** Outbound calls the simulators answered so far (both, OAuth included). */
export function callsSoFar(world: TenantWorld): number {
  return world.spry.requestLog.length + world.spruce.requestLog.length;
}

/**
 * Waits (real time, at least `minMs`, at most `maxMs`) until the simulators answered at most
 * `calls` requests in the last 5 s: with many tenants the periodic catch-ups never leave a quiet
 * second, so "settled" means back at the steady trickle, not silent.
 */
export async function untilSteady(world: TenantWorld, options: { minMs: number; calls: number; maxMs: number }): Promise<{ steady: boolean; waitedMs: number }> {
  const started = Date.now();
  const counts: { at: number; n: number }[] = [];
  for (;;) {
    const now = Date.now();
    counts.push({ at: now, n: callsSoFar(world) });
    while (counts.length > 1 && counts[1]!.at <= now - 5_000) counts.shift();
    const window = counts[0]!;
    const waited = now - started;
    if (waited >= options.minMs && window.at <= now - 4_900 && counts.at(-1)!.n - window.n <= options.calls) return { steady: true, waitedMs: waited };
    if (waited >= options.maxMs) return { steady: false, waitedMs: waited };
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
