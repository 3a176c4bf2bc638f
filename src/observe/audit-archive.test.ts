import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ControlledClock } from '../clock.ts';
import { openStore } from '../store/open-store.ts';
import type { Store } from '../store/types.ts';
import { archiveAudit } from './audit-archive.ts';

const DAY = 86_400_000;
const START = 1_000 * DAY + 12 * 3_600_000; // noon UTC

describe('audit archive', () => {
  let dir: string;
  let store: Store;
  let clock: ControlledClock;
  const archiveDir = () => join(dir, 'archive');

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'spruce-sync-archive-'));
    store = await openStore(`sqlite:${join(dir, 'sync.db')}`);
    clock = new ControlledClock({ start: START, flowing: false });
  });
  afterEach(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const append = (daysAgo: number, recordId: string) =>
    store.appendAudit({ at: START - daysAgo * DAY, tenantId: 't1', system: 'spry', recordType: 'patient', recordId, action: 'read', eventId: 3, detail: { reason: 'x' } });
  const remaining = async () => (await store.listAuditPage({ afterId: 0, limit: 100 })).map((r) => r.recordId);
  const archivedLines = (file: string) =>
    gunzipSync(readFileSync(join(archiveDir(), file)))
      .toString()
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { id: number; recordId: string });
  const options = () => ({ clock, afterDays: 30, dir: archiveDir(), pageSize: 2, batchSize: 2 });

  it('writes old rows to a 0600 gzip file of JSON lines, then deletes them; a later run archives only new old rows', async () => {
    await append(40, '1');
    await append(35, '2');
    await append(31, '3');
    await append(10, '4');
    const first = await archiveAudit(store, options());
    expect(first).toMatchObject({ archived: 3, deleted: 3 });
    expect(statSync(join(archiveDir(), first.file!)).mode & 0o777).toBe(0o600);
    const lines = archivedLines(first.file!);
    expect(lines.map((l) => l.recordId)).toEqual(['1', '2', '3']);
    expect(lines[0]).toMatchObject({ at: START - 40 * DAY, tenantId: 't1', system: 'spry', action: 'read', eventId: 3, detail: { reason: 'x' } });
    expect(await remaining()).toEqual(['4']);

    // The same day again: nothing to do, no new file.
    await clock.advance(3_600_000);
    expect(await archiveAudit(store, options())).toMatchObject({ file: null, archived: 0, deleted: 0 });
    expect(readdirSync(archiveDir())).toEqual([first.file]);

    await clock.advance(25 * DAY);
    const second = await archiveAudit(store, options());
    expect(second.file).not.toBe(first.file);
    expect(archivedLines(second.file!).map((l) => l.recordId)).toEqual(['4']);
    expect(await remaining()).toEqual([]);
    const ids = [...archivedLines(first.file!), ...archivedLines(second.file!)].map((l) => l.id);
    expect(new Set(ids).size).toBe(4);
  });

  it('deletes only after the file is written and synced; a run that stopped before deleting is finished by the next', async () => {
    await append(40, '1');
    await append(39, '2');
    let seenAtRecord: { fileExists: boolean; rows: string[] } | null = null;
    const crashing: Store = Object.create(store) as Store;
    crashing.recordAuditArchive = async (archive) => {
      seenAtRecord = { fileExists: existsSync(join(archiveDir(), archive.file)), rows: await remaining() };
      return store.recordAuditArchive(archive);
    };
    crashing.deleteArchivedAudit = async (now, batchSize) => {
      if (seenAtRecord) throw new Error('crash between record and delete');
      return store.deleteArchivedAudit(now, batchSize);
    };
    await expect(archiveAudit(crashing, options())).rejects.toThrow(/crash/);
    expect(seenAtRecord).toEqual({ fileExists: true, rows: ['1', '2'] });
    expect(await remaining()).toEqual(['1', '2']);

    const next = await archiveAudit(store, options());
    expect(next).toMatchObject({ file: null, archived: 0, deleted: 2 });
    expect(await remaining()).toEqual([]);
    expect(readdirSync(archiveDir())).toHaveLength(1);
  });

  it('records one archive per cutoff: a run that loses the race to another instance deletes nothing itself', async () => {
    await append(40, '1');
    await append(39, '2');
    let other: Awaited<ReturnType<typeof archiveAudit>> | null = null;
    const racing: Store = Object.create(store) as Store;
    // Another instance runs its whole archive just before this one records.
    racing.recordAuditArchive = async (archive) => {
      other = await archiveAudit(store, options());
      return store.recordAuditArchive(archive);
    };
    expect(await archiveAudit(racing, options())).toMatchObject({ file: null, archived: 0, deleted: 0 });
    expect(other).toMatchObject({ archived: 2, deleted: 2 });
    // The same rows under the same name: one file, each row once.
    expect(readdirSync(archiveDir())).toEqual([other!.file]);
    expect(archivedLines(other!.file!).map((l) => l.recordId)).toEqual(['1', '2']);
    expect(await remaining()).toEqual([]);
  });

  it('leaves every row when the file cannot be written', async () => {
    await append(40, '1');
    const failing: Store = Object.create(store) as Store;
    failing.listAuditPage = async (query) => {
      if (query.limit > 1) throw new Error('read failed midway');
      return store.listAuditPage(query);
    };
    await expect(archiveAudit(failing, options())).rejects.toThrow(/midway/);
    expect(await remaining()).toEqual(['1']);
    expect(readdirSync(archiveDir())).toEqual([]);
    expect(await store.listAuditArchives()).toEqual([]);
  });
});
