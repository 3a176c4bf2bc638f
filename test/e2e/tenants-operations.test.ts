// Tenants as data, as an operator lives with them (issue 15): a clinic added through the admin API
// is on the audit trail (admin API and `spruce-sync audit`), its alert fires with no restart when
// its vendor fails, and once removed and past the retention period its PHI and its fan-out rows
// (subscriptions with their signing secrets, messages, deliveries, attempts) are gone while its
// audit trail, the removal and the purge included, is kept. SQLite file, real HTTP, sandbox on a
// fake clock.
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { registerAuditCommand } from '../../src/cli/audit.ts';
import { runCommands } from './cli-support.ts';
import { startReceiver, type Receiver } from './fanout-support.ts';
import { admin, B, registerPatient, startTenantsWorld, step, stepUntil, synced, type TenantsWorld } from './tenants-support.ts';

let world: TenantsWorld | undefined;
const receivers: Receiver[] = [];
afterEach(async () => {
  await world?.close();
  world = undefined;
  for (const receiver of receivers.splice(0)) await receiver.close();
});

interface AuditRow {
  tenantId: string;
  system: string;
  recordType: string;
  recordId: string;
  action: string;
  detail?: Record<string, unknown>;
}

/** Rows of the clinic's in each table, read from the database file itself. */
function rowsOf(file: string, tenantId: string, tables: readonly string[]): Record<string, number> {
  const db = new Database(file, { readonly: true });
  try {
    return Object.fromEntries(tables.map((table) => [table, (db.prepare(`SELECT count(*) AS n FROM ${table} WHERE tenant_id = ?`).get(tenantId) as { n: number }).n]));
  } finally {
    db.close();
  }
}

const PHI_TABLES = ['events', 'jobs', 'job_attempts', 'links', 'ledger', 'state'] as const;
const FANOUT_TABLES = ['fanout_subscriptions', 'fanout_messages', 'fanout_deliveries', 'fanout_attempts'] as const;
const RETENTION_DAYS = 0.002; // 172.8 s of simulated time

describe('a clinic added at run time, operated: audited, alerted, purged', () => {
  it('audits the add, fires its alert without a restart, and purges its PHI and fan-out rows after removal, keeping its audit trail', { timeout: 120_000 }, async () => {
    world = await startTenantsWorld({ admin: { alertCheckSeconds: 5 }, retention: { payloadDays: RETENTION_DAYS, pruneEveryMinutes: 0.5 } });
    const w = world;
    const [service] = w.instances;
    const databaseFile = w.databaseUrl.slice('sqlite:'.length);
    const alertsReceiver = await startReceiver();
    const subscriber = await startReceiver();
    receivers.push(alertsReceiver, subscriber);

    // Added through the admin API, with alerts and a subscriber on loopback.
    const clinicB = { ...w.clinicB, alerts: { url: alertsReceiver.url, windowSeconds: 30, apiFailureRate: 0.5 }, fanout: { allowLoopback: true } };
    expect((await admin(service!, 'POST', '/tenants', clinicB)).status).toBe(201);
    await stepUntil(w, () => service!.tenants.tenants.has(B.tenantId), 'the service to run clinic B', 10_000);
    expect(service!.operator.alerts.watched).toContain(B.tenantId);

    // On the audit trail: the admin API's view and the CLI's, the actor named, no secret.
    const audited = (await admin(service!, 'GET', `/audit?tenantId=${B.tenantId}&system=spruce-sync`)).body.entries as AuditRow[];
    expect(audited.map((a) => [a.recordType, a.recordId, a.action, a.detail?.actor])).toEqual([['tenant', B.tenantId, 'add', 'admin-api']]);
    expect(JSON.stringify(audited)).not.toContain(B.secretKey);
    const configFile = path.join(w.dir, 'cli.yaml');
    await writeFile(configFile, stringify({ database: { url: w.databaseUrl }, log: { level: 'silent' } }));
    const cli = await runCommands([registerAuditCommand], ['audit', 'search', '-c', configFile, '--tenant', B.tenantId, '--system', 'spruce-sync']);
    expect(cli.code, cli.err).toBeUndefined();
    expect(cli.out).toMatch(/clinic-b\s+spruce-sync\s+tenant clinic-b\s+add\b.*"actor":"admin-api"/);

    // Its fan-out: a subscription, and the first patient's events delivered to it.
    const subscribed = await admin(service!, 'POST', `/tenants/${B.tenantId}/subscriptions`, { url: subscriber.url, eventTypes: ['*'] });
    expect(subscribed.status, JSON.stringify(subscribed.body)).toBe(201);
    const first = registerPatient(w, B, 1);
    await stepUntil(w, () => synced(w, B, first) && subscriber.firsts().length > 0, "clinic B's first patient synced and its events fanned out");

    // Its Spruce fails: api_failing fires for it, with no restart. (The first patient's good
    // calls leave the 30 s window first.)
    for (let i = 0; i < 8; i++) await step(w, 5_000);
    w.spruce.faults.setRouteFaults([{ match: '* /v1/**', errorRate: 1, errorStatus: 503 }]);
    registerPatient(w, B, 2);
    const firing = () => alertsReceiver.received.find((r) => (r.json as unknown as { alert?: string }).alert === 'api_failing');
    await stepUntil(w, () => firing() !== undefined, "clinic B's api_failing alert", 120_000);
    expect(firing()!.json).toMatchObject({ tenantId: B.tenantId, alert: 'api_failing', system: 'spruce', state: 'firing' });
    w.spruce.faults.clear();

    // Removed: no longer watched; its rows wait out the retention period.
    expect((await admin(service!, 'DELETE', `/tenants/${B.tenantId}`)).status).toBe(200);
    await stepUntil(w, () => !service!.tenants.tenants.has(B.tenantId), 'the service to stop clinic B', 10_000);
    expect(service!.operator.alerts.watched).not.toContain(B.tenantId);
    const before = rowsOf(databaseFile, B.tenantId, [...PHI_TABLES, ...FANOUT_TABLES]);
    for (const table of ['events', 'links', 'fanout_subscriptions', 'fanout_messages', 'fanout_deliveries']) expect(before[table], table).toBeGreaterThan(0);
    const removedAt = (await service!.store.getTenant(B.tenantId))!.removedAt!;

    // Past the retention period the leader's purge takes its PHI and its fan-out rows.
    const purged = async () => (await service!.store.getTenant(B.tenantId))!.purgedAt !== null;
    for (let waited = 0; !(await purged()); waited += 2_000) {
      if (waited > 400_000) throw new Error("clinic B's purge did not happen within 400 simulated seconds");
      await step(w, 2_000);
    }
    expect(w.clock.now() - removedAt).toBeGreaterThan(RETENTION_DAYS * 86_400_000);
    const after = rowsOf(databaseFile, B.tenantId, [...PHI_TABLES, ...FANOUT_TABLES]);
    expect(after).toEqual(Object.fromEntries([...PHI_TABLES, ...FANOUT_TABLES].map((table) => [table, 0])));

    // Its audit trail is kept: the sync's entries, the add, the removal and the purge.
    const trail = (await admin(service!, 'GET', `/audit?tenantId=${B.tenantId}&limit=500`)).body.entries as AuditRow[];
    expect(trail.some((a) => a.system === 'spruce' && a.recordType === 'contact')).toBe(true);
    const changes = trail.filter((a) => a.system === 'spruce-sync');
    expect(changes.map((a) => [a.action, a.detail?.actor])).toEqual([
      ['purge', 'retention'],
      ['remove', 'admin-api'],
      ['add', 'admin-api'],
    ]);
    // (A job in flight at the removal may still have added a row or two: the events cannot grow.)
    const deleted = changes[0]!.detail!.deleted as Record<string, number>;
    expect(deleted.events).toBe(before.events);
    for (const table of ['links', 'fanout_subscriptions', 'fanout_messages', 'fanout_deliveries']) expect(deleted[table], table).toBeGreaterThanOrEqual(before[table]!);
  });

  it('holds a disabled clinic’s fan-out deliveries until it is enabled, and stops a removed one’s', { timeout: 90_000 }, async () => {
    world = await startTenantsWorld();
    const w = world;
    const [service] = w.instances;
    const subscriber = await startReceiver();
    receivers.push(subscriber);
    expect((await admin(service!, 'POST', '/tenants', { ...w.clinicB, fanout: { allowLoopback: true } })).status).toBe(201);
    await stepUntil(w, () => service!.tenants.tenants.has(B.tenantId), 'the service to run clinic B', 10_000);
    const subscribed = await admin(service!, 'POST', `/tenants/${B.tenantId}/subscriptions`, { url: subscriber.url, eventTypes: ['spry.*'] });
    expect(subscribed.status, JSON.stringify(subscribed.body)).toBe(201);
    const subscriptionId = (subscribed.body.subscription as { id: string }).id;
    const pending = async () => (await service!.fanout.store.deliveryCounts(subscriptionId)).pending;

    expect((await admin(service!, 'POST', `/tenants/${B.tenantId}/disable`)).status).toBe(200);
    await step(w, 2_000); // the fan-out's next look at its subscriptions
    registerPatient(w, B, 1);
    await stepUntil(w, async () => (await pending()) > 0, "the disabled clinic's event taken into the fan-out");
    for (let i = 0; i < 10; i++) await step(w, 1_000);
    expect(subscriber.received).toEqual([]);
    expect(await pending()).toBeGreaterThan(0);

    expect((await admin(service!, 'POST', `/tenants/${B.tenantId}/enable`)).status).toBe(200);
    await stepUntil(w, async () => subscriber.firsts().length > 0 && (await pending()) === 0, 'the waiting deliveries sent once enabled');

    // Removed: what is still pending stays unsent (and is purged after the retention period).
    expect((await admin(service!, 'DELETE', `/tenants/${B.tenantId}`)).status).toBe(200);
    await step(w, 2_000);
    const received = subscriber.received.length;
    const [delivered] = await service!.fanout.store.listDeliveries({ subscriptionId, limit: 1 });
    expect(await service!.fanout.store.replayDelivery(delivered!.id, w.clock.now())).toBe(true);
    for (let i = 0; i < 5; i++) await step(w, 1_000);
    expect(subscriber.received.length).toBe(received);
    expect((await service!.fanout.store.getDelivery(delivered!.id))!.status).toBe('pending');
  });
});
