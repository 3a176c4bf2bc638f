import { describe, expect, it } from 'vitest';
import { ControlledClock } from '../clock.ts';
import { openStore } from '../store/open-store.ts';
import { AlertMonitor, WindowCounter, type AlertNotice } from './alerts.ts';

const alerts = { url: 'http://alerts.example/hook', deadLettersAbove: 0, signatureFailures: 3, apiFailureRate: 0.5, windowSeconds: 60, headers: { authorization: 'Bearer x' } };

async function setup() {
  const store = await openStore('sqlite::memory:');
  const clock = new ControlledClock({ start: 1_700_000_000_000, flowing: false });
  const posted: { url: string; body: AlertNotice; headers: Record<string, string> }[] = [];
  const monitor = new AlertMonitor({
    tenants: [{ id: 't1', alerts }, { id: 't2' }],
    store,
    clock,
    post: async (url, body, headers) => void posted.push({ url, body, headers }),
  });
  return { store, clock, posted, monitor };
}

async function killJob(store: Awaited<ReturnType<typeof openStore>>, key: string, now: number) {
  await store.enqueueJob('t1', { key, task: 'spry.patient', params: { patientId: 1 } }, now);
  const [job] = await store.claimJobs({ workerId: 'w', now, leaseMs: 1000, limit: 1 });
  await store.failJob(job!, { jobId: job!.id, workerId: 'w', now, error: { code: 'SPRUCE_REJECTED', message: 'no' } });
}

describe('alerts', () => {
  it('counts in a sliding window', () => {
    const counter = new WindowCounter(10_000);
    counter.add(1_000);
    counter.add(5_000, 2);
    expect(counter.total(9_000)).toBe(3);
    expect(counter.total(12_500)).toBe(2);
    expect(counter.total(20_000)).toBe(0);
  });

  it('posts when dead letters appear and when they are gone', async () => {
    const { store, clock, posted, monitor } = await setup();
    expect(await monitor.check()).toEqual([]);
    await killJob(store, 'spry-patient:74:1', clock.now());
    await monitor.check();
    expect(posted).toEqual([
      {
        url: alerts.url,
        headers: { authorization: 'Bearer x' },
        body: { tenantId: 't1', alert: 'dead_letters', state: 'firing', value: 1, threshold: 0, at: new Date(clock.now()).toISOString(), service: 'spruce-sync' },
      },
    ]);
    await monitor.check(); // still firing: no repeat
    expect(posted).toHaveLength(1);
    await store.replayDeadJob('t1', 'spry-patient:74:1', clock.now());
    await monitor.check();
    expect(posted.map((p) => [p.body.alert, p.body.state])).toEqual([
      ['dead_letters', 'firing'],
      ['dead_letters', 'resolved'],
    ]);
    await store.close();
  });

  it('posts on a spike of signature failures and on a failing API, and their recovery', async () => {
    const { store, clock, posted, monitor } = await setup();
    for (let i = 0; i < 3; i++) monitor.recordSignatureFailure('t1');
    monitor.recordSignatureFailure('t2'); // no alerts configured: ignored
    for (let i = 0; i < 6; i++) monitor.recordApiCall('t1', { system: 'spruce', method: 'GET', route: 'GET /contacts/{contactId}', status: i < 4 ? 503 : 200, durationMs: 5 });
    for (let i = 0; i < 6; i++) monitor.recordApiCall('t1', { system: 'spry', method: 'GET', route: 'GET /patients/{id}', status: 200, durationMs: 5 });
    await monitor.check();
    expect(posted.map((p) => [p.body.alert, p.body.system, p.body.state, p.body.value])).toEqual([
      ['signature_failures', undefined, 'firing', 3],
      ['api_failing', 'spruce', 'firing', 0.667],
    ]);
    await clock.advance(61_000);
    await monitor.check();
    expect(posted.slice(2).map((p) => [p.body.alert, p.body.state])).toEqual([
      ['signature_failures', 'resolved'],
      ['api_failing', 'resolved'],
    ]);
    await store.close();
  });

  it('keeps going when the receiver fails', async () => {
    const store = await openStore('sqlite::memory:');
    const clock = new ControlledClock({ start: 0, flowing: false });
    const errors: unknown[] = [];
    const monitor = new AlertMonitor({
      tenants: [{ id: 't1', alerts }],
      store,
      clock,
      post: async () => {
        throw new Error('receiver down');
      },
      onError: (error) => errors.push(error),
    });
    await killJob(store, 'k', 0);
    expect(await monitor.check()).toEqual([]);
    expect(errors).toHaveLength(1);
    await store.close();
  });

  it('watches a tenant added later, keeps a changed one’s firing state, and forgets a removed one', async () => {
    const store = await openStore('sqlite::memory:');
    const clock = new ControlledClock({ start: 1_700_000_000_000, flowing: false });
    const posted: AlertNotice[] = [];
    const duties: string[] = [];
    const monitor = new AlertMonitor({
      tenants: [],
      store,
      clock,
      post: async (_url, body) => void posted.push(body),
      runIfLeader: async (duty, fn) => {
        duties.push(duty);
        return fn();
      },
    });
    // Nothing watched at start: the timer runs anyway, without asking for the leadership.
    monitor.start(1_000);
    await clock.advance(2_000);
    expect(duties).toEqual([]);

    monitor.watch({ id: 't1', alerts });
    await killJob(store, 'spry-patient:74:1', clock.now());
    await clock.advance(1_000);
    expect(posted.map((n) => [n.tenantId, n.alert, n.state])).toEqual([['t1', 'dead_letters', 'firing']]);
    // Its definition changed (the registry restarts it): still firing, so no second notice.
    monitor.watch({ id: 't1', alerts: { ...alerts, url: 'http://alerts.example/other' } });
    await clock.advance(1_000);
    expect(posted).toHaveLength(1);
    // Removed: nothing more is posted for it, not even a `resolved`.
    monitor.forget('t1');
    expect(monitor.watched).toEqual([]);
    await store.replayDeadJob('t1', 'spry-patient:74:1', clock.now());
    await clock.advance(2_000);
    expect(posted).toHaveLength(1);
    monitor.stop();
    await store.close();
  });

  it('holds a disabled tenant’s vendor alerts (it makes no calls) and still watches the rest', async () => {
    const store = await openStore('sqlite::memory:');
    const clock = new ControlledClock({ start: 1_700_000_000_000, flowing: false });
    const posted: AlertNotice[] = [];
    let sending = true;
    const monitor = new AlertMonitor({ tenants: [{ id: 't1', alerts }], sending: () => sending, store, clock, post: async (_url, body) => void posted.push(body) });
    for (let i = 0; i < 6; i++) monitor.recordApiCall('t1', { system: 'spruce', method: 'GET', route: 'GET /contacts/{contactId}', status: 503, durationMs: 5 });
    await monitor.check();
    expect(posted.map((n) => [n.alert, n.state])).toEqual([['api_failing', 'firing']]);
    sending = false;
    await clock.advance(61_000);
    for (let i = 0; i < 3; i++) monitor.recordSignatureFailure('t1');
    await monitor.check();
    // No calls while disabled is no news of the vendor: not `resolved`; a signature failure still counts.
    expect(posted.map((n) => [n.alert, n.state])).toEqual([
      ['api_failing', 'firing'],
      ['signature_failures', 'firing'],
    ]);
    sending = true;
    await monitor.check();
    expect(posted.slice(2).map((n) => [n.alert, n.state])).toEqual([['api_failing', 'resolved']]);
    await store.close();
  });

  it('runs its timed checks only where this instance leads the alerts duty', async () => {
    const store = await openStore('sqlite::memory:');
    const clock = new ControlledClock({ start: 1_700_000_000_000, flowing: false });
    const posted: AlertNotice[] = [];
    let leader = false;
    const duties: string[] = [];
    const monitor = new AlertMonitor({
      tenants: [{ id: 't1', alerts }],
      store,
      clock,
      post: async (_url, body) => void posted.push(body),
      runIfLeader: async (duty, fn) => {
        duties.push(duty);
        return leader ? fn() : undefined;
      },
    });
    await killJob(store, 'spry-patient:74:1', clock.now());
    monitor.start(1_000);
    await clock.advance(3_000);
    expect(duties).toEqual(['alerts', 'alerts', 'alerts']);
    expect(posted).toEqual([]);
    leader = true;
    await clock.advance(1_000);
    expect(posted.map((n) => [n.alert, n.state])).toEqual([['dead_letters', 'firing']]);
    monitor.stop();
    await store.close();
  });
});
