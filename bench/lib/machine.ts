// Where a benchmark ran: the machine, the Node version, how busy the machine was.
import { cpus, loadavg, totalmem } from 'node:os';

export interface MachineInfo {
  cpu: string;
  cores: number;
  ramGiB: number;
  node: string;
}

export function machineInfo(): MachineInfo {
  const list = cpus();
  return {
    cpu: (list[0]?.model ?? 'unknown cpu').replace(/\s+/g, ' ').trim(),
    cores: list.length,
    ramGiB: Math.round((totalmem() / 1024 ** 3) * 10) / 10,
    node: process.version,
  };
}

export function describeMachine(info = machineInfo()): string {
  return `${info.cpu}, ${info.cores} cores, ${info.ramGiB} GiB RAM, Node ${info.node}`;
}

export function loadAverage(): [number, number, number] {
  const [one = 0, five = 0, fifteen = 0] = loadavg();
  return [one, five, fifteen];
}

export function describeLoad(load = loadAverage()): string {
  return load.map((n) => n.toFixed(2)).join(' / ');
}

/**
 * Waits (up to `maxWaitMs`) until the 1-minute load average drops below `threshold`, so that
 * numbers are not taken while other work shares the machine. Returns the load when it gave up
 * or the machine was quiet enough.
 */
export async function waitForQuietMachine(
  options: { threshold?: number; maxWaitMs?: number; log?: (line: string) => void } = {},
): Promise<{ load: [number, number, number]; waitedMs: number; quiet: boolean }> {
  const { threshold = 1.0, maxWaitMs = 0, log = () => {} } = options;
  const started = Date.now();
  let announced = false;
  for (;;) {
    const load = loadAverage();
    const waitedMs = Date.now() - started;
    if (load[0] < threshold) return { load, waitedMs, quiet: true };
    if (waitedMs >= maxWaitMs) return { load, waitedMs, quiet: false };
    if (!announced) {
      log(`machine busy (1-min load ${load[0].toFixed(2)} ≥ ${threshold}); waiting up to ${Math.round(maxWaitMs / 1000)} s`);
      announced = true;
    }
    await new Promise((resolve) => setTimeout(resolve, 5_000));
  }
}
