// Spry patient ↔ Spruce contact links: one contact per patient, one patient per contact.
import { toLink, type LinkRow } from '../rows.ts';
import type { ContactLink } from '../types.ts';
import { raw, sql, type Db } from './sql.ts';

export async function getLink(db: Db, tenantId: string, by: 'patient_id' | 'contact_id', id: number | string): Promise<ContactLink | null> {
  const row = await db.get<LinkRow>(sql`SELECT * FROM links WHERE tenant_id = ${tenantId} AND ${raw(by)} = ${id}`);
  return row ? toLink(row) : null;
}

export async function upsertLink(db: Db, tenantId: string, patientId: number, contactId: string, now: number): Promise<void> {
  // Two sessions linking one contact to different patients at once (PostgreSQL): the loser hits
  // the unique contact index and simply tries again, now seeing the winner's link to replace.
  for (let attempt = 1; ; attempt++) {
    try {
      await db.transaction(async (tx) => {
        // The contact may belong to another patient: that link goes, keeping one patient per contact.
        await tx.run(sql`DELETE FROM links WHERE tenant_id = ${tenantId} AND contact_id = ${contactId} AND patient_id <> ${patientId}`);
        await tx.run(sql`
          INSERT INTO links AS l (tenant_id, patient_id, contact_id, created_at, updated_at)
          VALUES (${tenantId}, ${patientId}, ${contactId}, ${now}, ${now})
          ON CONFLICT (tenant_id, patient_id) DO UPDATE SET
            contact_id = excluded.contact_id,
            created_at = CASE WHEN l.contact_id = excluded.contact_id THEN l.created_at ELSE excluded.created_at END,
            updated_at = excluded.updated_at`);
      });
      return;
    } catch (error) {
      if (!db.isUniqueViolation(error) || attempt >= 3) throw error;
    }
  }
}

export async function deleteLinkByContact(db: Db, tenantId: string, contactId: string): Promise<void> {
  await db.run(sql`DELETE FROM links WHERE tenant_id = ${tenantId} AND contact_id = ${contactId}`);
}
