// Child processes the benchmarks measure from outside: the real service (`spruce-sync start`)
// and a bare Fastify server, each in its own process so the load generator and the simulators
// do not share its event loop. Memory is read from /proc/<pid>/status.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export interface ChildServer {
  pid: number;
  url: string;
  /** Resident set size now, in MiB (VmRSS), and its peak so far (VmHWM). */
  memory(): { rssMiB: number; peakMiB: number };
  /** CPU seconds used so far (user + system). */
  cpuSeconds(): number;
  /** The same, split into user and system (kernel) time. */
  cpuSplit(): { user: number; system: number };
  /** SIGTERM and wait for the exit (or SIGKILL after `graceMs`). */
  stop(graceMs?: number): Promise<void>;
  /** SIGKILL, as a crash or a pulled plug would (for the process, not the machine). */
  kill(): Promise<void>;
}

/** VmRSS and VmHWM of a process, in MiB. */
export function processMemory(pid: number): { rssMiB: number; peakMiB: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN);
  return { rssMiB: kib('VmRSS') / 1024, peakMiB: kib('VmHWM') / 1024 };
}

let clockTicks: number | undefined;

/** CPU time (user + system, all threads) a process has used so far, in seconds. */
export function processCpuSeconds(pid: number): number {
  const { user, system } = processCpuSplit(pid);
  return user + system;
}

/** CPU time (all threads) a process has used so far in user space and in the kernel, in seconds. */
export function processCpuSplit(pid: number): { user: number; system: number } {
  clockTicks ??= Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces) start at field 3; utime and stime are 14 and 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { user: Number(fields[11]) / clockTicks, system: Number(fields[12]) / clockTicks };
}

/** Samples a process's RSS every `everyMs` until stopped. */
export class RssSampler {
  private readonly samples: number[] = [];
  private timer: ReturnType<typeof setInterval> | undefined;

  constructor(
    private readonly pid: number,
    private readonly everyMs = 100,
  ) {}

  start(): this {
    this.sample();
    this.timer = setInterval(() => this.sample(), this.everyMs);
    return this;
  }

  stop(): { samples: number; meanMiB: number; maxMiB: number; lastMiB: number } {
    if (this.timer) clearInterval(this.timer);
    this.sample();
    const n = this.samples.length;
    return {
      samples: n,
      meanMiB: n ? this.samples.reduce((a, b) => a + b, 0) / n : Number.NaN,
      maxMiB: n ? Math.max(...this.samples) : Number.NaN,
      lastMiB: this.samples[n - 1] ?? Number.NaN,
    };
  }

  private sample(): void {
    try {
      this.samples.push(processMemory(this.pid).rssMiB);
    } catch {
      // the process is gone
    }
  }
}

async function startChild(args: string[], readyPattern: RegExp, what: string, env: NodeJS.ProcessEnv = {}, nodeArgs: string[] = []): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, [...nodeArgs, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let output = '';
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what} did not start within 60 s:\n${output}`)), 60_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString('utf8');
      const match = readyPattern.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (chunk: Buffer) => {
      output += chunk.toString('utf8');
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${what} exited (${code ?? signal}) before it was ready:\n${output}`));
    });
  });
  // Keep draining the pipes so the child never blocks on a full one.
  child.stdout!.resume();
  child.stderr!.resume();
  return { child, url };
}

function childHandle(child: ChildProcess, url: string, cleanup: () => Promise<void> = async () => {}): ChildServer {
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
  return {
    pid: child.pid!,
    url,
    memory: () => processMemory(child.pid!),
    cpuSeconds: () => processCpuSeconds(child.pid!),
    cpuSplit: () => processCpuSplit(child.pid!),
    async stop(graceMs = 10_000) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
      await cleanup();
    },
    async kill() {
      child.kill('SIGKILL');
      await exited;
      await cleanup();
    },
  };
}

/**
 * Runs `spruce-sync start --config <file>` with `config` (written as JSON, which is YAML) in a
 * child process; resolves once it listens.
 */
export async function startServiceProcess(
  config: Record<string, unknown>,
  options: { env?: NodeJS.ProcessEnv; nodeArgs?: string[] } = {},
): Promise<ChildServer & { configFile: string }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'spruce-sync-bench-config-'));
  const configFile = path.join(dir, 'config.json');
  await writeFile(configFile, JSON.stringify(config, null, 2), { mode: 0o600 });
  const { child, url } = await startChild(['bin/spruce-sync.js', 'start', '--config', configFile], /spruce-sync listening on (\S+)/, 'spruce-sync', options.env, options.nodeArgs);
  return { ...childHandle(child, url, () => rm(dir, { recursive: true, force: true })), configFile };
}

/** The reference: a Fastify server whose one route only answers 200 (bench/lib/bare-server.ts). */
export async function startBareServer(port: number, options: { nodeArgs?: string[] } = {}): Promise<ChildServer> {
  const { child, url } = await startChild(['bin/run-ts.js', 'bench/lib/bare-server.ts', String(port)], /bare fastify listening on (\S+)/, 'bare fastify', {}, options.nodeArgs);
  return childHandle(child, url);
}
