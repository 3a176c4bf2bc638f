// Tenants as data (issue 15): a clinic added through the admin API of a running service syncs its
// first patient with no restart (SQLite; PostgreSQL with two instances, added through one, the
// webhook delivered to the other); disable / enable / remove; bad input refused whole.
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { registerBackfillCommand } from '../../src/cli/backfill.ts';
import { registerSetupCommand } from '../../src/cli/setup.ts';
import { registerTenantsCommand } from '../../src/cli/tenants.ts';
import { runCommands } from './cli-support.ts';
import { dropSchema, findPostgres, skipNotice, uniqueSchema } from '../support/postgres.ts';
import { A, admin, B, registerPatient, startTenantsWorld, step, stepUntil, synced, type TenantsWorld } from './tenants-support.ts';

let world: TenantsWorld | undefined;
afterEach(async () => {
  await world?.close();
  world = undefined;
});

describe('tenants as data on SQLite', () => {
  it('adds a clinic through the admin API; its first patient syncs with no restart', { timeout: 60_000 }, async () => {
    world = await startTenantsWorld();
    const w = world;
    const [service] = w.instances;

    const added = await admin(service!, 'POST', '/tenants', w.clinicB);
    expect(added.status).toBe(201);
    // A webhook right after the 201 is accepted on its first attempt. (On SQLite the reload wins
    // this race even without waiting for it; the unit test in src/tenants/tenant-admin.test.ts
    // is what fails if the 201 stops waiting for the instance to load the change.)
    const attemptsBefore = w.spry.dispatcher.attempts.length;
    const patient = registerPatient(w, B, 1);
    await w.spry.settle();
    const firstAttempts = w.spry.dispatcher.attempts.slice(attemptsBefore).filter((a) => a.attempt === 1);
    expect(firstAttempts.length).toBeGreaterThan(0);
    expect(firstAttempts.map((a) => a.status)).toEqual(firstAttempts.map(() => 200));
    expect(added.body.warnings).toEqual([]);
    const tenant = added.body.tenant as { id: string; source: string; status: string; definition: { spry: Record<string, unknown>; spruce: Record<string, unknown> } };
    expect(tenant).toMatchObject({ id: B.tenantId, source: 'api', status: 'enabled' });
    // Secrets are never shown again.
    expect(tenant.definition.spry.clientSecret).toBe('***');
    expect(tenant.definition.spruce.secretKey).toBe('***');
    expect(tenant.definition.spry.webhookSecrets).toMatchObject({ set: true, count: 1 });
    const shown = JSON.stringify((await admin(service!, 'GET', `/tenants/${B.tenantId}`)).body);
    for (const secret of [w.clinicB.spry.webhookSecrets[0]!, B.secretKey]) expect(shown).not.toContain(secret);
    const listed = (await admin(service!, 'GET', '/tenants')).body.tenants as { tenantId: string; source: string }[];
    expect(listed.map((t) => [t.tenantId, t.source])).toEqual([
      [A.tenantId, 'config'],
      [B.tenantId, 'api'],
    ]);

    await stepUntil(w, () => synced(w, B, patient), "clinic B's first patient in B's Spruce");
    expect(synced(w, A, patient)).toBe(false);
  });

  it('disabled: webhooks stored, nothing sent until enabled; removed: webhooks 404', { timeout: 60_000 }, async () => {
    world = await startTenantsWorld();
    const w = world;
    const [service] = w.instances;
    expect((await admin(service!, 'POST', '/tenants', w.clinicB)).status).toBe(201);

    expect((await admin(service!, 'POST', `/tenants/${B.tenantId}/disable`)).body.tenant).toMatchObject({ status: 'disabled' });
    const spruceCalls = () => w.spruce.requestLog.filter((r) => r.organizationId === B.spruceOrg).length;
    const callsBefore = spruceCalls(); // the webhook registration's
    const patient = registerPatient(w, B, 2);
    await stepUntil(w, async () => (await service!.store.searchEvents({ tenantId: B.tenantId, limit: 5 })).length > 0, "the disabled clinic's webhook stored");
    for (let i = 0; i < 20; i++) await step(w, 500);
    expect(synced(w, B, patient)).toBe(false);
    expect(spruceCalls(), 'no call to the disabled clinic’s Spruce').toBe(callsBefore);

    expect((await admin(service!, 'POST', `/tenants/${B.tenantId}/enable`)).body.tenant).toMatchObject({ status: 'enabled' });
    await stepUntil(w, () => synced(w, B, patient), 'the waiting patient synced once enabled');

    const metrics = async () => (await fetch(`${service!.url}/metrics`)).text();
    const seriesOfB = `spruce_sync_api_calls_total{tenant="${B.tenantId}"`;
    expect(await metrics()).toContain(seriesOfB);
    const removed = await admin(service!, 'DELETE', `/tenants/${B.tenantId}`);
    expect(removed.status).toBe(200);
    expect((removed.body.tenant as { removedAt: number | null }).removedAt).not.toBeNull();
    // Its series leave /metrics with it; the other clinic's stay.
    await stepUntil(w, async () => !(await metrics()).includes(`tenant="${B.tenantId}"`), "the removed clinic's series gone from /metrics");
    expect(await metrics()).toContain(`spruce_sync_paused{tenant="${A.tenantId}"`);
    const webhook = await fetch(`${service!.url}/webhooks/spry/${B.tenantId}`, { method: 'POST', body: '{}' });
    expect(webhook.status).toBe(404);
    expect((await admin(service!, 'GET', `/tenants/${B.tenantId}`)).status).toBe(404);
    // The audit trail stays; its id is not reused.
    expect((await service!.store.searchAudit({ tenantId: B.tenantId, limit: 5 })).length).toBeGreaterThan(0);
    expect((await admin(service!, 'POST', '/tenants', w.clinicB)).status).toBe(409);
  });

  it('refuses bad input whole, and a config tenant cannot be changed through the API', { timeout: 60_000 }, async () => {
    world = await startTenantsWorld();
    const w = world;
    const [service] = w.instances;
    const bad = [
      { ...w.clinicB, colour: 'blue' },
      { ...w.clinicB, id: 'Clinic_B' },
      { ...w.clinicB, spry: { ...w.clinicB.spry, chartUrl: 'https://spry.example/no-placeholder' } },
    ];
    for (const body of bad) {
      const answer = await admin(service!, 'POST', '/tenants', body);
      expect(answer.status, JSON.stringify(answer.body)).toBe(400);
      expect(answer.body.message).toEqual(expect.any(String));
    }
    expect((await admin(service!, 'POST', '/tenants', { ...w.clinicB, id: A.tenantId })).body).toMatchObject({ error: 'tenant_exists' });
    expect((await admin(service!, 'PATCH', `/tenants/${A.tenantId}`, { sync: { tag: 'X' } })).body).toMatchObject({ error: 'config_tenant' });
    expect((await admin(service!, 'DELETE', `/tenants/${A.tenantId}`)).status).toBe(409);
    expect((await admin(service!, 'PATCH', `/tenants/${B.tenantId}`, { sync: { tag: 'X' } })).status).toBe(404);
    // The routes are described in the admin OpenAPI.
    const paths = (await admin(service!, 'GET', '/openapi.json')).body.paths as Record<string, Record<string, unknown>>;
    expect(Object.keys(paths['/admin/api/tenants']!)).toEqual(expect.arrayContaining(['get', 'post']));
    expect(Object.keys(paths['/admin/api/tenants/{tenantId}']!)).toEqual(expect.arrayContaining(['get', 'patch', 'delete']));
    expect(paths['/admin/api/tenants/{tenantId}/disable']).toHaveProperty('post');
    // Nothing was half-created.
    expect(((await admin(service!, 'GET', '/tenants')).body.tenants as unknown[]).length).toBe(1);
    expect(await service!.store.listTenants()).toHaveLength(1);

    // A vendor that does not answer from here is a warning, not a refusal.
    const unreachable = { ...w.clinicB, spruce: { ...(w.clinicB.spruce as object), baseUrl: 'http://127.0.0.1:9' } };
    const added = await admin(service!, 'POST', '/tenants', unreachable);
    expect(added.status).toBe(201);
    expect(added.body.warnings).toEqual([expect.stringContaining('spruce.baseUrl')]);
  });

  it('rotating a webhook secret keeps the old one valid for the overlap', { timeout: 60_000 }, async () => {
    world = await startTenantsWorld();
    const w = world;
    const [service] = w.instances;
    expect((await admin(service!, 'POST', '/tenants', w.clinicB)).status).toBe(201);
    const old = w.clinicB.spry.webhookSecrets[0]!;
    const patched = await admin(service!, 'PATCH', `/tenants/${B.tenantId}?overlapMinutes=10`, { spry: { webhookSecrets: ['a-brand-new-secret'] } });
    expect(patched.status).toBe(200);
    expect((patched.body.tenant as { definition: { spry: { webhookSecrets: unknown } } }).definition.spry.webhookSecrets).toMatchObject({ set: true, count: 1, previousValidUntil: expect.any(String) });
    expect(service!.tenants.tenants.get(B.tenantId)!.spry.webhookSecrets).toEqual(['a-brand-new-secret', old]);
    // The simulator still signs with the old secret: B's patient syncs within the overlap.
    const patient = registerPatient(w, B, 3);
    await stepUntil(w, () => synced(w, B, patient), 'a delivery signed with the old secret accepted');
    // After the overlap only the new secret is accepted.
    await w.clock.advance(11 * 60_000);
    await stepUntil(w, () => service!.tenants.tenants.get(B.tenantId)!.spry.webhookSecrets.length === 1, 'the overlap to end');
    expect(service!.tenants.tenants.get(B.tenantId)!.spry.webhookSecrets).toEqual(['a-brand-new-secret']);
  });
});

describe('spruce-sync tenants (CLI)', () => {
  it('adds a clinic from a YAML file to a running service, which syncs its first patient; list, disable, show', { timeout: 60_000 }, async () => {
    world = await startTenantsWorld();
    const w = world;
    const [service] = w.instances;
    const configFile = path.join(w.dir, 'cli.yaml');
    await writeFile(configFile, stringify({ database: { url: w.databaseUrl }, log: { level: 'silent' } }));
    const { id, ...rest } = w.clinicB;
    const tenantFile = path.join(w.dir, 'clinic-b.yaml');
    await writeFile(tenantFile, stringify(rest));
    const cli = (...args: string[]) => runCommands([registerTenantsCommand], ['tenants', ...args, '-c', configFile]);

    const added = await cli('add', '--file', tenantFile, '--id', String(id), '--json');
    expect(added.code, added.err).toBeUndefined();
    expect(JSON.parse(added.out)).toMatchObject({ tenant: { id: B.tenantId, source: 'api', status: 'enabled' } });
    expect(added.out).not.toContain(w.clinicB.spry.webhookSecrets[0]!);
    // The service follows the directory: no restart.
    await stepUntil(w, () => service!.tenants.tenants.has(B.tenantId), 'the service to run clinic B', 10_000);
    const patient = registerPatient(w, B, 1);
    await stepUntil(w, () => synced(w, B, patient), "clinic B's first patient in B's Spruce");

    // Onboarding goes on from the CLI: a backfill dry run finds the tenant in the directory.
    const dryRun = await runCommands([registerBackfillCommand], ['backfill', '-c', configFile, '--tenant', B.tenantId, '--dry-run', '--json']);
    expect(dryRun.code ?? 0, dryRun.err).toBe(0);
    expect(dryRun.out).toContain('"dryRun": true');

    // setup finds it too, and says how the service gets the secrets it registers.
    const setup = await runCommands([registerSetupCommand], ['setup', '-c', configFile, '--tenant', B.tenantId, '--public-url', service!.url]);
    expect(setup.code ?? 0, setup.err).toBe(0);
    expect(setup.out).toContain(`already registered`);
    expect(setup.out).toContain(`spruce-sync tenants update ${B.tenantId}`);

    const listed = await cli('list');
    expect(listed.out).toMatch(/clinic-a\s+config\s+enabled/);
    expect(listed.out).toMatch(/clinic-b\s+api\s+enabled/);
    expect((await cli('disable', B.tenantId)).code).toBeUndefined();
    await stepUntil(w, () => !service!.tenants.claimable(B.tenantId), 'the service to hold clinic B back', 10_000);
    expect(JSON.parse((await cli('show', B.tenantId, '--json')).out)).toMatchObject({ tenant: { status: 'disabled' } });

    const refused = await cli('update', A.tenantId, '--spry-chart-url', 'https://x.example/{patientId}');
    expect(refused.code).toBe(1);
    expect(refused.err).toContain('config file');
    const bad = await cli('add', '--file', tenantFile, '--id', 'Not_Valid');
    expect(bad.code).toBe(1);
    expect(bad.err).toContain('id');
  });
});

const pgUrl = await findPostgres();
if (!pgUrl) console.warn(skipNotice('tenants as data on PostgreSQL'));

describe.skipIf(!pgUrl)('tenants as data on PostgreSQL, two instances', () => {
  it('a clinic added through instance 1 syncs its first patient from a webhook delivered to instance 2', { timeout: 90_000 }, async () => {
    const schema = uniqueSchema('tenants_e2e');
    try {
      world = await startTenantsWorld({ instances: 2, databaseUrl: pgUrl!, schema });
      const w = world;
      const [first, second] = w.instances;
      expect(second!.tenants.tenants.has(B.tenantId)).toBe(false);
      expect((await admin(first!, 'POST', '/tenants', w.clinicB)).status).toBe(201);
      // Instance 2 notices at its next poll of the directory.
      await stepUntil(w, () => second!.tenants.tenants.has(B.tenantId), 'instance 2 to run clinic B', 10_000);
      const patient = registerPatient(w, B, 1);
      await stepUntil(w, () => synced(w, B, patient), "clinic B's first patient in B's Spruce");
      const events = await second!.store.searchEvents({ tenantId: B.tenantId, limit: 5 });
      expect(events.length).toBeGreaterThan(0);
      // And back: removed through instance 2, instance 1 refuses B's webhooks within a poll.
      expect((await admin(second!, 'DELETE', `/tenants/${B.tenantId}`)).status).toBe(200);
      await stepUntil(w, () => !first!.tenants.tenants.has(B.tenantId), 'instance 1 to stop clinic B', 10_000);
      expect((await fetch(`${first!.url}/webhooks/spry/${B.tenantId}`, { method: 'POST', body: '{}' })).status).toBe(404);
    } finally {
      await world?.close();
      world = undefined;
      await dropSchema(pgUrl!, schema);
    }
  });
});
