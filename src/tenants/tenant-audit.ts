// The audit trail of the tenant directory: every operator change to a tenant (added, updated, a
// secret rotated, disabled, enabled, removed; purged by retention), and every change the config
// file made to its tenants when the service started, is one entry, written in the same
// transaction as the change. Entries name fields, never their values: a changed secret is
// named (`spry.clientSecret`), its value never written anywhere but the sealed secrets column.
import type { ConfigTenantChange } from '../store/ports.ts';
import type { AuditEntry } from '../store/types.ts';
import { asSecrets, type TenantSecrets, type TenantSettings } from './definition.ts';

/**
 * Who made the change: the admin API (its bearer token), `spruce-sync tenants` (the CLI, on the
 * database), or the config file as a starting service found it.
 */
export type TenantActor = 'admin-api' | 'cli' | 'config-file';

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
  return tenantAuditEntry(tenantId, editAction(fields, secrets), actor, at, { fields, secrets, ...(webhookRotated ? { overlapMinutes: change.overlapMinutes } : {}) });
}

/**
 * The entry for what seeding the config file did to one tenant (store/ports.ts
 * ConfigTenantChange): added (or back in the file), updated (the names of the settings and
 * secrets changed), removed (taken out of the file); null when the file left it as it was.
 */
export function configTenantAuditEntry(change: ConfigTenantChange, at: number): AuditEntry | null {
  const { id, before, after } = change;
  if (!after) return tenantAuditEntry(id, 'remove', 'config-file', at);
  if (!before || before.removedAt !== null) return tenantAuditEntry(id, 'add', 'config-file', at, before ? { readded: true } : {});
  const fields = changedPaths(before.settings, after.settings);
  // Secrets this process could not open are replaced whole: every one the file sets is named.
  const secrets = changedSecrets(before.secrets ? asSecrets(before.secrets) : NO_SECRETS, asSecrets(after.secrets));
  // A tenant added through the API and now in the file changed hands: an update, whatever else changed.
  if (before.source !== 'config') return tenantAuditEntry(id, 'update', 'config-file', at, { fields, secrets, fromSource: before.source });
  if (fields.length === 0 && secrets.length === 0) return null;
  return tenantAuditEntry(id, editAction(fields, secrets), 'config-file', at, { fields, secrets });
}

/** An edit is a rotation when only secrets changed. */
function editAction(fields: string[], secrets: string[]): TenantAction {
  return fields.length === 0 && secrets.length > 0 ? 'rotate-secret' : 'update';
}

const NO_SECRETS: TenantSecrets = { spry: { clientSecret: '', webhookSecrets: [] }, spruce: { secretKey: '', webhookSecrets: [] }, retired: [] };

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
