import { describe, expect, it } from 'vitest';
import { openStore } from '../store/open-store.ts';
import { observeCompletedJobLag, SyncMetrics } from './metrics.ts';

describe('metrics', () => {
  it('exposes counters and histograms with id and enum labels only, in its own registry', async () => {
    const metrics = new SyncMetrics({
      now: () => 10_000,
      queue: async () => [{ tenantId: 't1', waiting: 3, running: 1, dead: 2, oldestRunAt: 4_000 }],
      paused: () => [{ tenantId: 't1', direction: 'spry-to-spruce', paused: true }],
    });
    metrics.onIngest('spry', 'stored');
    metrics.onIngest('spry', 'bad_signature');
    metrics.onApiCall('t1', { system: 'spruce', method: 'GET', route: 'GET /contacts/{contactId}', status: 200, durationMs: 42 });
    metrics.onAttempt(
      { jobId: 1, tenantId: 't1', jobKey: 'k', startedAt: 0, finishedAt: 250, outcome: 'succeeded', errorCode: null, requestId: null },
      { task: 'spry.patient' } as never,
    );
    metrics.onRateLimitWait('spruce', 1500);
    metrics.observeEventLag('t1', 'spry', 2000);
    metrics.watchAdmission(() => [{ tenantId: 't1', gauge: 'spruce_budget', readyInMs: 2500 }]);
    const { body, contentType } = await metrics.text();
    expect(contentType).toContain('text/plain');
    expect(body).toContain('spruce_sync_webhooks_total{source="spry",outcome="stored"} 1');
    expect(body).toContain('spruce_sync_webhooks_total{source="spry",outcome="bad_signature"} 1');
    expect(body).toContain('spruce_sync_api_calls_total{tenant="t1",system="spruce",route="GET /contacts/{contactId}",status="200"} 1');
    expect(body).toContain('spruce_sync_job_duration_seconds_bucket{le="0.25",task="spry.patient",outcome="succeeded"} 1');
    expect(body).toContain('spruce_sync_rate_limit_wait_seconds_count{system="spruce"} 1');
    expect(body).toContain('spruce_sync_event_lag_seconds_sum{tenant="t1",source="spry"} 2');
    expect(body).toContain('spruce_sync_queue_jobs{tenant="t1",state="waiting"} 3');
    expect(body).toContain('spruce_sync_dead_letters{tenant="t1"} 2');
    expect(body).toContain('spruce_sync_queue_oldest_waiting_seconds{tenant="t1"} 6');
    expect(body).toContain('spruce_sync_paused{tenant="t1",direction="spry-to-spruce"} 1');
    expect(body).toContain('spruce_sync_tenant_ready_in_seconds{tenant="t1",limit="spruce_budget"} 2.5');
    // A second instance does not share the first one's counters.
    expect((await new SyncMetrics().text()).body).not.toContain('outcome="stored"} 1');
  });

  it("forgets a removed tenant's counters and histograms, and only its own", async () => {
    const metrics = new SyncMetrics();
    for (const tenant of ['t1', 't2']) {
      metrics.onApiCall(tenant, { system: 'spry', method: 'GET', route: 'GET /patients/{id}', status: 200, durationMs: 5 });
      metrics.onApiCall(tenant, { system: 'spruce', method: 'PATCH', route: 'PATCH /contacts/{contactId}', status: 429, durationMs: 5 });
      metrics.observeEventLag(tenant, 'spry', 300);
      metrics.observeEventLag(tenant, 'spruce', 900);
      metrics.onAlertSent(tenant, 'api_failing', 'firing');
    }
    await metrics.forgetTenant('t1');
    const { body } = await metrics.text();
    expect(body).not.toContain('tenant="t1"');
    expect(body).toContain('spruce_sync_api_calls_total{tenant="t2",system="spry",route="GET /patients/{id}",status="200"} 1');
    expect(body).toContain('spruce_sync_api_calls_total{tenant="t2",system="spruce",route="PATCH /contacts/{contactId}",status="429"} 1');
    expect(body).toContain('spruce_sync_event_lag_seconds_count{tenant="t2",source="spruce"} 1');
    expect(body).toContain('spruce_sync_alerts_sent_total{tenant="t2",alert="api_failing",state="firing"} 1');
    // Counted again from zero if it comes back.
    metrics.onApiCall('t1', { system: 'spry', method: 'GET', route: 'GET /patients/{id}', status: 200, durationMs: 5 });
    expect((await metrics.text()).body).toContain('spruce_sync_api_calls_total{tenant="t1",system="spry",route="GET /patients/{id}",status="200"} 1');
  });

  it('observes the receipt → processed lag of the events a completed job covered', async () => {
    const store = await openStore('sqlite::memory:');
    const job = { key: 'spry-patient:74:1', task: 'spry.patient', params: { patientId: 1 } };
    const base = { tenantId: 't1', source: 'spry' as const, type: 'patient.updated', payload: Buffer.from('{}'), subject: { patientId: 1 }, status: 'queued' as const, job };
    await store.insertEvent({ ...base, eventKey: 'a', occurredAt: 1000, receivedAt: 1000 });
    await store.insertEvent({ ...base, eventKey: 'b', occurredAt: 3000, receivedAt: 3000 });
    const [claimed] = await store.claimJobs({ workerId: 'w', now: 5000, leaseMs: 1000, limit: 1 });
    await store.completeJob(claimed!, 'w', 6000);
    const metrics = new SyncMetrics();
    await observeCompletedJobLag(metrics, store, {
      jobId: claimed!.id, tenantId: 't1', jobKey: job.key, startedAt: 5000, finishedAt: 6000, outcome: 'succeeded', errorCode: null, requestId: null,
    });
    const { body } = await metrics.text();
    expect(body).toContain('spruce_sync_event_lag_seconds_count{tenant="t1",source="spry"} 2');
    expect(body).toContain('spruce_sync_event_lag_seconds_sum{tenant="t1",source="spry"} 8');
    await store.close();
  });
});
