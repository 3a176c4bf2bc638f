import { describe, expect, it } from 'vitest';
import { ControlledClock } from '../../clock.ts';
import { SpryApiError } from './envelope.ts';
import { OAuthServer } from './oauth.ts';
import { OrgRateLimiter } from './rate-limit.ts';

const clock = () => new ControlledClock({ start: Date.UTC(2026, 5, 11), flowing: false });
const server = (c: ControlledClock) =>
  new OAuthServer(c, [{ organisationId: 74, clientId: 'id', clientSecret: 'secret' }], 60, () => ({ name: 'Org', clinicIds: [7401] }));
const grant = { grant_type: 'client_credentials', client_id: 'id', client_secret: 'secret' };

function failure(fn: () => unknown): SpryApiError {
  try {
    fn();
  } catch (error) {
    if (error instanceof SpryApiError) return error;
    throw error;
  }
  throw new Error('expected a SpryApiError');
}

describe('OAuthServer', () => {
  it('issues a JWT-shaped token that expires on the clock', async () => {
    const c = clock();
    const oauth = server(c);
    const token = oauth.issue(grant);
    expect(token.access_token.split('.')).toHaveLength(3);
    expect(token).toMatchObject({ token_type: 'Bearer', expires_in: 60, scope: 'read write', organisation_id: 74, clinic_id_list: [7401] });
    expect(oauth.verify(`Bearer ${token.access_token}`).organisationId).toBe(74);
    await c.advance(59_999);
    expect(oauth.verify(`Bearer ${token.access_token}`).expiresAtMs).toBe(Date.UTC(2026, 5, 11) + 60_000);
    await c.advance(1);
    expect(failure(() => oauth.verify(`Bearer ${token.access_token}`))).toMatchObject({ httpStatus: 401, message: 'Access token expired' });
    expect(oauth.organisationOf(`Bearer ${token.access_token}`)).toBe(74);
  });

  it('refuses wrong secrets, unknown clients, other grants, made-up tokens and other servers’ tokens', () => {
    const oauth = server(clock());
    expect(failure(() => oauth.issue({ ...grant, client_secret: 'nope' }))).toMatchObject({ httpStatus: 401, code: 4011 });
    expect(failure(() => oauth.issue({ ...grant, client_id: 'other' }))).toMatchObject({ httpStatus: 401, code: 4011 });
    expect(failure(() => oauth.issue({ ...grant, grant_type: 'password' }))).toMatchObject({ httpStatus: 400 });
    expect(failure(() => oauth.issue({ ...grant, scope: 'admin' }))).toMatchObject({ httpStatus: 400 });
    expect(failure(() => oauth.verify(undefined))).toMatchObject({ httpStatus: 401, code: 4010 });
    expect(failure(() => oauth.verify('Bearer a.b.c'))).toMatchObject({ httpStatus: 401, message: 'Invalid access token' });
    const foreign = server(clock()).issue(grant).access_token;
    expect(failure(() => oauth.verify(`Bearer ${foreign}`))).toMatchObject({ httpStatus: 401 });
  });

  it('grants only the scopes asked for, and takes HTTP Basic client credentials', () => {
    const oauth = server(clock());
    const readOnly = oauth.issue({ grant_type: 'client_credentials', scope: 'read' }, { clientId: 'id', clientSecret: 'secret' });
    expect(readOnly.scope).toBe('read');
    expect([...oauth.verify(`Bearer ${readOnly.access_token}`).scopes]).toEqual(['read']);
  });
});

describe('OrgRateLimiter', () => {
  it('is off by default, then allows a second’s worth per organisation and says how long to wait', async () => {
    const c = clock();
    const limiter = new OrgRateLimiter(c);
    for (let i = 0; i < 100; i++) expect(limiter.take(1).allowed).toBe(true);
    limiter.setLimit(5);
    for (let i = 0; i < 5; i++) expect(limiter.take(1).allowed).toBe(true);
    expect(limiter.take(1)).toEqual({ allowed: false, retryAfterSeconds: 1 });
    expect(limiter.take(2).allowed).toBe(true);
    await c.advance(200);
    expect(limiter.take(1).allowed).toBe(true);
    expect(limiter.take(1).allowed).toBe(false);
  });
});
