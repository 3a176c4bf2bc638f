// `Authorization: Bearer base64(accessId ":" secretKey)`: one credential acts for one whole
// organization, no scopes [doc]. Anything else — missing, malformed, unknown or disabled — is
// answered 403 [doc].
import { ApiError } from './errors.ts';
import type { OrgState, SpruceState } from './state.ts';

export interface Caller {
  org: OrgState;
  accessId: string;
}

export function bearerToken(accessId: string, secretKey: string): string {
  return Buffer.from(`${accessId}:${secretKey}`, 'utf8').toString('base64');
}

export function authenticate(state: SpruceState, header: string | undefined): Caller {
  const forbidden = new ApiError(403, 'FORBIDDEN', 'invalid or missing API token');
  const match = /^Bearer\s+([A-Za-z0-9+/=_-]+)\s*$/i.exec(header ?? '');
  if (!match) throw forbidden;
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) throw forbidden;
  const accessId = decoded.slice(0, colon);
  const secretKey = decoded.slice(colon + 1);
  for (const org of state.orgs.values()) {
    if (org.config.accessId === accessId && org.config.secretKey === secretKey) {
      if (org.disabled) throw new ApiError(403, 'FORBIDDEN', 'API token is disabled');
      return { org, accessId };
    }
  }
  throw forbidden;
}
