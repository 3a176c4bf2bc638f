// Bounded storage on both stores: job attempts age out in batches, the audit trail reads in id
// order for export and archiving, and audit rows leave the database only as an archive record
// allows (the append-only trigger refuses every other delete).
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openStore } from '../../src/store/open-store.ts';
import type { AuditEntry, Store } from '../../src/store/types.ts';
import { dropSchema, findPostgres, schemaQuery, skipNotice, uniqueSchema } from '../support/postgres.ts';

interface Harness {
  store: Store;
  /** A statement on its own connection, outside the store. */
  raw(sql: string): Promise<void>;
  cleanup(): Promise<void>;
}

const T0 = 1_700_000_000_000;

async function sqliteHarness(): Promise<Harness> {
  const dir = mkdtempSync(join(tmpdir(), 'spruce-sync-retention-'));
  const file = join(dir, 'sync.db');
  const store = await openStore(`sqlite:${file}`, { encryptionKey: 'ab'.repeat(32) });
  return {
    store,
    async raw(sql) {
      const db = new Database(file);
      try {
        db.prepare(sql).run();
      } finally {
        db.close();
      }
    },
    async cleanup() {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const pgUrl = await findPostgres();
if (!pgUrl) console.warn(skipNotice('store retention contract'));

async function postgresHarness(): Promise<Harness> {
  const schema = uniqueSchema('store_retention');
  const store = await openStore(pgUrl!, { schema, encryptionKey: 'ab'.repeat(32) });
  return {
    store,
    async raw(sql) {
      await schemaQuery(pgUrl!, schema, sql);
    },
    async cleanup() {
      await store.close();
      await dropSchema(pgUrl!, schema);
    },
  };
}

const attempt = (tenantId: string, jobKey: string, finishedAt: number) =>
  ({ jobId: 1, tenantId, jobKey, startedAt: finishedAt - 10, finishedAt, outcome: 'retrying', errorCode: 'HTTP_503', requestId: null }) as const;

const entry = (at: number, recordId: string): AuditEntry => ({
  at,
  tenantId: 't1',
  system: 'spruce',
  recordType: 'contact',
  recordId,
  action: 'update',
  eventId: 7,
  detail: { fields: ['phone'] },
});

function retentionContract(name: string, factory: () => Promise<Harness>): void {
  describe(`store retention: ${name}`, () => {
    let h: Harness;
    let store: Store;
    beforeEach(async () => {
      h = await factory();
      store = h.store;
    });
    afterEach(async () => {
      await h.cleanup();
    });

    it('deletes job attempts finished before the cutoff, every tenant, in batches; younger ones stay', async () => {
      for (let i = 0; i < 5; i++) await store.recordAttempt(attempt('t1', 'k1', T0 + i));
      await store.recordAttempt(attempt('t2', 'k2', T0 + 1));
      await store.recordAttempt(attempt('t2', 'k2', T0 + 100));
      expect(await store.pruneJobAttempts({ olderThan: T0 })).toBe(0);
      expect(await store.pruneJobAttempts({ olderThan: T0 + 3, batchSize: 2 })).toBe(4);
      expect((await store.listAttempts('k1', 't1')).map((a) => a.finishedAt)).toEqual([T0 + 3, T0 + 4]);
      expect((await store.listAttempts('k2', 't2')).map((a) => a.finishedAt)).toEqual([T0 + 100]);
      expect(await store.pruneJobAttempts({ olderThan: T0 + 3, batchSize: 2 })).toBe(0);
    });

    it('reads the audit trail oldest id first, a page at a time, within a time range', async () => {
      for (let i = 0; i < 5; i++) await store.appendAudit(entry(T0 + i * 10, `c${i}`));
      const page = await store.listAuditPage({ afterId: 0, limit: 2 });
      expect(page.map((r) => r.recordId)).toEqual(['c0', 'c1']);
      expect(page[0]).toMatchObject({ at: T0, tenantId: 't1', action: 'update', eventId: 7, detail: { fields: ['phone'] } });
      const next = await store.listAuditPage({ afterId: page[1]!.id, limit: 10 });
      expect(next.map((r) => r.recordId)).toEqual(['c2', 'c3', 'c4']);
      expect((await store.listAuditPage({ afterId: 0, since: T0 + 10, until: T0 + 40, limit: 10 })).map((r) => r.recordId)).toEqual(['c1', 'c2', 'c3']);
    });

    it('deletes audit rows only as an archive record covers them, in batches', async () => {
      for (let i = 0; i < 6; i++) await store.appendAudit(entry(T0 + i * 10, `c${i}`));
      const all = await store.listAuditPage({ afterId: 0, limit: 10 });
      // Without a record, the database refuses.
      await expect(h.raw(`DELETE FROM audit WHERE id = ${all[0]!.id}`)).rejects.toThrow(/append-only/);
      expect(await store.deleteArchivedAudit(T0)).toBe(0);

      // Rows c0..c4 by id, but only those before T0 + 30: c0, c1, c2.
      expect(await store.recordAuditArchive({ file: 'a.jsonl.gz', firstId: all[0]!.id, lastId: all[4]!.id, beforeAt: T0 + 30, rows: 3, archivedAt: T0 })).toBe(true);
      // One archive per cutoff: another instance's record of the same cutoff is refused.
      expect(await store.recordAuditArchive({ file: 'b.jsonl.gz', firstId: all[0]!.id, lastId: all[5]!.id, beforeAt: T0 + 30, rows: 3, archivedAt: T0 })).toBe(false);
      expect(await store.deleteArchivedAudit(T0 + 1, 2)).toBe(3);
      expect((await store.listAuditPage({ afterId: 0, limit: 10 })).map((r) => r.recordId)).toEqual(['c3', 'c4', 'c5']);
      // Still refused outside the record, and updates always.
      await expect(h.raw(`DELETE FROM audit WHERE id = ${all[3]!.id}`)).rejects.toThrow(/append-only/);
      await expect(h.raw(`UPDATE audit SET action = 'x' WHERE id = ${all[5]!.id}`)).rejects.toThrow(/append-only/);
      // A finished record is not walked again.
      expect(await store.deleteArchivedAudit(T0 + 2)).toBe(0);
      expect(await store.listAuditArchives()).toEqual([
        { file: 'a.jsonl.gz', firstId: all[0]!.id, lastId: all[4]!.id, beforeAt: T0 + 30, rows: 3, archivedAt: T0 },
      ]);
    });
  });
}

retentionContract('SQLite', sqliteHarness);
if (pgUrl) retentionContract('PostgreSQL', postgresHarness);
