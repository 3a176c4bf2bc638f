// The doctor's own Spry and Spruce clients for one tenant: the ordinary clients, built as the
// service builds them (a transient 5xx, 429 or network failure is retried the same way, so the
// answer judged is the last one), with their traffic carried through a WireTap so every answer
// can be inspected as it came.
import type { Clock } from '../clock.ts';
import type { TenantConfig } from '../config/schema.ts';
import type { RetryPolicy } from '../http/http-client.ts';
import { RatePacer } from '../http/rate-pacer.ts';
import { TokenBucket } from '../http/token-bucket.ts';
import { SpruceClient } from '../spruce/client.ts';
import { SpryClient } from '../spry/client.ts';
import { WireTap, type Exchange } from './wire-tap.ts';

export interface Probe {
  spry: SpryClient;
  spruce: SpruceClient;
  spryTap: WireTap;
  spruceTap: WireTap;
  close(): Promise<void>;
}

const TIMEOUT_MS = 10_000;

export function openProbe(tenant: TenantConfig, clock: Clock, retry?: Partial<RetryPolicy>): Probe {
  const spryTap = new WireTap({ now: () => clock.now(), timeoutMs: TIMEOUT_MS });
  const spruceTap = new WireTap({ now: () => clock.now(), timeoutMs: TIMEOUT_MS });
  const spry = new SpryClient({
    baseUrl: tenant.spry.baseUrl,
    clientId: tenant.spry.clientId,
    clientSecret: tenant.spry.clientSecret,
    organisationId: tenant.spry.organisationId,
    limiter: new TokenBucket({ clock, ratePerSecond: tenant.spry.requestsPerSecond }),
    dispatcher: spryTap.dispatcher,
    timeoutMs: TIMEOUT_MS,
    clock,
    retry,
  });
  const spruce = new SpruceClient({
    baseUrl: tenant.spruce.baseUrl,
    accessId: tenant.spruce.accessId,
    secretKey: tenant.spruce.secretKey,
    pacer: new RatePacer({ clock }),
    dispatcher: spruceTap.dispatcher,
    timeoutMs: TIMEOUT_MS,
    clock,
    retry,
  });
  return {
    spry,
    spruce,
    spryTap,
    spruceTap,
    async close() {
      await Promise.allSettled([spry.close(), spruce.close()]);
      await Promise.allSettled([spryTap.close(), spruceTap.close()]);
    },
  };
}

export interface Observed<T> {
  value?: T;
  error?: unknown;
  /** Every answer the call received, token fetches included, in order. */
  exchanges: Exchange[];
}

/** Runs one client call and keeps what it returned or threw along with the answers it saw. */
export async function observe<T>(tap: WireTap, call: () => Promise<T>): Promise<Observed<T>> {
  const mark = tap.mark();
  try {
    const value = await call();
    return { value, exchanges: tap.since(mark) };
  } catch (error) {
    return { error, exchanges: tap.since(mark) };
  }
}
