// The version of this spruce-sync, from the package.json it ships in. Found from this module's
// own location (not the working directory), walking up to the package root: the same from the
// sources, a build folder or an installed package.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export function packageVersion(moduleUrl: string = import.meta.url): string {
  let dir = dirname(fileURLToPath(moduleUrl));
  for (;;) {
    let manifest: { name?: string; version?: string } | undefined;
    try {
      manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
    } catch {
      // No (readable) package.json here: look further up.
    }
    if (manifest?.name === 'spruce-sync' && manifest.version) return manifest.version;
    const parent = dirname(dir);
    if (parent === dir) throw new Error('spruce-sync: package.json not found above the program');
    dir = parent;
  }
}
