// `npm run bench [-- --quick] [-- --only ingest,freshness,economy,memory,backfill] [-- --no-write]`
// Runs the benchmark scenarios of issue #8 one after the other; each prints its table and
// appends it to docs/BENCHMARKS.md with the machine, the date, the command and the load.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runEconomy } from './economy.ts';
import { runFreshness, type FreshnessResult } from './freshness.ts';
import { runIngest, type IngestResult } from './ingest.ts';
import { describeLoad, describeMachine, waitForQuietMachine } from './lib/machine.ts';
import { publish, type RunContext } from './lib/report.ts';
import { memoryReport, measureRest } from './memory.ts';

const SCENARIOS = ['ingest', 'freshness', 'economy', 'memory', 'backfill'] as const;
type Scenario = (typeof SCENARIOS)[number];

function parseArgs(argv: string[]): { quick: boolean; write: boolean; only: Set<Scenario>; waitForQuietMs: number; workers?: number[]; connections?: number } {
  const only = new Set<Scenario>();
  let workers: number[] | undefined;
  let connections: number | undefined;
  let quick = false;
  let write = true;
  let waitForQuietMs = 0;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--quick') quick = true;
    else if (arg === '--no-write') write = false;
    else if (arg === '--only' || arg.startsWith('--only=')) {
      const value = arg.includes('=') ? arg.slice(arg.indexOf('=') + 1) : argv[++i] ?? '';
      for (const name of value.split(',').filter(Boolean)) {
        if (!(SCENARIOS as readonly string[]).includes(name)) throw new Error(`unknown scenario ${name}; one of ${SCENARIOS.join(', ')}`);
        only.add(name as Scenario);
      }
    } else if (arg === '--wait-for-quiet' || arg.startsWith('--wait-for-quiet=')) {
      const value = arg.includes('=') ? arg.slice(arg.indexOf('=') + 1) : argv[++i] ?? '';
      waitForQuietMs = Number(value) * 1000;
    } else if (arg === '--workers' || arg.startsWith('--workers=')) {
      // Freshness: the pool sizes to measure, in order (0: the default); repeat them to interleave (8,0,8,0).
      const value = arg.includes('=') ? arg.slice(arg.indexOf('=') + 1) : argv[++i] ?? '';
      workers = value.split(',').filter(Boolean).map(Number);
      if (workers.some((n) => !Number.isInteger(n) || n < 0)) throw new Error(`--workers wants pool sizes like 8,0 (0: the default), not ${value}`);
    } else if (arg === '--connections' || arg.startsWith('--connections=')) {
      // Ingest: autocannon connections (default 10).
      connections = Number(arg.includes('=') ? arg.slice(arg.indexOf('=') + 1) : argv[++i] ?? '');
      if (!Number.isInteger(connections) || connections < 1) throw new Error('--connections wants a positive integer');
    } else if (arg === '--help' || arg === '-h') {
      console.log('npm run bench -- [--quick] [--only ingest,freshness,economy,memory,backfill] [--workers 8,32] [--connections 10] [--no-write] [--wait-for-quiet <seconds>]');
      process.exit(0);
    } else throw new Error(`unknown argument ${arg}`);
  }
  if (only.size === 0) for (const s of SCENARIOS) only.add(s);
  return { quick, write, only, waitForQuietMs, workers, connections };
}

const args = parseArgs(process.argv.slice(2));
const passed = process.argv.slice(2).join(' ');
const context: RunContext = {
  command: `npm run bench${passed ? ` -- ${passed}` : ''}`,
  quick: args.quick,
  write: args.write,
  log: (line) => console.log(`[bench] ${line}`),
};

const started = Date.now();
context.log(`${describeMachine()}; load ${describeLoad()}; ${args.quick ? 'short form' : 'full run'}: ${[...args.only].join(', ')}`);
if (args.waitForQuietMs > 0) {
  const { quiet, load } = await waitForQuietMachine({ maxWaitMs: args.waitForQuietMs, log: context.log });
  context.log(quiet ? `machine quiet enough (load ${describeLoad(load)})` : `still busy after waiting (load ${describeLoad(load)}); measuring anyway`);
}

let ingest: IngestResult | undefined;
let freshness: FreshnessResult | undefined;

if (args.only.has('ingest')) {
  ingest = await runIngest({ quick: args.quick, connections: args.connections }, context);
  await publish(ingest.report, context);
}
if (args.only.has('freshness')) {
  freshness = await runFreshness({ quick: args.quick, concurrencies: args.workers }, context);
  await publish(freshness.report, context);
}
if (args.only.has('economy')) {
  const economy = await runEconomy({ log: context.log });
  await publish(economy.report, context);
}
if (args.only.has('memory')) {
  const rest = await measureRest({ quick: args.quick }, context);
  await publish(memoryReport({ rest, ingest, freshness }), context);
}
if (args.only.has('backfill')) {
  // Another benchmark owns backfill (bench/backfill.ts, `npm run bench:backfill`): the full run
  // delegates to it (it measures 100,000 patients and appends its own section); the short form
  // only points at it, since it takes longer than the whole short form may.
  const backfill = path.join(path.dirname(fileURLToPath(import.meta.url)), 'backfill.ts');
  if (!existsSync(backfill)) {
    context.log('backfill: bench/backfill.ts is not there yet; see `npm run bench:backfill` once it lands');
  } else if (args.quick) {
    context.log('backfill: skipped in the short form; `npm run bench:backfill` (or `npm run bench` without --quick) measures it');
  } else {
    context.log('backfill: running `npm run bench:backfill` (it reports for itself)');
    const code = await new Promise<number | null>((resolve) => {
      const child = spawn(process.execPath, ['bin/run-ts.js', backfill, ...(args.write ? [] : ['--no-write'])], { stdio: 'inherit', cwd: path.resolve(path.dirname(backfill), '..') });
      child.once('exit', resolve);
    });
    if (code !== 0) context.log(`backfill: bench/backfill.ts exited with ${code}`);
  }
}
context.log(`done in ${Math.round((Date.now() - started) / 1000)} s`);
