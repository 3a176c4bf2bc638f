import { afterEach, describe, expect, it } from 'vitest';
import { ControlledClock } from '../clock.ts';
import { openStore } from '../store/open-store.ts';
import type { Store } from '../store/types.ts';
import { TenantAdmin } from './tenant-admin.ts';
import { changedPaths, changedSecrets } from './tenant-audit.ts';

const CLIENT_SECRET = 'client-secret-value-1';
const SECRET_KEY = 'spruce-secret-key-1';
const WEBHOOK_SECRET = 'spry-webhook-secret-1';
const definition = {
  id: 'north',
  spry: { baseUrl: 'https://spry.example', clientId: 'c', clientSecret: CLIENT_SECRET, organisationId: 7, webhookSecrets: [WEBHOOK_SECRET], chartUrl: 'https://spry.example/p/{patientId}' },
  spruce: { baseUrl: 'https://spruce.example', accessId: 'a', secretKey: SECRET_KEY, webhookSecrets: ['spruce-webhook-secret-1'] },
};

let store: Store | undefined;
afterEach(async () => {
  await store?.close();
  store = undefined;
});

async function setup(actor: 'admin-api' | 'cli') {
  store = await openStore('sqlite::memory:');
  const clock = new ControlledClock({ start: 1_700_000_000_000, flowing: false });
  const admin = new TenantAdmin({ directory: store, clock, actor, probe: async () => [] });
  return { store, clock, admin };
}

describe('tenant changes on the audit trail', () => {
  it('audits add, update, a secret rotation, disable, enable and remove: who, what, which fields, never a value', async () => {
    const { store, clock, admin } = await setup('admin-api');
    await admin.add(definition);
    await clock.advance(1_000);
    await admin.update('north', { sync: { tag: 'Synced' }, spry: { requestsPerSecond: 2 } });
    await clock.advance(1_000);
    await admin.update('north', { spry: { webhookSecrets: ['spry-webhook-secret-2'] } }, { overlapMinutes: 30 });
    await admin.update('north', { spruce: { secretKey: 'spruce-secret-key-2' }, sync: { tag: 'Other' } });
    await admin.setStatus('north', 'disabled');
    await admin.setStatus('north', 'enabled');
    await admin.remove('north');

    const trail = (await store.searchAuditRecords({ tenantId: 'north', limit: 20 })).reverse();
    expect(trail.map((a) => [a.system, a.recordType, a.recordId, a.action, a.detail])).toEqual([
      ['spruce-sync', 'tenant', 'north', 'add', { actor: 'admin-api', warnings: 0 }],
      ['spruce-sync', 'tenant', 'north', 'update', { actor: 'admin-api', fields: ['spry.requestsPerSecond', 'sync.tag'], secrets: [] }],
      ['spruce-sync', 'tenant', 'north', 'rotate-secret', { actor: 'admin-api', fields: [], secrets: ['spry.webhookSecrets'], overlapMinutes: 30 }],
      ['spruce-sync', 'tenant', 'north', 'update', { actor: 'admin-api', fields: ['sync.tag'], secrets: ['spruce.secretKey'] }],
      ['spruce-sync', 'tenant', 'north', 'disable', { actor: 'admin-api', from: 'enabled' }],
      ['spruce-sync', 'tenant', 'north', 'enable', { actor: 'admin-api', from: 'disabled' }],
      ['spruce-sync', 'tenant', 'north', 'remove', { actor: 'admin-api' }],
    ]);
    expect(trail[0]!.at).toBe(1_700_000_000_000);
    const written = JSON.stringify(trail);
    for (const value of [CLIENT_SECRET, SECRET_KEY, WEBHOOK_SECRET, 'spry-webhook-secret-2', 'spruce-secret-key-2', 'Synced', 'Other']) expect(written).not.toContain(value);
  });

  it('names the CLI as the actor, and writes nothing for a refused change', async () => {
    const { store, admin } = await setup('cli');
    await admin.add(definition);
    await expect(admin.add(definition)).rejects.toMatchObject({ code: 'tenant_exists' });
    await expect(admin.update('north', { colour: 'blue' })).rejects.toMatchObject({ code: 'invalid_tenant' });
    await expect(admin.setStatus('nobody', 'disabled')).rejects.toMatchObject({ code: 'unknown_tenant' });
    await store.seedConfigTenants([{ id: 'from-file', settings: {}, secrets: {} }], 1);
    await expect(admin.remove('from-file')).rejects.toMatchObject({ code: 'config_tenant' });
    const trail = await store.searchAuditRecords({ system: 'spruce-sync', limit: 20 });
    expect(trail.map((a) => [a.tenantId, a.action, a.detail?.actor])).toEqual([['north', 'add', 'cli']]);
  });
});

describe('changed field names', () => {
  it('names the leaves that differ; a list is one setting', () => {
    expect(changedPaths({ a: { b: 1, c: [1, 2] }, d: 'x' }, { a: { b: 1, c: [1, 3] }, e: 'y' })).toEqual(['a.c', 'd', 'e']);
    expect(changedPaths({ a: 1 }, { a: 1 })).toEqual([]);
    expect(changedPaths({ alerts: null }, { alerts: { url: 'u' } })).toEqual(['alerts']);
  });

  it('names secrets by where they sit in a config tenant', () => {
    const secrets = { spry: { clientSecret: 'a', webhookSecrets: ['w'] }, spruce: { secretKey: 'k', webhookSecrets: ['v'] }, retired: [] };
    expect(changedSecrets(secrets, { ...secrets, alertHeaders: { authorization: 'x' } })).toEqual(['alerts.headers']);
    expect(changedSecrets({ ...secrets, alertHeaders: { authorization: 'x' } }, { ...secrets, alertHeaders: { authorization: 'y' } })).toEqual(['alerts.headers.authorization']);
    expect(changedSecrets(secrets, { ...secrets, spry: { clientSecret: 'b', webhookSecrets: ['w'] } })).toEqual(['spry.clientSecret']);
  });
});

describe('a change reaches the answering instance before its caller hears of it', () => {
  it('waits for onChange (the instance reloading its tenants) before add, a status change and remove return', async () => {
    store = await openStore('sqlite::memory:');
    const clock = new ControlledClock({ start: 1_700_000_000_000, flowing: false });
    const reloads: (() => void)[] = [];
    const admin = new TenantAdmin({ directory: store, clock, actor: 'cli', probe: async () => [], onChange: () => new Promise<void>((resolve) => reloads.push(resolve)) });
    for (const change of [() => admin.add(definition), () => admin.setStatus('north', 'disabled'), () => admin.remove('north')]) {
      let returned = false;
      const pending = change().then(() => (returned = true));
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect(returned).toBe(false);
      expect(reloads).toHaveLength(1);
      reloads.shift()!();
      await pending;
      expect(returned).toBe(true);
    }
  });
});
