// N `spruce-sync start` child processes, as a deployment runs them: each with its own config
// file (its own port) on one shared database. Killed with SIGKILL and started again at will.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

export interface InstanceSpec {
  port: number;
  configFile: string;
  /** Extra environment, e.g. PGAPPNAME so a test can find the instance's database sessions. */
  env?: Record<string, string>;
}

interface Instance {
  spec: InstanceSpec;
  child?: ChildProcess;
  /** Set once it printed that it listens. */
  up: boolean;
  /** The tail of its output, for a failure report (logs carry no PHI). */
  output: string;
  starts: number;
  kills: number;
  /** Exits we did not cause (a crash is a finding, not chaos). */
  crashes: number;
  expectingExit: boolean;
}

export class Cluster {
  private readonly instances: Instance[];

  constructor(specs: InstanceSpec[]) {
    this.instances = specs.map((spec) => ({ spec, up: false, output: '', starts: 0, kills: 0, crashes: 0, expectingExit: false }));
  }

  get size(): number {
    return this.instances.length;
  }

  /** Ports of the instances that are up (what a balancer's health check would list). */
  livePorts(): number[] {
    return this.instances.filter((i) => i.up).map((i) => i.spec.port);
  }

  /** Process ids of the running instances (a benchmark reads their CPU time from /proc). */
  pids(): number[] {
    return this.instances.flatMap((i) => (i.child?.pid === undefined ? [] : [i.child.pid]));
  }

  isUp(index: number): boolean {
    return this.instances[index]!.up;
  }

  counts(): { starts: number; kills: number; crashes: number }[] {
    return this.instances.map(({ starts, kills, crashes }) => ({ starts, kills, crashes }));
  }

  /** Output tails of every instance, for a failure message. */
  outputs(): string {
    return this.instances.map((i, n) => `--- instance ${n} ---\n${i.output.slice(-3000)}`).join('\n');
  }

  async startAll(): Promise<void> {
    await Promise.all(this.instances.map((_, index) => this.start(index)));
  }

  /** Starts instance `index` and resolves once it listens. */
  start(index: number, timeoutMs = 60_000): Promise<void> {
    const instance = this.instances[index]!;
    if (instance.child) throw new Error(`instance ${index} is running`);
    const child = spawn(process.execPath, ['bin/spruce-sync.js', 'start', '--config', instance.spec.configFile], {
      cwd: repoRoot,
      env: { ...process.env, ...instance.spec.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    instance.child = child;
    instance.starts++;
    instance.expectingExit = false;
    const record = (chunk: Buffer) => {
      instance.output = (instance.output + chunk.toString()).slice(-20_000);
    };
    child.stderr!.on('data', record);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`instance ${index} did not start within ${timeoutMs} ms:\n${instance.output.slice(-2000)}`)), timeoutMs);
      child.stdout!.on('data', (chunk: Buffer) => {
        record(chunk);
        if (!instance.up && instance.output.includes('listening on')) {
          instance.up = true;
          clearTimeout(timer);
          resolve();
        }
      });
      child.once('exit', (code, signal) => {
        instance.up = false;
        instance.child = undefined;
        if (!instance.expectingExit) instance.crashes++;
        clearTimeout(timer);
        reject(new Error(`instance ${index} exited (${code ?? signal}):\n${instance.output.slice(-2000)}`));
      });
    });
  }

  /** SIGKILL: no shutdown, no goodbye; resolves once the process is gone. */
  async kill(index: number): Promise<void> {
    const instance = this.instances[index]!;
    const child = instance.child;
    if (!child) return;
    instance.up = false;
    instance.kills++;
    instance.expectingExit = true;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  }

  /** Stops every instance: SIGTERM (finish running jobs), SIGKILL after `graceMs`. */
  async stopAll(graceMs = 10_000): Promise<void> {
    await Promise.all(
      this.instances.map(async (instance) => {
        const child = instance.child;
        if (!child) return;
        instance.up = false;
        instance.expectingExit = true;
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
        await exited;
        clearTimeout(timer);
      }),
    );
  }
}
