// `spruce-sync start` as an operator meets it: a wrong config is refused, every problem named.
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

let dir: string | undefined;
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('spruce-sync start', () => {
  it('refuses a wrong config at start, listing every problem by path', async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'spruce-sync-cli-'));
    const file = path.join(dir, 'config.yaml');
    await writeFile(
      file,
      [
        'server: { port: 70000, prot: 8081 }',
        'adimn: { token: 0123456789abcdef0123 }',
        'tenants:',
        '  - id: Not Valid',
        '    spry: { baseUrl: not-a-url, clientId: ${SPRUCE_SYNC_TEST_UNSET}, clientSecret: s, organisationId: 1, webhookSecrets: [], chartUrl: "https://x/" }',
        '    spruce: { baseUrl: "https://api.test/v1", accessId: a, secretKey: k, webhookSecrets: [w] }',
      ].join('\n'),
    );
    const run = spawnSync(process.execPath, ['bin/spruce-sync.js', 'start', '--config', file], { encoding: 'utf8', timeout: 60_000, env: { ...process.env, SPRUCE_SYNC_TEST_UNSET: undefined } });
    expect(run.status).toBe(1);
    for (const problem of [
      'server.port',
      'server.prot: unknown key (did you mean port?)',
      'adimn: unknown key (did you mean admin?)',
      'tenants.0.id',
      'tenants.0.spry.baseUrl',
      'tenants.0.spry.clientId: environment variable SPRUCE_SYNC_TEST_UNSET is not set',
      'tenants.0.spry.webhookSecrets',
      'tenants.0.spry.chartUrl: must contain {patientId}',
    ]) {
      expect(run.stderr).toContain(problem);
    }
  });

  it('names a missing config file', () => {
    const run = spawnSync(process.execPath, ['bin/spruce-sync.js', 'start', '--config', '/nonexistent/spruce-sync.yaml'], { encoding: 'utf8', timeout: 60_000 });
    expect(run.status).toBe(1);
    expect(run.stderr).toContain('/nonexistent/spruce-sync.yaml: cannot be read (ENOENT)');
  });
});
