// Subscriber URLs must not become a way into internal services (SSRF). Rules:
//   - https only; plain http only to loopback, and only when the tenant allows loopback
//     (`fanout.allowLoopback`, for tests and the demo)
//   - no user:password@ in the URL
//   - the host is resolved and EVERY address must be public: loopback, private (10/8,
//     172.16/12, 192.168/16, fc00::/7, 100.64/10), link-local (169.254/16, fe80::/10, cloud
//     metadata), unspecified, multicast and reserved ranges are refused, unless the address
//     is loopback and loopback is allowed, or it lies in one of the tenant's
//     `fanout.allowedNetworks` (CIDRs an operator opened explicitly)
// The check runs when a subscription is created or changed, and again at every connection
// (a guarded DNS lookup), so a name that later resolves elsewhere (DNS rebinding) is refused.
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { BlockList, isIP } from 'node:net';

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

const ranges: { kind: Exclude<AddressKind, 'public'>; cidr: string }[] = [
  { kind: 'loopback', cidr: '127.0.0.0/8' },
  { kind: 'loopback', cidr: '::1/128' },
  { kind: 'private', cidr: '10.0.0.0/8' },
  { kind: 'private', cidr: '172.16.0.0/12' },
  { kind: 'private', cidr: '192.168.0.0/16' },
  { kind: 'private', cidr: '100.64.0.0/10' },
  { kind: 'private', cidr: 'fc00::/7' },
  { kind: 'link_local', cidr: '169.254.0.0/16' },
  { kind: 'link_local', cidr: 'fe80::/10' },
  { kind: 'reserved', cidr: '0.0.0.0/8' },
  { kind: 'reserved', cidr: '192.0.0.0/24' },
  { kind: 'reserved', cidr: '192.0.2.0/24' },
  { kind: 'reserved', cidr: '198.18.0.0/15' },
  { kind: 'reserved', cidr: '198.51.100.0/24' },
  { kind: 'reserved', cidr: '203.0.113.0/24' },
  { kind: 'reserved', cidr: '224.0.0.0/4' },
  { kind: 'reserved', cidr: '240.0.0.0/4' },
  { kind: 'reserved', cidr: '::/128' },
  { kind: 'reserved', cidr: '100::/64' },
  { kind: 'reserved', cidr: '2001:db8::/32' },
  { kind: 'reserved', cidr: 'ff00::/8' },
];

const lists = new Map<Exclude<AddressKind, 'public'>, BlockList>();
for (const { kind, cidr } of ranges) {
  let list = lists.get(kind);
  if (!list) lists.set(kind, (list = new BlockList()));
  addCidr(list, cidr);
}

function addCidr(list: BlockList, cidr: string): void {
  const [address, bits] = cidr.split('/');
  const family = isIP(address ?? '');
  const prefix = Number(bits);
  if (family === 0 || !Number.isInteger(prefix) || prefix < 0 || prefix > (family === 4 ? 32 : 128)) {
    throw new RangeError(`not a CIDR: ${cidr}`);
  }
  list.addSubnet(address!, prefix, family === 4 ? 'ipv4' : 'ipv6');
}

export function isCidr(value: string): boolean {
  try {
    addCidr(new BlockList(), value);
    return true;
  } catch {
    return false;
  }
}

/** IPv4-mapped (::ffff:a.b.c.d) and NAT64 (64:ff9b::a.b.c.d) addresses are judged by their IPv4 part. */
function normalize(address: string): { address: string; type: 'ipv4' | 'ipv6' } {
  const lower = address.toLowerCase().replace(/^\[|\]$/g, '');
  const embedded = /^(?:::ffff:|64:ff9b::)(?:0:)?(\d+\.\d+\.\d+\.\d+)$/.exec(lower);
  if (embedded) return { address: embedded[1]!, type: 'ipv4' };
  const hexMapped = /^(?:::ffff:|64:ff9b::)([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(lower);
  if (hexMapped) {
    const high = parseInt(hexMapped[1]!, 16);
    const low = parseInt(hexMapped[2]!, 16);
    return { address: `${high >> 8}.${high & 255}.${low >> 8}.${low & 255}`, type: 'ipv4' };
  }
  return { address: lower, type: isIP(lower) === 4 ? 'ipv4' : 'ipv6' };
}

export function classifyAddress(address: string): AddressKind {
  const { address: plain, type } = normalize(address);
  for (const [kind, list] of lists) if (list.check(plain, type)) return kind;
  return 'public';
}

/** Null when the address may be reached under the policy, else why not. */
export function addressProblem(address: string, policy: AddressPolicy): string | null {
  const kind = classifyAddress(address);
  if (kind === 'public') return null;
  if (kind === 'loopback' && policy.allowLoopback) return null;
  const { address: plain, type } = normalize(address);
  if (policy.allowedNetworks.length > 0) {
    const allowed = new BlockList();
    for (const cidr of policy.allowedNetworks) addCidr(allowed, cidr);
    if (allowed.check(plain, type)) return null;
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
