// The audit trail of the tenant directory: every operator change to a tenant (added, updated, a
// secret rotated, disabled, enabled, removed; purged by retention) is one entry, written in the
// same transaction as the change. Entries name fields, never their values: a changed secret is
// named (`spry.clientSecret`), its value never written anywhere but the sealed secrets column.
import type { AuditEntry } from '../store/types.ts';
import type { TenantSecrets, TenantSettings } from './definition.ts';

/** Who made the change: the admin API (its bearer token) or `spruce-sync tenants` (the CLI, on the database). */
export type TenantActor = 'admin-api' | 'cli';

export type TenantAction = 'add' | 'update' | 'rotate-secret' | 'disable' | 'enable' | 'remove';

export function tenantAuditEntry(tenantId: string, action: TenantAction, actor: TenantActor, at: number, detail: Record<string, unknown> = {}): AuditEntry {
  return { at, tenantId, system: 'spruce-sync', recordType: 'tenant', recordId: tenantId, action, eventId: null, detail: { actor, ...detail } };
}

/**
 * The dotted paths whose values differ between two JSON documents, sorted; lists are compared
 * whole (a list is one setting). Names only: no value leaves this function.
 */
export function changedPaths(before: unknown, after: unknown, prefix = ''): string[] {
  if (isObject(before) && isObject(after)) {
    const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])];
    return keys.flatMap((key) => changedPaths(before[key], after[key], prefix ? `${prefix}.${key}` : key)).sort();
  }
  return JSON.stringify(before) === JSON.stringify(after) ? [] : [prefix || '(tenant)'];
}

/** The secrets an edit changed, by where they sit in a config tenant (`spry.webhookSecrets`, `alerts.headers`). */
export function changedSecrets(before: TenantSecrets, after: Omit<TenantSecrets, 'retired'>): string[] {
  const named = (s: Omit<TenantSecrets, 'retired'>) => ({
    spry: { clientSecret: s.spry.clientSecret, webhookSecrets: s.spry.webhookSecrets },
    spruce: { secretKey: s.spruce.secretKey, webhookSecrets: s.spruce.webhookSecrets },
    // Header names are settings an operator chose; the whole map counts as one secret.
    alerts: { headers: s.alertHeaders ?? null },
  });
  return changedPaths(named(before), named(after));
}

/**
 * An update's entry: `rotate-secret` when only secrets changed, else `update`; the names of the
 * settings and secrets changed, and how long a replaced webhook secret stays valid.
 */
export function updateAuditEntry(
  tenantId: string,
  actor: TenantActor,
  at: number,
  change: { settingsBefore: TenantSettings; settingsAfter: TenantSettings; secretsBefore: TenantSecrets; secretsAfter: Omit<TenantSecrets, 'retired'>; overlapMinutes: number },
): AuditEntry {
  const fields = changedPaths(change.settingsBefore, change.settingsAfter);
  const secrets = changedSecrets(change.secretsBefore, change.secretsAfter);
  const webhookRotated = secrets.some((name) => name.endsWith('.webhookSecrets'));
  const action: TenantAction = fields.length === 0 && secrets.length > 0 ? 'rotate-secret' : 'update';
  return tenantAuditEntry(tenantId, action, actor, at, { fields, secrets, ...(webhookRotated ? { overlapMinutes: change.overlapMinutes } : {}) });
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
