// Runs spruce-sync commands in this process, as the operator tests do: the commands given are
// registered on a fresh program, console output is captured, and the exit code is read from
// (and reset on) process.exitCode.
import { Command } from 'commander';
import { vi } from 'vitest';

export interface CliRun {
  out: string;
  err: string;
  code: number | undefined;
}

export async function runCommands(registers: ((program: Command) => void)[], args: string[]): Promise<CliRun> {
  const out: string[] = [];
  const err: string[] = [];
  vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => void out.push(a.join(' ')));
  vi.spyOn(console, 'error').mockImplementation((...a: unknown[]) => void err.push(a.join(' ')));
  const program = new Command().exitOverride();
  for (const register of registers) register(program);
  process.exitCode = undefined;
  try {
    await program.parseAsync(['node', 'spruce-sync', ...args]);
  } finally {
    vi.restoreAllMocks();
  }
  const code = process.exitCode as number | undefined;
  process.exitCode = undefined;
  return { out: out.join('\n'), err: err.join('\n'), code };
}
