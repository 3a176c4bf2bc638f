// `SPRUCE_SYNC_BENCH_CPU_PROF=<dir>`: a benchmark's child servers run under `node --cpu-prof` and
// write their profiles into `<dir>/<label>/` when they exit (one per thread: tsx's module loader
// has its own; the main thread's is named `CPU.<date>.<time>.<pid>.0.<n>.cpuprofile`), with
// `window.json` beside them: the measured stretch's start and end on the monotonic clock V8
// stamps its samples with, so that `bench/cpuprofile-summary.ts <dir>/<label>` counts that stretch
// only (not start-up, not the warm-up). A profile is written at exit: a profiled server must be
// stopped with SIGTERM, not killed.
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';

/** Node's arguments for a child server under the label, or none when profiling is off. */
export function cpuProfileArgs(label: string): string[] {
  const dir = cpuProfileDir(label);
  return dir ? ['--cpu-prof', `--cpu-prof-dir=${dir}`] : [];
}

export function cpuProfileDir(label: string): string | undefined {
  const dir = process.env.SPRUCE_SYNC_BENCH_CPU_PROF;
  return dir ? path.resolve(dir, label.replace(/[^A-Za-z0-9=#-]+/g, '_')) : undefined;
}

/** Now on the monotonic clock, in µs, as V8's profile timestamps are. */
export const monotonicMicros = () => Number(process.hrtime.bigint() / 1000n);

/** `requests`: what the stretch's busy time is divided by (per request, per second…). */
export async function writeProfileWindow(label: string, window: { fromUs: number; toUs: number; requests: number }): Promise<void> {
  const dir = cpuProfileDir(label);
  if (!dir) return;
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(dir, 'window.json'), JSON.stringify(window));
}
