// The fan-out end to end on PostgreSQL (the scale-out store): a healthy and a flaky endpoint
// get every Spry event and sync event once, in order per patient. Skipped, with one line, when
// no PostgreSQL is reachable.
import { afterAll, describe, expect, it } from 'vitest';
import { messageId } from '../../src/fanout/messages.ts';
import { SANDBOX_TENANT_ID } from '../../src/sandbox/environment.ts';
import { dropSchema, findPostgres, skipNotice, uniqueSchema } from '../support/postgres.ts';
import { startReceiver, verifyAll, type Receiver } from './fanout-support.ts';
import { contactsOfPatient, eventually, quiesce, SANDBOX_SPRY_ORG, startWorld, type World } from './support.ts';

const pgUrl = await findPostgres();
if (!pgUrl) console.warn(skipNotice('fan-out e2e'));
const schema = uniqueSchema('fanout_e2e');
let world: World | undefined;
const receivers: Receiver[] = [];

afterAll(async () => {
  await world?.close();
  await Promise.all(receivers.map((r) => r.close()));
  if (pgUrl) await dropSchema(pgUrl, schema);
});

describe.skipIf(!pgUrl)('event fan-out on PostgreSQL', () => {
  it('delivers every event once, in order per patient, to a healthy and a flaky endpoint', async () => {
    world = await startWorld({
      patients: 4,
      service: {
        databaseUrl: pgUrl!,
        config: {
          database: { url: pgUrl!, schema },
          fanout: { pollIntervalMs: 100, retrySchedule: ['100ms', '200ms'], circuit: { failureThreshold: 3, openMs: 200, maxOpenMs: 400 } },
        },
        tenant: { fanout: { allowLoopback: true } },
      },
    });
    expect(world.service.store.constructor.name).toBe('PostgresStore');
    expect(world.service.fanout.store.constructor.name).toBe('PostgresFanoutStore');
    const fine = await startReceiver();
    let flakyUntil = 0;
    const flaky = await startReceiver(() => {
      flakyUntil ||= Date.now() + 1_000;
      return Date.now() < flakyUntil ? { status: 502 } : { status: 200 };
    });
    receivers.push(fine, flaky);
    const admin = world.service.fanout.admin;
    const a = await admin.add(SANDBOX_TENANT_ID, { url: fine.url, eventTypes: ['spry.*', 'sync.*'] });
    const b = await admin.add(SANDBOX_TENANT_ID, { url: flaky.url, eventTypes: ['spry.*', 'sync.*'] });

    const patients = world.sandbox.spry.patientIds(SANDBOX_SPRY_ORG).slice(0, 2);
    for (let round = 1; round <= 3; round++) {
      for (const p of patients) world.sandbox.spry.staff.editPatient(SANDBOX_SPRY_ORG, p, { last_name: `Pg${round}` });
      await new Promise((resolve) => setTimeout(resolve, 150));
    }
    await eventually(() => patients.every((p) => contactsOfPatient(world!, p)[0]?.familyName === 'Pg3'), 20_000, 'synced');
    await quiesce(world);

    const events = await world.service.store.searchEvents({ tenantId: SANDBOX_TENANT_ID, source: 'spry', limit: 100 });
    const want = events.map((e) => messageId(e.tenantId, e.source, e.eventKey));
    await eventually(() => want.every((id) => fine.deliveredIds().has(id) && flaky.deliveredIds().has(id)), 20_000, 'spry events at both');
    await eventually(() => flaky.deliveredIds().size === fine.deliveredIds().size, 20_000, 'sync events at both');
    expect(flaky.deliveredIds()).toEqual(fine.deliveredIds());
    expect(fine.firsts().filter((x) => x.json.type === 'sync.contact.created')).toHaveLength(2);
    expect(verifyAll(fine, [a.secret])).toBe(fine.received.length);
    expect(verifyAll(flaky, [b.secret])).toBe(flaky.received.length);
    for (const [r, sub] of [[fine, a], [flaky, b]] as const) {
      const deliveries = (await world.service.fanout.store.listDeliveries({ subscriptionId: sub.subscription.id, limit: 500 })).sort((x, y) => x.id - y.id);
      const arrived = r.firsts().map((x) => x.id);
      for (const p of patients) {
        const ids = deliveries.filter((d) => d.orderKey === `patient:${p}`).map((d) => d.messageId);
        expect(arrived.filter((id) => ids.includes(id))).toEqual(ids);
      }
    }
  });
});
