// `npm run chaos -- [--quick] [--seed N]`: the chaos run of issue #6 on the local PostgreSQL.
// Full: 5,000 Spry and 1,000 Spruce changes, 6 kills; --quick: a few minutes' worth less.
import { findPostgres, skipNotice } from '../support/postgres.ts';
import { runChaos, type ChaosOptions } from './scenario.ts';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const seedArg = args.indexOf('--seed');
const seed = seedArg >= 0 ? Number(args[seedArg + 1]) : Math.floor(Math.random() * 2 ** 31);

const pgUrl = await findPostgres();
if (!pgUrl) {
  console.error(skipNotice('chaos'));
  process.exit(2);
}

const options: ChaosOptions = quick
  ? { pgUrl, instances: 3, patients: 150, spryChanges: 1_200, spruceChanges: 250, kills: 4, chaosMs: 60_000, spruceLimitPerMinute: 600, spryRequestsPerSecond: 60, settleMs: 240_000, seed }
  : { pgUrl, instances: 3, patients: 500, spryChanges: 5_000, spruceChanges: 1_000, kills: 8, chaosMs: 240_000, spruceLimitPerMinute: 1_000, spryRequestsPerSecond: 60, settleMs: 600_000, seed };

const started = new Date();
console.log(`chaos (${quick ? 'quick' : 'full'}), seed ${seed}: ${options.spryChanges} Spry and ${options.spruceChanges} Spruce changes, ${options.kills} kills, one database cut`);
console.log(`Spruce simulator limit raised to ${options.spruceLimitPerMinute}/min (default 100) so the run ends; Spry limited to ${options.spryRequestsPerSecond}/s`);
const report = await runChaos({ ...options, log: (line) => console.log(`  ${line}`) });
const { outputs, problems, facts, ...rest } = report;
console.log(JSON.stringify({ started: started.toISOString(), ...rest, facts }, null, 2));
if (report.ok) {
  console.log('PASS: Spruce and Spry agree, one contact per patient, every event settled, no 429 from either simulator');
} else {
  console.log(`FAIL:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  if (outputs) console.log(outputs);
}
process.exit(report.ok ? 0 : 1);
