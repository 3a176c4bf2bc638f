import { afterEach, describe, expect, it, vi } from 'vitest';
import { ControlledClock } from '../clock.ts';
import { tenantSchema } from '../config/schema.ts';
import { createLogger } from '../observe/logger.ts';
import { openStore } from '../store/open-store.ts';
import type { Store } from '../store/types.ts';
import { TenantRegistry } from './registry.ts';
import { splitTenant } from './definition.ts';
import { TenantAdmin } from './tenant-admin.ts';

const definition = {
  id: 'north',
  spry: { baseUrl: 'https://spry.example', clientId: 'c', clientSecret: 'cs', organisationId: 7, webhookSecrets: ['w1'], chartUrl: 'https://spry.example/p/{patientId}' },
  spruce: { baseUrl: 'https://spruce.example', accessId: 'a', secretKey: 'k', webhookSecrets: ['v1'] },
};

let store: Store | undefined;
afterEach(async () => {
  await store?.close();
  store = undefined;
});

/** A registry on `store` and a stopped clock, telling `onStart` / `onStop`. */
function registryOn(directory: Store, clock: ControlledClock, on: Partial<Pick<ConstructorParameters<typeof TenantRegistry>[0], 'onStart' | 'onStop'>> = {}) {
  return new TenantRegistry({
    directory,
    clock,
    logger: createLogger({ level: 'silent' }),
    pollIntervalMs: 1_000,
    onStart: on.onStart ?? (() => {}),
    onStop: on.onStop ?? (() => {}),
  });
}

describe('tenant registry', () => {
  it('tells why a tenant stops (gone or restarting), and a disabled tenant stays disabled across a restart', async () => {
    store = await openStore('sqlite::memory:');
    const clock = new ControlledClock({ start: 1_700_000_000_000, flowing: false });
    const events: string[] = [];
    const registry = registryOn(store, clock, {
      onStart: (tenant) => events.push(`start ${tenant.id}`),
      onStop: (id, why) => events.push(`stop ${id} ${why}`),
    });
    const admin = new TenantAdmin({ directory: store, clock, actor: 'admin-api', probe: async () => [] });
    await registry.seed([]);
    await admin.add(definition);
    await registry.refresh();
    await admin.setStatus('north', 'disabled');
    await registry.refresh();
    expect(registry.claimable('north')).toBe(false);
    // A changed definition restarts the tenant: still disabled.
    await admin.update('north', { sync: { tag: 'Changed' } });
    await registry.refresh();
    expect(registry.tenants.has('north')).toBe(true);
    expect(registry.claimable('north')).toBe(false);
    await admin.remove('north');
    await registry.refresh();
    expect(events).toEqual(['start north', 'stop north restarting', 'start north', 'stop north gone']);
  });
});

describe('tenant registry: the config file in the audit trail', () => {
  it("audits what the config file changed at each start: names of fields and secrets, never values", async () => {
    store = await openStore('sqlite::memory:');
    const clock = new ControlledClock({ start: 1_700_000_000_000, flowing: false });
    const start = async (tenants: unknown[]) => {
      clock.advance(1_000);
      const registry = registryOn(store!, clock);
      await registry.seed(tenants.map((t) => tenantSchema.parse(t)));
      registry.stop();
    };
    const trail = async () =>
      (await store!.searchAuditRecords({ system: 'spruce-sync', limit: 50 })).reverse().map((a) => [a.tenantId, a.action, a.detail]);
    const south = { ...definition, id: 'south' };

    await start([definition, south]);
    expect(await trail()).toEqual([
      ['north', 'add', { actor: 'config-file' }],
      ['south', 'add', { actor: 'config-file' }],
    ]);

    // A setting and a secret of north changed in the file; south as it was.
    const northChanged = { ...definition, spry: { ...definition.spry, clientId: 'c2' }, spruce: { ...definition.spruce, secretKey: 'k-rotated' } };
    await start([northChanged, south]);
    expect((await trail()).slice(2)).toEqual([['north', 'update', { actor: 'config-file', fields: ['spry.clientId'], secrets: ['spruce.secretKey'] }]]);

    // South taken out of the file; a start with the same file again changes nothing.
    await start([northChanged]);
    await start([northChanged]);
    expect((await trail()).slice(3)).toEqual([['south', 'remove', { actor: 'config-file' }]]);

    // Back in the file; then only a webhook secret rotated.
    await start([northChanged, south]);
    await start([{ ...northChanged, spry: { ...northChanged.spry, webhookSecrets: ['w2'] } }, south]);
    expect((await trail()).slice(4)).toEqual([
      ['south', 'add', { actor: 'config-file', readded: true }],
      ['north', 'rotate-secret', { actor: 'config-file', fields: [], secrets: ['spry.webhookSecrets'] }],
    ]);
    const written = JSON.stringify(await store.searchAuditRecords({ system: 'spruce-sync', limit: 50 }));
    for (const secret of ['k-rotated', 'w2', '"cs"', 'c2']) expect(written).not.toContain(secret);
  });
});

describe('tenant registry: reading the directory', () => {
  it('reads again only the definitions that changed, and follows a change made at the same clock time', async () => {
    store = await openStore('sqlite::memory:');
    const clock = new ControlledClock({ start: 1_700_000_000_000, flowing: false });
    const started: string[] = [];
    const registry = registryOn(store, clock, { onStart: (tenant) => started.push(`${tenant.id} ${tenant.spry.clientId}`) });
    const admin = new TenantAdmin({ directory: store, clock, actor: 'admin-api', probe: async () => [] });
    await registry.seed([]);
    for (let i = 0; i < 40; i++) await admin.add({ ...definition, id: `clinic-${i}` });
    await registry.refresh();
    expect(registry.ids).toHaveLength(40);

    const full = vi.spyOn(store, 'listTenants');
    const one = vi.spyOn(store, 'getTenant');
    // A 41st tenant: its definition alone is read, not the forty others'.
    const added = splitTenant(tenantSchema.parse({ ...definition, id: 'clinic-new' }));
    await store.insertTenant({ id: 'clinic-new', source: 'api', status: 'enabled', settings: added.settings, secrets: { ...added.secrets } }, clock.now());
    await registry.refresh();
    expect(registry.ids).toContain('clinic-new');
    expect(full).not.toHaveBeenCalled();
    expect(one.mock.calls.map(([id]) => id)).toEqual(['clinic-new']);

    // Changed by another writer at the very same clock time: still seen, and restarted with it.
    one.mockClear();
    const changed = splitTenant(tenantSchema.parse({ ...definition, id: 'clinic-7', spry: { ...definition.spry, clientId: 'c-changed' } }));
    await store.updateTenant('clinic-7', { settings: changed.settings }, clock.now());
    await registry.refresh();
    expect(one.mock.calls.map(([id]) => id)).toEqual(['clinic-7']);
    expect(registry.tenants.get('clinic-7')!.spry.clientId).toBe('c-changed');
    expect(started.at(-1)).toBe('clinic-7 c-changed');
    // Nothing changed: nothing read.
    one.mockClear();
    await store.updateTenant('clinic-3', { status: 'disabled' }, clock.now());
    await registry.refresh();
    expect(one).not.toHaveBeenCalled();
    expect(registry.claimable('clinic-3')).toBe(false);
  });
});
