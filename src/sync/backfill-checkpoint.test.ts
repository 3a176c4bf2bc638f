import { hostname } from 'node:os';
import { describe, expect, it } from 'vitest';
import { isRunningElsewhere, STALE_AFTER_MS } from './backfill-checkpoint.ts';
import { NO_COUNTS, type BackfillSummary } from './backfill-report.ts';

function summary(overrides: Partial<BackfillSummary>): BackfillSummary {
  return {
    tenantId: 't',
    runId: 'r',
    status: 'running',
    dryRun: false,
    statuses: null,
    matchExisting: false,
    startedAt: 0,
    updatedAt: 0,
    total: 10,
    done: 3,
    doneHere: 3,
    counts: { ...NO_COUNTS },
    ambiguous: [],
    failures: [],
    owner: 'elsewhere:1',
    heartbeatAt: 1_000,
    ...overrides,
  };
}

describe('isRunningElsewhere', () => {
  it('a run of a process of this host that is gone (killed) is not running; a live one is', () => {
    expect(isRunningElsewhere(summary({ owner: `${hostname()}:999999999` }), 2_000)).toBe(false);
    expect(isRunningElsewhere(summary({ owner: `${hostname()}:${process.pid}` }), 2_000, 'another:1')).toBe(true);
  });

  it('on another host, goes by the heartbeat', () => {
    expect(isRunningElsewhere(summary({}), 1_000 + STALE_AFTER_MS - 1)).toBe(true);
    expect(isRunningElsewhere(summary({}), 1_000 + STALE_AFTER_MS)).toBe(false);
  });

  it('finished runs and dry runs hold nothing', () => {
    expect(isRunningElsewhere(summary({ status: 'completed' }), 1_000)).toBe(false);
    expect(isRunningElsewhere(summary({ dryRun: true }), 1_000)).toBe(false);
    expect(isRunningElsewhere(null, 1_000)).toBe(false);
  });
});
