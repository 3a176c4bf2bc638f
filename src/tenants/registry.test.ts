import { afterEach, describe, expect, it } from 'vitest';
import { ControlledClock } from '../clock.ts';
import { createLogger } from '../observe/logger.ts';
import { openStore } from '../store/open-store.ts';
import type { Store } from '../store/types.ts';
import { TenantRegistry } from './registry.ts';
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

describe('tenant registry', () => {
  it('tells why a tenant stops (gone or restarting), and a disabled tenant stays disabled across a restart', async () => {
    store = await openStore('sqlite::memory:');
    const clock = new ControlledClock({ start: 1_700_000_000_000, flowing: false });
    const events: string[] = [];
    const registry = new TenantRegistry({
      directory: store,
      clock,
      logger: createLogger({ level: 'silent' }),
      pollIntervalMs: 1_000,
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
