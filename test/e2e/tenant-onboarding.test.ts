// Hosting many clinics (issue 15), as an operator meets it on a running service with a clinic
// added through the admin API: every clinic's figures from one route (backlog, dead letters,
// oldest waiting job, budgets and breakers as the workers read them), filtered and paged; and the
// doctor for the added clinic, from the CLI (which finds it in the tenant directory) and from
// the admin API, with a did-you-mean refusal for an id that is not there.
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { registerBackfillCommand } from '../../src/cli/backfill.ts';
import { registerDoctorCommand } from '../../src/cli/doctor.ts';
import { registerSetupCommand } from '../../src/cli/setup.ts';
import type { DoctorReport } from '../../src/doctor/types.ts';
import type { TenantFigures, TenantFiguresPage } from '../../src/operations/tenant-figures.ts';
import { runCommands } from './cli-support.ts';
import { SETUP_KEYS } from '../../src/sync/setup.ts';
import { A, admin, ADMIN_TOKEN, B, registerPatient, startTenantsWorld, step, stepUntil, synced, type TenantsWorld } from './tenants-support.ts';

let world: TenantsWorld | undefined;
afterEach(async () => {
  await world?.close();
  world = undefined;
});

async function figures(w: TenantsWorld, query = ''): Promise<{ status: number; body: TenantFiguresPage & { error?: string; message?: string } }> {
  const answer = await admin(w.instances[0]!, 'GET', `/tenant-figures${query}`);
  return answer as unknown as { status: number; body: TenantFiguresPage & { error?: string; message?: string } };
}

describe('per-tenant figures (GET /admin/api/tenant-figures)', () => {
  it("gives every clinic's backlog, dead letters, oldest waiting job, budgets and breakers, filtered and paged", { timeout: 60_000 }, async () => {
    world = await startTenantsWorld();
    const w = world;
    expect((await admin(w.instances[0]!, 'POST', '/tenants', w.clinicB)).status).toBe(201);
    const patient = registerPatient(w, B, 1);
    await stepUntil(w, () => synced(w, B, patient), "clinic B's first patient in B's Spruce");

    const all = await figures(w);
    expect(all.status).toBe(200);
    expect(all.body).toMatchObject({ total: 2, needAttention: 0, matched: 2, offset: 0, limit: 50 });
    const byId = new Map<string, TenantFigures>(all.body.tenants.map((t) => [t.tenantId, t]));
    expect(byId.get(A.tenantId)).toMatchObject({ source: 'config', status: 'enabled', waitingJobs: 0, runningJobs: 0, deadJobs: 0, oldestWaitingAgeMs: null, attention: [] });
    const b = byId.get(B.tenantId)!;
    expect(b).toMatchObject({ source: 'api', status: 'enabled', paused: { all: false, directions: [] }, deadJobs: 0, attention: [] });
    // The limits the workers' claim gate reads, for a clinic added at run time too.
    expect(b.limits!.map((l) => l.limit).sort()).toEqual(['spruce_budget', 'spruce_circuit', 'spry_budget', 'spry_circuit']);
    expect(b.limits!.filter((l) => l.limit.endsWith('_circuit')).map((l) => l.circuit)).toEqual(['closed', 'closed']);
    // B's Spruce answered with its published budget (600 a minute in this world): used of limit in the window.
    const spruceBudget = b.limits!.find((l) => l.limit === 'spruce_budget')!;
    expect(spruceBudget.window).toMatchObject({ limit: 600 });
    expect(spruceBudget.window!.used + spruceBudget.window!.remaining).toBe(600);
    expect(spruceBudget.window!.used).toBeGreaterThan(0);

    // Paused and disabled clinics come first, with their reasons.
    expect((await admin(w.instances[0]!, 'POST', `/tenants/${B.tenantId}/disable`)).status).toBe(200);
    const held = await figures(w);
    expect(held.body.needAttention).toBe(1);
    expect(held.body.tenants.map((t) => [t.tenantId, t.status, t.attention])).toEqual([
      [B.tenantId, 'disabled', ['disabled']],
      [A.tenantId, 'enabled', []],
    ]);
    expect((await figures(w, '?attention=true')).body.tenants.map((t) => t.tenantId)).toEqual([B.tenantId]);
    expect((await figures(w, '?search=clinic-a')).body).toMatchObject({ matched: 1, tenants: [{ tenantId: A.tenantId }] });
    expect((await figures(w, '?limit=1&offset=1')).body).toMatchObject({ matched: 2, offset: 1, limit: 1, tenants: [{ tenantId: A.tenantId }] });

    // Bad input is a clear 400; no token, a 401.
    for (const query of ['?limit=0', '?limit=5000', '?offset=-1', '?colour=blue', '?attention=maybe']) {
      const bad = await figures(w, query);
      expect(bad.status, query).toBe(400);
      expect(bad.body.message, query).toEqual(expect.any(String));
    }
    expect((await fetch(`${w.instances[0]!.url}/admin/api/tenant-figures`)).status).toBe(401);
    // Described in the OpenAPI, response schema included.
    const paths = (await admin(w.instances[0]!, 'GET', '/openapi.json')).body.paths as Record<string, Record<string, { responses: Record<string, unknown> }>>;
    expect(paths['/admin/api/tenant-figures']!.get!.responses).toHaveProperty('200');
  });
});

describe('onboarding a clinic added through the admin API', () => {
  it('the doctor finds it in the tenant directory, from the CLI and the admin API; an unknown id gets a did-you-mean', { timeout: 60_000 }, async () => {
    world = await startTenantsWorld();
    const w = world;
    const [service] = w.instances;
    expect((await admin(service!, 'POST', '/tenants', w.clinicB)).status).toBe(201);
    const configFile = path.join(w.dir, 'cli.yaml');
    // The operator's config names the database only: clinic A is the service's, B the directory's.
    await writeFile(configFile, stringify({ database: { url: w.databaseUrl }, server: { publicUrl: service!.url }, log: { level: 'silent' } }));
    const doctor = (...args: string[]) => runCommands([registerDoctorCommand], ['doctor', '-c', configFile, ...args]);

    const checked = await doctor('--tenant', B.tenantId, '--json');
    expect(checked.err).toBe('');
    const report = JSON.parse(checked.out) as DoctorReport;
    expect(report.tenants.map((t) => t.tenantId)).toEqual([B.tenantId]);
    expect(report.tenants[0]!.checks.find((c) => c.check === 'spry.token')).toMatchObject({ status: 'ok' });
    expect(report.tenants[0]!.checks.find((c) => c.check === 'spruce.credentials')).toMatchObject({ status: 'ok' });
    expect(checked.code ?? 0).toBe(report.ok ? 0 : 1);
    // Secrets never printed.
    expect(checked.out).not.toContain(B.secretKey);

    // Every tenant: the directory's (A seeded from the service's config, B added), each once.
    const every = await doctor('--json');
    expect((JSON.parse(every.out) as DoctorReport).tenants.map((t) => t.tenantId).sort()).toEqual([A.tenantId, B.tenantId]);

    const typo = await doctor('--tenant', 'clinic-bb');
    expect(typo.code).toBe(1);
    expect(typo.err).toBe('no tenant clinic-bb in the config or the tenant directory (did you mean clinic-b?)');
    const unknown = await doctor('--tenant', 'somewhere-else');
    expect(unknown.err).toBe(`no tenant somewhere-else in the config or the tenant directory (tenants: ${A.tenantId}, ${B.tenantId})`);
    // setup and backfill refuse the same way.
    const backfill = await runCommands([registerBackfillCommand], ['backfill', '-c', configFile, '--tenant', 'clinic-bb', '--dry-run']);
    expect(backfill.err).toBe('no tenant clinic-bb in the config or the tenant directory (did you mean clinic-b?)');

    // The admin API's doctor (the dashboard's button) runs it for the added clinic as well.
    const response = await fetch(`${service!.url}/admin/api/tenants/${B.tenantId}/doctor`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: '{}',
    });
    expect(response.status).toBe(200);
    const viaApi = (await response.json()) as DoctorReport['tenants'][number];
    expect(viaApi.tenantId).toBe(B.tenantId);
    expect(viaApi.checks.find((c) => c.check === 'spry.token')).toMatchObject({ status: 'ok' });
    expect(viaApi.checks.find((c) => c.check === 'spruce.endpoint')).toMatchObject({ status: 'ok' });
  });

  it('setup puts the signing secrets it registers in place of the placeholders given at add', { timeout: 60_000 }, async () => {
    world = await startTenantsWorld();
    const w = world;
    const [service] = w.instances;
    // Added before any secret exists: placeholders.
    const placeholders = { ...w.clinicB, spry: { ...w.clinicB.spry, webhookSecrets: ['set-by-setup'] }, spruce: { ...(w.clinicB.spruce as object), webhookSecrets: ['set-by-setup'] } };
    expect((await admin(service!, 'POST', '/tenants', placeholders)).status).toBe(201);
    const configFile = path.join(w.dir, 'cli.yaml');
    await writeFile(configFile, stringify({ database: { url: w.databaseUrl }, log: { level: 'silent' } }));
    // A public URL nothing is registered at yet: setup creates both registrations.
    const publicUrl = 'http://127.0.0.1:9';
    const setup = () => runCommands([registerSetupCommand], ['setup', '-c', configFile, '--tenant', B.tenantId, '--public-url', publicUrl]);

    const first = await setup();
    expect(first.code ?? 0, first.err).toBe(0);
    expect(first.out).toContain('created');
    expect(first.out).toContain(`Tenant ${B.tenantId}'s webhook secrets in the tenant directory are now the ones Spry and Spruce sign with`);
    expect(first.out).not.toContain('tenants update');
    const spry = await service!.store.getSecret(B.tenantId, SETUP_KEYS.spryKey);
    const spruce = await service!.store.getSecret(B.tenantId, SETUP_KEYS.spruceSecret);
    expect(spry && spruce).toBeTruthy();
    // The service follows the directory: the placeholders are no longer accepted (no overlap).
    await stepUntil(w, () => service!.tenants.tenants.get(B.tenantId)!.spry.webhookSecrets[0] === spry, 'the service to take the new secrets', 10_000);
    expect(service!.tenants.tenants.get(B.tenantId)!.spry.webhookSecrets).toEqual([spry]);
    expect(service!.tenants.tenants.get(B.tenantId)!.spruce.webhookSecrets).toEqual([spruce]);
    // Secrets are never printed without --show-secrets.
    expect(first.out).not.toContain(spry!);

    // A second run finds everything in place and changes nothing.
    const updatedAt = (await service!.store.getTenant(B.tenantId))!.updatedAt;
    await step(w, 1_000);
    const again = await setup();
    expect(again.code ?? 0, again.err).toBe(0);
    expect(again.out).toContain('already registered');
    expect(again.out).not.toContain('webhook secrets in the tenant directory are now');
    expect((await service!.store.getTenant(B.tenantId))!.updatedAt).toBe(updatedAt);
  });
});
