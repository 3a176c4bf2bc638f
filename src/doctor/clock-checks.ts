// Clock skew against the vendors' `Date` headers. Spry signs each delivery with its send time
// and we refuse signatures more than 300 s from our clock, so a skewed clock refuses every
// delivery; Spruce's event times are compared with ours for catch-up windows. `Date` has
// one-second resolution: the answer's middle of the round trip is compared with the header's
// second plus half a second.
import { headerValue } from '../http/retry-after.ts';
import { fail, ok, warn, type CheckResult } from './types.ts';
import type { Exchange } from './wire-tap.ts';

/** Beyond this, deliveries waiting a little at the vendor already fall outside the ±300 s window. */
export const SKEW_FAIL_SECONDS = 150;
export const SKEW_WARN_SECONDS = 30;

/** Our clock minus the vendor's, in seconds; undefined without a usable `Date` header. */
export function skewSeconds(exchanges: readonly Exchange[]): number | undefined {
  const dated = exchanges
    .map((e) => ({ e, date: Date.parse(headerValue(e.headers, 'date') ?? '') }))
    .filter(({ date }) => !Number.isNaN(date))
    // The quickest round trip pins the moment best.
    .sort((a, b) => a.e.answeredAt - a.e.sentAt - (b.e.answeredAt - b.e.sentAt));
  const best = dated[0];
  if (!best) return undefined;
  const ours = (best.e.sentAt + best.e.answeredAt) / 2;
  const seconds = (ours - (best.date + 500)) / 1000;
  // Within the header's resolution and the round trip, there is no measurable skew.
  const margin = 1 + (best.e.answeredAt - best.e.sentAt) / 2000;
  return Math.abs(seconds) <= margin ? 0 : Math.round(seconds);
}

export function clockCheck(system: 'spry' | 'spruce', exchanges: readonly Exchange[]): CheckResult {
  const check = `clock.${system}`;
  const vendor = system === 'spry' ? 'Spry' : 'Spruce';
  const skew = skewSeconds(exchanges);
  if (skew === undefined) {
    return warn(check, `${vendor} sent no Date header: skew not measured`, { action: 'check this machine keeps time (NTP)', assumption: 'clock.date-header' });
  }
  const size = Math.abs(skew);
  const text = skew === 0 ? `our clock agrees with ${vendor}'s Date header` : `our clock is ${size} s ${skew > 0 ? 'ahead of' : 'behind'} ${vendor}'s`;
  const action = 'synchronise this machine\'s clock (NTP); Spry signatures are refused beyond ±300 s';
  if (size >= SKEW_FAIL_SECONDS) return fail(check, text, { action, assumption: 'clock.skew' });
  if (size >= SKEW_WARN_SECONDS) return warn(check, text, { action, assumption: 'clock.skew' });
  return ok(check, text);
}
