// axe-core (WCAG 2 A and AA rules) over whatever a dashboard page shows right now. The script is
// evaluated through the browser's debugging protocol, which the dashboard's CSP (no inline or
// foreign scripts) does not govern, so the page is checked with its real headers.
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import type { Page } from 'playwright-core';

const axeSource = readFile(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

export interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: { target: string[]; summary: string }[];
}

export async function axeViolations(page: Page): Promise<AxeViolation[]> {
  if (!(await page.evaluate('typeof window.axe === "object"'))) await page.evaluate(await axeSource);
  // A string, not a function: this project compiles without the DOM's types.
  return page.evaluate<AxeViolation[]>(`(async () => {
    const result = await window.axe.run(document, {
      runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] },
      resultTypes: ['violations'],
    });
    return result.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      nodes: v.nodes.map((n) => ({ target: n.target, summary: n.failureSummary })),
    }));
  })()`);
}

/** One line per failing node, for an assertion message that says what to fix. */
export function describeViolations(view: string, violations: AxeViolation[]): string[] {
  return violations.flatMap((v) => v.nodes.map((n) => `${view}: ${v.id} at ${n.target.join(' ')}: ${n.summary.replace(/\s+/g, ' ').slice(0, 200)}`));
}
