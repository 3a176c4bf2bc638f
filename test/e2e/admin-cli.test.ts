// The operator commands against the same SQLite file a running app uses: status, events search,
// dlq list/replay, pause/resume (seen by the app's workers), prune and audit search.
import { writeFileSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { stringify } from 'yaml';
import { registerAuditCommand } from '../../src/cli/audit.ts';
import { registerDlqCommand } from '../../src/cli/dlq.ts';
import { registerEventsCommand } from '../../src/cli/events.ts';
import { registerPauseCommands } from '../../src/cli/pause.ts';
import { registerPruneCommand } from '../../src/cli/prune.ts';
import { registerStatusCommand } from '../../src/cli/status.ts';
import { startAdminHarness, type AdminHarness } from './admin-fixture.ts';
import { runCommands } from './cli-support.ts';

describe('operator CLI', () => {
  let h: AdminHarness;
  let configFile: string;

  beforeEach(async () => {
    h = await startAdminHarness();
    configFile = `${h.dbFile}.yaml`;
    writeFileSync(configFile, stringify({ ...h.config, admin: {} }));
  });
  afterEach(async () => {
    vi.restoreAllMocks();
    process.exitCode = undefined;
    await h.close();
  });

  /** Runs one command in-process and returns what it printed. */
  const cli = (...args: string[]) =>
    runCommands([registerStatusCommand, registerEventsCommand, registerDlqCommand, registerPauseCommands, registerPruneCommand, registerAuditCommand], [...args, '--config', configFile]);

  it('shows status, searches events and lists and replays dead letters', async () => {
    h.failing.add('spry-patient:74:2');
    await h.postSpry('acme-pt', 1, 'e-1');
    await h.postSpry('acme-pt', 2, 'e-2');
    await h.postSpruce('beta-pt', 'entity_9', 'e-3');
    await h.pool.runUntilIdle();

    const status = await cli('status');
    expect(status.out).toMatch(/^TENANT\s+STATE/);
    expect(status.out).toMatch(/acme-pt\s+running\s+0\s+0\s+-\s+[\d.]+\s+50\.0%\s+1/);
    expect(status.out).toContain('retention: never run');

    const search = await cli('events', 'search', '--tenant', 'acme-pt', '--status', 'dead', '--json');
    const page = JSON.parse(search.out);
    expect(page.events.map((e: { eventKey: string }) => e.eventKey)).toEqual(['e-2']);
    expect(page.events[0].attempts[0]).toMatchObject({ outcome: 'dead', errorCode: 'SPRUCE_REJECTED' });
    const byContact = await cli('events', 'search', '--contact', 'entity_9', '--since', '1h');
    expect(byContact.out).toMatch(/beta-pt\s+spruce\s+contact\.updated\s+processed/);
    expect((await cli('events', 'search', '--patient', '1')).out).toMatch(/acme-pt\s+spry\s+patient\.updated\s+processed\s+1/);
    expect(await cli('events', 'search', '--status', 'gone')).toMatchObject({ code: 1, err: expect.stringContaining('status: one of') });

    const list = await cli('dlq', 'list');
    expect(list.out).toMatch(/acme-pt\s+spry-to-spruce\s+spry-patient:74:2\s+1\/3\s+1\s+SPRUCE_REJECTED/);
    expect(await cli('dlq', 'replay')).toMatchObject({ code: 1, err: expect.stringContaining('give a filter') });
    h.failing.clear();
    expect((await cli('dlq', 'replay', '--tenant', 'acme-pt', '--direction', 'spry-to-spruce')).out).toBe('replayed 1 of 1 matching dead letters');
    expect((await cli('dlq', 'replay', '--event', String(page.events[0].id))).out).toMatch(/nothing to replay \(queued\)/);
    await h.pool.runUntilIdle();
    expect((await cli('dlq', 'list', '--json')).out).toContain('"deadLetters": []');
  });

  it('pauses and resumes a tenant for the running workers', async () => {
    expect((await cli('pause', 'acme-pt')).out).toBe('acme-pt: paused');
    await h.pauses.refresh(); // what the service's timer does every poll interval
    await h.postSpry('acme-pt', 1, 'p-1');
    await h.pool.runUntilIdle();
    expect(h.runs).toHaveLength(0);
    expect((await cli('resume', 'acme-pt', '--direction', 'spruce-to-spry')).out).toBe('acme-pt: paused spry-to-spruce');
    expect((await cli('resume', 'acme-pt')).out).toBe('acme-pt: running');
    await h.pauses.refresh();
    await h.pool.runUntilIdle();
    expect(h.runs.map((r) => r.key)).toEqual(['spry-patient:74:1']);
    expect(await cli('pause', 'nobody')).toMatchObject({ code: 1, err: 'no tenant nobody' });
  });

  it('prunes old processed payloads and searches the audit trail', async () => {
    await h.postSpry('acme-pt', 1, 'old');
    await h.pool.runUntilIdle();
    // Everything is younger than a day: nothing goes.
    expect((await cli('prune')).out).toMatch(/^pruned 0 payloads/);
    const pruned = JSON.parse((await cli('prune', '--days', '0.00000001', '--json')).out);
    expect(pruned).toMatchObject({ events: 1 });
    expect((await cli('status')).out).toMatch(/retention: last run .* pruned 1 payloads/);

    await h.store.appendAudit({ at: Date.now(), tenantId: 'acme-pt', system: 'spruce', recordType: 'contact', recordId: 'entity_1', action: 'create', eventId: 1 });
    const audit = await cli('audit', 'search', '--tenant', 'acme-pt', '--action', 'create');
    expect(audit.out).toMatch(/acme-pt\s+spruce\s+contact entity_1\s+create\s+1/);
  });
});
