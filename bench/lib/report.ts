// Tables the scenarios produce: printed to the console and appended to docs/BENCHMARKS.md,
// each with the machine, the date, the command and how busy the machine was.
import { appendFile, readFile, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describeLoad, describeMachine, loadAverage } from './machine.ts';

export const BENCHMARKS_DOC = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../docs/BENCHMARKS.md');

export type Cell = string | number;

export interface Table {
  columns: string[];
  rows: Cell[][];
}

export interface ScenarioReport {
  /** Section title, e.g. "Ingest". */
  title: string;
  /** What was measured and how, one paragraph per entry (above the tables). */
  setup: string[];
  tables: Table[];
  /** Where we stand against the targets, findings (below the tables). */
  notes: string[];
}

export interface RunContext {
  /** How the run was started, e.g. `npm run bench -- --quick`. */
  command: string;
  quick: boolean;
  /** Append to docs/BENCHMARKS.md (off with --no-write). */
  write: boolean;
  log: (line: string) => void;
}

export function markdownTable(table: Table): string {
  const line = (cells: Cell[]) => `| ${cells.map((c) => String(c).replaceAll('|', '\\|')).join(' | ')} |`;
  const align = table.columns.map((_, i) => (table.rows.every((r) => typeof r[i] === 'number') ? '---:' : '---'));
  return [line(table.columns), `| ${align.join(' | ')} |`, ...table.rows.map(line)].join('\n');
}

export function renderReport(report: ScenarioReport, context: RunContext, when = new Date()): string {
  const stamp = when.toISOString().replace(/\.\d+Z$/, 'Z');
  const parts = [
    `### ${report.title} — ${stamp}`,
    '',
    `Machine: ${describeMachine()}. Load average (1/5/15 min) when the table was taken: ${describeLoad(loadAverage())}. ` +
      `Command: \`${context.command}\`${context.quick ? ' (short form)' : ''}.`,
    '',
    ...report.setup.flatMap((p) => [p, '']),
    ...report.tables.flatMap((t) => [markdownTable(t), '']),
    ...report.notes.map((n) => `- ${n}`),
  ];
  return `${parts.join('\n').trimEnd()}\n`;
}

const DOC_HEADER = `# Benchmarks

Results of \`npm run bench\` and the other benchmark commands, appended run by run (newest at
the bottom of each part). Every table says on what machine, when, with what command and under
what load it was taken. Numbers from a shared or busy machine are noisy: compare runs taken on
the same machine.
`;

/** For the standalone scripts: prints a finished section and, when `write`, appends it to docs/BENCHMARKS.md. */
export async function appendSection(section: string, write: boolean): Promise<void> {
  console.log(section);
  if (!write) return;
  await appendFile(BENCHMARKS_DOC, existsSync(BENCHMARKS_DOC) ? section : `# Benchmarks\n${section}`);
  console.log('appended to docs/BENCHMARKS.md');
}

/** Prints the report and, unless told not to, appends it to docs/BENCHMARKS.md. */
export async function publish(report: ScenarioReport, context: RunContext): Promise<void> {
  const text = renderReport(report, context);
  console.log(`\n${text}`);
  if (!context.write) return;
  let existing: string | null = null;
  try {
    existing = await readFile(BENCHMARKS_DOC, 'utf8');
  } catch {
    existing = null;
  }
  await writeFile(BENCHMARKS_DOC, withSection(existing, text));
}

/**
 * The document with `text` added at the end of our part (created when missing), before the
 * next part another benchmark appended: other parts are never touched.
 */
export function withSection(existing: string | null, text: string): string {
  const doc = existing ?? DOC_HEADER;
  const start = doc.indexOf(CORE_PART);
  if (start < 0) return `${doc.trimEnd()}\n\n${CORE_PART}\n\n${CORE_INTRO}\n\n${text}`;
  const next = doc.indexOf('\n## ', start + CORE_PART.length);
  if (next < 0) return `${doc.trimEnd()}\n\n${text}`;
  return `${doc.slice(0, next).trimEnd()}\n\n${text}${doc.slice(next)}`;
}

const CORE_PART = '## Ingest, freshness, API economy, memory (`npm run bench`)';
const CORE_INTRO = `\`npm run bench\` runs every scenario (\`-- --quick\`: the short form, under two minutes;
\`-- --only ingest,freshness,economy,memory,backfill\`: some of them; \`-- --no-write\`: print
only). Scenario code: \`bench/ingest.ts\`, \`bench/freshness.ts\`, \`bench/economy.ts\`,
\`bench/memory.ts\`; shared helpers in \`bench/lib/\`. The API-economy counts are also pinned by
\`test/e2e/api-economy.test.ts\`. Targets are those of issue #8.`;

/** `12345.6` → `12,346`; small numbers keep one decimal. */
export function num(value: number, decimals?: number): string {
  const d = decimals ?? (Math.abs(value) >= 100 ? 0 : 1);
  return value.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d });
}

/** Percentile (0–100) of unsorted numbers, nearest-rank. */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}
