// A tenant's definition as the directory keeps it: the config tenant's fields split into
// settings (shown to operators) and secrets (sealed at rest, never shown again), joined back
// into the TenantConfig the service runs. Rotating a webhook secret keeps the old one valid for
// an overlap, so deliveries signed before the sender switched still verify.
import { tenantSchema, type TenantConfig } from '../config/schema.ts';
import type { TenantDirectory } from '../store/ports.ts';

type System = 'spry' | 'spruce';

export interface TenantSecrets {
  spry: { clientSecret: string; webhookSecrets: string[] };
  spruce: { secretKey: string; webhookSecrets: string[] };
  /** Webhook secrets replaced by a rotation, still accepted until `until` (epoch ms). */
  retired: { system: System; secret: string; until: number }[];
  /** The alert receiver's extra headers (an authorization token, typically). */
  alertHeaders?: Record<string, string>;
}

export type TenantSettings = Record<string, unknown>;

/** Where each secret sits in a config tenant. */
const SECRET_PATHS = [
  ['spry', 'clientSecret'],
  ['spry', 'webhookSecrets'],
  ['spruce', 'secretKey'],
  ['spruce', 'webhookSecrets'],
] as const;

/** A validated tenant, as settings and secrets. */
export function splitTenant(tenant: TenantConfig, retired: TenantSecrets['retired'] = []): { settings: TenantSettings; secrets: TenantSecrets } {
  const settings = structuredClone(tenant) as unknown as Record<string, Record<string, unknown>>;
  for (const [system, key] of SECRET_PATHS) delete settings[system]![key];
  if (settings.alerts) delete settings.alerts.headers;
  return {
    settings,
    secrets: {
      spry: { clientSecret: tenant.spry.clientSecret, webhookSecrets: tenant.spry.webhookSecrets },
      spruce: { secretKey: tenant.spruce.secretKey, webhookSecrets: tenant.spruce.webhookSecrets },
      retired,
      ...(tenant.alerts ? { alertHeaders: tenant.alerts.headers } : {}),
    },
  };
}

/** The definition as the config file would give it (current secrets only), for editing. */
export function fullDefinition(settings: TenantSettings, secrets: TenantSecrets): Record<string, unknown> {
  const full = structuredClone(settings) as Record<string, Record<string, unknown>>;
  full.spry = { ...full.spry, clientSecret: secrets.spry.clientSecret, webhookSecrets: secrets.spry.webhookSecrets };
  full.spruce = { ...full.spruce, secretKey: secrets.spruce.secretKey, webhookSecrets: secrets.spruce.webhookSecrets };
  if (full.alerts && secrets.alertHeaders) full.alerts = { ...full.alerts, headers: secrets.alertHeaders };
  return full;
}

/** What the service runs at `now`: the webhook secrets include the retired ones still in their overlap. */
export function runtimeTenant(settings: TenantSettings, secrets: TenantSecrets, now: number): TenantConfig {
  const tenant = tenantSchema.parse(fullDefinition(settings, secrets));
  for (const system of ['spry', 'spruce'] as const) {
    const overlap = secrets.retired.filter((r) => r.system === system && r.until > now).map((r) => r.secret);
    tenant[system].webhookSecrets = [...tenant[system].webhookSecrets, ...overlap.filter((s) => !tenant[system].webhookSecrets.includes(s))];
  }
  return tenant;
}

/** The earliest moment a retired secret stops being accepted (the service refreshes then). */
export function nextExpiry(secrets: TenantSecrets, now: number): number | null {
  const times = secrets.retired.map((r) => r.until).filter((until) => until > now);
  return times.length === 0 ? null : Math.min(...times);
}

/**
 * The secrets after an edit: a webhook secret that is no longer listed is retired, valid until
 * now + overlapMs; retired secrets past their overlap are dropped.
 */
export function rotateSecrets(before: TenantSecrets, after: Omit<TenantSecrets, 'retired'>, now: number, overlapMs: number): TenantSecrets {
  // (alertHeaders, when present, come with `after` as they are: nothing to overlap.)
  const retired = before.retired.filter((r) => r.until > now);
  for (const system of ['spry', 'spruce'] as const) {
    for (const secret of before[system].webhookSecrets) {
      if (!after[system].webhookSecrets.includes(secret) && overlapMs > 0) retired.push({ system, secret, until: now + overlapMs });
    }
  }
  return { ...after, retired: retired.filter((r) => !after[r.system].webhookSecrets.includes(r.secret)) };
}

/** Settings with every secret shown as set, never as its value. */
export function redactedDefinition(settings: TenantSettings, secrets: TenantSecrets, now: number): Record<string, unknown> {
  const shown = structuredClone(settings) as Record<string, Record<string, unknown>>;
  const webhook = (system: System) => {
    const overlapUntil = nextExpiry({ ...secrets, retired: secrets.retired.filter((r) => r.system === system) }, now);
    return { set: true, count: secrets[system].webhookSecrets.length, previousValidUntil: overlapUntil === null ? null : new Date(overlapUntil).toISOString() };
  };
  shown.spry = { ...shown.spry, clientSecret: '***', webhookSecrets: webhook('spry') };
  shown.spruce = { ...shown.spruce, secretKey: '***', webhookSecrets: webhook('spruce') };
  if (shown.alerts && secrets.alertHeaders) shown.alerts = { ...shown.alerts, headers: Object.fromEntries(Object.keys(secrets.alertHeaders).map((name) => [name, '***'])) };
  return shown;
}

/** An edit applied to a definition: objects merge key by key, anything else (arrays too) replaces. */
export function mergePatch(base: unknown, patch: unknown): unknown {
  if (!isPlainObject(base) || !isPlainObject(patch)) return structuredClone(patch);
  const merged: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(patch)) merged[key] = key in base ? mergePatch(base[key], value) : structuredClone(value);
  return merged;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function asSecrets(value: Record<string, unknown>): TenantSecrets {
  const secrets = value as unknown as TenantSecrets;
  return { ...secrets, retired: secrets.retired ?? [] };
}

/** A tenant of the directory (not removed) as the service would run it now; null when there is none. */
export async function directoryTenant(directory: Pick<TenantDirectory, 'getTenant'>, id: string, now: number): Promise<TenantConfig | null> {
  const row = await directory.getTenant(id);
  return row && row.removedAt === null ? runtimeTenant(row.settings, asSecrets(row.secrets), now) : null;
}
