// The tenant directory: one row per tenant (settings as JSON text, secrets sealed with a context
// naming the table and the tenant, so a sealed value cannot be moved to another row), and one
// version row every change bumps in the same transaction, which running instances poll.
import { createHash } from 'node:crypto';
import type { Cipher, SealContext } from '../cipher.ts';
import type { ConfigTenantChange, NewStoredTenant, StoredTenant, TenantSource, TenantStatus, TenantSummary } from '../ports.ts';
import { json, num, numOrNull } from '../rows.ts';
import type { AuditEntry } from '../types.ts';
import { appendAudit } from './audit.ts';
import { anyOf, raw, sql, type Db } from './sql.ts';

interface TenantRow {
  id: string;
  source: string;
  status: string;
  settings: string;
  secrets: Buffer;
  created_at: number | string;
  updated_at: number | string;
  removed_at: number | string | null;
  purged_at: number | string | null;
}

export const secretsContext = (tenantId: string): SealContext => ({ column: 'tenants.secrets', row: [tenantId] });

/** The tables holding a tenant's PHI or its sync's working state; the audit trail is not one. */
const PHI_TABLES = ['events', 'jobs', 'job_attempts', 'links', 'ledger', 'state'] as const;

function toSummary(row: TenantRow): TenantSummary {
  return {
    ...toPlace(row),
    revision: createHash('sha256').update(String(row.settings)).update(Buffer.from(row.secrets)).digest('base64url'),
  };
}

function toPlace(row: Omit<TenantRow, 'settings' | 'secrets'>): Omit<TenantSummary, 'revision'> {
  return {
    id: row.id,
    source: row.source as TenantSource,
    status: row.status as TenantStatus,
    createdAt: num(row.created_at),
    updatedAt: num(row.updated_at),
    removedAt: numOrNull(row.removed_at),
    purgedAt: numOrNull(row.purged_at),
  };
}

function toTenant(row: TenantRow, cipher: Cipher): StoredTenant {
  return { ...toPlace(row), settings: json(row.settings), secrets: openSecrets(row, cipher) };
}

function openSecrets(row: Pick<TenantRow, 'id' | 'secrets'>, cipher: Cipher): Record<string, unknown> {
  return JSON.parse(cipher.open(Buffer.from(row.secrets), secretsContext(row.id)).toString('utf8')) as Record<string, unknown>;
}

const seal = (cipher: Cipher, id: string, secrets: Record<string, unknown>) => cipher.seal(Buffer.from(JSON.stringify(secrets)), secretsContext(id));

const bump = (db: Db) => db.run(sql`UPDATE tenants_version SET version = version + 1 WHERE id = 1`);

export async function listTenants(db: Db, cipher: Cipher): Promise<StoredTenant[]> {
  return (await db.all<TenantRow>(sql`SELECT * FROM tenants ORDER BY id`)).map((row) => toTenant(row, cipher));
}

export async function listTenantSummaries(db: Db): Promise<TenantSummary[]> {
  return (await db.all<TenantRow>(sql`SELECT * FROM tenants ORDER BY id`)).map(toSummary);
}

export async function getTenant(db: Db, cipher: Cipher, id: string): Promise<StoredTenant | null> {
  const row = await db.get<TenantRow>(sql`SELECT * FROM tenants WHERE id = ${id}`);
  return row ? toTenant(row, cipher) : null;
}

/** A change and its audit entry commit together: no change without its entry, no entry without its change. */
const audited = async (tx: Db, changed: number, audit: AuditEntry | undefined) => {
  if (changed === 0) return false;
  await bump(tx);
  if (audit) await appendAudit(tx, audit);
  return true;
};

export function insertTenant(db: Db, cipher: Cipher, tenant: NewStoredTenant, now: number, audit?: AuditEntry): Promise<boolean> {
  return db.transaction(async (tx) => {
    const inserted = await tx.run(sql`
      INSERT INTO tenants (id, source, status, settings, secrets, created_at, updated_at)
      VALUES (${tenant.id}, ${tenant.source}, ${tenant.status}, ${JSON.stringify(tenant.settings)}, ${seal(cipher, tenant.id, tenant.secrets)}, ${now}, ${now})
      ON CONFLICT (id) DO NOTHING`);
    return audited(tx, inserted, audit);
  });
}

export function updateTenant(
  db: Db,
  cipher: Cipher,
  id: string,
  change: Partial<Pick<StoredTenant, 'settings' | 'secrets' | 'status'>>,
  now: number,
  audit?: AuditEntry,
): Promise<boolean> {
  return db.transaction(async (tx) => {
    const updated = await tx.run(sql`
      UPDATE tenants SET
        settings = COALESCE(${change.settings ? JSON.stringify(change.settings) : null}, settings),
        secrets = COALESCE(${change.secrets ? seal(cipher, id, change.secrets) : null}, secrets),
        status = COALESCE(${change.status ?? null}, status),
        updated_at = ${now}
      WHERE id = ${id} AND removed_at IS NULL`);
    return audited(tx, updated, audit);
  });
}

export function seedConfigTenants(
  db: Db,
  cipher: Cipher,
  tenants: Omit<NewStoredTenant, 'source' | 'status'>[],
  now: number,
  audit?: (change: ConfigTenantChange) => AuditEntry | null,
): Promise<void> {
  return db.transaction(async (tx) => {
    // The version row first: a second instance seeding at the same time waits here, then reads
    // what this one wrote, so each change is audited once.
    await bump(tx);
    const ids = tenants.map((t) => t.id);
    const inFile = new Set(ids);
    const before = audit ? await seededBefore(tx, cipher, ids) : new Map<string, ConfigTenantChange['before']>();
    for (const tenant of tenants) {
      await tx.run(sql`
        INSERT INTO tenants (id, source, status, settings, secrets, created_at, updated_at)
        VALUES (${tenant.id}, 'config', 'enabled', ${JSON.stringify(tenant.settings)}, ${seal(cipher, tenant.id, tenant.secrets)}, ${now}, ${now})
        ON CONFLICT (id) DO UPDATE SET
          source = 'config', settings = excluded.settings, secrets = excluded.secrets, updated_at = excluded.updated_at,
          removed_at = NULL, purged_at = NULL`);
    }
    // A tenant taken out of the config file is removed, as it was when the file was all there was.
    await tx.run(sql`
      UPDATE tenants SET removed_at = ${now}, updated_at = ${now}
      WHERE source = 'config' AND removed_at IS NULL AND NOT (${anyOf('id', ids)})`);
    if (!audit) return;
    const changes: ConfigTenantChange[] = [
      ...tenants.map((after) => ({ id: after.id, before: before.get(after.id) ?? null, after })),
      ...[...before.values()]
        .filter((row): row is NonNullable<typeof row> => row !== null && row.source === 'config' && row.removedAt === null && !inFile.has(row.id))
        .map((row) => ({ id: row.id, before: row, after: null })),
    ];
    for (const change of changes) {
      const entry = audit(change);
      if (entry) await appendAudit(tx, entry);
    }
  });
}

/** The rows a seeding may change (the file's ids, and every config tenant), secrets opened where they can be. */
async function seededBefore(tx: Db, cipher: Cipher, ids: string[]): Promise<Map<string, ConfigTenantChange['before']>> {
  const rows = await tx.all<TenantRow>(sql`SELECT * FROM tenants WHERE source = 'config' OR ${anyOf('id', ids)}`);
  // Secrets sealed under a key this process does not hold are null: the file's replace them, named as changed.
  const opened = (row: TenantRow) => {
    try {
      return openSecrets(row, cipher);
    } catch {
      return null;
    }
  };
  return new Map(rows.map((row) => [row.id, { ...toPlace(row), settings: json(row.settings), secrets: opened(row) }]));
}

export function removeTenant(db: Db, id: string, now: number, audit?: AuditEntry): Promise<boolean> {
  return db.transaction(async (tx) => {
    const removed = await tx.run(sql`UPDATE tenants SET removed_at = ${now}, updated_at = ${now} WHERE id = ${id} AND removed_at IS NULL`);
    return audited(tx, removed, audit);
  });
}

export async function tenantsVersion(db: Db): Promise<number> {
  const row = await db.get<{ version: number | string }>(sql`SELECT version FROM tenants_version WHERE id = 1`);
  return row ? num(row.version) : 0;
}

export function purgeRemovedTenants(db: Db, removedBefore: number, now: number, deletedElsewhere?: ReadonlyMap<string, Record<string, number>>): Promise<string[]> {
  return db.transaction(async (tx) => {
    const due = await tx.all<{ id: string }>(sql`
      SELECT id FROM tenants WHERE removed_at IS NOT NULL AND removed_at < ${removedBefore} AND purged_at IS NULL ORDER BY id`);
    for (const { id } of due) {
      // How many rows went, by table: the audit entry says what was deleted, never what it held.
      const deleted: Record<string, number> = { ...deletedElsewhere?.get(id) };
      for (const table of PHI_TABLES) deleted[table] = await tx.run(sql`DELETE FROM ${raw(table)} WHERE tenant_id = ${id}`);
      await tx.run(sql`UPDATE tenants SET purged_at = ${now} WHERE id = ${id}`);
      await appendAudit(tx, { at: now, tenantId: id, system: 'spruce-sync', recordType: 'tenant', recordId: id, action: 'purge', detail: { actor: 'retention', deleted } });
    }
    return due.map((row) => row.id);
  });
}
