#!/usr/bin/env node
// The `spruce-sync` command. An installed package runs the compiled JavaScript in dist/ (the
// package ships no sources and no tsx). In a checkout, where src/ is present, it runs the
// TypeScript sources through tsx, so `npm start` and `npm test` need no build step and never
// run a stale dist/. SPRUCE_SYNC_RUN=dist runs a checkout's dist/ (after `npm run build`), as
// the package would.
import { existsSync } from 'node:fs';

const sources = new URL('../src/cli/main.ts', import.meta.url);
const compiled = new URL('../dist/cli/main.js', import.meta.url);

if (existsSync(sources) && process.env.SPRUCE_SYNC_RUN !== 'dist') {
  const { register } = await import('tsx/esm/api');
  register();
  await import(sources.href);
} else if (existsSync(compiled)) {
  await import(compiled.href);
} else {
  console.error('spruce-sync: dist/ is missing; run `npm run build` first');
  process.exit(1);
}
