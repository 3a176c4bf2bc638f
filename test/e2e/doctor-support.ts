// Shared by the doctor tests: a sandbox world whose service knows its public URL and has an
// admin token, and calls to the simulators' own vendor APIs (as an operator or Spry/Spruce
// staff would make them) to break a registration from the outside.
import { freePort } from '../../src/sandbox/environment.ts';
import { startWorld, type World } from './support.ts';

export const DOCTOR_ADMIN_TOKEN = 'doctor-test-admin-token';

export async function startDoctorWorld(): Promise<World> {
  const port = await freePort();
  return startWorld({
    // Each doctor run spends ~8 Spruce calls; the tests make many runs within a minute.
    spruceRateLimitPerMinute: 600,
    service: { port, config: { server: { host: '127.0.0.1', port, publicUrl: `http://127.0.0.1:${port}` }, admin: { token: DOCTOR_ADMIN_TOKEN } } },
  });
}

/** A Spruce API call with the tenant's credentials; throws unless Spruce answers 200. */
export async function spruceApi(world: World, method: string, route: string): Promise<unknown> {
  const { accessId, secretKey } = world.config.tenants[0]!.spruce;
  const response = await fetch(`${world.sandbox.spruceUrl}${route}`, {
    method,
    headers: { authorization: `Bearer ${Buffer.from(`${accessId}:${secretKey}`).toString('base64')}` },
  });
  if (response.status !== 200) throw new Error(`Spruce ${method} ${route} answered ${response.status}`);
  return response.json().catch(() => null);
}

/** Our Spruce webhook endpoint's id (the sandbox world registers exactly one). */
export async function ourSpruceEndpointId(world: World): Promise<string> {
  const { endpoints } = (await spruceApi(world, 'GET', '/webhooks/endpoints')) as { endpoints: { id: string }[] };
  if (endpoints.length !== 1) throw new Error(`expected one Spruce endpoint, found ${endpoints.length}`);
  return endpoints[0]!.id;
}

/** A Spry API call with a fresh token of the tenant's client; throws unless Spry answers 200. */
export async function spryApi(world: World, method: string, route: string, json?: unknown): Promise<unknown> {
  const { clientId, clientSecret } = world.config.tenants[0]!.spry;
  const tokenAnswer = await fetch(`${world.sandbox.spryUrl}/apis/v2/oauth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'client_credentials', client_id: clientId, client_secret: clientSecret, scope: 'read write' }).toString(),
  });
  const tokenBody = (await tokenAnswer.json()) as { access_token?: string; data?: { access_token: string } };
  const token = tokenBody.access_token ?? tokenBody.data?.access_token;
  const response = await fetch(`${world.sandbox.spryUrl}${route}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(json ? { 'content-type': 'application/json' } : {}) },
    body: json ? JSON.stringify(json) : undefined,
  });
  if (response.status !== 200) throw new Error(`Spry ${method} ${route} answered ${response.status}`);
  const body = (await response.json()) as { code?: number; data?: unknown };
  return typeof body.code === 'number' ? body.data : body;
}
