// The audit log: what we did to which record and why (PHI-free detail), append-only.
import { toAudit, type AuditRow } from '../rows.ts';
import type { AuditEntry } from '../types.ts';
import { sql, where, type Db } from './sql.ts';

export async function appendAudit(db: Db, e: AuditEntry): Promise<void> {
  await db.run(sql`
    INSERT INTO audit (at, tenant_id, system, record_type, record_id, action, event_id, detail)
    VALUES (${e.at}, ${e.tenantId}, ${e.system}, ${e.recordType}, ${e.recordId}, ${e.action}, ${e.eventId ?? null},
            ${e.detail === undefined ? null : JSON.stringify(e.detail)})`);
}

export async function searchAudit(db: Db, query: { tenantId?: string; recordId?: string; since?: number; limit: number }): Promise<AuditEntry[]> {
  const conditions = [];
  if (query.tenantId !== undefined) conditions.push(sql`tenant_id = ${query.tenantId}`);
  if (query.recordId !== undefined) conditions.push(sql`record_id = ${query.recordId}`);
  if (query.since !== undefined) conditions.push(sql`at >= ${query.since}`);
  const rows = await db.all<AuditRow>(sql`SELECT * FROM audit ${where(conditions)} ORDER BY at DESC, id DESC LIMIT ${query.limit}`);
  return rows.map(toAudit);
}
