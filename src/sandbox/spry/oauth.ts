// OAuth 2.0 client credentials as Spry runs it: a JWT-looking bearer token that expires after
// `expires_in` seconds on the simulator's clock, and no refresh token.
import { createHash, createHmac, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import type { Clock } from '../../clock.ts';
import { CODE, SpryApiError } from './envelope.ts';

export interface OrgCredentials {
  organisationId: number;
  clientId: string;
  clientSecret: string;
}

export interface TokenGrant {
  organisationId: number;
  clientId: string;
  scopes: ReadonlySet<string>;
  expiresAtMs: number;
}

export interface TokenResponse {
  access_token: string;
  token_type: 'Bearer';
  expires_in: number;
  scope: string;
  organisation_id: number;
  user_id: number;
  roles: string[];
  clinic_id_list: number[];
  name: string;
}

const SCOPES = ['read', 'write'];

const b64url = (value: string | Buffer) => Buffer.from(value).toString('base64url');

function sameSecret(a: string, b: string): boolean {
  // Hash first so the comparison takes the same time whatever the lengths.
  return timingSafeEqual(createHash('sha256').update(a).digest(), createHash('sha256').update(b).digest());
}

/** 401 with Spry's envelope and the RFC 6750 challenge a bearer-token API answers with. */
const unauthorized = (message: string) =>
  new SpryApiError(401, CODE.UNAUTHORIZED, message, undefined, {
    'www-authenticate': `Bearer error="invalid_token", error_description="${message}"`,
  });

export class OAuthServer {
  /** Signs this simulator's tokens: a token from another run (or made up) is "unknown". */
  private readonly signingKey = randomBytes(32);
  /** Tokens carry the generation they were issued in; `expireAll` starts a new one. */
  private generation = 0;

  constructor(
    private readonly clock: Clock,
    private readonly credentials: OrgCredentials[],
    private readonly ttlSeconds: number,
    private readonly describeOrg: (organisationId: number) => { name: string; clinicIds: number[] },
  ) {}

  /** `POST /apis/v2/oauth/token`. `basic` is an `Authorization: Basic` pair, which Spry also accepts. */
  issue(body: Record<string, unknown>, basic?: { clientId: string; clientSecret: string }): TokenResponse {
    const grantType = body.grant_type;
    if (grantType !== 'client_credentials') {
      throw new SpryApiError(400, CODE.BAD_REQUEST, `unsupported_grant_type: expected grant_type=client_credentials`);
    }
    const clientId = typeof body.client_id === 'string' ? body.client_id : basic?.clientId;
    const clientSecret = typeof body.client_secret === 'string' ? body.client_secret : basic?.clientSecret;
    if (!clientId || !clientSecret) {
      throw new SpryApiError(400, CODE.BAD_REQUEST, 'invalid_request: client_id and client_secret are required');
    }
    const requested = typeof body.scope === 'string' && body.scope.trim() ? body.scope.trim().split(/[\s,]+/) : SCOPES;
    const unknown = requested.filter((s) => !SCOPES.includes(s));
    if (unknown.length) throw new SpryApiError(400, CODE.BAD_REQUEST, `invalid_scope: ${unknown.join(' ')}`);
    const client = this.credentials.find((c) => c.clientId === clientId);
    if (!client || !sameSecret(client.clientSecret, clientSecret)) {
      throw new SpryApiError(401, CODE.INVALID_CLIENT, 'invalid_client: client authentication failed');
    }
    const scope = SCOPES.filter((s) => requested.includes(s)).join(' ');
    const issuedAt = Math.floor(this.clock.now() / 1000);
    const payload = {
      iss: 'https://provider.sprypt.com',
      sub: clientId,
      organisation_id: client.organisationId,
      scope,
      iat: issuedAt,
      exp: issuedAt + this.ttlSeconds,
      jti: randomUUID(),
      gen: this.generation,
    };
    const org = this.describeOrg(client.organisationId);
    return {
      access_token: this.sign(payload),
      token_type: 'Bearer',
      expires_in: this.ttlSeconds,
      scope,
      organisation_id: client.organisationId,
      user_id: client.organisationId * 10 + 1,
      roles: ['API_CLIENT'],
      clinic_id_list: org.clinicIds,
      name: `${org.name} API client`,
    };
  }

  /** Checks `Authorization: Bearer …`; throws the 401 Spry answers otherwise. */
  verify(authorization: string | undefined): TokenGrant {
    const match = /^Bearer\s+(\S+)$/i.exec(authorization ?? '');
    if (!match) throw unauthorized('Missing bearer token');
    const payload = this.decode(match[1]!);
    if (!payload) throw unauthorized('Invalid access token');
    if (this.clock.now() >= payload.exp * 1000 || payload.gen !== this.generation) throw unauthorized('Access token expired');
    return {
      organisationId: payload.organisation_id,
      clientId: payload.sub,
      scopes: new Set(payload.scope.split(' ')),
      expiresAtMs: payload.exp * 1000,
    };
  }

  /**
   * Every token issued so far expires now, as after a key rotation or a server restart on
   * Spry's side [ours]: callers must cope with a 401 before `expires_in` runs out.
   */
  expireAll(): void {
    this.generation++;
  }

  /** The organisation a (possibly expired) token of ours names, for the request log. */
  organisationOf(authorization: string | undefined): number | null {
    const match = /^Bearer\s+(\S+)$/i.exec(authorization ?? '');
    return match ? (this.decode(match[1]!)?.organisation_id ?? null) : null;
  }

  private sign(payload: object): string {
    const unsigned = `${b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }))}.${b64url(JSON.stringify(payload))}`;
    return `${unsigned}.${createHmac('sha256', this.signingKey).update(unsigned).digest('base64url')}`;
  }

  private decode(token: string): { sub: string; organisation_id: number; scope: string; exp: number; gen: number } | null {
    const parts = token.split('.');
    if (parts.length !== 3) return null;
    const expected = createHmac('sha256', this.signingKey).update(`${parts[0]}.${parts[1]}`).digest();
    const given = Buffer.from(parts[2]!, 'base64url');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return null;
    try {
      return JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8'));
    } catch {
      return null;
    }
  }
}
