import { describe, expect, it } from 'vitest';
import { addressProblem, checkSubscriberUrl, classifyAddress, guardedLookup, isCidr, type Resolve } from './url-guard.ts';

const closed = { allowLoopback: false, allowedNetworks: [] };
const resolveTo =
  (...addresses: string[]): Resolve =>
  async () =>
    addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));

describe('subscriber URLs (SSRF)', () => {
  it.each([
    ['127.0.0.1', 'loopback'],
    ['::1', 'loopback'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:7f00:1', 'loopback'],
    ['10.1.2.3', 'private'],
    ['172.20.0.1', 'private'],
    ['192.168.1.1', 'private'],
    ['100.64.0.1', 'private'],
    ['fd12::1', 'private'],
    ['169.254.169.254', 'link_local'],
    ['fe80::1', 'link_local'],
    ['0.0.0.0', 'reserved'],
    ['224.0.0.1', 'reserved'],
    ['64:ff9b::10.0.0.1', 'private'],
    ['93.184.216.34', 'public'],
    ['2606:4700::1111', 'public'],
    // IPv6 outside global unicast, and its special ranges
    ['::', 'reserved'],
    ['100::1', 'reserved'],
    ['ff02::1', 'reserved'],
    ['4000::1', 'reserved'],
    ['fe80::1%eth0', 'link_local'],
    ['2001:db8::1', 'reserved'],
    ['3fff::1', 'reserved'],
    ['2001:0:4136:e378:8000:63bf:3fff:fdd2', 'reserved'], // Teredo
    ['2001:2::1', 'reserved'], // benchmarking
    ['64:ff9b:1::1', 'private'], // local-use NAT64
    // every IPv6 form that embeds a refused IPv4 address is refused; only the mapped one is loopback
    ['::ffff:0:127.0.0.1', 'reserved'], // SIIT
    ['::127.0.0.1', 'reserved'], // IPv4-compatible
    ['::7f00:1', 'reserved'],
    ['2002:7f00:1::', 'reserved'], // 6to4
    ['2002:a9fe:a9fe::1', 'link_local'],
    ['64:ff9b::127.0.0.1', 'reserved'], // NAT64
    ['64:ff9b::169.254.169.254', 'link_local'],
    ['::ffff:0:10.1.2.3', 'private'],
    ['::ffff:192.168.0.1', 'private'],
    ['[::ffff:127.0.0.1]', 'loopback'],
    // … and a public IPv4 address stays public in any of them
    ['::ffff:93.184.216.34', 'public'],
    ['2002:5db8:d822::1', 'public'],
    ['64:ff9b::93.184.216.34', 'public'],
    ['not-an-address', 'reserved'],
  ])('%s is %s', (address, kind) => {
    expect(classifyAddress(address)).toBe(kind);
  });

  it.each(['https://[::ffff:0:127.0.0.1]/', 'https://[::127.0.0.1]/', 'https://[2002:7f00:1::]/', 'https://[64:ff9b::7f00:1]/', 'https://[2001:db8::1]/'])(
    'refuses %s even when loopback is allowed',
    async (url) => {
      expect(await checkSubscriberUrl(url, closed)).toMatchObject({ ok: false });
      expect(await checkSubscriberUrl(url, { allowLoopback: true, allowedNetworks: [] })).toMatchObject({ ok: false });
    },
  );

  it('judges an allowed network by the IPv4 address an IPv6 form embeds', () => {
    const opened = { allowLoopback: false, allowedNetworks: ['10.20.0.0/16', 'fd00:1::/32'] };
    expect(addressProblem('64:ff9b::10.20.3.4', opened)).toBeNull();
    expect(addressProblem('fd00:1::5', opened)).toBeNull();
    expect(addressProblem('fd00:2::5', opened)).toMatch(/private/);
    expect(addressProblem('::ffff:10.21.0.1', opened)).toMatch(/private/);
  });

  it('accepts only plain CIDRs as allowed networks', () => {
    expect(isCidr('10.20.0.0/16')).toBe(true);
    expect(isCidr('fd00::/8')).toBe(true);
    expect(isCidr('10.20.0.0/33')).toBe(false);
    expect(isCidr('0x0a.0.0.0/8')).toBe(false);
    expect(isCidr('10.20.0.0')).toBe(false);
  });

  it('accepts https to public addresses, and only that by default', async () => {
    expect(await checkSubscriberUrl('https://hooks.example.com/x', closed, resolveTo('93.184.216.34'))).toMatchObject({ ok: true });
    expect(await checkSubscriberUrl('http://hooks.example.com/x', closed, resolveTo('93.184.216.34'))).toMatchObject({ ok: false, problem: expect.stringContaining('https only') });
    expect(await checkSubscriberUrl('ftp://x.example.com', closed)).toMatchObject({ ok: false });
    expect(await checkSubscriberUrl('https://u:p@hooks.example.com/', closed, resolveTo('93.184.216.34'))).toMatchObject({ ok: false, problem: expect.stringContaining('credentials') });
  });

  it('checks every address the name resolves to', async () => {
    const verdict = await checkSubscriberUrl('https://sneaky.example.com/', closed, resolveTo('93.184.216.34', '10.0.0.5'));
    expect(verdict).toMatchObject({ ok: false, problem: expect.stringContaining('private address 10.0.0.5') });
    expect(await checkSubscriberUrl('https://169.254.169.254/latest/meta-data', closed)).toMatchObject({ ok: false, problem: expect.stringContaining('link-local') });
    expect(await checkSubscriberUrl('https://[::1]:8443/', closed)).toMatchObject({ ok: false });
  });

  it('allows loopback (plain http too) only when the tenant does, and private networks only when listed', async () => {
    const loopback = { allowLoopback: true, allowedNetworks: [] };
    expect(await checkSubscriberUrl('http://127.0.0.1:9000/hook', loopback)).toMatchObject({ ok: true });
    expect(await checkSubscriberUrl('http://localhost:9000/hook', loopback, resolveTo('127.0.0.1', '::1'))).toMatchObject({ ok: true });
    expect(await checkSubscriberUrl('http://10.0.0.5/hook', loopback)).toMatchObject({ ok: false });
    const opened = { allowLoopback: false, allowedNetworks: ['10.20.0.0/16'] };
    expect(await checkSubscriberUrl('https://10.20.3.4/hook', opened)).toMatchObject({ ok: true });
    expect(await checkSubscriberUrl('http://10.20.3.4/hook', opened)).toMatchObject({ ok: false });
    expect(addressProblem('10.21.0.1', opened)).toMatch(/private/);
  });

  it('refuses at connect time when a name resolves somewhere it may not (DNS rebinding)', async () => {
    const lookup = guardedLookup(closed, resolveTo('10.0.0.7'));
    const error = await new Promise<unknown>((resolve) => lookup('rebind.example.com', { all: true }, (e) => resolve(e)));
    expect(error).toMatchObject({ code: 'ADDRESS_REFUSED' });
    const ok = guardedLookup(closed, resolveTo('93.184.216.34'));
    const addresses = await new Promise<unknown>((resolve) => ok('fine.example.com', { all: true }, (_e, a) => resolve(a)));
    expect(addresses).toEqual([{ address: '93.184.216.34', family: 4 }]);
  });
});
