// The chaos run in its short form (the full one: `npm run chaos`): three `spruce-sync start`
// processes on one PostgreSQL schema behind a round-robin proxy, a few hundred changes on both
// sides, two SIGKILLs with restarts and one cut of every database session. Spruce's limit is
// set low enough that pacing has to work across the instances (raised from the sandbox's 100/min
// so the run ends in time), and Spry's limit in the simulator equals the tenant's ceiling.
import { describe, expect, it } from 'vitest';
import { findPostgres, skipNotice } from '../support/postgres.ts';
import { runChaos } from '../chaos/scenario.ts';

const pgUrl = await findPostgres();
if (!pgUrl) console.warn(skipNotice('chaos'));

describe.skipIf(!pgUrl)('chaos (short form)', () => {
  it('three instances, SIGKILLs and a database cut: both systems agree, nothing lost, no 429', async () => {
    const seed = Number(process.env.CHAOS_SEED ?? Math.floor(Math.random() * 2 ** 31));
    const report = await runChaos({
      pgUrl: pgUrl!,
      instances: 3,
      patients: 60,
      spryChanges: 300,
      spruceChanges: 60,
      kills: 2,
      chaosMs: 30_000,
      spruceLimitPerMinute: 300,
      spryRequestsPerSecond: 40,
      settleMs: 60_000,
      seed,
    });
    const { outputs, ...summary } = report;
    // On failure the message carries the seed (CHAOS_SEED repeats the run) and the instances' logs.
    expect(report.problems, `${JSON.stringify(summary, null, 1)}\n${outputs ?? ''}`).toEqual([]);
    expect(report.cluster.reduce((n, c) => n + c.kills, 0)).toBe(2);
    expect(report.databaseSessionsCut).toBeGreaterThan(0);
  }, 180_000);
});
