// The audit trail leaves the database in two ways only: an export (a copy, as JSON lines) and an
// archive run, which writes rows older than retention.auditArchiveAfterDays to a gzip file and
// deletes them only once the file is on disk. Audit details hold ids, codes and field names,
// never PHI values (see src/sync/audit.ts callers), so both write the rows as stored.
import { createWriteStream } from 'node:fs';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import type { Clock } from '../clock.ts';
import type { AuditRecord } from '../store/admin-types.ts';
import type { StorageRetention } from '../store/ports.ts';

const DAY_MS = 24 * 60 * 60 * 1000;

export interface AuditRange {
  since?: number;
  until?: number;
  /** Rows read per query; the whole range is never held in memory. */
  pageSize?: number;
}

/** Audit entries in the range, oldest id first, a page at a time. */
export async function* auditRecords(store: Pick<StorageRetention, 'listAuditPage'>, range: AuditRange): AsyncGenerator<AuditRecord> {
  const limit = range.pageSize ?? 1_000;
  for (let afterId = 0; ; ) {
    const page = await store.listAuditPage({ afterId, since: range.since, until: range.until, limit });
    yield* page;
    if (page.length < limit) return;
    afterId = page[page.length - 1]!.id;
  }
}

/** One JSON line per entry: the stored columns, the time also in ISO 8601. */
export function auditLine(record: AuditRecord): string {
  const { id, at, tenantId, system, recordType, recordId, action, eventId, detail } = record;
  return `${JSON.stringify({ id, at, time: new Date(at).toISOString(), tenantId, system, recordType, recordId, action, eventId, detail: detail ?? null })}\n`;
}

export interface ArchiveOptions {
  clock: Clock;
  /** Rows older than this many days (counted to the start of that UTC day) are archived. */
  afterDays: number;
  dir: string;
  pageSize?: number;
  /** Rows deleted per transaction. */
  batchSize?: number;
}

export interface ArchiveReport {
  /** The file written (name inside the archive folder), or null when no row was old enough. */
  file: string | null;
  /** Rows written to the file. */
  archived: number;
  /** Rows deleted (those of this file, and of any earlier run that stopped before deleting). */
  deleted: number;
  /** Rows with `at` before this time were archived. */
  beforeAt: number;
}

type ArchiveStore = Pick<StorageRetention, 'listAuditPage' | 'recordAuditArchive' | 'listAuditArchives' | 'deleteArchivedAudit'>;

/**
 * Writes every audit row older than the cutoff to a new gzip file of JSON lines (0600), syncs
 * it and its folder, records the file and the id range in the database, and only then deletes
 * exactly those rows. A crash before the record leaves the rows in place (the next run writes
 * them again: a partial file is never named as done); a crash after it leaves the deletes to the
 * next run, which finishes them first. The cutoff is a UTC day boundary, so runs within one day
 * write at most one file.
 */
export async function archiveAudit(store: ArchiveStore, options: ArchiveOptions): Promise<ArchiveReport> {
  const now = options.clock.now();
  const beforeAt = Math.floor((now - options.afterDays * DAY_MS) / DAY_MS) * DAY_MS;
  let deleted = await store.deleteArchivedAudit(now, options.batchSize);
  // Entries are appended at the time they happen: once a day is archived, nothing older comes.
  const latest = (await store.listAuditArchives()).at(-1);
  if (latest && latest.beforeAt >= beforeAt) return { file: null, archived: 0, deleted, beforeAt };

  const first = await store.listAuditPage({ afterId: 0, until: beforeAt, limit: 1 });
  if (first.length === 0) return { file: null, archived: 0, deleted, beforeAt };

  await mkdir(options.dir, { recursive: true, mode: 0o700 });
  const partial = join(options.dir, `.audit-${now}-${process.pid}.partial`);
  let firstId = 0;
  let lastId = 0;
  let archived = 0;
  const lines = async function* () {
    for await (const record of auditRecords(store, { until: beforeAt, pageSize: options.pageSize })) {
      if (archived === 0) firstId = record.id;
      lastId = record.id;
      archived += 1;
      yield auditLine(record);
    }
  };
  try {
    await pipeline(Readable.from(lines()), createGzip(), createWriteStream(partial, { flags: 'wx', mode: 0o600 }));
    await syncPath(partial);
  } catch (error) {
    await rm(partial, { force: true });
    throw error;
  }
  const file = `audit-before-${new Date(beforeAt).toISOString().slice(0, 10)}-ids-${firstId}-${lastId}.jsonl.gz`;
  await rename(partial, join(options.dir, file));
  await syncPath(options.dir);

  if (!(await store.recordAuditArchive({ file, firstId, lastId, beforeAt, rows: archived, archivedAt: now }))) {
    // Another instance archived this cutoff meanwhile: its file is the record, ours a copy (or,
    // with the same id range, the very same name and rows: then it stays).
    const recorded = (await store.listAuditArchives()).find((a) => a.beforeAt === beforeAt);
    if (recorded?.file !== file) await rm(join(options.dir, file), { force: true });
    return { file: null, archived: 0, deleted, beforeAt };
  }
  deleted += await store.deleteArchivedAudit(now, options.batchSize);
  return { file, archived, deleted, beforeAt };
}

/** Flushes a file's data (or a folder's entries: a rename is durable once its folder is synced) to disk. */
export async function syncPath(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
