// `npm start` runs the demo; this runs the same command, as a user would, to its end.
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

describe('spruce-sync demo', () => {
  it('syncs a clinic both ways on the embedded default and reports a clean outcome', () => {
    const run = spawnSync(process.execPath, ['bin/spruce-sync.js', 'demo', '--once', '--port', '0', '--spry-port', '0', '--spruce-port', '0', '--patients', '30'], {
      encoding: 'utf8',
      timeout: 110_000,
    });
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(/Patients with exactly one linked Spruce contact: 13 of 13/);
    expect(run.stdout).toMatch(/0 waiting, 0 dead letters/);
    expect(run.stdout).toMatch(/Spruce activity recorded on Spry charts: [1-9]/);
    expect(run.stdout).toMatch(/OpenAPI violations seen by the Spruce simulator: 0/);
    expect(run.stdout).toContain('/admin');
  });
});
