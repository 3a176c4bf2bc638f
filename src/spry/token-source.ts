// Spry's OAuth 2.0 client-credentials token: fetched once, shared by concurrent callers, and
// renewed a few minutes before it expires (there is no refresh token).
import { SyncError } from '../errors.ts';
import { contractMismatch } from './contract.ts';
import type { Clock } from '../clock.ts';
import { safeToken } from '../http/classify.ts';
import type { HttpClient } from '../http/http-client.ts';

export const SPRY_TOKEN_PATH = '/apis/v2/oauth/token';

export interface SpryTokenSourceOptions {
  http: HttpClient;
  clock: Clock;
  clientId: string;
  clientSecret: string;
  /** Renew this long before expiry (at most half the lifetime). Default 5 minutes. */
  renewBeforeMs?: number;
  ids?: Record<string, string | number>;
}

interface CachedToken {
  value: string;
  renewAt: number;
}

export class SpryTokenSource {
  private cached: CachedToken | undefined;
  private pending: Promise<string> | undefined;

  constructor(private readonly options: SpryTokenSourceOptions) {}

  async get(): Promise<string> {
    if (this.cached && this.options.clock.now() < this.cached.renewAt) return this.cached.value;
    this.pending ??= this.fetch().finally(() => {
      this.pending = undefined;
    });
    return this.pending;
  }

  /** Drops `used` after Spry refused it; a newer token fetched meanwhile is kept. */
  invalidate(used: string): void {
    if (this.cached?.value === used) this.cached = undefined;
  }

  private async fetch(): Promise<string> {
    const { http, clock, clientId, clientSecret, ids } = this.options;
    const res = await http.request<Record<string, unknown>>({
      method: 'POST',
      path: SPRY_TOKEN_PATH,
      form: { grant_type: 'client_credentials', client_id: clientId, client_secret: clientSecret, scope: 'read write' },
      accept: [400, 401, 403, 404],
      retrySafe: true,
      ids,
    });
    const body = res.body ?? {};
    // The token answer is plain OAuth JSON; tolerate it arriving inside Spry's envelope too.
    const enveloped = typeof body.code === 'number';
    const data = (enveloped ? body.data : body) as Record<string, unknown> | undefined;
    const token = data?.access_token;
    const context = { route: `POST ${SPRY_TOKEN_PATH}`, status: res.status, ids };
    // No token endpoint there, or a success that carries no token: not Spry, not a refusal.
    if (res.status === 404) throw contractMismatch('without a token endpoint: a path Spry does not have', context);
    if (res.status < 300 && !(enveloped && body.code !== 2000) && typeof token !== 'string') throw contractMismatch('without an access_token', context);
    if (res.status >= 400 || (enveloped && body.code !== 2000) || typeof token !== 'string' || token === '') {
      const detail = safeToken(body.error) ?? (enveloped ? safeToken(body.code) : undefined);
      throw new SyncError('SPRY_AUTH_FAILED', `Spry token request refused (${res.status}${detail ? ` ${detail}` : ''})`, {
        retryable: false,
        status: res.status,
        ids,
      });
    }
    const lifetimeMs = (typeof data?.expires_in === 'number' && data.expires_in > 0 ? data.expires_in : 3600) * 1000;
    const margin = Math.min(this.options.renewBeforeMs ?? 5 * 60_000, lifetimeMs / 2);
    this.cached = { value: token, renewAt: clock.now() + lifetimeMs - margin };
    return token;
  }
}
