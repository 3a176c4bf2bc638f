// `spruce-sync init`, `config check` and `--version` as a new user meets them: init writes a
// private config that passes the check once the environment holds the vendor credentials; the
// check names every problem by path (typos included) without starting anything.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { registerConfigCommand } from '../../src/cli/config-check.ts';
import { registerInitCommand } from '../../src/cli/init.ts';
import { registerStatusCommand } from '../../src/cli/status.ts';
import { INITIAL_CONFIG_ENV } from '../../src/config/initial-config.ts';
import { runCommands } from './cli-support.ts';

const dir = mkdtempSync(join(tmpdir(), 'spruce-sync-init-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(() => {
  for (const name of INITIAL_CONFIG_ENV) delete process.env[name];
});

const credentials: Record<(typeof INITIAL_CONFIG_ENV)[number], string> = {
  SPRY_CLIENT_ID: 'client-id',
  SPRY_CLIENT_SECRET: 'client-secret',
  SPRY_ORGANISATION_ID: '74',
  SPRY_WEBHOOK_SECRET: 'spry-signing',
  SPRUCE_ACCESS_ID: 'access-id',
  SPRUCE_SECRET_KEY: 'secret-key',
  SPRUCE_WEBHOOK_SECRET: 'spruce-signing',
};

/** Runs one command in-process and returns what it printed. */
const cli = (...args: string[]) => runCommands([registerInitCommand, registerConfigCommand], args);

const tokenOf = (text: string) => /token: "([^"]+)"/.exec(text)?.[1];

describe('spruce-sync init', () => {
  it('writes a private config with fresh secrets, and never over an existing file without --force', async () => {
    const file = join(dir, 'config.yaml');
    const first = await cli('init', '--out', file, '--tenant', 'acme-pt');
    expect(first.code).toBeUndefined();
    expect(first.out).toContain(`wrote ${file} (mode 0600)`);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const text = readFileSync(file, 'utf8');
    expect(tokenOf(text)).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(Buffer.from(/encryptionKey: "([^"]+)"/.exec(text)![1]!, 'base64')).toHaveLength(32);
    for (const name of INITIAL_CONFIG_ENV) expect(text).toContain(`\${${name}}`);

    const again = await cli('init', '--out', file);
    expect(again).toMatchObject({ code: 1, err: expect.stringContaining('exists: not overwritten (use --force') });
    expect(readFileSync(file, 'utf8')).toBe(text);

    writeFileSync(file, 'old', { mode: 0o644 });
    expect((await cli('init', '--out', file, '--force')).code).toBeUndefined();
    const replaced = readFileSync(file, 'utf8');
    expect(tokenOf(replaced)).not.toBe(tokenOf(text));
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });

  it('writes what config check accepts once the credentials are in the environment', async () => {
    const file = join(dir, 'checked.yaml');
    await cli('init', '--out', file);
    const missing = await cli('config', 'check', '-c', file);
    expect(missing.code).toBe(1);
    for (const name of INITIAL_CONFIG_ENV) expect(missing.err).toContain(`environment variable ${name} is not set`);

    Object.assign(process.env, credentials);
    expect(await cli('config', 'check', '-c', file)).toMatchObject({ code: undefined, out: `${file}: valid (1 tenant: clinic)` });
  });
});

describe('spruce-sync config check', () => {
  it('names every typo by path with the key that was meant', async () => {
    const file = join(dir, 'typos.yaml');
    await cli('init', '--out', file);
    const text = readFileSync(file, 'utf8');
    writeFileSync(file, text.replace('  port: 8080', '  prot: 8080').replace('admin:\n', 'adimn:\n').replace('      tag: Spry', '      tagg: Spry'));
    Object.assign(process.env, credentials);
    const check = await cli('config', 'check', '-c', file);
    expect(check.code).toBe(1);
    expect(check.err).toContain('server.prot: unknown key (did you mean port?)');
    expect(check.err).toContain('adimn: unknown key (did you mean admin?)');
    expect(check.err).toContain('tenants.0.sync.tagg: unknown key (did you mean tag?)');
  });
});

describe('an operator command whose database cannot be opened', () => {
  it('says so in one line with a code, no driver stack', async () => {
    const file = join(dir, 'unreachable.yaml');
    await cli('init', '--out', file, '--database', 'postgres://nobody@127.0.0.1:1/spruce');
    Object.assign(process.env, credentials);
    const status = await runCommands([registerStatusCommand], ['status', '--config', file]);
    expect(status).toEqual({ code: 1, out: '', err: 'cannot open the database: failed: ECONNREFUSED' });
  });
});

describe('spruce-sync --version', () => {
  it('prints the package version from any working directory', () => {
    const manifest = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string };
    const run = spawnSync(process.execPath, [resolve('bin/spruce-sync.js'), '--version'], { cwd: dir, encoding: 'utf8', timeout: 60_000 });
    expect(run.status).toBe(0);
    expect(run.stdout.trim()).toBe(manifest.version);
  });
});
