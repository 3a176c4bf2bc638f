// Summarises a V8 .cpuprofile (`node --cpu-prof`) by self time: the top functions, and the
// same time grouped by where the code lives (our src/ files, each package, Node's internals,
// GC, idle). With `--total name,name` it also gives the inclusive time of named functions.
// Given a directory (the ingest benchmark's SPRUCE_SYNC_BENCH_CPU_PROF=<dir> writes one per
// server run), it reads the main thread's profile there (thread 0: tsx's module loader thread
// writes its own) and, with the `window.json` the benchmark left beside it, counts the samples
// of the measured load only and gives the busy time per request.
// `node bin/run-ts.js bench/cpuprofile-summary.ts <dir or file.cpuprofile> [--top 30] [--total insertOne,verifySpryWebhook]`
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { scriptArgs } from './lib/args.ts';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Where a frame's code lives: `src/store/sqlite/db.ts`, `fastify`, `node:internal`, `(garbage collector)`. */
export function areaOf(frame: CallFrame): string {
  const { url, functionName } = frame;
  if (!url) return functionName.startsWith('(') ? functionName : '(native)';
  if (url.startsWith('node:')) return 'node: internals';
  const file = url.startsWith('file://') ? fileURLToPath(url) : url;
  const modules = file.lastIndexOf('node_modules/');
  if (modules >= 0) {
    const parts = file.slice(modules + 'node_modules/'.length).split('/');
    return parts[0]!.startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0]!;
  }
  return path.relative(ROOT, file);
}

function frameName(frame: CallFrame): string {
  const where = frame.url ? `${areaOf(frame)}:${frame.lineNumber + 1}` : '';
  return `${frame.functionName || '(anonymous)'}${where ? ` ${where}` : ''}`;
}

export interface ProfileSummary {
  totalMs: number;
  /** Sampled time not idle: what the process spent on the CPU (as V8 saw it). */
  busyMs: number;
  functions: { name: string; ms: number }[];
  areas: { area: string; ms: number }[];
  totals: { name: string; ms: number }[];
}

/** The measured load, on the monotonic clock (µs) V8 stamps samples with. */
export interface ProfileWindow {
  fromUs: number;
  toUs: number;
  requests?: number;
}

export function summarise(profile: CpuProfile, totalNames: string[] = [], window?: ProfileWindow): ProfileSummary {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const self = new Map<number, number>();
  let at = profile.startTime;
  profile.samples.forEach((id, i) => {
    const delta = profile.timeDeltas[i] ?? 0;
    at += delta;
    if (window && (at < window.fromUs || at > window.toUs)) return;
    self.set(id, (self.get(id) ?? 0) + delta);
  });

  const functions = new Map<string, number>();
  const areas = new Map<string, number>();
  const totals = new Map<string, number>(totalNames.map((n) => [n, 0]));
  let totalUs = 0;
  let idleUs = 0;
  for (const [id, us] of self) {
    const frame = byId.get(id)!.callFrame;
    totalUs += us;
    if (frame.functionName === '(idle)') idleUs += us;
    const name = frameName(frame);
    functions.set(name, (functions.get(name) ?? 0) + us);
    const area = areaOf(frame);
    areas.set(area, (areas.get(area) ?? 0) + us);
    if (totalNames.length > 0) {
      // Inclusive: the sample counts once for each named function on its stack.
      const seen = new Set<string>();
      for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
        const fn = byId.get(at)!.callFrame.functionName;
        if (totals.has(fn) && !seen.has(fn)) {
          seen.add(fn);
          totals.set(fn, totals.get(fn)! + us);
        }
      }
    }
  }
  const sorted = <K extends string>(map: Map<string, number>, key: K) =>
    [...map].sort((a, b) => b[1] - a[1]).map(([k, us]) => ({ [key]: k, ms: us / 1000 }) as { ms: number } & Record<K, string>);
  return {
    totalMs: totalUs / 1000,
    busyMs: (totalUs - idleUs) / 1000,
    functions: sorted(functions, 'name'),
    areas: sorted(areas, 'area'),
    totals: sorted(totals, 'name'),
  };
}

function table(rows: { label: string; ms: number }[], of: number): string {
  const lines = ['| self ms | % of busy | where |', '| ---: | ---: | --- |'];
  for (const row of rows) lines.push(`| ${row.ms.toFixed(0)} | ${((row.ms / of) * 100).toFixed(1)} | ${row.label.replaceAll('|', '\\|')} |`);
  return lines.join('\n');
}

{
  const args = scriptArgs();
  const given = args.all[0];
  if (!given || given.startsWith('--')) {
    console.error('usage: cpuprofile-summary.ts <dir or file.cpuprofile> [--top 30] [--total fnA,fnB]');
    process.exit(2);
  }
  const isDir = statSync(given).isDirectory();
  // The main thread's: CPU.<date>.<time>.<pid>.<thread id>.<seq>.cpuprofile, thread 0.
  const mainThread = isDir ? readdirSync(given).find((f) => /^CPU\.\d+\.\d+\.\d+\.0\.\d+\.cpuprofile$/.test(f)) : undefined;
  if (isDir && !mainThread) {
    console.error(`no main-thread profile in ${given}`);
    process.exit(2);
  }
  const file = isDir ? path.join(given, mainThread!) : given;
  const windowFile = isDir ? path.join(given, 'window.json') : file.replace(/\.cpuprofile$/, '.window.json');
  const top = Number(args.option('--top') ?? 30);
  const window = existsSync(windowFile) ? (JSON.parse(readFileSync(windowFile, 'utf8')) as ProfileWindow) : undefined;
  const summary = summarise(JSON.parse(readFileSync(file, 'utf8')) as CpuProfile, (args.option('--total') ?? '').split(',').filter(Boolean), window);
  const busy = summary.busyMs;
  const perRequest = window?.requests ? `; ${((busy * 1000) / window.requests).toFixed(0)} µs busy per request (${window.requests} requests)` : '';
  console.log(`${file}${window ? ' (measured load only)' : ''}: ${summary.totalMs.toFixed(0)} ms sampled, ${busy.toFixed(0)} ms busy (not idle)${perRequest}\n`);
  console.log('By area (self time):\n');
  console.log(table(summary.areas.slice(0, top).map((a) => ({ label: a.area, ms: a.ms })), busy));
  console.log('\nTop functions (self time):\n');
  console.log(table(summary.functions.slice(0, top).map((f) => ({ label: f.name, ms: f.ms })), busy));
  if (summary.totals.length > 0) {
    console.log('\nInclusive time of named functions:\n');
    console.log(table(summary.totals.map((t) => ({ label: t.name, ms: t.ms })), busy));
  }
}
