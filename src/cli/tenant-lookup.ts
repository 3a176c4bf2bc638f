// Finding tenants for the commands that act on them (doctor, setup, backfill, reconcile): the
// config file's, and those added through the admin API or `spruce-sync tenants add`, which live
// in the tenant directory of the database the config names. An unknown id is refused with the
// nearest known one, as an unknown config key is.
import { existsSync } from 'node:fs';
import type { TenantConfig } from '../config/schema.ts';
import { nearestKey } from '../config/unknown-keys.ts';
import type { TenantDirectory } from '../store/ports.ts';
import { asSecrets, runtimeTenant } from '../tenants/definition.ts';

/**
 * The directory's tenants (not removed) as the service would run them now, those of the config
 * file excluded (the file's definition is what counts for them). A row that no longer parses as a
 * tenant is skipped and named in `skipped` (ids only).
 */
export async function directoryTenants(
  directory: Pick<TenantDirectory, 'listTenants'>,
  configTenants: readonly Pick<TenantConfig, 'id'>[],
  now: number,
): Promise<{ tenants: TenantConfig[]; skipped: string[] }> {
  const inConfig = new Set(configTenants.map((t) => t.id));
  const tenants: TenantConfig[] = [];
  const skipped: string[] = [];
  for (const row of await directory.listTenants()) {
    if (row.removedAt !== null || inConfig.has(row.id)) continue;
    try {
      tenants.push(runtimeTenant(row.settings, asSecrets(row.secrets), now));
    } catch {
      skipped.push(row.id);
    }
  }
  return { tenants, skipped };
}

/** "no tenant X in the config or the tenant directory (did you mean Y?)", or the known ids. */
export function unknownTenantMessage(id: string, known: readonly string[]): string {
  const near = nearestKey(id, known);
  const hint = near ? `did you mean ${near}?` : known.length > 0 ? `tenants: ${known.join(', ')}` : 'there are none yet: spruce-sync tenants add';
  return `no tenant ${id} in the config or the tenant directory (${hint})`;
}

/**
 * Whether the configured database may hold a tenant directory: a SQLite file that does not exist
 * yet holds none (and a command that only reads should not create it); a server always may.
 */
export function databaseMayHoldTenants(url: string): boolean {
  if (!url.startsWith('sqlite:')) return true;
  let file = url.slice('sqlite:'.length);
  if (file.startsWith('//')) file = file.slice(2);
  return file !== '' && file !== ':memory:' && existsSync(file);
}
