// Whatever the network does: duplicates, reordering, outages, rate-limit storms. The end state
// is always one correct contact per patient, and nothing is lost.
import { afterEach, describe, expect, it } from 'vitest';
import { advanceUntil, agreesWithSpry, contactsOfPatient, eventually, quiesce, SANDBOX_SPRY_ORG, startWorld, type World } from './support.ts';

let world: World | undefined;

afterEach(async () => {
  await world?.close();
  world = undefined;
});

async function deadLetters(w: World): Promise<number> {
  return (await w.service.store.searchEvents({ status: 'dead', limit: 1000 })).length;
}

describe('resilience', () => {
  it('converges under duplicated and reordered deliveries, storing each event once', async () => {
    world = await startWorld({ patients: 8 });
    const w = world;
    const ids = w.sandbox.spry.patientIds(SANDBOX_SPRY_ORG).slice(0, 5);
    w.sandbox.spry.faults.setDeliveryFaults({ duplicateRate: 1, reorderWindowMs: 300 });
    for (let round = 1; round <= 3; round++) {
      for (const id of ids) w.sandbox.spry.staff.editPatient(SANDBOX_SPRY_ORG, id, { last_name: `Round${round}-${id}` });
    }
    await eventually(() => agreesWithSpry(w, ids), 20_000, 'agreement with Spry');
    await quiesce(w);
    const sent = new Set(w.sandbox.spry.events(SANDBOX_SPRY_ORG).map((e) => e.event_id));
    const stored = await w.service.store.searchEvents({ source: 'spry', limit: 1000 });
    expect(new Set(stored.map((e) => e.eventKey)).size).toBe(stored.length);
    expect(stored.length).toBe(sent.size);
    expect(stored.every((e) => e.status === 'processed')).toBe(true);
    expect(w.sandbox.spruce.violations).toEqual([]);
  });

  it('waits out a Spry outage and then syncs what happened during it', async () => {
    world = await startWorld({ patients: 4 });
    const w = world;
    const [patientId] = w.sandbox.spry.patientIds(SANDBOX_SPRY_ORG);
    w.sandbox.spry.faults.setRouteFaults([{ match: '* /apis/**', errorRate: 1, errorStatus: 503 }]);
    w.sandbox.spry.staff.editPatient(SANDBOX_SPRY_ORG, patientId!, { last_name: 'DuringOutage' });
    // The event is stored at once (the webhook path does not touch the Spry API)...
    await eventually(async () => (await w.service.store.searchEvents({ patientId, limit: 10 })).length > 0);
    // ...and its job fails and waits to be retried, without becoming a dead letter.
    await advanceUntil(w, async () => (await w.service.store.listAttempts(`spry-patient:${SANDBOX_SPRY_ORG}:${patientId}`, w.config.tenants[0]!.id)).length >= 2, { what: 'two failed attempts' });
    expect(contactsOfPatient(w, patientId!)).toHaveLength(0);
    expect(await deadLetters(w)).toBe(0);
    const [event] = await w.service.store.searchEvents({ patientId, limit: 10 });
    expect(event!.status).toBe('queued');

    w.sandbox.spry.faults.clear();
    await advanceUntil(w, () => agreesWithSpry(w, [patientId!]), { stepMs: 5_000, what: 'sync after the outage' });
    expect(await deadLetters(w)).toBe(0);
  });

  it('rides out a Spruce 429 storm without losing or doubling anything', async () => {
    world = await startWorld({ patients: 6 });
    const w = world;
    const ids = w.sandbox.spry.patientIds(SANDBOX_SPRY_ORG);
    w.sandbox.spruce.faults.setRouteFaults([{ match: '* /v1/**', rateLimitBurst: 25, retryAfterSeconds: 2 }]);
    for (const id of ids) w.sandbox.spry.staff.editPatient(SANDBOX_SPRY_ORG, id, { last_name: `Storm-${id}` });
    await advanceUntil(w, () => agreesWithSpry(w, ids), { stepMs: 1_000, what: 'agreement after the storm' });
    await quiesce(w);
    const refused = w.sandbox.spruce.requestLog.filter((r) => r.status === 429).length;
    expect(refused).toBe(25);
    expect(await deadLetters(w)).toBe(0);
    for (const id of ids) expect(contactsOfPatient(w, id)).toHaveLength(1);
    expect(w.sandbox.spruce.violations).toEqual([]);
  });
});
