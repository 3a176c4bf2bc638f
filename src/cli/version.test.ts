import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { packageVersion } from './version.ts';

describe('packageVersion', () => {
  it("is this repository's package.json version", () => {
    const manifest = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    expect(packageVersion()).toBe(manifest.version);
  });

  it('is found above the module in an installed package, past a package.json of another name', () => {
    const root = mkdtempSync(join(tmpdir(), 'spruce-sync-version-'));
    try {
      const pkg = join(root, 'node_modules', 'spruce-sync');
      mkdirSync(join(pkg, 'dist', 'cli'), { recursive: true });
      writeFileSync(join(root, 'package.json'), JSON.stringify({ name: 'the-clinic', version: '1.0.0' }));
      writeFileSync(join(pkg, 'package.json'), JSON.stringify({ name: 'spruce-sync', version: '9.8.7' }));
      writeFileSync(join(pkg, 'dist', 'package.json'), JSON.stringify({ type: 'module' }));
      expect(packageVersion(pathToFileURL(join(pkg, 'dist', 'cli', 'main.js')).href)).toBe('9.8.7');
      expect(() => packageVersion(pathToFileURL(join(root, 'x.js')).href)).toThrow(/package.json not found/);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
