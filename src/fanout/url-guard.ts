// Subscriber URLs must not become a way into internal services (SSRF). Rules:
//   - https only; plain http only to loopback, and only when the tenant allows loopback
//     (`fanout.allowLoopback`, for tests and the demo)
//   - no user:password@ in the URL
//   - the host is resolved and EVERY address must be public: loopback, private (10/8,
//     172.16/12, 192.168/16, fc00::/7, 100.64/10), link-local (169.254/16, fe80::/10, cloud
//     metadata), unspecified, multicast and reserved ranges are refused, unless the address
//     is loopback and loopback is allowed, or it lies in one of the tenant's
//     `fanout.allowedNetworks` (CIDRs an operator opened explicitly)
//   - IPv6 is public only inside global unicast (2000::/3) and outside its special ranges
//     (IETF protocol assignments 2001::/23 with Teredo, documentation 2001:db8::/32 and
//     3fff::/20). An IPv6 form that embeds an IPv4 address (IPv4-mapped ::ffff:0:0/96,
//     IPv4-compatible ::/96, SIIT ::ffff:0:0:0/96, NAT64 64:ff9b::/96, 6to4 2002::/16) is
//     judged by that IPv4 address; only the mapped form, which a dual-stack socket connects
//     to as that very IPv4 address, may count as loopback.
// The check runs when a subscription is created or changed, and again at every connection
// (a guarded DNS lookup), so a name that later resolves elsewhere (DNS rebinding) is refused.
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';

export interface AddressPolicy {
  allowLoopback: boolean;
  /** CIDRs allowed although private, link-local or reserved, e.g. `10.20.0.0/16`. */
  allowedNetworks: readonly string[];
}

export type AddressKind = 'public' | 'loopback' | 'private' | 'link_local' | 'reserved';

export type Resolve = (hostname: string) => Promise<{ address: string; family: number }[]>;

export const systemResolve: Resolve = (hostname) =>
  new Promise((resolve, reject) => {
    dnsLookup(hostname, { all: true, verbatim: true }, (error, addresses) => (error ? reject(error) : resolve(addresses)));
  });

type Refused = Exclude<AddressKind, 'public'>;
type Range<T> = { cidr: [T, number]; kind: Refused };

const cidrs = <T extends ipaddr.IPv4 | ipaddr.IPv6>(kind: 'ipv4' | 'ipv6', list: [Refused, string][]): Range<T>[] =>
  list.map(([refused, text]) => {
    const cidr = ipaddr.parseCIDR(text);
    if (cidr[0].kind() !== kind) throw new RangeError(`not an ${kind} CIDR: ${text}`);
    return { cidr: cidr as [T, number], kind: refused };
  });

const IPV4_REFUSED = cidrs<ipaddr.IPv4>('ipv4', [
  ['loopback', '127.0.0.0/8'],
  ['private', '10.0.0.0/8'],
  ['private', '172.16.0.0/12'],
  ['private', '192.168.0.0/16'],
  ['private', '100.64.0.0/10'],
  ['link_local', '169.254.0.0/16'],
  ['reserved', '0.0.0.0/8'],
  ['reserved', '192.0.0.0/24'],
  ['reserved', '192.0.2.0/24'],
  ['reserved', '192.88.99.0/24'],
  ['reserved', '198.18.0.0/15'],
  ['reserved', '198.51.100.0/24'],
  ['reserved', '203.0.113.0/24'],
  ['reserved', '224.0.0.0/4'],
  ['reserved', '240.0.0.0/4'],
]);

/** Where the IPv4 address sits in the IPv6 forms that embed one: its first 16-bit part. */
const IPV4_EMBEDDING: { cidr: [ipaddr.IPv6, number]; at: number; mapped?: true }[] = [
  { cidr: ipaddr.IPv6.parseCIDR('::ffff:0:0/96'), at: 6, mapped: true },
  { cidr: ipaddr.IPv6.parseCIDR('::ffff:0:0:0/96'), at: 6 },
  { cidr: ipaddr.IPv6.parseCIDR('64:ff9b::/96'), at: 6 },
  { cidr: ipaddr.IPv6.parseCIDR('2002::/16'), at: 1 },
  // IPv4-compatible (deprecated); :: and ::1 are matched before this.
  { cidr: ipaddr.IPv6.parseCIDR('::/96'), at: 6 },
];

const IPV6_REFUSED = cidrs<ipaddr.IPv6>('ipv6', [
  ['reserved', '::/128'],
  ['loopback', '::1/128'],
  ['private', 'fc00::/7'],
  ['private', '64:ff9b:1::/48'], // NAT64 for local use
  ['link_local', 'fe80::/10'],
  ['reserved', 'ff00::/8'],
  ['reserved', '2001::/23'], // IETF protocol assignments: Teredo 2001::/32, benchmarking, ORCHID…
  ['reserved', '2001:db8::/32'],
  ['reserved', '3fff::/20'],
]);

const GLOBAL_UNICAST = ipaddr.IPv6.parseCIDR('2000::/3');

/** The address parsed (brackets and a zone id dropped), or null when it is not an IP address. */
function parseAddress(address: string): ipaddr.IPv4 | ipaddr.IPv6 | null {
  let text = address.replace(/^\[|\]$/g, '').replace(/%.*$/, '');
  if (isIP(text) === 0) return null;
  // The URL parser writes IPv6 the standard way (ipaddr.js reads `::1.2.3.4` as IPv4-mapped).
  if (text.includes(':')) text = new URL(`http://[${text}]/`).hostname.slice(1, -1);
  return ipaddr.parse(text);
}

function ipv4Kind(address: ipaddr.IPv4): AddressKind {
  return IPV4_REFUSED.find((r) => address.match(r.cidr))?.kind ?? 'public';
}

/** The IPv4 address an IPv6 address embeds, and whether it is the mapped form. */
function embeddedIpv4(address: ipaddr.IPv6): { ipv4: ipaddr.IPv4; mapped: boolean } | null {
  if (IPV6_REFUSED.some((r) => r.cidr[1] === 128 && address.match(r.cidr))) return null; // :: and ::1
  const form = IPV4_EMBEDDING.find((e) => address.match(e.cidr));
  if (!form) return null;
  const high = address.parts[form.at]!;
  const low = address.parts[form.at + 1]!;
  return { ipv4: new ipaddr.IPv4([high >> 8, high & 255, low >> 8, low & 255]), mapped: form.mapped === true };
}

/** The address to compare with the tenant's allowed networks: an embedded IPv4 address as such. */
function comparable(address: ipaddr.IPv4 | ipaddr.IPv6): ipaddr.IPv4 | ipaddr.IPv6 {
  return address.kind() === 'ipv6' ? (embeddedIpv4(address as ipaddr.IPv6)?.ipv4 ?? address) : address;
}

export function isCidr(value: string): boolean {
  const [address, bits] = value.split('/');
  if (isIP(address ?? '') === 0 || !/^\d{1,3}$/.test(bits ?? '')) return false;
  try {
    ipaddr.parseCIDR(value);
    return true;
  } catch {
    return false;
  }
}

export function classifyAddress(address: string): AddressKind {
  const parsed = parseAddress(address);
  if (!parsed) return 'reserved';
  if (parsed.kind() === 'ipv4') return ipv4Kind(parsed as ipaddr.IPv4);
  const ipv6 = parsed as ipaddr.IPv6;
  const embedded = embeddedIpv4(ipv6);
  if (embedded) {
    const kind = ipv4Kind(embedded.ipv4);
    // Only the mapped form reaches this host's loopback; the others go through a translator.
    return kind === 'loopback' && !embedded.mapped ? 'reserved' : kind;
  }
  const refused = IPV6_REFUSED.filter((r) => ipv6.match(r.cidr)).sort((a, b) => b.cidr[1] - a.cidr[1])[0];
  if (refused) return refused.kind;
  return ipv6.match(GLOBAL_UNICAST) ? 'public' : 'reserved';
}

/** Null when the address may be reached under the policy, else why not. */
export function addressProblem(address: string, policy: AddressPolicy): string | null {
  const kind = classifyAddress(address);
  if (kind === 'public') return null;
  if (kind === 'loopback' && policy.allowLoopback) return null;
  const parsed = parseAddress(address);
  if (parsed && policy.allowedNetworks.length > 0) {
    const target = comparable(parsed);
    const inside = policy.allowedNetworks.some((text) => {
      const cidr = ipaddr.parseCIDR(text);
      return cidr[0].kind() === target.kind() && target.match(cidr);
    });
    if (inside) return null;
  }
  return `${kind.replace('_', '-')} address ${address} is not allowed for subscribers`;
}

export type UrlVerdict = { ok: true; url: URL } | { ok: false; problem: string };

/** Checks a subscriber URL, resolving its host; every address must pass. */
export async function checkSubscriberUrl(text: string, policy: AddressPolicy, resolve: Resolve = systemResolve): Promise<UrlVerdict> {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return { ok: false, problem: 'url: not a valid URL' };
  }
  if (text.length > 2000) return { ok: false, problem: 'url: at most 2000 characters' };
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return { ok: false, problem: 'url: https only' };
  if (url.username || url.password) return { ok: false, problem: 'url: credentials in the URL are not allowed (use the signature to authenticate us)' };
  const host = url.hostname.replace(/^\[|\]$/g, '');
  let addresses: string[];
  if (isIP(host)) {
    addresses = [host];
  } else {
    try {
      addresses = (await resolve(host)).map((a) => a.address);
    } catch {
      return { ok: false, problem: `url: the host ${host} does not resolve` };
    }
    if (addresses.length === 0) return { ok: false, problem: `url: the host ${host} does not resolve` };
  }
  for (const address of addresses) {
    const problem = addressProblem(address, policy);
    if (problem) return { ok: false, problem: `url: ${problem}` };
  }
  if (url.protocol === 'http:' && !(policy.allowLoopback && addresses.every((a) => classifyAddress(a) === 'loopback'))) {
    return { ok: false, problem: 'url: https only (plain http is allowed only to loopback, when the tenant allows loopback)' };
  }
  return { ok: true, url };
}

/** The error a refused connection fails with. */
export class AddressRefused extends Error {
  readonly code = 'ADDRESS_REFUSED';
  constructor(message: string) {
    super(message);
    this.name = 'AddressRefused';
  }
}

type LookupCallback = (error: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/**
 * A `lookup` for net/tls.connect that refuses to connect when any address of the name is not
 * allowed. (Connections to IP literals skip lookup: check those with addressProblem first.)
 */
export function guardedLookup(policy: AddressPolicy, resolve: Resolve = systemResolve) {
  return (hostname: string, options: { all?: boolean }, callback: LookupCallback): void => {
    resolve(hostname).then(
      (addresses) => {
        const refused = addresses.map((a) => addressProblem(a.address, policy)).find((p) => p !== null);
        if (addresses.length === 0) return callback(Object.assign(new Error(`${hostname} does not resolve`), { code: 'ENOTFOUND' }), '');
        if (refused) return callback(new AddressRefused(refused) as NodeJS.ErrnoException, '');
        if (options?.all) return callback(null, addresses.map((a) => ({ address: a.address, family: a.family })));
        return callback(null, addresses[0]!.address, addresses[0]!.family);
      },
      (error: NodeJS.ErrnoException) => callback(error, ''),
    );
  };
}
