#!/usr/bin/env node
// Runs any TypeScript entry point of this repo (benchmarks, scripts) without a build step.
import { register } from 'tsx/esm/api';
import { pathToFileURL } from 'node:url';
import path from 'node:path';

const entry = process.argv[2];
if (!entry) {
  console.error('usage: run-ts.js <file.ts> [args…]');
  process.exit(2);
}
process.argv.splice(2, 1);
register();
await import(pathToFileURL(path.resolve(entry)).href);
