// Bounded storage: attempt logs are deleted past their age, and the audit trail is read in id
// order for export and archiving. Every delete runs in short batches, so a large backlog never
// holds one long transaction (or a long lock on the rows writers append to).
import { toAuditRecord } from '../admin-rows.ts';
import type * as views from '../admin-types.ts';
import type { AuditRow } from '../rows.ts';
import { anyOf, join, raw, sql, type Db, type Sql } from './sql.ts';

const DEFAULT_BATCH = 2_000;

/** Deletes the rows `select` picks (ids, at most `limit`), one transaction per batch, until none are left. */
async function deleteInBatches(
  db: Db,
  table: string,
  select: (limit: number) => Sql,
  batchSize = DEFAULT_BATCH,
  idType: 'bigint' | 'text' = 'bigint',
): Promise<number> {
  let deleted = 0;
  for (;;) {
    const n = await db.transaction(async (tx) => {
      const ids = (await tx.all<{ id: number | string }>(select(batchSize))).map((row) => (idType === 'bigint' ? Number(row.id) : String(row.id)));
      if (ids.length === 0) return 0;
      await tx.run(sql`DELETE FROM ${raw(table)} WHERE ${anyOf('id', ids, idType)}`);
      return ids.length;
    });
    deleted += n;
    if (n < batchSize) return deleted;
  }
}

/** Tenants present in a table whose index leads with tenant_id, found by skipping through it (one probe per tenant). */
export async function tenantsIn(db: Db, table: 'events' | 'job_attempts'): Promise<string[]> {
  const tenants: string[] = [];
  for (let last = ''; ; ) {
    const row = await db.get<{ t: string | null }>(sql`SELECT min(tenant_id) AS t FROM ${raw(table)} WHERE tenant_id > ${last}`);
    if (!row?.t) return tenants;
    tenants.push((last = row.t));
  }
}

/** Job attempts finished before `olderThan` (per tenant, through job_attempts_by_time). */
export async function pruneJobAttempts(db: Db, options: views.RowPruneOptions): Promise<number> {
  let deleted = 0;
  for (const tenantId of await tenantsIn(db, 'job_attempts')) {
    deleted += await deleteInBatches(
      db,
      'job_attempts',
      (limit) => sql`SELECT id FROM job_attempts WHERE tenant_id = ${tenantId} AND finished_at < ${options.olderThan} LIMIT ${limit}`,
      options.batchSize,
    );
  }
  return deleted;
}

/** Fan-out delivery attempts made before `olderThan` (through fanout_attempts_by_time). */
export function pruneFanoutAttempts(db: Db, options: views.RowPruneOptions): Promise<number> {
  return deleteInBatches(
    db,
    'fanout_attempts',
    (limit) => sql`SELECT id FROM fanout_attempts WHERE attempted_at < ${options.olderThan} LIMIT ${limit}`,
    options.batchSize,
  );
}

/** One page of audit entries, oldest id first. */
export async function listAuditPage(db: Db, query: views.AuditPageQuery): Promise<views.AuditRecord[]> {
  const conditions = [sql`id > ${query.afterId}`];
  if (query.since !== undefined) conditions.push(sql`at >= ${query.since}`);
  if (query.until !== undefined) conditions.push(sql`at < ${query.until}`);
  const rows = await db.all<AuditRow & { id: number }>(sql`SELECT * FROM audit WHERE ${join(conditions, ' AND ')} ORDER BY id LIMIT ${query.limit}`);
  return rows.map(toAuditRecord);
}

/**
 * Records that a range of audit rows is safely in a file: from then on (only) those rows may be
 * deleted. False when another run already recorded an archive for this cutoff.
 */
export async function recordAuditArchive(db: Db, archive: views.AuditArchive): Promise<boolean> {
  const inserted = await db.run(sql`
    INSERT INTO audit_archives (file, first_id, last_id, before_at, row_count, archived_at)
    VALUES (${archive.file}, ${archive.firstId}, ${archive.lastId}, ${archive.beforeAt}, ${archive.rows}, ${archive.archivedAt})
    ON CONFLICT (before_at) DO NOTHING`);
  return inserted > 0;
}

export async function listAuditArchives(db: Db): Promise<views.AuditArchive[]> {
  const rows = await db.all<{ file: string; first_id: number; last_id: number; before_at: number; row_count: number; archived_at: number }>(
    sql`SELECT file, first_id, last_id, before_at, row_count, archived_at FROM audit_archives ORDER BY id`,
  );
  return rows.map((r) => ({
    file: r.file,
    firstId: Number(r.first_id),
    lastId: Number(r.last_id),
    beforeAt: Number(r.before_at),
    rows: Number(r.row_count),
    archivedAt: Number(r.archived_at),
  }));
}

/**
 * Deletes the audit rows each unfinished archive record covers (the database's append-only
 * trigger refuses any other), in batches, then marks the record done. Also finishes the deletes
 * of a run that stopped after recording its file.
 */
export async function deleteArchivedAudit(db: Db, now: number, batchSize?: number): Promise<number> {
  const pending = await db.all<{ id: number; first_id: number; last_id: number; before_at: number }>(
    sql`SELECT id, first_id, last_id, before_at FROM audit_archives WHERE done_at IS NULL ORDER BY id`,
  );
  let deleted = 0;
  for (const archive of pending) {
    deleted += await deleteInBatches(
      db,
      'audit',
      (limit) => sql`
        SELECT id FROM audit WHERE id BETWEEN ${archive.first_id} AND ${archive.last_id} AND at < ${archive.before_at}
        ORDER BY id LIMIT ${limit}`,
      batchSize,
    );
    await db.run(sql`UPDATE audit_archives SET done_at = ${now} WHERE id = ${archive.id}`);
  }
  return deleted;
}

/**
 * Settled fan-out deliveries (and their attempts) settled before `olderThan`, then messages no
 * delivery needs any more, each batch in its own short transaction.
 */
export async function pruneSettledDeliveries(db: Db, olderThan: number, batchSize = DEFAULT_BATCH): Promise<{ deliveries: number; messages: number }> {
  let deliveries = 0;
  for (;;) {
    const n = await db.transaction(async (tx) => {
      const ids = (
        await tx.all<{ id: number }>(sql`SELECT id FROM fanout_deliveries WHERE status <> 'pending' AND updated_at < ${olderThan} LIMIT ${batchSize}`)
      ).map((row) => Number(row.id));
      if (ids.length === 0) return 0;
      await tx.run(sql`DELETE FROM fanout_attempts WHERE ${anyOf('delivery_id', ids, 'bigint')}`);
      return tx.run(sql`DELETE FROM fanout_deliveries WHERE ${anyOf('id', ids, 'bigint')}`);
    });
    deliveries += n;
    if (n === 0) break;
  }
  const messages = await deleteInBatches(
    db,
    'fanout_messages',
    (limit) => sql`
      SELECT id FROM fanout_messages m
      WHERE m.created_at < ${olderThan} AND NOT EXISTS (SELECT 1 FROM fanout_deliveries d WHERE d.message_id = m.id)
      LIMIT ${limit}`,
    batchSize,
    'text',
  );
  return { deliveries, messages };
}
