// The admin API over real HTTP, on the real app and a real SQLite file: auth on every route,
// search by each key, replay (one and many, idempotent), pause/resume without loss, audit
// search, and that no payload or PHI ever appears in an answer.
/* eslint-disable @typescript-eslint/no-explicit-any -- JSON answers; the assertions check their shape */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, startAdminHarness, type AdminHarness } from './admin-fixture.ts';

const PHI = 'Never Shown';

describe('admin API', () => {
  let h: AdminHarness;
  beforeEach(async () => {
    h = await startAdminHarness();
  });
  afterEach(async () => {
    await h.close();
  });

  async function eventsOf(query: string) {
    const answer = await h.admin(`/events?${query}`);
    expect(answer.status).toBe(200);
    expect(JSON.stringify(answer.body)).not.toContain(PHI);
    return answer.body as { events: any[]; nextBefore: number | null };
  }

  it('refuses every registered route without the token, or with a wrong one', async () => {
    const doc = await h.admin('/openapi.json');
    expect(doc.status).toBe(200);
    expect(doc.body.openapi).toBe('3.1.0');
    const operations = Object.entries(doc.body.paths as Record<string, Record<string, unknown>>).flatMap(([path, methods]) =>
      Object.keys(methods).map((method) => ({ method: method.toUpperCase(), path })),
    );
    // Every route the plugin registered is in the description (it is built from them).
    expect(operations.length).toBeGreaterThanOrEqual(15);
    for (const { method, path } of operations) {
      expect(h.app.hasRoute({ method: method as 'GET', url: path.replace(/\{(\w+)\}/g, ':$1') }), `${method} ${path}`).toBe(true);
      const concrete = path.replace('{tenantId}', 'acme-pt').replace('{id}', '1');
      const attempts: Record<string, string>[] = [{}, { authorization: 'Bearer wrong-token-wrong-token' }, { authorization: ADMIN_TOKEN }];
      for (const headers of attempts) {
        const response = await fetch(`${h.url}${concrete}`, {
          method,
          headers: { ...headers, ...(method === 'POST' ? { 'content-type': 'application/json' } : {}) },
          body: method === 'POST' ? '{}' : undefined,
        });
        expect(response.status, `${method} ${concrete} ${JSON.stringify(headers)}`).toBe(401);
        expect(response.headers.get('www-authenticate')).toContain('Bearer');
      }
    }
    // The dashboard's files are public (they hold no data); the data behind them is not.
    const page = await fetch(`${h.url}/admin`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(await page.text()).toContain('<title>spruce-sync');
  });

  it('is off (404) when no admin token is configured', async () => {
    const off = await startAdminHarness({ adminToken: null });
    try {
      expect((await off.admin('/tenants')).status).toBe(404);
      expect((await fetch(`${off.url}/admin`)).status).toBe(404);
    } finally {
      await off.close();
    }
  });

  it('answers bad input with 400 and a clear message', async () => {
    const tooMany = await h.admin('/events?limit=1000');
    expect(tooMany.status).toBe(400);
    expect(tooMany.body).toEqual({ error: 'bad_request', message: expect.stringContaining('limit') });
    const since = await h.admin('/events?since=yesterday');
    expect(since).toEqual({ status: 400, body: { error: 'bad_request', message: 'since: expected an ISO 8601 time or epoch milliseconds' } });
    expect((await h.admin('/events?status=lost')).status).toBe(400);
    expect((await h.admin('/events?patientId=abc')).status).toBe(400);
    expect((await h.admin('/tenants/Not_A_Tenant')).status).toBe(400);
    expect((await h.admin('/tenants/nobody')).body).toEqual({ error: 'unknown_tenant', message: 'no tenant nobody' });
    expect((await h.admin('/tenants/acme-pt/pause', { method: 'POST', body: { direction: 'sideways' } })).status).toBe(400);
    expect((await h.admin('/tenants/acme-pt/timeline')).status).toBe(400);
    expect((await h.admin('/events/999999')).status).toBe(404);
    expect((await h.admin('/dead-letters?errorCode=lower')).status).toBe(400);
    // A misspelt filter is refused, not silently ignored (it would widen the search).
    expect(await h.admin('/events?patientid=1')).toEqual({
      status: 400,
      body: { error: 'bad_request', message: 'querystring: unknown parameter patientid' },
    });
    expect((await h.admin('/tenants/acme-pt/backfill', { method: 'POST', body: {} })).status).toBe(501);
  });

  it('searches events by tenant, source, type, status, patient, contact, job key and time, keyset paged, with attempts', async () => {
    const t0 = Date.now();
    for (let i = 1; i <= 5; i++) expect((await h.postSpry('acme-pt', i, `s-${i}`)).status).toBe(200);
    expect((await h.postSpry('acme-pt', 1, 's-appt', 'appointment.created')).status).toBe(200);
    expect((await h.postSpruce('acme-pt', 'entity_c1', 'c-1')).status).toBe(200);
    expect((await h.postSpry('beta-pt', 1, 'b-1')).status).toBe(200);
    h.failing.add('spry-patient:74:2');
    await h.pool.runUntilIdle();

    expect((await eventsOf('tenantId=acme-pt')).events).toHaveLength(7);
    expect((await eventsOf('tenantId=beta-pt')).events.map((e) => e.eventKey)).toEqual(['b-1']);
    expect((await eventsOf('source=spruce')).events.map((e) => e.eventKey)).toEqual(['c-1']);
    expect((await eventsOf('type=appointment.created')).events.map((e) => e.eventKey)).toEqual(['s-appt']);
    expect((await eventsOf('tenantId=acme-pt&patientId=1')).events.map((e) => e.eventKey)).toEqual(['s-appt', 's-1']);
    expect((await eventsOf('contactId=entity_c1')).events.map((e) => e.eventKey)).toEqual(['c-1']);
    expect((await eventsOf('jobKey=spry-patient:74:3')).events.map((e) => e.eventKey)).toEqual(['s-3']);
    expect((await eventsOf(`since=${t0}&until=${Date.now() + 1000}`)).events).toHaveLength(8);
    expect((await eventsOf(`since=${new Date(Date.now() + 60_000).toISOString()}`)).events).toHaveLength(0);

    const dead = await eventsOf('status=dead');
    expect(dead.events.map((e) => e.eventKey)).toEqual(['s-2']);
    expect(dead.events[0]).toMatchObject({
      patientId: 2,
      status: 'dead',
      reason: 'SPRUCE_REJECTED: the contact was refused (test)',
      attempts: [{ outcome: 'dead', errorCode: 'SPRUCE_REJECTED', requestId: expect.stringMatching(/^req-/) }],
    });
    expect(dead.events[0]).not.toHaveProperty('payload');
    const processed = await eventsOf('tenantId=acme-pt&status=processed');
    expect(processed.events).toHaveLength(6);
    expect(processed.events.every((e) => e.attempts.length === 1 && e.attempts[0].outcome === 'succeeded')).toBe(true);

    const first = await eventsOf('tenantId=acme-pt&limit=3');
    expect(first.events).toHaveLength(3);
    const second = await eventsOf(`tenantId=acme-pt&limit=3&before=${first.nextBefore}`);
    const third = await eventsOf(`tenantId=acme-pt&limit=3&before=${second.nextBefore}`);
    expect(third.nextBefore).toBeNull();
    const all = [...first.events, ...second.events, ...third.events].map((e) => e.id);
    expect(new Set(all).size).toBe(7);
    expect(all).toEqual([...all].sort((a, b) => b - a));

    const one = await h.admin(`/events/${dead.events[0].id}`);
    expect(one.body).toMatchObject({ eventKey: 's-2', attempts: [{ outcome: 'dead' }] });
  });

  it("shows a patient's timeline in both directions, found by patient id or contact id", async () => {
    await h.store.upsertLink('acme-pt', 7, 'entity_p7', Date.now());
    await h.postSpry('acme-pt', 7, 'p7-1');
    await h.postSpruce('acme-pt', 'entity_p7', 'p7-c1');
    await h.postSpry('acme-pt', 8, 'other');
    await h.pool.runUntilIdle();
    await h.store.appendAudit({ at: Date.now(), tenantId: 'acme-pt', system: 'spruce', recordType: 'contact', recordId: 'entity_p7', action: 'update', detail: { fields: ['phoneNumbers'] } });
    await h.store.appendAudit({ at: Date.now(), tenantId: 'acme-pt', system: 'spry', recordType: 'patient', recordId: '7', action: 'read' });

    for (const query of ['patientId=7', 'contactId=entity_p7']) {
      const { status, body } = await h.admin(`/tenants/acme-pt/timeline?${query}`);
      expect(status).toBe(200);
      expect(body).toMatchObject({ tenantId: 'acme-pt', patientId: 7, contactId: 'entity_p7' });
      const kinds = body.items.map((i: any) => i.kind);
      expect(kinds.filter((k: string) => k === 'event')).toHaveLength(2);
      expect(kinds.filter((k: string) => k === 'attempt')).toHaveLength(2);
      expect(kinds.filter((k: string) => k === 'audit')).toHaveLength(2);
      expect(body.items.map((i: any) => i.event?.eventKey).filter(Boolean).sort()).toEqual(['p7-1', 'p7-c1']);
      expect(JSON.stringify(body)).not.toContain(PHI);
    }
  });

  it('replays one dead event and every dead letter matching a filter, idempotently', async () => {
    const t0 = Date.now();
    h.failing.add('spry-patient:74:1').add('spry-patient:74:2').add('spruce-contact:entity_x');
    await h.postSpry('acme-pt', 1, 'a-1');
    await h.postSpry('acme-pt', 2, 'a-2');
    await h.postSpruce('acme-pt', 'entity_x', 'x-1');
    await h.pool.runUntilIdle();
    const letters = await h.admin('/dead-letters?tenantId=acme-pt');
    expect(letters.body.deadLetters.map((d: any) => d.key).sort()).toEqual(['spruce-contact:entity_x', 'spry-patient:74:1', 'spry-patient:74:2']);
    expect(letters.body.deadLetters.find((d: any) => d.key === 'spry-patient:74:1')).toMatchObject({
      direction: 'spry-to-spruce',
      errorCode: 'SPRUCE_REJECTED',
      params: { patientId: 1 },
      deadEvents: 1,
    });
    expect((await h.admin('/dead-letters?direction=spruce-to-spry')).body.deadLetters.map((d: any) => d.key)).toEqual(['spruce-contact:entity_x']);
    expect((await h.admin('/dead-letters?errorCode=SPRY_REJECTED')).body.deadLetters).toEqual([]);
    expect((await h.admin(`/tenants/acme-pt`)).body.queue).toMatchObject({ deadJobs: 3, deadEvents: 3 });

    // One event.
    h.failing.clear();
    const [deadEvent] = (await eventsOf('status=dead&patientId=1')).events;
    const replay = await h.admin(`/events/${deadEvent.id}/replay`, { method: 'POST' });
    expect(replay.body).toMatchObject({ replayed: true, status: 'queued', jobKey: 'spry-patient:74:1' });
    expect((await h.admin(`/events/${deadEvent.id}/replay`, { method: 'POST' })).body).toMatchObject({ replayed: false, status: 'queued' });
    await h.pool.runUntilIdle();
    expect((await h.admin(`/events/${deadEvent.id}`)).body.status).toBe('processed');
    const again = await h.admin(`/events/${deadEvent.id}/replay`, { method: 'POST' });
    expect(again).toMatchObject({ status: 409, body: { error: 'not_dead' } });

    // Every dead letter of one direction in a window.
    const many = await h.admin('/dead-letters/replay', { method: 'POST', body: { tenantId: 'acme-pt', direction: 'spry-to-spruce', since: t0 } });
    expect(many.body).toMatchObject({ matched: 1, replayed: 1, truncated: false, jobs: [{ tenantId: 'acme-pt', key: 'spry-patient:74:2' }] });
    expect((await h.admin('/dead-letters/replay', { method: 'POST', body: { tenantId: 'acme-pt', direction: 'spry-to-spruce' } })).body).toMatchObject({ matched: 0, replayed: 0 });
    expect((await h.admin('/dead-letters/replay', { method: 'POST', body: { until: t0 } })).body).toMatchObject({ matched: 0 });
    const rest = await h.admin('/dead-letters/replay', { method: 'POST' });
    expect(rest.body).toMatchObject({ matched: 1, replayed: 1 });
    await h.pool.runUntilIdle();
    expect((await h.admin('/dead-letters')).body.deadLetters).toEqual([]);
    expect((await eventsOf('tenantId=acme-pt&status=processed')).events).toHaveLength(3);
  });

  it('pauses and resumes a tenant without losing or reordering events', async () => {
    const paused = await h.admin('/tenants/acme-pt/pause', { method: 'POST', body: {} });
    expect(paused.body).toMatchObject({ tenantId: 'acme-pt', paused: { all: true, changedBy: 'admin-api' } });
    // Accepted and stored while paused, in an interleaved order across two patients.
    const keys = ['p1-a', 'p2-a', 'p1-b', 'p1-c', 'p2-b'];
    for (const key of keys) expect((await h.postSpry('acme-pt', key.startsWith('p1') ? 1 : 2, key)).status).toBe(200);
    await h.postSpruce('acme-pt', 'entity_z', 'z-1');
    await h.postSpry('beta-pt', 9, 'beta-1');
    await h.pool.runUntilIdle();
    expect(h.runs.map((r) => r.tenantId)).toEqual(['beta-pt']);
    const health = (await h.admin('/tenants/acme-pt')).body;
    expect(health.paused.all).toBe(true);
    expect(health.queue).toMatchObject({ queuedEvents: 6, waitingJobs: 3 });
    expect((await eventsOf('tenantId=acme-pt&status=queued')).events).toHaveLength(6);

    const resumed = await h.admin('/tenants/acme-pt/resume', { method: 'POST' });
    expect(resumed.body.paused).toMatchObject({ all: false, directions: [] });
    await h.pool.runUntilIdle();
    const ids = new Map((await eventsOf('tenantId=acme-pt&limit=50')).events.map((e) => [e.eventKey, e.id]));
    const byKey = (key: string) => h.runs.filter((r) => r.key === key).flatMap((r) => r.eventIds);
    expect(byKey('spry-patient:74:1')).toEqual(['p1-a', 'p1-b', 'p1-c'].map((k) => ids.get(k)));
    expect(byKey('spry-patient:74:2')).toEqual(['p2-a', 'p2-b'].map((k) => ids.get(k)));
    expect(byKey('spruce-contact:entity_z')).toEqual([ids.get('z-1')]);
    expect((await eventsOf('tenantId=acme-pt&status=processed')).events).toHaveLength(6);
  });

  it('pauses one direction while the other keeps flowing', async () => {
    const paused = await h.admin('/tenants/acme-pt/pause', { method: 'POST', body: { direction: 'spruce-to-spry' } });
    expect(paused.body.paused).toMatchObject({ all: false, directions: ['spruce-to-spry'] });
    await h.postSpry('acme-pt', 1, 'p-1');
    await h.postSpruce('acme-pt', 'entity_1', 'c-1');
    await h.postSpruce('acme-pt', 'entity_1', 'c-2');
    await h.pool.runUntilIdle();
    expect(h.runs.map((r) => r.task)).toEqual(['spry.patient']);
    expect((await eventsOf('source=spruce&status=queued')).events).toHaveLength(2);

    // Pausing the tenant and resuming the other direction leaves spruce→spry paused.
    await h.admin('/tenants/acme-pt/pause', { method: 'POST', body: {} });
    const partly = await h.admin('/tenants/acme-pt/resume', { method: 'POST', body: { direction: 'spry-to-spruce' } });
    expect(partly.body.paused).toMatchObject({ all: false, directions: ['spruce-to-spry'] });
    await h.admin('/tenants/acme-pt/resume', { method: 'POST', body: { direction: 'spruce-to-spry' } });
    await h.pool.runUntilIdle();
    const contactRuns = h.runs.filter((r) => r.task === 'spruce.contact');
    expect(contactRuns).toHaveLength(1);
    expect(contactRuns[0]!.eventIds).toHaveLength(2);
  });

  it('searches the audit trail by every key', async () => {
    const at = Date.now();
    await h.store.appendAudit({ at, tenantId: 'acme-pt', system: 'spruce', recordType: 'contact', recordId: 'entity_1', action: 'create', eventId: 11, detail: { patientId: 1 } });
    await h.store.appendAudit({ at: at + 1, tenantId: 'acme-pt', system: 'spry', recordType: 'patient', recordId: '1', action: 'read', eventId: 11 });
    await h.store.appendAudit({ at: at + 2, tenantId: 'beta-pt', system: 'spruce', recordType: 'link', recordId: 'entity_2', action: 'link' });
    const search = async (query: string) => ((await h.admin(`/audit?${query}`)).body.entries as any[]).map((e) => e.recordId);
    expect(await search('tenantId=acme-pt')).toEqual(['1', 'entity_1']);
    expect(await search('system=spruce')).toEqual(['entity_2', 'entity_1']);
    expect(await search('recordType=link')).toEqual(['entity_2']);
    expect(await search('recordId=entity_1')).toEqual(['entity_1']);
    expect(await search('action=read')).toEqual(['1']);
    expect(await search('eventId=11')).toEqual(['1', 'entity_1']);
    expect(await search(`since=${at + 1}&until=${at + 2}`)).toEqual(['1']);
    const page = (await h.admin('/audit?limit=2')).body;
    expect(page.entries).toHaveLength(2);
    expect((await h.admin(`/audit?before=${page.nextBefore}`)).body.entries.map((e: any) => e.recordId)).toEqual(['entity_1']);
    expect((await h.admin('/audit?tenantId=acme-pt&recordType=contact')).body.entries[0]).toMatchObject({ detail: { patientId: 1 }, eventId: 11 });
  });

  it('reports tenant health with activity for the charts, and serves /metrics without PHI', async () => {
    await h.postSpry('acme-pt', 1, 'm-1');
    await h.postSpruce('acme-pt', 'entity_m', 'm-2');
    await h.pool.runUntilIdle();
    const { body } = await h.admin('/tenants');
    const acme = body.tenants.find((t: any) => t.tenantId === 'acme-pt');
    expect(acme.window).toMatchObject({ received: 2, processed: 2, attempts: 2, failedAttempts: 0, errorRate: 0 });
    expect(acme.activity).toHaveLength(60);
    expect(acme.activity.at(-1)).toMatchObject({ processed: 2 });
    expect(acme.backfill).toBeNull();
    await h.store.setState('acme-pt', 'backfill.last', JSON.stringify({ status: 'done', patients: 120, finishedAt: 1 }));
    expect((await h.admin('/tenants/acme-pt')).body.backfill).toEqual({ status: 'done', patients: 120, finishedAt: 1 });

    // Paged in id order; without a limit, every tenant.
    expect(body).toMatchObject({ total: 2, offset: 0 });
    expect(body.tenants.map((t: any) => t.tenantId)).toEqual(['acme-pt', 'beta-pt']);
    const second = (await h.admin('/tenants?limit=1&offset=1')).body;
    expect(second).toMatchObject({ total: 2, offset: 1 });
    expect(second.tenants.map((t: any) => t.tenantId)).toEqual(['beta-pt']);
    expect((await h.admin('/tenants?limit=1&offset=2')).body.tenants).toEqual([]);
    expect((await h.admin('/tenants?limit=0')).status).toBe(400);

    await h.postSpry('acme-pt', 2, 'm-3'); // left waiting
    const metrics = await (await fetch(`${h.url}/metrics`)).text();
    expect(metrics).toContain('spruce_sync_webhooks_total{source="spry",outcome="stored"} 2');
    expect(metrics).toContain('spruce_sync_queue_jobs{tenant="acme-pt",state="waiting"} 1');
    expect(metrics).not.toContain(PHI);
  });
});
