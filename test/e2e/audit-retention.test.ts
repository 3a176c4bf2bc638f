// Bounded storage through the operator's commands, on the SQLite file a running app uses:
// `audit export` writes JSON lines (a --since window, to a file or stdout), and `prune` with
// retention.auditArchiveAfterDays moves old audit rows to a 0600 gzip file before deleting them,
// and ages out job attempts.
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { stringify } from 'yaml';
import { registerAuditCommand } from '../../src/cli/audit.ts';
import { registerPruneCommand } from '../../src/cli/prune.ts';
import type { AuditEntry } from '../../src/store/types.ts';
import { startAdminHarness, type AdminHarness } from './admin-fixture.ts';
import { runCommands } from './cli-support.ts';

const DAY = 86_400_000;

describe('audit export and archiving', () => {
  let h: AdminHarness;
  let configFile: string;
  let archiveDir: string;

  const entry = (daysAgo: number, recordId: string): AuditEntry => ({
    at: Date.now() - daysAgo * DAY,
    tenantId: 'acme-pt',
    system: 'spruce',
    recordType: 'contact',
    recordId,
    action: 'update',
    eventId: 1,
    detail: { fields: ['phone'] },
  });
  const writeConfig = (retention: Record<string, unknown>) =>
    writeFileSync(configFile, stringify({ ...h.config, admin: {}, retention: { ...h.config.retention, ...retention } }));
  const cli = (...args: string[]) => runCommands([registerAuditCommand, registerPruneCommand], [...args, '--config', configFile]);
  const remaining = async () => (await h.store.listAuditPage({ afterId: 0, limit: 100 })).map((r) => r.recordId);

  beforeEach(async () => {
    h = await startAdminHarness();
    configFile = `${h.dbFile}.yaml`;
    archiveDir = join(h.dbFile, '..', 'audit-archive');
    writeConfig({});
  });
  afterEach(async () => {
    vi.restoreAllMocks();
    process.exitCode = undefined;
    await h.close();
  });

  it('exports the entries since a time as JSON lines, to a new 0600 file or stdout', async () => {
    await h.store.appendAudit(entry(3, 'old'));
    await h.store.appendAudit(entry(0.5, 'recent-1'));
    await h.store.appendAudit(entry(0.1, 'recent-2'));

    const out = join(h.dbFile, '..', 'audit.jsonl');
    expect(await cli('audit', 'export', '--since', '1d', '--out', out)).toMatchObject({ code: undefined, err: '' });
    expect(statSync(out).mode & 0o777).toBe(0o600);
    const lines = readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.map((l) => l.recordId)).toEqual(['recent-1', 'recent-2']);
    expect(lines[0]).toMatchObject({ tenantId: 'acme-pt', system: 'spruce', recordType: 'contact', action: 'update', eventId: 1, detail: { fields: ['phone'] } });
    expect(new Date(lines[0]!.time as string).getTime()).toBe(lines[0]!.at);
    // Never over an earlier export.
    expect(await cli('audit', 'export', '--since', '1d', '--out', out)).toMatchObject({ code: 1, err: expect.stringMatching(/exists already/) });

    const written: string[] = [];
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      written.push(chunk.toString());
      return true;
    });
    const until = new Date(Date.now() - 0.3 * DAY).toISOString();
    await cli('audit', 'export', '--since', '7d', '--until', until);
    vi.restoreAllMocks();
    expect(written.join('').trim().split('\n').map((l) => (JSON.parse(l) as { recordId: string }).recordId)).toEqual(['old', 'recent-1']);
    expect(await cli('audit', 'export', '--since', 'yesterday')).toMatchObject({ code: 1 });
  });

  it('keeps the audit without the setting; with it, archives old rows to a 0600 file before deleting them, once', async () => {
    await h.store.appendAudit(entry(40, 'a'));
    await h.store.appendAudit(entry(35, 'b'));
    await h.store.appendAudit(entry(2, 'c'));
    await h.store.recordAttempt({ jobId: 1, tenantId: 'acme-pt', jobKey: 'k', startedAt: Date.now() - 40 * DAY, finishedAt: Date.now() - 40 * DAY, outcome: 'retrying', errorCode: 'X', requestId: null });
    await h.store.recordAttempt({ jobId: 1, tenantId: 'acme-pt', jobKey: 'k', startedAt: Date.now(), finishedAt: Date.now(), outcome: 'succeeded', errorCode: null, requestId: null });

    const kept = await cli('prune');
    expect(kept.out).toMatch(/deleted 1 job attempts and 0 fan-out attempts/);
    expect(kept.out).toMatch(/audit: kept/);
    expect(await remaining()).toEqual(['a', 'b', 'c']);
    expect((await h.store.listAttempts('k', 'acme-pt')).map((a) => a.outcome)).toEqual(['succeeded']);

    writeConfig({ auditArchiveAfterDays: 30, auditArchiveDir: archiveDir });
    const report = JSON.parse((await cli('prune', '--json')).out) as { audit: { file: string; archived: number; deleted: number } };
    expect(report.audit).toMatchObject({ archived: 2, deleted: 2 });
    const file = join(archiveDir, report.audit.file);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const archived = gunzipSync(readFileSync(file)).toString().trim().split('\n').map((l) => JSON.parse(l) as { recordId: string });
    expect(archived.map((l) => l.recordId)).toEqual(['a', 'b']);
    expect(await remaining()).toEqual(['c']);

    // A second run has nothing new: no new file, nothing written twice.
    expect((await cli('prune')).out).toMatch(/audit: nothing older than/);
    expect(readdirSync(archiveDir)).toEqual([report.audit.file]);
  });

  it('refuses the archive age without a folder, naming the key', async () => {
    writeConfig({ auditArchiveAfterDays: 30 });
    const run = await cli('prune');
    expect(run.code).toBe(1);
    expect(run.err).toMatch(/retention\.auditArchiveDir/);
  });
});
