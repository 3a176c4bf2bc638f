// The Spry simulator checked against ../shared/docs/spry-api.md (and the [assumed] contracts in
// docs/sandbox-spry.md), over real HTTP. Signatures are verified here by hand with node:crypto,
// independently of the simulator's own signing code.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ControlledClock } from '../../src/clock.ts';
import { createSprySimulator, type SprySimulator } from '../../src/sandbox/spry/index.ts';

const START = Date.UTC(2026, 5, 11, 14, 0, 0);
const HOUR = 3_600_000;

// ---------------------------------------------------------------- helpers

interface Res {
  status: number;
  headers: Headers;
  /** The raw answer (the body is its JSON, or undefined when it is not JSON). */
  text: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  body: any;
}

async function call(
  base: string,
  method: string,
  path: string,
  options: { token?: string; json?: unknown; form?: Record<string, string>; headers?: Record<string, string> } = {},
): Promise<Res> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  let body: string | undefined;
  if (options.json !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(options.json);
  } else if (options.form) {
    headers['content-type'] = 'application/x-www-form-urlencoded';
    body = new URLSearchParams(options.form).toString();
  }
  const res = await fetch(`${base}${path}`, { method, headers, body });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, body: res.headers.get('content-type')?.includes('json') && text ? JSON.parse(text) : undefined };
}

async function tokenOf(sim: SprySimulator, organisationId?: number, scope = 'read write'): Promise<string> {
  const creds = sim.credentials().find((c) => organisationId === undefined || c.organisationId === organisationId)!;
  const res = await call(sim.url, 'POST', '/apis/v2/oauth/token', {
    form: { grant_type: 'client_credentials', client_id: creds.clientId, client_secret: creds.clientSecret, scope },
  });
  expect(res.status).toBe(200);
  return res.body.data.access_token;
}

interface Hit {
  at: number;
  headers: IncomingHttpHeaders;
  raw: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  json: any;
}

interface Receiver {
  url: string;
  hits: Hit[];
  /** What to answer; may wait (on the simulator's clock) before answering. */
  respond: (hit: Hit) => Promise<number> | number;
  close(): Promise<void>;
}

async function startReceiver(clock: { now(): number }): Promise<Receiver> {
  const receiver: Receiver = {
    url: '',
    hits: [],
    respond: () => 200,
    close: async () => {},
  };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      const hit: Hit = { at: clock.now(), headers: req.headers, raw, json: JSON.parse(raw) };
      receiver.hits.push(hit);
      void Promise.resolve(receiver.respond(hit)).then((status) => {
        if (!res.destroyed) {
          res.statusCode = status;
          res.end();
        }
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  receiver.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/webhooks/spry`;
  receiver.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return receiver;
}

/** What a receiver does, written from the doc: parse t and every v1, HMAC-SHA256 over `t.body`. */
function verifySpryrSignature(header: string | undefined, rawBody: string, keys: string[], nowSeconds: number): boolean {
  if (!header) return false;
  let t: number | undefined;
  const v1: string[] = [];
  for (const part of header.split(',')) {
    const eq = part.indexOf('=');
    const name = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    if (name === 't') t = Number(value);
    if (name === 'v1') v1.push(value);
  }
  if (t === undefined || !Number.isInteger(t) || Math.abs(nowSeconds - t) > 300) return false;
  return keys.some((key) => {
    const expected = createHmac('sha256', Buffer.from(key, 'utf8')).update(`${t}.${rawBody}`, 'utf8').digest();
    return v1.some((sig) => /^[0-9a-f]{64}$/.test(sig) && timingSafeEqual(Buffer.from(sig, 'hex'), expected));
  });
}

async function subscribe(
  sim: SprySimulator,
  token: string,
  url: string,
  event_types = ['patient.created', 'patient.updated', 'appointment.created', 'appointment.updated', 'appointment.cancelled', 'case.created', 'case.updated'],
): Promise<{ id: string; signature_key: string }> {
  const res = await call(sim.url, 'POST', '/api/v2/subscriptions', {
    token,
    json: { name: 'spruce-sync', event_types, notification_url: url, api_version: '2026-06-11' },
  });
  expect(res.body.code).toBe(2000);
  return res.body.data;
}

const firstId = (sim: SprySimulator) => sim.organisations()[0]!.firstPatientId;

// ---------------------------------------------------------------- OAuth and the envelope

describe('Spry simulator: OAuth and the response envelope', () => {
  let sim: SprySimulator;
  let clock: ControlledClock;

  beforeAll(async () => {
    clock = new ControlledClock({ start: START });
    sim = await createSprySimulator({ clock, seed: 3 });
    await sim.listen();
  });
  afterAll(() => sim.close());

  it('issues a token for form-encoded client credentials with the documented fields', async () => {
    const creds = sim.credentials()[0]!;
    expect(creds.organisationId).toBe(74);
    const res = await call(sim.url, 'POST', '/apis/v2/oauth/token', {
      form: { grant_type: 'client_credentials', client_id: creds.clientId, client_secret: creds.clientSecret, scope: 'read write' },
    });
    expect(res.status).toBe(200);
    expect(res.body.code).toBe(2000);
    expect(res.body.message).toBe('Success');
    const data = res.body.data;
    expect(data.access_token.split('.')).toHaveLength(3);
    expect(JSON.parse(Buffer.from(data.access_token.split('.')[0], 'base64url').toString())).toMatchObject({ typ: 'JWT' });
    expect(data).toMatchObject({ token_type: 'Bearer', expires_in: 3600, scope: 'read write', organisation_id: 74 });
    expect(typeof data.user_id).toBe('number');
    expect(Array.isArray(data.roles)).toBe(true);
    expect(data.clinic_id_list).toEqual(sim.organisations()[0]!.clinics.map((c) => c.clinic_id));
    expect(typeof data.name).toBe('string');
    expect(data.refresh_token).toBeUndefined();
  });

  it('accepts JSON credentials too', async () => {
    const creds = sim.credentials()[0]!;
    const res = await call(sim.url, 'POST', '/apis/v2/oauth/token', {
      json: { grant_type: 'client_credentials', client_id: creds.clientId, client_secret: creds.clientSecret },
    });
    expect(res.body.code).toBe(2000);
  });

  it('refuses a wrong client secret with 401 and an envelope error', async () => {
    const creds = sim.credentials()[0]!;
    const res = await call(sim.url, 'POST', '/apis/v2/oauth/token', {
      form: { grant_type: 'client_credentials', client_id: creds.clientId, client_secret: 'wrong' },
    });
    expect(res.status).toBe(401);
    expect(res.body.code).not.toBe(2000);
    expect(typeof res.body.message).toBe('string');
    expect(res.body.data).toBeUndefined();
  });

  it('answers 401 envelopes for a missing, unknown or expired token; expiry follows the clock', async () => {
    const missing = await call(sim.url, 'GET', '/apis/v1/patient');
    expect(missing.status).toBe(401);
    expect(missing.body.code).not.toBe(2000);
    const unknown = await call(sim.url, 'GET', '/apis/v1/patient', { token: 'eyJhbGciOiJIUzI1NiJ9.e30.bm9wZQ' });
    expect(unknown.status).toBe(401);
    expect(unknown.body.code).not.toBe(2000);

    const token = await tokenOf(sim);
    await clock.advance(3600_000 - 5_000);
    expect((await call(sim.url, 'GET', '/apis/v1/patient', { token })).body.code).toBe(2000);
    await clock.advance(5_000);
    const expired = await call(sim.url, 'GET', '/apis/v1/patient', { token });
    expect(expired.status).toBe(401);
    expect(expired.body).toMatchObject({ code: 4010, message: 'Access token expired' });
  });

  it('wraps every answer in {code, data, message}', async () => {
    const token = await tokenOf(sim);
    const patientId = firstId(sim);
    const cases = sim.cases(74, patientId);
    const appointments = sim.appointments(74, patientId);
    const paths = [
      `/apis/v1/patient/${patientId}`,
      '/apis/v1/patient?page=1&size=5',
      `/apis/v1/patient/${patientId}/cases`,
      `/apis/v1/appointment?patient_id=${patientId}`,
      '/api/v2/subscriptions',
    ];
    if (cases[0]) paths.push(`/apis/soap-enrichment/v1/patientCase/${cases[0].spry_case_id}`);
    if (appointments[0]) paths.push(`/apis/v1/appointment/${appointments[0].appointment_id}`);
    for (const path of paths) {
      const res = await call(sim.url, 'GET', path, { token });
      expect(res.status, path).toBe(200);
      expect(Object.keys(res.body).sort(), path).toEqual(['code', 'data', 'message']);
      expect(res.body.code).toBe(2000);
      expect(res.body.message).toBe('Success');
    }
  });

  it('answers validation errors with HTTP 200 and a non-2000 code (bad sex, malformed date)', async () => {
    const token = await tokenOf(sim);
    const path = `/apis/v1/patient/${firstId(sim)}`;
    const before = sim.patient(74, firstId(sim));
    for (const json of [{ sex: 'M' }, { date_of_birth: '1990-02-30' }, { date_of_birth: '12/01/1990' }, { mobile: '555-1234' }]) {
      const res = await call(sim.url, 'PATCH', path, { token, json });
      expect(res.status).toBe(200);
      expect(res.body.code).toBe(4001);
      expect(res.body.message).toMatch(/sex|date_of_birth|mobile/);
      expect(res.body.data).toBeUndefined();
    }
    expect(sim.patient(74, firstId(sim))).toEqual(before);
  });

  it('expires every token on demand (control action), answered as an expired token; a new token works', async () => {
    const token = await tokenOf(sim);
    expect((await call(sim.url, 'GET', '/apis/v1/patient', { token })).body.code).toBe(2000);
    expect((await call(sim.url, 'POST', '/_sandbox/oauth/expire-tokens')).body).toEqual({ expired: true });
    const expired = await call(sim.url, 'GET', '/apis/v1/patient', { token });
    expect([expired.status, expired.body]).toEqual([401, { code: 4010, message: 'Access token expired' }]);
    expect(expired.headers.get('www-authenticate')).toBe('Bearer error="invalid_token", error_description="Access token expired"');
    expect((await call(sim.url, 'GET', '/apis/v1/patient', { token: await tokenOf(sim) })).body.code).toBe(2000);
  });

  it('answers a path the API does not have from the gateway: 404 HTML, no envelope, whatever the token', async () => {
    const token = await tokenOf(sim);
    for (const path of ['/apis/v1/patients/1', '/apis/v2/patient/1', `/apis/v1/patient/${firstId(sim)}/notes`]) {
      const res = await call(sim.url, 'GET', path, { token });
      expect(res.status, path).toBe(404);
      expect(res.headers.get('content-type')).toMatch(/^text\/html/);
      expect(res.body).toBeUndefined();
      expect(res.text).toContain('404 Not Found');
    }
    expect((await call(sim.url, 'GET', '/apis/v1/nothing')).status).toBe(404); // before auth, as a gateway
    // A record that does not exist is Spry's own answer: 404 with the envelope.
    const missing = await call(sim.url, 'GET', '/apis/v1/patient/999999999', { token });
    expect([missing.status, missing.headers.get('content-type'), missing.body.code]).toEqual([404, 'application/json; charset=utf-8', 4004]);
  });

  it('answers an unknown patient, appointment or case with HTTP 404 and code 4004', async () => {
    const token = await tokenOf(sim);
    const patient = await call(sim.url, 'GET', '/apis/v1/patient/999999999', { token });
    expect(patient.status).toBe(404);
    expect(patient.body).toEqual({ code: 4004, message: 'Patient not found' });
    const patch = await call(sim.url, 'PATCH', '/apis/v1/patient/999999999', { token, json: { first_name: 'X' } });
    expect(patch.status).toBe(404);
    expect(patch.body.code).toBe(4004);
    const appointment = await call(sim.url, 'GET', '/apis/v1/appointment/123', { token });
    expect([appointment.status, appointment.body.code]).toEqual([404, 4004]);
    const kase = await call(sim.url, 'GET', '/apis/soap-enrichment/v1/patientCase/SPRY_CASE_deadbeef', { token });
    expect([kase.status, kase.body.code]).toEqual([404, 4004]);
  });

  it('needs the write scope to change anything', async () => {
    const readOnly = await tokenOf(sim, 74, 'read');
    expect((await call(sim.url, 'GET', `/apis/v1/patient/${firstId(sim)}`, { token: readOnly })).status).toBe(200);
    const res = await call(sim.url, 'PATCH', `/apis/v1/patient/${firstId(sim)}`, { token: readOnly, json: { first_name: 'Al' } });
    expect(res.status).toBe(403);
    expect(res.body.code).not.toBe(2000);
  });

  it('logs every API request with its route template, status, organisation and envelope code', async () => {
    const token = await tokenOf(sim);
    sim.requestLog.length = 0;
    await call(sim.url, 'GET', `/apis/v1/patient/${firstId(sim)}`, { token });
    await call(sim.url, 'GET', `/apis/v1/patient/${firstId(sim) + 1}`, { token });
    await call(sim.url, 'GET', '/apis/v1/patient/999999999', { token });
    await call(sim.url, 'GET', '/_sandbox/state');
    expect(sim.requestLog.map(({ route, status, organisationId, code }) => ({ route, status, organisationId, code }))).toEqual([
      { route: 'GET /apis/v1/patient/:id', status: 200, organisationId: 74, code: 2000 },
      { route: 'GET /apis/v1/patient/:id', status: 200, organisationId: 74, code: 2000 },
      { route: 'GET /apis/v1/patient/:id', status: 404, organisationId: 74, code: 4004 },
    ]);
  });
});

// ---------------------------------------------------------------- records

describe('Spry simulator: patients, appointments, cases, communications', () => {
  let sim: SprySimulator;
  let clock: ControlledClock;
  let token: string;

  beforeAll(async () => {
    clock = new ControlledClock({ start: START });
    sim = await createSprySimulator({
      clock,
      seed: 5,
      organisations: [
        { organisationId: 74, clientId: 'a', clientSecret: 'sa', patients: 10_000 },
        { organisationId: 75, clientId: 'b', clientSecret: 'sb', patients: 30 },
      ],
    });
    await sim.listen();
    token = await tokenOf(sim, 74);
  });
  afterAll(() => sim.close());

  it('pages through 10,000 patients exactly once, in patient_id order', async () => {
    const seen: number[] = [];
    let pages = 0;
    for (let page = 1; ; page++) {
      const res = await call(sim.url, 'GET', `/apis/v1/patient?page=${page}&size=333`, { token });
      const data = res.body.data;
      expect(data).toMatchObject({ total: 10_000, pages: 31, current: page, is_paged: true });
      expect(data.no_of_records).toBe(data.content.length);
      seen.push(...data.content.map((p: { patient_id: number }) => p.patient_id));
      pages++;
      if (page >= data.pages) break;
    }
    expect(pages).toBe(31);
    expect(seen).toHaveLength(10_000);
    expect(new Set(seen).size).toBe(10_000);
    expect(seen).toEqual([...seen].sort((a, b) => a - b));
    const beyond = await call(sim.url, 'GET', '/apis/v1/patient?page=32&size=333', { token });
    expect(beyond.body.data).toMatchObject({ current: 32, no_of_records: 0, content: [] });
  });

  it('returns patients with the documented fields: only alias, mobile, secondary_contact and email may be null', async () => {
    const { content } = (await call(sim.url, 'GET', '/apis/v1/patient?size=500', { token })).body.data;
    const keys = ['patient_id', 'first_name', 'middle_name', 'last_name', 'suffix', 'alias', 'name', 'date_of_birth', 'sex', 'mobile', 'secondary_contact', 'email_address', 'address', 'status', 'clinic_id', 'updated_date'];
    for (const p of content) {
      expect(Object.keys(p).sort()).toEqual([...keys].sort());
      for (const key of ['first_name', 'middle_name', 'last_name', 'suffix', 'name', 'date_of_birth']) expect(typeof p[key]).toBe('string');
      expect(p.date_of_birth).toMatch(/^\d{4}-\d{2}-\d{2}$/);
      expect(['MALE', 'FEMALE', 'OTHER', 'UNKNOWN']).toContain(p.sex);
      expect(['ACTIVE', 'INACTIVE', 'ARCHIVED']).toContain(p.status);
      for (const phone of [p.mobile, p.secondary_contact]) if (phone !== null) expect(phone).toMatch(/^\+1\d{10}$/);
      expect(Object.keys(p.address).sort()).toEqual(['city', 'landmark', 'line1', 'line2', 'postal_code', 'state']);
      for (const part of Object.values(p.address)) expect(typeof part).toBe('string');
      expect(Number.isNaN(Date.parse(p.updated_date))).toBe(false);
    }
    expect(content.some((p: { mobile: unknown }) => p.mobile === null)).toBe(true);
    expect(content.some((p: { email_address: unknown }) => p.email_address === null)).toBe(true);
  });

  it('caps size at 500 and refuses a bad page with an error envelope', async () => {
    const res = await call(sim.url, 'GET', '/apis/v1/patient?size=5000', { token });
    expect(res.body.data.content).toHaveLength(500);
    expect(res.body.data.pages).toBe(20);
    const bad = await call(sim.url, 'GET', '/apis/v1/patient?page=0', { token });
    expect(bad.body.code).not.toBe(2000);
  });

  it('filters by status', async () => {
    const ids: number[] = [];
    for (let page = 1; ; page++) {
      const data = (await call(sim.url, 'GET', `/apis/v1/patient?status=ARCHIVED&size=500&page=${page}`, { token })).body.data;
      for (const p of data.content) expect(p.status).toBe('ARCHIVED');
      ids.push(...data.content.map((p: { patient_id: number }) => p.patient_id));
      if (page >= data.pages) break;
    }
    const expected = sim.patients(74).filter((p) => p.status === 'ARCHIVED').map((p) => p.patient_id);
    expect(expected.length).toBeGreaterThan(100);
    expect(ids).toEqual(expected);
    const bad = await call(sim.url, 'GET', '/apis/v1/patient?status=DELETED', { token });
    expect(bad.body.code).not.toBe(2000);
  });

  it('filters by updated_since, and a PATCH moves a patient into the window', async () => {
    const since = new Date(START - 30 * 24 * HOUR).toISOString();
    const res = await call(sim.url, 'GET', `/apis/v1/patient?updated_since=${encodeURIComponent(since)}&size=500`, { token });
    const expected = sim.patients(74).filter((p) => p.updated_date >= since);
    expect(res.body.data.total).toBe(expected.length);
    for (const p of res.body.data.content) expect(p.updated_date >= since).toBe(true);

    const now = new Date(clock.now()).toISOString();
    const none = await call(sim.url, 'GET', `/apis/v1/patient?updated_since=${encodeURIComponent(now)}`, { token });
    expect(none.body.data.total).toBe(0);
    const patientId = firstId(sim) + 42;
    await call(sim.url, 'PATCH', `/apis/v1/patient/${patientId}`, { token, json: { first_name: 'Changed' } });
    const one = await call(sim.url, 'GET', `/apis/v1/patient?updated_since=${encodeURIComponent(now)}`, { token });
    expect(one.body.data.content.map((p: { patient_id: number }) => p.patient_id)).toEqual([patientId]);
    expect((await call(sim.url, 'GET', '/apis/v1/patient?updated_since=yesterday', { token })).body.code).not.toBe(2000);
  });

  it('PATCHes partially: updated_date bumps and name follows; an unchanged patch changes nothing', async () => {
    const patientId = firstId(sim) + 7;
    const before = sim.patient(74, patientId)!;
    await clock.advance(60_000);
    const res = await call(sim.url, 'PATCH', `/apis/v1/patient/${patientId}`, {
      token,
      json: { last_name: 'Okafor', mobile: '+14155550123', address: { line1: '1 Main St', city: 'Austin', state: 'TX', postal_code: '78701' } },
    });
    expect(res.body.code).toBe(2000);
    const after = res.body.data;
    expect(after).toMatchObject({ patient_id: patientId, first_name: before.first_name, last_name: 'Okafor', mobile: '+14155550123' });
    expect(after.name).toContain('Okafor');
    // The address is replaced as a whole; parts not given are empty (the doc marks them non-null).
    expect(after.address).toEqual({ line1: '1 Main St', line2: '', landmark: '', city: 'Austin', state: 'TX', postal_code: '78701' });
    expect(after.updated_date).toBe(new Date(clock.now()).toISOString().slice(0, 19) + after.updated_date.slice(19));
    expect(Date.parse(after.updated_date)).toBeGreaterThan(Date.parse(before.updated_date));

    await clock.advance(60_000);
    const same = await call(sim.url, 'PATCH', `/apis/v1/patient/${patientId}`, { token, json: { last_name: 'Okafor' } });
    expect(same.body.data.updated_date).toBe(after.updated_date);
    const readOnlyField = await call(sim.url, 'PATCH', `/apis/v1/patient/${patientId}`, { token, json: { status: 'ARCHIVED' } });
    expect([readOnlyField.status, readOnlyField.body.code]).toEqual([200, 4001]);
  });

  it('lists a patient’s appointments from a time on, ordered by date_time, as epoch-second strings', async () => {
    let patientId = firstId(sim);
    while (sim.appointments(74, patientId).length < 3) patientId++;
    const all = sim.appointments(74, patientId);
    const res = await call(sim.url, 'GET', `/apis/v1/appointment?patient_id=${patientId}&from=0&page=1&size=50`, { token });
    expect(res.body.data.total).toBe(all.length);
    const times = res.body.data.content.map((a: { date_time: string }) => a.date_time);
    for (const t of times) expect(t).toMatch(/^\d+$/);
    expect(times.map(Number)).toEqual([...times.map(Number)].sort((a, b) => a - b));
    const from = Number(all[1]!.date_time);
    const later = await call(sim.url, 'GET', `/apis/v1/appointment?patient_id=${patientId}&from=${from}`, { token });
    expect(later.body.data.content.map((a: { appointment_id: number }) => a.appointment_id)).toEqual(
      all.filter((a) => Number(a.date_time) >= from).map((a) => a.appointment_id),
    );
    const one = await call(sim.url, 'GET', `/apis/v1/appointment/${all[0]!.appointment_id}`, { token });
    expect(one.body.data).toEqual(all[0]);
    for (const key of ['appointment_id', 'patient_id', 'doctor_id', 'clinic_id', 'spry_case_id', 'case_title', 'category_id', 'date_time', 'end_date_time', 'check_in_time', 'in_progress_at', 'check_out_time', 'comments', 'tele_health_url', 'status', 'doctor_name', 'clinic_name']) {
      expect(one.body.data).toHaveProperty(key);
    }
  });

  it('answers the calendar events endpoint for one doctor in one clinic', async () => {
    const doctor = sim.organisations()[0]!.doctors[0]!;
    const query = `start_date=2025-06-01&end_date=2026-12-31&doctor_id=${doctor.doctor_id}&clinic_id=${doctor.clinic_id}&practice_id=0&page=1&size=100`;
    const res = await call(sim.url, 'GET', `/apis/v1/appointment/calendar/events?${query}`, { token });
    expect(res.body.code).toBe(2000);
    expect(res.body.data.total).toBeGreaterThan(0);
    for (const a of res.body.data.content) {
      expect([a.doctor_id, a.clinic_id]).toEqual([doctor.doctor_id, doctor.clinic_id]);
    }
    const missing = await call(sim.url, 'GET', '/apis/v1/appointment/calendar/events?start_date=2026-01-01', { token });
    expect([missing.status, missing.body.code]).toEqual([200, 4001]);
  });

  it('serves cases by id and by patient', async () => {
    let patientId = firstId(sim);
    while (sim.cases(74, patientId).length === 0) patientId++;
    const list = await call(sim.url, 'GET', `/apis/v1/patient/${patientId}/cases`, { token });
    expect(Array.isArray(list.body.data)).toBe(true);
    const kase = list.body.data[0];
    expect(kase.spry_case_id).toMatch(/^SPRY_CASE_[0-9a-f]+$/);
    const one = await call(sim.url, 'GET', `/apis/soap-enrichment/v1/patientCase/${kase.spry_case_id}`, { token });
    expect(one.body.data).toEqual(kase);
    expect(kase).toMatchObject({ patient_id: patientId });
    expect(['ACTIVE', 'DISCHARGED']).toContain(kase.treatment_status);
    expect(Array.isArray(kase.icd_codes)).toBe(true);
    expect(Array.isArray(kase.insurance_card_list)).toBe(true);
  });

  it('records chart communications idempotently on external_id, and limits summary to 2000 chars', async () => {
    const patientId = firstId(sim) + 3;
    const input = {
      channel: 'SPRUCE',
      direction: 'INBOUND',
      kind: 'MESSAGE',
      occurred_at: '2026-06-11T14:00:00Z',
      summary: 'Patient asked to move Tuesday’s visit.',
      external_id: 'spruce:msg:1',
    };
    const path = `/apis/v1/patient/${patientId}/communication`;
    const first = await call(sim.url, 'POST', path, { token, json: input });
    expect(first.status).toBe(200);
    expect(first.body.code).toBe(2000);
    expect(typeof first.body.data.communication_id).toBe('number');
    const again = await call(sim.url, 'POST', path, { token, json: { ...input, summary: 'different text' } });
    expect(again.status).toBe(200);
    expect(again.body.data).toEqual(first.body.data);
    expect(sim.communications(74, patientId)).toHaveLength(1);
    // The same external id on another patient is another record.
    const other = await call(sim.url, 'POST', `/apis/v1/patient/${patientId + 1}/communication`, { token, json: input });
    expect(other.body.data.communication_id).not.toBe(first.body.data.communication_id);

    const exact = await call(sim.url, 'POST', path, { token, json: { ...input, external_id: 'x2', summary: 'a'.repeat(2000) } });
    expect(exact.body.code).toBe(2000);
    const long = await call(sim.url, 'POST', path, { token, json: { ...input, external_id: 'x3', summary: 'a'.repeat(2001) } });
    expect([long.status, long.body.code]).toEqual([200, 4001]);
    expect(long.body.message).toMatch(/summary/);
    const unknown = await call(sim.url, 'POST', '/apis/v1/patient/999999999/communication', { token, json: input });
    expect([unknown.status, unknown.body.code]).toEqual([404, 4004]);
  });

  it('keeps organisations apart', async () => {
    const other = await tokenOf(sim, 75);
    const res = await call(sim.url, 'GET', `/apis/v1/patient/${firstId(sim)}`, { token: other });
    expect([res.status, res.body.code]).toEqual([404, 4004]);
    const list = await call(sim.url, 'GET', '/apis/v1/patient', { token: other });
    expect(list.body.data.total).toBe(30);
  });
});

// ---------------------------------------------------------------- webhooks

describe('Spry simulator: subscriptions and webhooks', () => {
  let sim: SprySimulator;
  let clock: ControlledClock;
  let token: string;
  let receiver: Receiver;

  beforeAll(async () => {
    // Time moves only when the test moves it, so delivery times are exact.
    clock = new ControlledClock({ start: START, flowing: false });
    sim = await createSprySimulator({
      clock,
      seed: 9,
      tokenTtlSeconds: 86_400 * 30,
      organisations: [
        { organisationId: 74, clientId: 'a', clientSecret: 'sa', patients: 50 },
        { organisationId: 75, clientId: 'b', clientSecret: 'sb', patients: 5 },
      ],
    });
    await sim.listen();
    token = await tokenOf(sim, 74);
  });
  afterAll(() => sim.close());
  beforeEach(async () => {
    sim.reset();
    receiver = await startReceiver(clock);
  });
  afterEach(() => receiver.close());

  it('returns signature_key once on create, never in get or list; lists by is_active; scoped to the org', async () => {
    const created = await call(sim.url, 'POST', '/api/v2/subscriptions', {
      token,
      json: { name: 'a', event_types: ['patient.updated'], notification_url: receiver.url, api_version: '2026-06-11' },
    });
    expect(created.body.code).toBe(2000);
    const sub = created.body.data;
    expect(typeof sub.signature_key).toBe('string');
    expect(sub).toMatchObject({ name: 'a', event_types: ['patient.updated'], notification_url: receiver.url, is_active: true });
    const got = await call(sim.url, 'GET', `/api/v2/subscriptions/${sub.id}`, { token });
    expect(got.body.data.signature_key).toBeUndefined();
    expect(JSON.stringify(got.body)).not.toContain(sub.signature_key);
    await call(sim.url, 'PATCH', `/api/v2/subscriptions/${sub.id}`, { token, json: { is_active: false, name: 'b' } });
    const inactive = await call(sim.url, 'GET', '/api/v2/subscriptions?is_active=false', { token });
    expect(inactive.body.data.map((s: { id: string }) => s.id)).toEqual([sub.id]);
    expect(inactive.body.data[0]).toMatchObject({ name: 'b', is_active: false });
    expect(JSON.stringify(inactive.body)).not.toContain(sub.signature_key);
    expect((await call(sim.url, 'GET', '/api/v2/subscriptions?is_active=true', { token })).body.data).toEqual([]);

    const otherOrg = await tokenOf(sim, 75);
    expect((await call(sim.url, 'GET', '/api/v2/subscriptions', { token: otherOrg })).body.data).toEqual([]);
    expect((await call(sim.url, 'GET', `/api/v2/subscriptions/${sub.id}`, { token: otherOrg })).status).toBe(404);

    const deleted = await call(sim.url, 'DELETE', `/api/v2/subscriptions/${sub.id}`, { token });
    expect(deleted.body.code).toBe(2000);
    expect((await call(sim.url, 'GET', `/api/v2/subscriptions/${sub.id}`, { token })).status).toBe(404);
  });

  it('refuses an unknown api_version with 400 INVALID_API_VERSION (create and update)', async () => {
    const created = await call(sim.url, 'POST', '/api/v2/subscriptions', {
      token,
      json: { name: 'a', event_types: ['patient.updated'], notification_url: receiver.url, api_version: '2019-01-01' },
    });
    expect(created.status).toBe(400);
    expect(created.body.code).not.toBe(2000);
    expect(JSON.stringify(created.body)).toContain('INVALID_API_VERSION');
    const sub = await subscribe(sim, token, receiver.url);
    const patched = await call(sim.url, 'PATCH', `/api/v2/subscriptions/${sub.id}`, { token, json: { api_version: 'v3' } });
    expect(patched.status).toBe(400);
    expect(JSON.stringify(patched.body)).toContain('INVALID_API_VERSION');
  });

  it('delivers a signed, minimized event with exactly the documented headers', async () => {
    const sub = await subscribe(sim, token, receiver.url);
    const patientId = firstId(sim);
    const res = await call(sim.url, 'PATCH', `/apis/v1/patient/${patientId}`, { token, json: { first_name: 'Zed' } });
    expect(res.body.code).toBe(2000);
    await sim.settle();
    expect(receiver.hits).toHaveLength(1);
    const hit = receiver.hits[0]!;
    expect(hit.headers['content-type']).toBe('application/json');
    expect(hit.headers['user-agent']).toBe('SpryWebhookService/2.0');
    expect(hit.headers['x-event-type']).toBe('patient.updated');
    expect(hit.headers['x-event-id']).toBe(hit.json.event_id);
    expect(hit.headers['x-delivery-id']).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(hit.headers['x-sprypt-api-version']).toBe('2026-06-11');
    expect(hit.headers['x-sprypt-signature']).toMatch(/^t=\d+,v1=[0-9a-f]{64}$/);
    expect(hit.headers['x-sprypt-signature']).toContain(`t=${Math.floor(clock.now() / 1000)},`);
    expect(verifySpryrSignature(hit.headers['x-sprypt-signature'] as string, hit.raw, [sub.signature_key], clock.now() / 1000)).toBe(true);
    expect(verifySpryrSignature(hit.headers['x-sprypt-signature'] as string, hit.raw + ' ', [sub.signature_key], clock.now() / 1000)).toBe(false);
    expect(verifySpryrSignature(hit.headers['x-sprypt-signature'] as string, hit.raw, ['wrong-key'], clock.now() / 1000)).toBe(false);

    expect(hit.json.event_id).toMatch(/^evt_[0-9a-f-]{36}$/);
    expect(hit.json).toEqual({
      event_id: hit.json.event_id,
      event_type: 'patient.updated',
      api_version: '2026-06-11',
      timestamp: Math.floor(clock.now() / 1000),
      data: { organisation_id: 74, patient_id: patientId, status: sim.patient(74, patientId)!.status },
    });
    // An unchanged PATCH emits nothing.
    await call(sim.url, 'PATCH', `/apis/v1/patient/${patientId}`, { token, json: { first_name: 'Zed' } });
    await sim.settle();
    expect(receiver.hits).toHaveLength(1);
  });

  it('emits every documented event for staff changes, with the documented data, to subscribed active endpoints only', async () => {
    await subscribe(sim, token, receiver.url);
    const other = await startReceiver(clock);
    const onlyCases = await subscribe(sim, token, other.url, ['case.created', 'case.updated']);
    const inactive = await startReceiver(clock);
    const off = await subscribe(sim, token, inactive.url);
    await call(sim.url, 'PATCH', `/api/v2/subscriptions/${off.id}`, { token, json: { is_active: false } });

    const patient = sim.staff.registerPatient(74, { first_name: 'Ana', last_name: 'Ruiz', date_of_birth: '1980-04-02', mobile: '+15125550100' });
    const kase = sim.staff.openCase(74, { patient_id: patient.patient_id, case_title: 'Low back pain' });
    const booked = sim.staff.bookAppointment(74, { patient_id: patient.patient_id, date_time: Math.floor(clock.now() / 1000) + 86_400 });
    sim.staff.rescheduleAppointment(74, booked.appointment_id, { date_time: Math.floor(clock.now() / 1000) + 2 * 86_400 });
    sim.staff.cancelAppointment(74, booked.appointment_id);
    sim.staff.updateCase(74, kase.spry_case_id, { treatment_status: 'DISCHARGED' });
    sim.staff.archivePatient(74, patient.patient_id);
    await sim.settle();

    const seen = receiver.hits.map((h) => [h.json.event_type, h.json.data]);
    expect(seen).toEqual([
      ['patient.created', { organisation_id: 74, patient_id: patient.patient_id, status: 'ACTIVE' }],
      ['case.created', { organisation_id: 74, spry_case_id: kase.spry_case_id, patient_id: patient.patient_id, treatment_status: 'ACTIVE' }],
      ['appointment.created', { organisation_id: 74, appointment_id: booked.appointment_id, patient_id: patient.patient_id, spry_case_id: kase.spry_case_id, clinic_id: booked.clinic_id, status: 'CONFIRMED' }],
      ['appointment.updated', { organisation_id: 74, appointment_id: booked.appointment_id, patient_id: patient.patient_id, spry_case_id: kase.spry_case_id, clinic_id: booked.clinic_id, status: 'CONFIRMED' }],
      ['appointment.cancelled', { organisation_id: 74, appointment_id: booked.appointment_id, patient_id: patient.patient_id, spry_case_id: kase.spry_case_id, clinic_id: booked.clinic_id, status: 'CANCELLED' }],
      ['case.updated', { organisation_id: 74, spry_case_id: kase.spry_case_id, patient_id: patient.patient_id, treatment_status: 'DISCHARGED' }],
      ['patient.updated', { organisation_id: 74, patient_id: patient.patient_id, status: 'ARCHIVED' }],
    ]);
    // Minimized: no names, phones or dates of birth anywhere in what was sent.
    for (const h of receiver.hits) expect(h.raw).not.toMatch(/Ana|Ruiz|1980-04-02|5125550100/);
    expect(other.hits.map((h) => h.json.event_type)).toEqual(['case.created', 'case.updated']);
    for (const h of other.hits) {
      expect(verifySpryrSignature(h.headers['x-sprypt-signature'] as string, h.raw, [onlyCases.signature_key], clock.now() / 1000)).toBe(true);
    }
    expect(inactive.hits).toHaveLength(0);
    // Events of another organisation do not reach organisation 74's subscriptions.
    sim.staff.editPatient(75, sim.organisations()[1]!.firstPatientId, { first_name: 'Other' });
    await sim.settle();
    expect(receiver.hits).toHaveLength(7);
    await other.close();
    await inactive.close();
  });

  it('retries a failing receiver at t0, +15 s, +1 min 15 s, +11 min 15 s, +1 h 11 min 15 s, +7 h 11 min 15 s, then drops', async () => {
    receiver.respond = () => 500;
    const sub = await subscribe(sim, token, receiver.url, ['patient.updated']);
    const t0 = clock.now();
    sim.staff.editPatient(74, firstId(sim), { first_name: 'Retry' });
    await sim.settle();
    await sim.advance(8 * HOUR);
    await sim.advance(48 * HOUR);
    expect(receiver.hits.map((h) => h.at - t0)).toEqual([0, 15_000, 75_000, 675_000, 4_275_000, 25_875_000]);
    const eventIds = new Set(receiver.hits.map((h) => h.headers['x-event-id']));
    expect(eventIds.size).toBe(1);
    expect(new Set(receiver.hits.map((h) => h.headers['x-delivery-id'])).size).toBe(6);
    for (const h of receiver.hits) {
      // Each attempt is signed at its own time.
      expect(h.headers['x-sprypt-signature']).toContain(`t=${Math.floor(h.at / 1000)},`);
      expect(verifySpryrSignature(h.headers['x-sprypt-signature'] as string, h.raw, [sub.signature_key], h.at / 1000)).toBe(true);
      expect(h.raw).toBe(receiver.hits[0]!.raw);
    }
    expect(sim.dispatcher.state(sub.id, [...eventIds][0] as string)?.status).toBe('failed');
    expect(sim.dispatcher.pendingCount()).toBe(0);
  });

  it('counts an answer after 11 s as a failure (10 s timeout on the clock)', async () => {
    receiver.respond = async () => {
      await clock.sleep(11_000);
      return 200;
    };
    const sub = await subscribe(sim, token, receiver.url, ['patient.updated']);
    const t0 = clock.now();
    sim.staff.editPatient(74, firstId(sim), { first_name: 'Slow' });
    while (receiver.hits.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    await clock.advance(10_000);
    await sim.settle();
    const [attempt] = sim.dispatcher.attempts;
    expect(attempt).toMatchObject({ attempt: 1, status: null, error: 'timeout' });
    const state = sim.dispatcher.state(sub.id, attempt!.eventId)!;
    expect(state.status).toBe('pending');
    expect(state.nextAttemptAt).toBe(t0 + 10_000 + 15_000);
    receiver.respond = () => 200;
    await clock.advance(1_000); // the slow answer arrives too late and changes nothing
    await sim.advance(14_000);
    expect(state.status).toBe('delivered');
    expect(receiver.hits).toHaveLength(2);
  });

  it('signs with the new and the previous key for 24 h after rotate-secret, then the new key only', async () => {
    const sub = await subscribe(sim, token, receiver.url, ['patient.updated']);
    const rotated = await call(sim.url, 'POST', `/api/v2/subscriptions/${sub.id}/rotate-secret`, { token });
    expect(rotated.body.code).toBe(2000);
    const newKey = rotated.body.data.signature_key;
    expect(newKey).not.toBe(sub.signature_key);
    expect((await call(sim.url, 'GET', `/api/v2/subscriptions/${sub.id}`, { token })).body.data.signature_key).toBeUndefined();

    sim.staff.editPatient(74, firstId(sim), { first_name: 'One' });
    await sim.settle();
    const during = receiver.hits[0]!;
    const header = during.headers['x-sprypt-signature'] as string;
    expect(header.match(/v1=/g)).toHaveLength(2);
    expect(verifySpryrSignature(header, during.raw, [newKey], clock.now() / 1000)).toBe(true);
    expect(verifySpryrSignature(header, during.raw, [sub.signature_key], clock.now() / 1000)).toBe(true);

    await sim.advance(24 * HOUR);
    sim.staff.editPatient(74, firstId(sim), { first_name: 'Two' });
    await sim.settle();
    const after = receiver.hits[1]!;
    const afterHeader = after.headers['x-sprypt-signature'] as string;
    expect(afterHeader.match(/v1=/g)).toHaveLength(1);
    expect(verifySpryrSignature(afterHeader, after.raw, [newKey], clock.now() / 1000)).toBe(true);
    expect(verifySpryrSignature(afterHeader, after.raw, [sub.signature_key], clock.now() / 1000)).toBe(false);
  });

  it('sends a test delivery marked "test": true, signed like any other', async () => {
    const sub = await subscribe(sim, token, receiver.url, ['appointment.updated']);
    const res = await call(sim.url, 'POST', `/api/v2/subscriptions/${sub.id}/test`, { token });
    expect(res.body.code).toBe(2000);
    await sim.settle();
    expect(receiver.hits).toHaveLength(1);
    const hit = receiver.hits[0]!;
    expect(hit.json).toMatchObject({ event_type: 'appointment.updated', api_version: '2026-06-11', test: true });
    expect(hit.json.event_id).toBe(res.body.data.event_id);
    expect(hit.headers['x-event-type']).toBe('appointment.updated');
    expect(verifySpryrSignature(hit.headers['x-sprypt-signature'] as string, hit.raw, [sub.signature_key], clock.now() / 1000)).toBe(true);
  });

  it('duplicates, drops and reorders deliveries when told to', async () => {
    await subscribe(sim, token, receiver.url, ['patient.updated']);
    const base = firstId(sim);

    sim.faults.setDeliveryFaults({ duplicateRate: 1 });
    sim.staff.editPatient(74, base, { first_name: 'Dup' });
    await sim.settle();
    expect(receiver.hits).toHaveLength(2);
    expect(receiver.hits[0]!.json.event_id).toBe(receiver.hits[1]!.json.event_id);
    expect(receiver.hits[0]!.headers['x-delivery-id']).not.toBe(receiver.hits[1]!.headers['x-delivery-id']);

    receiver.hits.length = 0;
    sim.faults.setDeliveryFaults({ dropRate: 1 });
    sim.staff.editPatient(74, base, { first_name: 'Dropped' });
    await sim.advance(8 * HOUR);
    expect(receiver.hits).toHaveLength(0);
    expect(sim.events(74).at(-1)!.data.patient_id).toBe(base);

    sim.faults.setDeliveryFaults({ reorderWindowMs: 30_000 });
    const emitted: string[] = [];
    for (let i = 1; i <= 10; i++) {
      sim.staff.editPatient(74, base + i, { first_name: `Reorder${i}` });
      emitted.push(sim.events(74).at(-1)!.event_id);
    }
    await sim.advance(30_000);
    const arrived = receiver.hits.map((h) => h.json.event_id);
    expect([...arrived].sort()).toEqual([...emitted].sort());
    expect(arrived).not.toEqual(emitted);
  });
});

// ---------------------------------------------------------------- faults, rate limit, control API

describe('Spry simulator: faults, rate limit and the control API', () => {
  let sim: SprySimulator;
  let token: string;

  beforeAll(async () => {
    sim = await createSprySimulator({ clock: new ControlledClock({ start: START }), seed: 4 });
    await sim.listen();
    token = await tokenOf(sim);
  });
  afterAll(() => sim.close());
  afterEach(() => sim.reset());

  it('fails about the configured share of requests with 5xx envelopes (set through the control API)', async () => {
    const set = await call(sim.url, 'PUT', '/_sandbox/faults', {
      json: { routes: [{ match: 'GET /apis/v1/patient/*', errorRate: 0.5, errorStatus: 503 }] },
    });
    expect(set.status).toBe(200);
    let failed = 0;
    for (let i = 0; i < 100; i++) {
      const res = await call(sim.url, 'GET', `/apis/v1/patient/${firstId(sim)}`, { token });
      if (res.status === 503) {
        failed++;
        expect(res.body.code).not.toBe(2000);
      } else expect(res.body.code).toBe(2000);
    }
    expect(failed).toBeGreaterThan(30);
    expect(failed).toBeLessThan(70);
    // Other routes and the control API are untouched.
    expect((await call(sim.url, 'GET', '/apis/v1/patient', { token })).status).toBe(200);
    expect((await call(sim.url, 'GET', '/_sandbox/state')).status).toBe(200);
    expect(sim.requestLog.filter((e) => e.status === 503)).toHaveLength(failed);
  });

  it('ambiguous failures: a write is carried out and its answer lost (reset, 5xx, hang); a refused write keeps its answer', async () => {
    const patientId = firstId(sim);
    const outcome = (res: Promise<Res>) => res.then((r) => r.status, () => 'no answer');
    sim.requestLog.length = 0;
    await call(sim.url, 'PUT', '/_sandbox/faults', { json: { routes: [{ match: 'PATCH /apis/**', ambiguousRate: 1 }] } });
    expect(await outcome(call(sim.url, 'PATCH', `/apis/v1/patient/${patientId}`, { token, json: { first_name: 'Alva' } }))).toBe('no answer');
    expect(sim.patient(74, patientId)!.first_name).toBe('Alva');
    expect(sim.events(74).map((e) => [e.event_type, e.data.patient_id])).toEqual([['patient.updated', patientId]]);
    // Spry refuses some writes with HTTP 200 and an error envelope: not carried out, answer kept.
    const refused = await call(sim.url, 'PATCH', `/apis/v1/patient/${patientId}`, { token, json: { sex: 'NOPE' } });
    expect([refused.status, refused.body.code]).toEqual([200, 4001]);
    expect((await call(sim.url, 'GET', `/apis/v1/patient/${patientId}`, { token })).body.code).toBe(2000); // reads untouched
    await sim.settle();
    expect(sim.requestLog.map((e) => [e.route, e.status, e.code])).toEqual([
      ['PATCH /apis/v1/patient/:id', 0, null],
      ['PATCH /apis/v1/patient/:id', 200, 4001],
      ['GET /apis/v1/patient/:id', 200, 2000],
    ]);

    sim.faults.setRouteFaults([{ match: 'POST /apis/v1/patient/*/communication', ambiguousRate: 1, ambiguousMode: 'error', ambiguousStatus: 504 }]);
    const input = { channel: 'SPRUCE', direction: 'INBOUND', kind: 'MESSAGE', occurred_at: '2026-06-11T14:00:00Z', summary: 'Running late', external_id: 'spruce:ti_1' };
    const lost = await call(sim.url, 'POST', `/apis/v1/patient/${patientId}/communication`, { token, json: input });
    expect([lost.status, lost.body.code]).toEqual([504, 5004]);
    expect(sim.communications(74, patientId)).toHaveLength(1);

    sim.faults.setRouteFaults([{ match: 'POST /apis/v1/patient/*/communication', ambiguousRate: 1, ambiguousMode: 'hang', hangMs: 30_000 }]);
    const hanging = outcome(call(sim.url, 'POST', `/apis/v1/patient/${patientId}/communication`, { token, json: { ...input, external_id: 'spruce:ti_2' } }));
    while (sim.communications(74, patientId).length < 2) await new Promise((resolve) => setImmediate(resolve));
    await (sim.clock as ControlledClock).advance(30_000);
    expect(await hanging).toBe('no answer');
    sim.faults.clear();
    const retry = await call(sim.url, 'POST', `/apis/v1/patient/${patientId}/communication`, { token, json: input });
    expect(retry.body.data.communication_id).toBe(sim.communications(74, patientId)[0]!.communication_id);
    expect(sim.communications(74, patientId)).toHaveLength(2);
  });

  it('adds latency', async () => {
    sim.faults.setRouteFaults([{ match: 'GET /apis/v1/patient', latencyMs: 150 }]);
    const started = Date.now();
    expect((await call(sim.url, 'GET', '/apis/v1/patient', { token })).status).toBe(200);
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
  });

  it('answers a 429 burst with Retry-After, then recovers', async () => {
    await call(sim.url, 'PUT', '/_sandbox/faults', { json: { routes: [{ rateLimitBurst: 3, retryAfterSeconds: 2 }] } });
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) {
      const res = await call(sim.url, 'GET', '/apis/v1/patient', { token });
      statuses.push(res.status);
      if (res.status === 429) {
        expect(res.headers.get('retry-after')).toBe('2');
        expect(res.body.code).not.toBe(2000);
      }
    }
    expect(statuses).toEqual([429, 429, 429, 200]);
  });

  it('imposes an optional per-organisation rate limit with 429 and Retry-After', async () => {
    await call(sim.url, 'PUT', '/_sandbox/rate-limit', { json: { requests_per_second: 5 } });
    const results = await Promise.all(Array.from({ length: 8 }, () => call(sim.url, 'GET', '/apis/v1/patient?size=1', { token })));
    const limited = results.filter((r) => r.status === 429);
    expect(limited.length).toBeGreaterThanOrEqual(2);
    for (const r of limited) {
      expect(Number(r.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(r.body).toMatchObject({ code: 4029 });
    }
    await call(sim.url, 'PUT', '/_sandbox/rate-limit', { json: { requests_per_second: null } });
  });

  it('acts as staff through the control API and refuses bad input with 400 and a message', async () => {
    const created = await call(sim.url, 'POST', '/_sandbox/orgs/74/patients', {
      json: { first_name: 'Lee', last_name: 'Park', date_of_birth: '1975-09-09', sex: 'FEMALE', mobile: '+12065550199' },
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ first_name: 'Lee', status: 'ACTIVE' });
    const viaApi = await call(sim.url, 'GET', `/apis/v1/patient/${created.body.patient_id}`, { token });
    expect(viaApi.body.data).toEqual(created.body);

    const booked = await call(sim.url, 'POST', '/_sandbox/orgs/74/appointments', {
      json: { patient_id: created.body.patient_id, date_time: '2026-07-01T15:00:00Z', duration_minutes: 30 },
    });
    expect(booked.status).toBe(201);
    expect(booked.body).toMatchObject({ status: 'CONFIRMED', date_time: String(Date.UTC(2026, 6, 1, 15) / 1000) });
    const checkedIn = await call(sim.url, 'POST', `/_sandbox/orgs/74/appointments/${booked.body.appointment_id}/check-in`);
    expect(checkedIn.body.status).toBe('PATIENT_CHECKIN');
    expect(sim.events(74).map((e) => e.event_type)).toEqual(['patient.created', 'appointment.created', 'appointment.updated']);

    const bad = await call(sim.url, 'POST', '/_sandbox/orgs/74/patients', { json: { first_name: 'X', sex: 'M' } });
    expect(bad.status).toBe(400);
    expect(bad.body.message).toMatch(/last_name|sex|date_of_birth/);
    expect((await call(sim.url, 'POST', '/_sandbox/orgs/99/patients', { json: {} })).status).toBe(404);
    expect((await call(sim.url, 'PUT', '/_sandbox/faults', { json: { routes: [{ errorRate: 2 }] } })).status).toBe(400);
    expect((await call(sim.url, 'POST', '/_sandbox/orgs/74/appointments/1/cancel')).status).toBe(404);
  });

  it('reads state, the request log and deliveries; advances the clock; resets', async () => {
    const before = sim.clock.now();
    const advanced = await call(sim.url, 'POST', '/_sandbox/clock/advance', { json: { ms: 3_600_000 } });
    expect(advanced.status).toBe(200);
    expect(sim.clock.now() - before).toBeGreaterThanOrEqual(3_600_000);
    expect((await call(sim.url, 'POST', '/_sandbox/clock/advance', { json: { ms: -1 } })).status).toBe(400);
    // Tokens follow the clock: get a fresh one after the jump.
    token = await tokenOf(sim);

    await call(sim.url, 'GET', '/apis/v1/patient', { token });
    const log = await call(sim.url, 'GET', '/_sandbox/request-log');
    expect(log.body.entries.map((e: { route: string }) => e.route)).toContain('GET /apis/v1/patient');
    const state = await call(sim.url, 'GET', '/_sandbox/state');
    expect(state.body.organisations[0]).toMatchObject({ organisationId: 74, patientCount: 200 });
    expect((await call(sim.url, 'GET', '/_sandbox/deliveries')).body).toMatchObject({ attempts: [], pending: 0 });
    const credentials = await call(sim.url, 'GET', '/_sandbox/credentials');
    expect(credentials.body).toEqual(sim.credentials());

    sim.staff.editPatient(74, firstId(sim), { first_name: 'Temp' });
    expect((await call(sim.url, 'POST', '/_sandbox/reset')).status).toBe(200);
    expect(sim.events()).toEqual([]);
    expect(sim.requestLog).toEqual([]);
    expect(sim.patient(74, firstId(sim))!.first_name).not.toBe('Temp');
  });
});

// ---------------------------------------------------------------- determinism

describe('Spry simulator: seeded data', () => {
  it('is the same for the same seed and start, and different for another seed', async () => {
    const make = (seed: number) =>
      createSprySimulator({
        seed,
        clock: new ControlledClock({ start: START, flowing: false }),
        organisations: [{ organisationId: 74, clientId: 'a', clientSecret: 's', patients: 500 }],
      });
    const [a, b, c] = await Promise.all([make(21), make(21), make(22)]);
    try {
      const pages = [];
      for (const sim of [a, b, c]) {
        await sim.listen();
        const token = await tokenOf(sim);
        const page = await call(sim.url, 'GET', '/apis/v1/patient?page=2&size=100', { token });
        const id = firstId(sim) + 5;
        pages.push(JSON.stringify([page.body, sim.cases(74, id), sim.appointments(74, id), sim.organisations()]));
      }
      expect(pages[0]).toBe(pages[1]);
      expect(pages[2]).not.toBe(pages[0]);
    } finally {
      await Promise.all([a, b, c].map((s) => s.close()));
    }
  });
});
