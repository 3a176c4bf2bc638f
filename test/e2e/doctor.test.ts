// `spruce-sync doctor` against the sandbox: healthy, every check is ok and the exit code is 0;
// then each assumption broken from the outside (config, the simulators' own APIs, a rewriting
// proxy), and the report names the assumption that broke. Nothing here edits a simulator.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { registerDoctorCommand } from '../../src/cli/doctor.ts';
import type { Config } from '../../src/config/schema.ts';
import { formatReport } from '../../src/doctor/format.ts';
import { runDoctor as runDoctorWithRetries } from '../../src/doctor/run-doctor.ts';
import type { CheckResult, DoctorReport } from '../../src/doctor/types.ts';
import { SANDBOX_TENANT_ID } from '../../src/sandbox/environment.ts';
import { runCommands } from './cli-support.ts';
import { DOCTOR_ADMIN_TOKEN, ourSpruceEndpointId, spruceApi, spryApi, startDoctorWorld } from './doctor-support.ts';
import { startRewritingProxy, type ProxiedAnswer, type Rewrite, type RewritingProxy } from './doctor-proxy.ts';
import { SANDBOX_SPRY_ORG, type World } from './support.ts';

const run = promisify(execFile);

describe('spruce-sync doctor', () => {
  let world: World;
  let dir: string;
  const proxies: RewritingProxy[] = [];

  beforeAll(async () => {
    world = await startDoctorWorld();
    dir = mkdtempSync(path.join(tmpdir(), 'doctor-'));
  });
  afterAll(async () => {
    await Promise.allSettled(proxies.map((p) => p.close()));
    await world?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** The world's config with the one tenant changed by `change`. */
  function configWith(change: (tenant: Config['tenants'][number]) => void = () => {}): Config {
    const config = structuredClone(world.config);
    change(config.tenants[0]!);
    return config;
  }

  function writeConfig(config: Config): string {
    const file = path.join(dir, `config-${Math.random().toString(36).slice(2)}.yaml`);
    writeFileSync(file, stringify(config));
    return file;
  }

  async function proxy(target: string, rewrite: Rewrite): Promise<string> {
    const started = await startRewritingProxy(target, rewrite);
    proxies.push(started);
    // The proxy passes paths on unchanged, so a base URL keeps its own path (Spruce's /v1).
    return `${started.url}${new URL(target).pathname.replace(/\/+$/, '')}`;
  }

  /** Each broken answer judged as it first came: no backoff sleeps in a test. */
  const runDoctor = (config: Config) => runDoctorWithRetries(config, { retry: { attempts: 1 } });

  const checks = (report: DoctorReport): CheckResult[] => report.tenants[0]!.checks;
  const find = (report: DoctorReport, id: string) => checks(report).find((c) => c.check === id);
  const failed = (report: DoctorReport) => checks(report).filter((c) => c.status === 'fail').map((c) => [c.check, c.assumption]);

  /** Names, birth dates, phones and emails of the sandbox's patients: none may appear in a report. */
  function phiOf(): string[] {
    const values: string[] = [];
    for (let id = 1; id <= 20; id++) {
      const patient = world.sandbox.spry.patient(SANDBOX_SPRY_ORG, SANDBOX_SPRY_ORG * 1_000_000 + id);
      if (!patient) continue;
      values.push(patient.first_name, patient.last_name, patient.date_of_birth, patient.mobile ?? '', patient.email_address ?? '');
    }
    return values.filter((v) => v.length >= 4);
  }

  function expectNoPhi(text: string): void {
    const phi = phiOf();
    expect(phi.length).toBeGreaterThan(20);
    for (const value of phi) expect(text).not.toContain(value);
  }

  /** Runs the command in this process; what it printed and the exit code it set. */
  async function cli(...args: string[]): Promise<{ out: string; err: string; code: number }> {
    const result = await runCommands([registerDoctorCommand], ['doctor', ...args]);
    return { ...result, code: result.code ?? 0 };
  }

  it('passes on a healthy sandbox: every check ok, exit code 0, and no PHI in the output', async () => {
    const file = writeConfig(world.config);
    const { stdout } = await run(process.execPath, ['bin/spruce-sync.js', 'doctor', '--config', file, '--tenant', SANDBOX_TENANT_ID], { cwd: process.cwd() });
    const lines = stdout.trim().split('\n');
    expect(lines[0]).toMatch(new RegExp(`^tenant ${SANDBOX_TENANT_ID}: nothing failed \\(\\d+ ok\\)$`));
    const checkLines = lines.slice(1);
    expect(checkLines.length).toBeGreaterThanOrEqual(14);
    for (const line of checkLines) expect(line).toMatch(/^ {2}ok {4}\S/);
    for (const id of ['spry.token', 'spry.patients.page', 'spry.patient', 'spry.cases', 'spry.appointments', 'spry.subscription', 'spruce.credentials', 'spruce.fields', 'spruce.tag', 'spruce.endpoint', 'spruce.deliveries', 'clock.spry', 'clock.spruce', 'budget.backfill']) {
      expect(stdout).toMatch(new RegExp(`^ {2}ok {4}${id.replace('.', '\\.')} `, 'm'));
    }
    expect(stdout).toMatch(/20 patients in 4 pages/);
    // This sandbox allows 600 Spruce calls a minute: 480 for backfill, 2 per new patient.
    expect(stdout).toMatch(/Spruce allows 600\/min \(~240 new patients\/min for backfill\)/);
    expectNoPhi(stdout);

    // Before `setup` the webhook secrets do not exist yet; the doctor needs none of them.
    const beforeSetup = writeConfig(
      configWith((t) => {
        t.spry.webhookSecrets = ['${DOCTOR_TEST_UNSET_SPRY_SECRET}'];
        t.spruce.webhookSecrets = ['${DOCTOR_TEST_UNSET_SPRUCE_SECRET}'];
      }),
    );
    const json = await cli('--config', beforeSetup, '--json');
    expect(json.code).toBe(0);
    const report = JSON.parse(json.out) as DoctorReport;
    expect(report.ok).toBe(true);
    expect(checks(report).every((c) => c.status === 'ok')).toBe(true);
  }, 30_000);

  it('names the Spry base URL when it has a wrong path prefix, and exits 1', async () => {
    const file = writeConfig(configWith((t) => (t.spry.baseUrl = `${world.sandbox.spryUrl}/emr`)));
    const result = await cli('--config', file);
    expect(result.code).toBe(1);
    expect(result.out).toMatch(/^tenant sandbox-pt: FAILED/);
    expect(result.out).toMatch(/^ {2}fail {2}spry\.token +POST \/apis\/v2\/oauth\/token answered HTTP 404.*\[spry\.base-url\] → check tenants\[\]\.spry\.baseUrl/m);
    expect(result.out).toMatch(/^ {2}skip {2}spry\.patients\.page +needs a Spry token/m);
    // Spruce is judged on its own.
    expect(result.out).toMatch(/^ {2}ok {4}spruce\.endpoint /m);
  });

  it('names the path when one read the sync makes answers like a gateway, not like Spry', async () => {
    const spryUrl = await proxy(world.sandbox.spryUrl, (req) =>
      /^\/apis\/v1\/patient\/\d+\/cases/.test(req.path) ? { status: 404, headers: { 'content-type': 'text/html' }, body: '<html><body>Not Found</body></html>' } : undefined,
    );
    const report = await runDoctor(configWith((t) => (t.spry.baseUrl = spryUrl)));
    expect(report.ok).toBe(false);
    expect(failed(report)).toEqual([['spry.cases', 'spry.path.cases']]);
    expect(find(report, 'spry.cases')!.message).toMatch(/GET \/apis\/v1\/patient\/\{patient_id\}\/cases answered HTTP 404 \(text\/html, not JSON\)/);
    expect(find(report, 'spry.patient')!.status).toBe('ok');
  });

  it('names the credentials when Spry or Spruce refuses them', async () => {
    const report = await runDoctor(
      configWith((t) => {
        t.spry.clientSecret = 'not-the-secret';
        t.spruce.secretKey = 'sk_not_the_key';
      }),
    );
    expect(failed(report)).toEqual([
      ['spry.token', 'spry.oauth'],
      ['spruce.credentials', 'spruce.auth'],
    ]);
    expect(find(report, 'spry.token')!.message).toMatch(/Spry refused the client credentials \(HTTP (400|401)/);
    expect(find(report, 'spruce.credentials')!.message).toMatch(/Spruce refused the credentials \(HTTP (401|403)/);
    expect(find(report, 'spruce.endpoint')!.status).toBe('skip');
  });

  it("names Spry's envelope when an answer comes without it", async () => {
    const spryUrl = await proxy(world.sandbox.spryUrl, (req, answer) => {
      if (req.method !== 'GET' || !/^\/apis\/v1\/patient\?/.test(req.path)) return undefined;
      const { data } = JSON.parse(answer.body) as { data: unknown };
      return { ...answer, body: JSON.stringify({ status: 'SUCCESS', result: data }) };
    });
    const report = await runDoctor(configWith((t) => (t.spry.baseUrl = spryUrl)));
    expect(failed(report)).toEqual([['spry.patients.page', 'spry.envelope']]);
    expect(find(report, 'spry.patients.page')!.message).toMatch(/without Spry's \{code, data\} envelope \(keys status, result\)/);
    expectNoPhi(formatReport(report));
  });

  it('names the record shape when a field we read is renamed, without printing its values', async () => {
    const spryUrl = await proxy(world.sandbox.spryUrl, (req, answer) => {
      if (req.method !== 'GET' || !/^\/apis\/v1\/patient\/\d+$/.test(req.path)) return undefined;
      const envelope = JSON.parse(answer.body) as { data: Record<string, unknown> };
      const { mobile, ...rest } = envelope.data;
      return { ...answer, body: JSON.stringify({ ...envelope, data: { ...rest, mobile_phone: mobile } }) };
    });
    const report = await runDoctor(configWith((t) => (t.spry.baseUrl = spryUrl)));
    expect(failed(report)).toEqual([['spry.patient', 'spry.shape.patient']]);
    expect(find(report, 'spry.patient')!.message).toMatch(/mobile: missing/);
    expectNoPhi(JSON.stringify(report));
  });

  it("names the clock when ours and the vendors' Date headers disagree", async () => {
    const shifted = (seconds: number) => (_req: unknown, answer: ProxiedAnswer) => ({
      ...answer,
      headers: { ...answer.headers, date: new Date(Date.now() + seconds * 1000).toUTCString() },
    });
    const spryUrl = await proxy(world.sandbox.spryUrl, shifted(-600));
    const spruceUrl = await proxy(world.sandbox.spruceUrl, shifted(45));
    const report = await runDoctor(
      configWith((t) => {
        t.spry.baseUrl = spryUrl;
        t.spruce.baseUrl = spruceUrl;
      }),
    );
    expect(failed(report)).toEqual([['clock.spry', 'clock.skew']]);
    expect(find(report, 'clock.spry')!.message).toMatch(/our clock is (599|600|601) s ahead of Spry's/);
    expect(find(report, 'clock.spruce')).toMatchObject({ status: 'warn', assumption: 'clock.skew' });
    expect(find(report, 'clock.spruce')!.message).toMatch(/our clock is (44|45|46) s behind Spruce's/);
  });

  it("names Spruce's delivery log and endpoint list when their shapes change", async () => {
    // One event in the log: a contact made by staff, delivered to the service.
    world.sandbox.spruce.staff.createContact({ givenName: 'Probe', familyName: 'Contact' });
    await world.sandbox.spruce.settle();
    expect(find(await runDoctor(world.config), 'spruce.deliveries')).toMatchObject({ status: 'ok', message: '1 event in the last 24 h, none failed' });

    const parsedLog = await proxy(world.sandbox.spruceUrl, (req, answer) => {
      if (!/\/webhooks\/endpoints\/[^/]+\/events/.test(req.path)) return undefined;
      const body = JSON.parse(answer.body) as { events: { data: string }[] };
      return { ...answer, body: JSON.stringify({ ...body, events: body.events.map((e) => ({ ...e, data: JSON.parse(e.data) as unknown })) }) };
    });
    const log = await runDoctor(configWith((t) => (t.spruce.baseUrl = parsedLog)));
    expect(failed(log)).toEqual([['spruce.deliveries', 'spruce.delivery-log']]);
    expect(find(log, 'spruce.deliveries')!.message).toMatch(/\[0\]\.data: expected text, got an object/);

    // Spruce gave up on the delivery (the documented 10 attempts): a warning, not a failure, since catch-up reads it from the log.
    const gaveUp = await proxy(world.sandbox.spruceUrl, (req, answer) => {
      if (!/\/webhooks\/endpoints\/[^/]+\/events/.test(req.path)) return undefined;
      const body = JSON.parse(answer.body) as { events: object[] };
      return { ...answer, body: JSON.stringify({ ...body, events: body.events.map((e) => ({ ...e, delivery: { status: 'failed', attempts: 10, attemptLimit: 10 } })) }) };
    });
    const failedDeliveries = await runDoctor(configWith((t) => (t.spruce.baseUrl = gaveUp)));
    expect(failedDeliveries.ok).toBe(true);
    expect(find(failedDeliveries, 'spruce.deliveries')).toMatchObject({
      status: 'warn',
      message: '1 event in the last 24 h: 1 failed, 0 being retried, 0 held while paused',
      assumption: 'spruce.delivery',
    });

    const renamedList = await proxy(world.sandbox.spruceUrl, (req, answer) => {
      if (!/\/webhooks\/endpoints(\?|$)/.test(req.path)) return undefined;
      const { endpoints } = JSON.parse(answer.body) as { endpoints: unknown[] };
      return { ...answer, body: JSON.stringify({ data: endpoints }) };
    });
    const list = await runDoctor(configWith((t) => (t.spruce.baseUrl = renamedList)));
    expect(failed(list)).toEqual([['spruce.endpoint', 'spruce.path.endpoints']]);
    expect(find(list, 'spruce.endpoint')!.message).toMatch(/our client refused the answer \(.*without endpoints; keys data\)/);
  });

  it('names the Spry subscription when it stops sending an event type we need', async () => {
    const [subscription] = (await spryApi(world, 'GET', '/api/v2/subscriptions')) as { id: string; event_types: string[] }[];
    const eventTypes = subscription!.event_types;
    await spryApi(world, 'PATCH', `/api/v2/subscriptions/${subscription!.id}`, { event_types: eventTypes.filter((t) => t !== 'case.updated') });
    try {
      const report = await runDoctor(world.config);
      expect(failed(report)).toEqual([['spry.subscription', 'setup.spry-subscription-events']]);
      expect(find(report, 'spry.subscription')!.message).toMatch(/does not send case\.updated$/);
    } finally {
      await spryApi(world, 'PATCH', `/api/v2/subscriptions/${subscription!.id}`, { event_types: eventTypes });
    }
    expect((await runDoctor(world.config)).ok).toBe(true);
  });

  it('answers on the admin API, declared in its OpenAPI', async () => {
    const base = `http://127.0.0.1:${world.config.server.port}/admin/api`;
    const headers = { authorization: `Bearer ${DOCTOR_ADMIN_TOKEN}` };
    const response = await fetch(`${base}/tenants/${SANDBOX_TENANT_ID}/doctor`, { method: 'POST', headers });
    expect(response.status).toBe(200);
    const report = (await response.json()) as { tenantId: string; ok: boolean; checks: CheckResult[] };
    expect(report.tenantId).toBe(SANDBOX_TENANT_ID);
    expect(report.ok).toBe(true);
    expect(report.checks.map((c) => c.check)).toContain('spruce.endpoint');
    expect(report.checks.every((c) => c.status === 'ok')).toBe(true);

    expect((await fetch(`${base}/tenants/nobody/doctor`, { method: 'POST', headers })).status).toBe(404);
    expect((await fetch(`${base}/tenants/${SANDBOX_TENANT_ID}/doctor`, { method: 'POST' })).status).toBe(401);
    const openapi = (await (await fetch(`${base}/openapi.json`, { headers })).json()) as { paths: Record<string, Record<string, unknown>> };
    expect(Object.keys(openapi.paths)).toContain('/admin/api/tenants/{tenantId}/doctor');
    expect(openapi.paths['/admin/api/tenants/{tenantId}/doctor']).toHaveProperty('post');
  });

  it('names our Spruce endpoint when it is paused, then when it is gone', async () => {
    const endpoint = await ourSpruceEndpointId(world);
    await spruceApi(world, 'POST', `/webhooks/endpoints/${endpoint}/paused?paused=true`);
    const paused = await runDoctor(world.config);
    expect(failed(paused)).toEqual([['spruce.endpoint', 'setup.spruce-endpoint-active']]);
    expect(find(paused, 'spruce.endpoint')!.message).toBe(`endpoint ${endpoint} is paused: Spruce delivers nothing to us`);

    await spruceApi(world, 'DELETE', `/webhooks/endpoints/${endpoint}`);
    const gone = await runDoctor(world.config);
    expect(failed(gone)).toEqual([['spruce.endpoint', 'setup.spruce-endpoint']]);
    expect(find(gone, 'spruce.endpoint')!.message).toMatch(/^no Spruce webhook endpoint delivers to http:\/\/127\.0\.0\.1:\d+\/webhooks\/spruce\/sandbox-pt \(0 endpoints/);
    expect(find(gone, 'spruce.deliveries')!.status).toBe('skip');
  });
});
