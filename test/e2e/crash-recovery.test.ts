// A worker killed with SIGKILL mid-run: the restart converges, with no lost event and no
// duplicate contact. The service runs as a real child process (`spruce-sync start`).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort, registerSandboxWebhooks, sandboxConfig, startSandbox, type Sandbox } from '../../src/sandbox/environment.ts';
import { openStore } from '../../src/store/open-store.ts';
import { advanceUntil, agreesWithSpry, contactsOfPatient, SANDBOX_SPRY_ORG } from './support.ts';
import { readFileSync } from 'node:fs';

const children: ChildProcess[] = [];
let sandbox: Sandbox | undefined;
let dir: string | undefined;

afterAll(async () => {
  for (const child of children) child.kill('SIGKILL');
  await sandbox?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

function startChild(configFile: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['bin/spruce-sync.js', 'start', '--config', configFile], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  return new Promise((resolve, reject) => {
    let output = '';
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('listening on')) resolve(child);
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('exit', (code) => reject(new Error(`service exited early (${code}): ${output.slice(0, 2000)}`)));
  });
}

describe('crash recovery', () => {
  it('converges after the service is killed with SIGKILL in the middle of syncing', async () => {
    sandbox = await startSandbox({ patients: 30, spruceRateLimitPerMinute: 0 });
    const world = { sandbox };
    dir = await mkdtemp(path.join(tmpdir(), 'spruce-sync-crash-'));
    const port = await freePort();
    const secrets = await registerSandboxWebhooks(sandbox, `http://127.0.0.1:${port}`);
    const databaseUrl = `sqlite:${path.join(dir, 'crash.db')}`;
    const configFile = path.join(dir, 'config.json');
    const config = sandboxConfig(sandbox, {
      port,
      databaseUrl,
      secrets,
      // Short leases so the dead worker's claims come back quickly.
      config: { workers: { concurrency: 4, leaseMs: 1_500, pollIntervalMs: 200 } },
    }) as { tenants: { spry: Record<string, unknown> }[] };
    // Spry's call ceiling lifted: this test is about the crash, not the rate limit.
    config.tenants[0]!.spry.requestsPerSecond = 200;
    await writeFile(configFile, JSON.stringify(config));

    // Every Spruce call is slow, so the kill lands while runs are in flight.
    sandbox.spruce.faults.setRouteFaults([{ match: '* /v1/**', latencyMs: 150 }]);
    const first = await startChild(configFile);
    const ids = sandbox.spry.patientIds(SANDBOX_SPRY_ORG);
    for (const id of ids) sandbox.spry.staff.editPatient(SANDBOX_SPRY_ORG, id, { last_name: `Crash-${id}` });
    await advanceUntil(world, () => ids.filter((id) => contactsOfPatient(world, id).length > 0).length >= 3, { stepMs: 100, what: 'some contacts created' });
    first.kill('SIGKILL');
    await new Promise((resolve) => first.once('exit', resolve));
    const doneBeforeCrash = ids.filter((id) => contactsOfPatient(world, id).length > 0).length;
    expect(doneBeforeCrash).toBeLessThan(ids.length);

    // More changes while it is down: their deliveries fail and Spry retries them later.
    for (const id of ids.slice(0, 5)) sandbox.spry.staff.editPatient(SANDBOX_SPRY_ORG, id, { first_name: `After-${id}` });

    sandbox.spruce.faults.clear();
    await startChild(configFile);
    await advanceUntil(world, () => agreesWithSpry(world, ids), { stepMs: 5_000, maxSimulatedMs: 2 * 3_600_000, what: 'agreement after the restart' });
    for (const id of ids) expect(contactsOfPatient(world, id)).toHaveLength(1);
    expect(sandbox.spruce.contacts().length).toBe(ids.length);
    expect(sandbox.spruce.violations).toEqual([]);

    // Nothing lost: every event Spry sent is stored, and none is dead or still waiting.
    const store = await openStore(databaseUrl, { encryptionKey: readFileSync(path.join(dir, 'crash.db.key'), 'utf8') });
    try {
      await advanceUntil(world, async () => (await store.searchEvents({ status: 'queued', limit: 1 })).length === 0, { stepMs: 5_000, what: 'the inbox to drain' });
      const stored = await store.searchEvents({ source: 'spry', limit: 10_000 });
      const sent = new Set(sandbox.spry.events(SANDBOX_SPRY_ORG).map((e) => e.event_id));
      expect(new Set(stored.map((e) => e.eventKey))).toEqual(sent);
      expect(stored.filter((e) => e.status === 'dead')).toEqual([]);
    } finally {
      await store.close();
    }
  });
});
