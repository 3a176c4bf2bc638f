import { describe, expect, it } from 'vitest';
import { addressProblem, checkSubscriberUrl, classifyAddress, guardedLookup, type Resolve } from './url-guard.ts';

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
  ])('%s is %s', (address, kind) => {
    expect(classifyAddress(address)).toBe(kind);
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
