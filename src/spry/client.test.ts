import formbody from '@fastify/formbody';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ControlledClock } from '../clock.ts';
import { SyncError } from '../errors.ts';
import { autoAdvance, listen } from '../http/test-support.ts';
import type { CallReport } from '../http/types.ts';
import { SpryClient, type SpryClientOptions } from './client.ts';
import type { SpryCommunicationInput, SpryPatient } from './types.ts';

const PHI_NAME = 'Jane Q. Patient';

function patient(id: number): SpryPatient {
  return {
    patient_id: id,
    first_name: 'Jane',
    middle_name: 'Q.',
    last_name: 'Patient',
    suffix: null,
    alias: null,
    name: PHI_NAME,
    date_of_birth: '1980-01-02',
    sex: 'FEMALE',
    mobile: '+12065551234',
    secondary_contact: null,
    email_address: 'jane@example.com',
    address: null,
    status: 'ACTIVE',
    clinic_id: 1,
    updated_date: '2026-01-01T00:00:00Z',
  };
}

const ok = (data: unknown) => ({ code: 2000, data, message: 'Success' });

/** Spry as documented: OAuth client credentials, the envelope, errors sometimes on HTTP 200. */
class FakeSpry {
  app: FastifyInstance = Fastify();
  tokensIssued = 0;
  expiresIn = 3600;
  valid = new Set<string>();
  tokenRequests: Record<string, string>[] = [];
  requests: { route: string; at: number }[] = [];
  communications = new Map<string, number>();
  rateLimitNext = 0;
  /** When false every token is refused, fresh ones included (credentials revoked). */
  acceptTokens = true;
  clock?: ControlledClock;

  constructor() {
    this.app.register(formbody);
    this.app.post('/apis/v2/oauth/token', async (req, reply) => {
      const form = req.body as Record<string, string>;
      this.tokenRequests.push(form);
      if (form.client_id !== 'cid' || form.client_secret !== 'secret' || form.grant_type !== 'client_credentials') {
        return reply.code(401).send({ error: 'invalid_client' });
      }
      const token = `tok-${++this.tokensIssued}`;
      this.valid.add(token);
      return { access_token: token, token_type: 'Bearer', expires_in: this.expiresIn, scope: form.scope, organisation_id: 9 };
    });
    const authed =
      (handler: (req: FastifyRequest, reply: FastifyReply) => unknown) => async (req: FastifyRequest, reply: FastifyReply) => {
        this.requests.push({ route: `${req.method} ${req.routeOptions.url}`, at: this.clock?.now() ?? Date.now() });
        const token = req.headers.authorization?.replace(/^Bearer /, '') ?? '';
        if (!this.acceptTokens || !this.valid.has(token)) return reply.code(401).send({ code: 4010, message: 'Unauthorized' });
        if (this.rateLimitNext > 0) {
          this.rateLimitNext--;
          return reply.code(429).header('retry-after', '3').send({ code: 4290, message: 'Too many requests' });
        }
        return handler(req, reply);
      };
    this.app.get(
      '/apis/v1/patient/:id',
      authed(async (req, reply) => {
        const id = Number((req.params as { id: string }).id);
        if (id === 404) return reply.code(404).send({ code: 4004, message: 'Patient not found' });
        if (id === 7) return { code: 4004, message: 'Patient not found' }; // HTTP 200
        if (id === 13) return { code: 4100, message: `Patient ${PHI_NAME} is locked` }; // HTTP 200
        if (id === 50) return { code: 5000, message: 'Internal error' }; // HTTP 200
        if (id === 51) return { ok: true }; // no envelope
        return ok(patient(id));
      }),
    );
    this.app.patch(
      '/apis/v1/patient/:id',
      authed(async (req, reply) => {
        const id = Number((req.params as { id: string }).id);
        if (id === 404) return reply.code(404).send({ code: 4004, message: 'Patient not found' });
        return ok({ ...patient(id), ...(req.body as object) });
      }),
    );
    this.app.get(
      '/apis/v1/patient',
      authed(async (req) => {
        const q = req.query as Record<string, string>;
        const page = Number(q.page);
        const size = Number(q.size);
        const all = Array.from({ length: 5 }, (_, i) => patient(i + 1));
        const content = all.slice((page - 1) * size, page * size);
        return ok({ total: 5, pages: Math.ceil(5 / size), current: page, no_of_records: content.length, is_paged: true, content, echo: q });
      }),
    );
    this.app.get(
      '/apis/v1/appointment/:id',
      authed(async (req, reply) => {
        const id = Number((req.params as { id: string }).id);
        if (id === 404) return reply.code(404).send({ code: 4004, message: 'Appointment not found' });
        return ok({ appointment_id: id, patient_id: 1, status: 'CONFIRMED' });
      }),
    );
    this.app.get(
      '/apis/v1/appointment',
      authed(async (req) => {
        const q = req.query as Record<string, string>;
        return ok({ total: 1, pages: 1, current: 1, no_of_records: 1, is_paged: true, content: [{ appointment_id: 3, patient_id: Number(q.patient_id), date_time: q.from }] });
      }),
    );
    this.app.get(
      '/apis/soap-enrichment/v1/patientCase/:id',
      authed(async (req, reply) => {
        const id = (req.params as { id: string }).id;
        if (id === 'SPRY_CASE_missing') return reply.code(200).send({ code: 4004, message: 'Case not found' });
        return ok({ spry_case_id: id, patient_id: 1, treatment_status: 'ACTIVE' });
      }),
    );
    this.app.get(
      '/apis/v1/patient/:id/cases',
      authed(async () => ok([{ spry_case_id: 'SPRY_CASE_a1', patient_id: 1 }])),
    );
    this.app.post(
      '/apis/v1/patient/:id/communication',
      authed(async (req) => {
        const body = req.body as SpryCommunicationInput;
        const existing = this.communications.get(body.external_id);
        const id = existing ?? this.communications.size + 100;
        this.communications.set(body.external_id, id);
        return ok({ ...body, communication_id: id, patient_id: Number((req.params as { id: string }).id), created_date: '2026-01-01' });
      }),
    );
    this.app.get(
      '/api/v2/subscriptions',
      authed(async () => [{ id: 'sub_1', name: 'sync', event_types: ['patient.updated'], notification_url: 'https://x/y', api_version: '2026-06-11', is_active: true, created_date: '2026-01-01' }]),
    );
    this.app.post(
      '/api/v2/subscriptions',
      authed(async (req) => ok({ id: 'sub_2', ...(req.body as object), is_active: true, created_date: '2026-01-01', signature_key: 'whsec_abc' })),
    );
  }
}

let spry: FakeSpry;
let baseUrl: string;
const clients: SpryClient[] = [];

beforeAll(async () => {
  spry = new FakeSpry();
  baseUrl = await listen(spry.app);
});
afterAll(async () => {
  await spry.app.close();
});
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  spry.valid.clear();
  spry.acceptTokens = true;
  spry.clock = undefined;
});

function makeClient(overrides: Partial<SpryClientOptions> = {}) {
  const calls: CallReport[] = [];
  const c = new SpryClient({
    baseUrl,
    clientId: 'cid',
    clientSecret: 'secret',
    organisationId: 9,
    clock: new ControlledClock(),
    requestsPerSecond: 1_000,
    onCall: (call) => calls.push(call),
    retry: { attempts: 1 },
    ...overrides,
  });
  clients.push(c);
  return { client: c, calls };
}

async function failure(promise: Promise<unknown>): Promise<SyncError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(SyncError);
  return error as SyncError;
}

describe('SpryClient auth', () => {
  it('fetches a client-credentials token once, form-encoded, and sends it as Bearer', async () => {
    const { client, calls } = makeClient();
    const before = spry.tokensIssued;
    const [a, b] = await Promise.all([client.getPatient(1), client.getPatient(2)]);
    expect(a?.patient_id).toBe(1);
    expect(b?.patient_id).toBe(2);
    expect(spry.tokensIssued - before).toBe(1);
    expect(spry.tokenRequests.at(-1)).toEqual({ grant_type: 'client_credentials', client_id: 'cid', client_secret: 'secret', scope: 'read write' });
    expect(calls.map((c) => c.route)).toEqual([
      'POST /apis/v2/oauth/token',
      'GET /apis/v1/patient/{patient_id}',
      'GET /apis/v1/patient/{patient_id}',
    ]);
    expect(calls.every((c) => c.system === 'spry' && c.status === 200)).toBe(true);
  });

  it('renews the token a few minutes before it expires', async () => {
    const clock = new ControlledClock();
    const { client } = makeClient({ clock });
    spry.expiresIn = 3600;
    const before = spry.tokensIssued;
    await client.getPatient(1);
    await clock.advance(54 * 60_000);
    await client.getPatient(1);
    expect(spry.tokensIssued - before).toBe(1);
    await clock.advance(2 * 60_000); // 56 min: within 5 min of expiry
    await client.getPatient(1);
    expect(spry.tokensIssued - before).toBe(2);
  });

  it('on a 401 renews the token once and retries', async () => {
    const { client, calls } = makeClient();
    await client.getPatient(1);
    spry.valid.clear(); // Spry revoked it early
    expect((await client.getPatient(2))?.patient_id).toBe(2);
    expect(calls.map((c) => `${c.route} ${c.status}`)).toEqual([
      'POST /apis/v2/oauth/token 200',
      'GET /apis/v1/patient/{patient_id} 200',
      'GET /apis/v1/patient/{patient_id} 401',
      'POST /apis/v2/oauth/token 200',
      'GET /apis/v1/patient/{patient_id} 200',
    ]);
  });

  it('a second 401 is a permanent auth failure', async () => {
    const { client } = makeClient();
    await client.getPatient(1);
    spry.acceptTokens = false;
    expect(await failure(client.getPatient(2))).toMatchObject({ code: 'SPRY_AUTH_FAILED', retryable: false, status: 401 });
  });

  it('refused credentials → SPRY_AUTH_FAILED, permanent', async () => {
    const { client } = makeClient({ clientSecret: 'wrong' });
    const error = await failure(client.getPatient(1));
    expect(error).toMatchObject({ code: 'SPRY_AUTH_FAILED', retryable: false, ids: { organisationId: 9 } });
    expect(error.message).not.toContain('wrong');
  });
});

describe('SpryClient envelope and records', () => {
  it('a missing record reads as null: HTTP 404, or code 4004 on HTTP 200', async () => {
    const { client } = makeClient();
    expect(await client.getPatient(404)).toBeNull();
    expect(await client.getPatient(7)).toBeNull();
    expect(await client.getAppointment(404)).toBeNull();
    expect(await client.getCase('SPRY_CASE_missing')).toBeNull();
  });

  it('code !== 2000 on HTTP 200 is a failure, named by code and ids, without the message (PHI)', async () => {
    const { client } = makeClient();
    const error = await failure(client.getPatient(13));
    expect(error).toMatchObject({ code: 'SPRY_REJECTED', retryable: false, status: 200, ids: { patientId: 13, organisationId: 9 } });
    expect(error.message).toContain('4100');
    expect(error.message).not.toContain('Jane');
    expect(await failure(client.getPatient(50))).toMatchObject({ code: 'SPRY_UNAVAILABLE', retryable: true });
    // No envelope at all: not a Spry answer (src/spry/contract.test.ts has the rest).
    expect(await failure(client.getPatient(51))).toMatchObject({ code: 'SPRY_CONTRACT_MISMATCH', retryable: false });
  });

  it('patching an unknown patient is SPRY_NOT_FOUND, not null', async () => {
    const { client } = makeClient();
    expect(await failure(client.patchPatient(404, { first_name: 'X' }))).toMatchObject({ code: 'SPRY_NOT_FOUND', retryable: false });
    expect((await client.patchPatient(3, { mobile: '+12065550000' })).mobile).toBe('+12065550000');
  });

  it('lists pages and iterates all of them', async () => {
    const { client, calls } = makeClient();
    const page = await client.listPatients({ page: 1, size: 2, status: 'ACTIVE', updatedSince: '2026-01-01T00:00:00Z' });
    expect(page).toMatchObject({ total: 5, pages: 3, current: 1 });
    expect((page as unknown as { echo: unknown }).echo).toBeUndefined();
    const ids: number[] = [];
    for await (const p of client.iteratePatients({ size: 2 })) ids.push(p.patient_id);
    expect(ids).toEqual([1, 2, 3, 4, 5]);
    expect(calls.filter((c) => c.route === 'GET /apis/v1/patient')).toHaveLength(4);
  });

  it('reads appointments, cases and a patient’s cases', async () => {
    const { client } = makeClient();
    expect(await client.getAppointment(5)).toMatchObject({ appointment_id: 5 });
    const page = await client.listPatientAppointments(1, { fromEpochSeconds: 1_700_000_000, page: 1, size: 10 });
    expect(page.content[0]).toMatchObject({ patient_id: 1, date_time: '1700000000' });
    expect(await client.getCase('SPRY_CASE_ab')).toMatchObject({ spry_case_id: 'SPRY_CASE_ab' });
    expect(await client.listPatientCases(1)).toEqual([{ spry_case_id: 'SPRY_CASE_a1', patient_id: 1 }]);
  });

  it('records communication idempotently on external_id, summary capped at 2000', async () => {
    const { client } = makeClient();
    const input: SpryCommunicationInput = {
      channel: 'SPRUCE',
      direction: 'INBOUND',
      kind: 'MESSAGE',
      occurred_at: '2026-01-01T00:00:00Z',
      summary: 'x'.repeat(2500),
      external_id: 'ti_1',
    };
    const first = await client.recordCommunication(1, input);
    const again = await client.recordCommunication(1, input);
    expect(again.communication_id).toBe(first.communication_id);
    expect([...first.summary]).toHaveLength(2000);
  });

  it('lists and creates webhook subscriptions', async () => {
    const { client } = makeClient();
    expect(await client.listSubscriptions()).toEqual([expect.objectContaining({ id: 'sub_1' })]);
    const created = await client.createSubscription({ name: 'n', event_types: ['patient.updated'], notification_url: 'https://x/y', api_version: '2026-06-11' });
    expect(created).toMatchObject({ id: 'sub_2', signature_key: 'whsec_abc', name: 'n' });
  });
});

describe('SpryClient pacing', () => {
  it('429 → SPRY_RATE_LIMITED with Retry-After', async () => {
    const { client } = makeClient();
    await client.getPatient(1);
    spry.rateLimitNext = 1;
    expect(await failure(client.getPatient(1))).toMatchObject({ code: 'SPRY_RATE_LIMITED', retryable: true, retryAfterSeconds: 3 });
  });

  it('sends at most 5 requests a second by default', async () => {
    const clock = new ControlledClock({ start: 0, flowing: false });
    spry.clock = clock;
    const { client } = makeClient({ clock, requestsPerSecond: undefined });
    const stop = autoAdvance(clock, 10);
    try {
      await client.getPatient(1);
      const from = spry.requests.length;
      await Promise.all(Array.from({ length: 10 }, (_, i) => client.getPatient(i + 1)));
      const times = spry.requests.slice(from).map((r) => r.at);
      // Ten calls after the first two (token, patient) cannot finish in under two seconds.
      expect(times.at(-1)! - times[0]!).toBeGreaterThanOrEqual(1_800);
    } finally {
      await stop();
    }
  });

  it('a bulk view shares the token and limiter', async () => {
    const { client } = makeClient();
    const before = spry.tokensIssued;
    await client.getPatient(1);
    await client.withPriority('bulk').getPatient(2);
    expect(spry.tokensIssued - before).toBe(1);
  });
});
