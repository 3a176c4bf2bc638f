import { describe, expect, it } from 'vitest';
import { ControlledClock } from '../clock.ts';
import { openStore } from '../store/open-store.ts';
import type { NewInboundEvent } from '../store/types.ts';
import { lastPruneReport, RetentionScheduler } from './retention.ts';

const DAY = 86_400_000;

function event(key: string, receivedAt: number, status: NewInboundEvent['status'] = 'ignored'): NewInboundEvent {
  return {
    tenantId: 't1',
    source: 'spry',
    eventKey: key,
    type: 'x.unknown',
    occurredAt: receivedAt,
    receivedAt,
    payload: Buffer.from('{"name":"phi"}'),
    subject: {},
    status,
  };
}

describe('retention', () => {
  it('prunes finished payloads past the age on its schedule, and records the report', async () => {
    const store = await openStore('sqlite::memory:');
    const clock = new ControlledClock({ start: 100 * DAY, flowing: false });
    await store.insertEvent(event('old', 100 * DAY - 40 * DAY));
    await store.insertEvent(event('young', 100 * DAY - 10 * DAY));
    const reports: unknown[] = [];
    const scheduler = new RetentionScheduler({ store, clock, payloadDays: 30, attemptDays: 30, everyMinutes: 60, onReport: (r) => reports.push(r) });
    scheduler.start();
    await clock.advance(59_000);
    expect(reports).toHaveLength(0);
    await clock.advance(1_000);
    expect(reports).toEqual([expect.objectContaining({ events: 1, bytes: 14, olderThan: 100 * DAY + 60_000 - 30 * DAY })]);
    expect(await lastPruneReport(store)).toMatchObject({ events: 1 });
    await clock.advance(20 * DAY); // 'young' is old now; runs every hour meanwhile
    expect(reports.length).toBeGreaterThan(400);
    expect(reports.filter((r) => (r as { events: number }).events === 1)).toHaveLength(2);
    // Manual runs join the schedule; nothing left to do.
    expect(await scheduler.runOnce()).toMatchObject({ events: 0, bytes: 0 });
    await scheduler.stop();
    await store.close();
  });

  it('deletes job and fan-out attempts past attemptDays in the same run', async () => {
    const store = await openStore('sqlite::memory:');
    const clock = new ControlledClock({ start: 100 * DAY, flowing: false });
    const attempt = (finishedAt: number) =>
      store.recordAttempt({ jobId: 1, tenantId: 't1', jobKey: 'k', startedAt: finishedAt, finishedAt, outcome: 'succeeded', errorCode: null, requestId: null });
    await attempt(100 * DAY - 8 * DAY);
    await attempt(100 * DAY - 6 * DAY);
    const fanoutCutoffs: number[] = [];
    const fanout = { pruneAttempts: async (o: { olderThan: number }) => (fanoutCutoffs.push(o.olderThan), 3) };
    const scheduler = new RetentionScheduler({ store, clock, payloadDays: 30, attemptDays: 7, everyMinutes: 0, fanout });
    const report = await scheduler.runOnce();
    expect(report).toMatchObject({ attempts: 1, fanoutAttempts: 3, attemptsOlderThan: 93 * DAY });
    expect(report.audit).toBeUndefined();
    expect(fanoutCutoffs).toEqual([93 * DAY]);
    expect((await store.listAttempts('k', 't1')).map((a) => a.finishedAt)).toEqual([94 * DAY]);
    await store.close();
  });

  it('does not run on a timer when everyMinutes is 0', async () => {
    const store = await openStore('sqlite::memory:');
    const clock = new ControlledClock({ start: 0, flowing: false });
    const reports: unknown[] = [];
    const scheduler = new RetentionScheduler({ store, clock, payloadDays: 1, attemptDays: 1, everyMinutes: 0, onReport: (r) => reports.push(r) });
    scheduler.start();
    await clock.advance(10 * DAY);
    expect(reports).toEqual([]);
    await scheduler.stop();
    await store.close();
  });

  it('prunes on its timer only where this instance leads the retention duty', async () => {
    const store = await openStore('sqlite::memory:');
    const clock = new ControlledClock({ start: 100 * DAY, flowing: false });
    const reports: unknown[] = [];
    let leader = false;
    const scheduler = new RetentionScheduler({
      store,
      clock,
      payloadDays: 30,
      attemptDays: 30,
      everyMinutes: 1,
      onReport: (r) => reports.push(r),
      runIfLeader: async (duty, fn) => (duty === 'retention' && leader ? fn() : undefined),
    });
    scheduler.start();
    await clock.advance(5 * 60_000);
    expect(reports).toEqual([]);
    leader = true;
    await clock.advance(60_000);
    expect(reports).toHaveLength(1);
    await scheduler.stop();
    await store.close();
  });
});
