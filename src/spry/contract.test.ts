// A Spry answer that is not a Spry answer is a configuration error (SPRY_CONTRACT_MISMATCH,
// permanent), never "patient missing": a real HTTP server on loopback answers as a gateway, a
// web server or a changed API would.
import formbody from '@fastify/formbody';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ControlledClock } from '../clock.ts';
import { SyncError } from '../errors.ts';
import { listen } from '../http/test-support.ts';
import { SpryClient } from './client.ts';

const PHI = 'Jane Q. Patient';
const ok = (data: unknown) => ({ code: 2000, data, message: 'Success' });
const patient = (id: number) => ({ patient_id: id, first_name: 'Jane', last_name: 'Patient', name: PHI, status: 'ACTIVE' });

/** A base URL whose answers the test chooses per path. */
function server(): FastifyInstance {
  const app = Fastify();
  app.register(formbody);
  app.post('/apis/v2/oauth/token', async () => ({ access_token: 'tok', token_type: 'Bearer', expires_in: 3600 }));
  // A real missing record: Spry's envelope, code 4004.
  app.get('/apis/v1/patient/404', async (_req, reply) => reply.code(404).send({ code: 4004, message: `Patient ${PHI} not found` }));
  app.get('/apis/v1/patient/1', async () => ok(patient(1)));
  // Not Spry: a gateway's JSON 404, an HTML 404, an HTML 200, JSON without the envelope, a changed shape.
  app.get('/apis/v1/patient/20', async (_req, reply) => reply.code(404).send({ message: 'no Route matched with those values' }));
  app.get('/apis/v1/patient/21', async (_req, reply) => reply.code(404).type('text/html').send('<html><body>Not Found</body></html>'));
  app.get('/apis/v1/patient/22', async (_req, reply) => reply.code(200).type('text/html').send(`<html><body>${PHI}</body></html>`));
  app.get('/apis/v1/patient/23', async () => patient(23));
  app.get('/apis/v1/patient/24', async () => ok({ id: 24, name: PHI }));
  app.get('/apis/v1/patient/25', async () => ok([patient(25)]));
  app.patch('/apis/v1/patient/30', async (_req, reply) => reply.code(404).type('text/html').send('<h1>404</h1>'));
  app.patch('/apis/v1/patient/404', async (_req, reply) => reply.code(404).send({ code: 4004, message: 'Patient not found' }));
  app.get('/apis/v1/patient', async () => ok({ total: 1, patients: [patient(1)] }));
  app.post('/apis/v1/patient/:id/communication', async () => ok({ created: true }));
  app.get('/apis/v1/patient/:id/cases', async () => ok('none'));
  return app;
}

let app: FastifyInstance;
let client: SpryClient;

beforeAll(async () => {
  app = server();
  const baseUrl = await listen(app);
  client = new SpryClient({ baseUrl, clientId: 'cid', clientSecret: 'secret', organisationId: 9, clock: new ControlledClock(), requestsPerSecond: 1_000, retry: { attempts: 3 } });
});
afterAll(async () => {
  await client.close();
  await app.close();
});

async function mismatch(promise: Promise<unknown>): Promise<SyncError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(SyncError);
  expect(error).toMatchObject({ code: 'SPRY_CONTRACT_MISMATCH', retryable: false });
  expect((error as Error).message).not.toContain('Jane');
  return error as SyncError;
}

describe('Spry answers that are not Spry answers', () => {
  it('a real missing patient is still null, and a real one is read', async () => {
    expect(await client.getPatient(404)).toBeNull();
    expect((await client.getPatient(1))?.patient_id).toBe(1);
  });

  it('a 404 without the envelope (gateway JSON or HTML) is a path Spry does not have, not a missing patient', async () => {
    expect((await mismatch(client.getPatient(20))).status).toBe(404);
    expect((await mismatch(client.getPatient(21))).message).toContain("without Spry's envelope");
    await mismatch(client.patchPatient(30, { mobile: '+12065550100' }));
    // Spry's own 404 on a write stays what it was.
    await expect(client.patchPatient(404, { mobile: '+12065550100' })).rejects.toMatchObject({ code: 'SPRY_NOT_FOUND', retryable: false });
  });

  it('a success that is not JSON, or JSON without the envelope, is no Spry answer (and is not retried)', async () => {
    expect((await mismatch(client.getPatient(22))).message).toContain('not JSON');
    await mismatch(client.getPatient(23));
  });

  it('an envelope whose data has not the shape we read is a mismatch', async () => {
    expect((await mismatch(client.getPatient(24))).message).toContain('patient_id');
    await mismatch(client.getPatient(25));
    expect((await mismatch(client.listPatients({ page: 1, size: 10 }))).message).toContain('page');
    await mismatch(client.recordCommunication(1, { channel: 'SPRUCE', direction: 'INBOUND', kind: 'MESSAGE', occurred_at: '2026-01-01T00:00:00Z', summary: 'x', external_id: 'ti_1' }));
    await mismatch(client.listPatientCases(1));
  });

  it('a base URL where Spry is not (no token endpoint, or a token answer without a token) is a mismatch, not refused credentials', async () => {
    const nothing = Fastify();
    nothing.register(formbody);
    nothing.post('/elsewhere/apis/v2/oauth/token', async () => ok({ token_type: 'Bearer' }));
    const base = await listen(nothing);
    const options = { clientId: 'cid', clientSecret: 'secret', organisationId: 9, clock: new ControlledClock(), requestsPerSecond: 1_000, retry: { attempts: 3 } };
    const missing = new SpryClient({ ...options, baseUrl: base });
    const tokenless = new SpryClient({ ...options, baseUrl: `${base}/elsewhere` });
    try {
      expect((await mismatch(missing.getPatient(1))).message).toContain('token endpoint');
      expect((await mismatch(tokenless.getPatient(1))).message).toContain('access_token');
    } finally {
      await Promise.all([missing.close(), tokenless.close(), nothing.close()]);
    }
  });
});
