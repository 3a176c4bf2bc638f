// `npm start` runs the demo; this runs the same command, as a user would, to its end, and holds
// its story to what happened: each step's far-side checks, echoes apart from real changes.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load-config.ts';

const bin = path.resolve('bin/spruce-sync.js');

/** The lines of one numbered step, up to the next one (or the outcome). */
function stepText(stdout: string, n: number): string {
  const start = stdout.indexOf(`\n${n}. `);
  const next = stdout.slice(start + 1).search(/\n(\d+\. |Outcome)/);
  return stdout.slice(start, start + 1 + next);
}

function numbers(line: RegExpMatchArray | null): number[] {
  expect(line).not.toBeNull();
  return line!.slice(1).map(Number);
}

describe('spruce-sync demo', () => {
  it('syncs a clinic both ways and reports what happened on the far side, step by step', () => {
    const run = spawnSync(process.execPath, [bin, 'demo', '--once', '--port', '0', '--spry-port', '0', '--spruce-port', '0', '--patients', '30'], {
      encoding: 'utf8',
      timeout: 110_000,
    });
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    const out = run.stdout;
    expect(out).not.toContain('✗');

    const initial = stepText(out, 1);
    expect(initial).toMatch(/✓ Spruce: 10 contacts created/);
    // Spruce announces each of our writes; none of that is news.
    expect(initial).toMatch(/from Spruce\): 0 real changes, [1-9]\d* echoes of our own writes/);

    const spry = stepText(out, 2);
    expect(spry).toMatch(/✓ Spruce: 3 contacts created for the new patients/);
    const updated = /Spruce: (\d+) contact updates? \(fields: ([^)]*)\)/.exec(spry);
    expect(Number(updated?.[1])).toBeGreaterThanOrEqual(4);
    expect((updated?.[2] ?? '').split(', ')).toEqual(expect.arrayContaining(['Address', 'emailAddresses', 'familyName', 'phoneNumbers']));
    for (const change of ['mobile phone changed', 'email changed', 'address changed', 'last name changed', 'appointment booked', 'case opened']) {
      expect(spry).toMatch(new RegExp(`✓ patient \\d+: ${change}: the Spruce contact shows it`));
    }
    // Four edits, three registrations, a booking and a case: nine real Spry events.
    expect(spry).toMatch(/\(9 from Spry, \d+ from Spruce\): 9 real changes, [1-9]\d* echoes/);

    const frontDesk = stepText(out, 3);
    expect(frontDesk).toMatch(/✓ Spry: the new phone written back to patient \d+'s chart \(1 PATCH: mobile/);
    expect(frontDesk).toMatch(/✓ Spry's webhook for that write recognised as our own: 0 Spruce updates/);
    expect(frontDesk).toMatch(/✓ Spry: the secure message recorded on patient \d+'s chart \(1 chart entry in all\)/);
    expect(frontDesk).toMatch(/✓ The SMS from an unknown number: matched to no patient, left in Spruce \(1 unmatched\)/);
    // The phone edit and the two conversation items are real; Spry's echo of our write-back is not.
    expect(frontDesk).toMatch(/\(1 from Spry, \d+ from Spruce\): 3 real changes, 1 echo of our own writes/);

    expect(out).toMatch(/Patients with exactly one linked Spruce contact: 13 of 13/);
    const [received, real, echoes, nothing, waiting, dead] = numbers(
      /Webhook events: (\d+) received, (\d+) real changes, (\d+) echoes of our own writes, (\d+) with nothing to do; (\d+) waiting, (\d+) dead letters/.exec(out),
    );
    expect(real).toBe(0 + 9 + 3);
    expect(received).toBe(real! + echoes! + nothing!);
    expect([waiting, dead]).toEqual([0, 0]);
    expect(out).toMatch(/Spry chart entries from Spruce activity: 1\n/);
    expect(out).toMatch(/OpenAPI violations seen by the Spruce simulator: 0/);
    expect(out).toMatch(/Dashboard\s+http:\/\/127\.0\.0\.1:\d+\/admin/);
  });

  it('sandbox --service-url writes a config with an admin token and prints the dashboard URL', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'spruce-sync-sandbox-'));
    const configFile = path.join(dir, 'config.yaml');
    const child = spawn(
      process.execPath,
      [bin, 'sandbox', '--patients', '3', '--spry-port', '0', '--spruce-port', '0', '--service-url', 'http://127.0.0.1:18099', '--write-config', configFile],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    try {
      let stdout = '';
      child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
      await new Promise<void>((resolve, reject) => {
        child.once('exit', (code) => reject(new Error(`sandbox exited (${code}): ${stdout}`)));
        child.stdout.on('data', () => {
          if (/Dashboard .*\n/.test(stdout)) resolve();
        });
      });
      const raw = parse(await readFile(configFile, 'utf8')) as { admin?: { token?: string } };
      const token = raw.admin?.token ?? '';
      expect(token.length).toBeGreaterThanOrEqual(16);
      expect(stdout).toContain(`Dashboard    http://127.0.0.1:18099/admin   (admin token: ${token}`);
      expect(parseConfig(raw).admin.token).toBe(token);
      expect((await stat(configFile)).mode & 0o777).toBe(0o600);
    } finally {
      child.kill('SIGTERM');
      await rm(dir, { recursive: true, force: true });
    }
  });
});
