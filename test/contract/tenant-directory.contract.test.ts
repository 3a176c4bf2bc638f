// The tenant directory port against both stores: inserts refuse a taken id, updates and removals
// bump the version every instance polls, secrets are sealed at rest under the tenant's own
// context, config seeding upserts and removes, and a removed tenant's PHI is purged after the
// retention period while its audit trail stays.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openStore } from '../../src/store/open-store.ts';
import type { Store } from '../../src/store/types.ts';
import { dropSchema, findPostgres, schemaQuery, skipNotice, uniqueSchema } from '../support/postgres.ts';

const KEY = 'a'.repeat(64);

interface Harness {
  store: Store;
  /** The secrets column of a tenant as stored. */
  rawSecrets(id: string): Promise<Buffer>;
  reopen(encryptionKey?: string): Promise<Store>;
  cleanup(): Promise<void>;
}

/** Opens stores on one database (each with the key given, or none) and closes them all at the end. */
function opener(url: string, options: { schema?: string } = {}) {
  const stores: Store[] = [];
  return {
    open: async (encryptionKey?: string) => {
      const store = await openStore(url, { ...options, encryptionKey });
      stores.push(store);
      return store;
    },
    closeAll: async () => {
      for (const s of stores) await s.close().catch(() => {});
    },
  };
}

const pgUrl = await findPostgres();
if (!pgUrl) console.warn(skipNotice('tenant directory contract'));

const harnesses: [string, () => Promise<Harness>, boolean][] = [
  [
    'SQLite',
    async () => {
      const dir = mkdtempSync(join(tmpdir(), 'spruce-sync-tenants-'));
      const { open, closeAll } = opener(`sqlite:${join(dir, 'sync.db')}`);
      const store = await open(KEY);
      return {
        store,
        async rawSecrets(id) {
          const { default: Database } = await import('better-sqlite3');
          const db = new Database(join(dir, 'sync.db'));
          try {
            return (db.prepare('SELECT secrets FROM tenants WHERE id = ?').get(id) as { secrets: Buffer }).secrets;
          } finally {
            db.close();
          }
        },
        reopen: open,
        async cleanup() {
          await closeAll();
          rmSync(dir, { recursive: true, force: true });
        },
      };
    },
    true,
  ],
  [
    'PostgreSQL',
    async () => {
      const schema = uniqueSchema('tenant_directory');
      const { open, closeAll } = opener(pgUrl!, { schema });
      const store = await open(KEY);
      return {
        store,
        async rawSecrets(id) {
          const rows = await schemaQuery<{ secrets: Buffer }>(pgUrl!, schema, 'SELECT secrets FROM tenants WHERE id = $1', [id]);
          return rows[0]!.secrets;
        },
        reopen: open,
        async cleanup() {
          await closeAll();
          await dropSchema(pgUrl!, schema);
        },
      };
    },
    Boolean(pgUrl),
  ],
];

const tenant = (id: string, extra: Record<string, unknown> = {}) => ({
  id,
  source: 'api' as const,
  status: 'enabled' as const,
  settings: { id, spry: { baseUrl: 'https://spry.example' }, ...extra },
  secrets: { spry: { clientSecret: `client-secret-of-${id}` } },
});

for (const [name, make, available] of harnesses) {
  describe.skipIf(!available)(`tenant directory on ${name}`, () => {
    let h: Harness | undefined;
    afterEach(async () => {
      await h?.cleanup();
      h = undefined;
    });

    it('inserts once per id, updates live tenants only, and bumps the version on every change', async () => {
      h = await make();
      const { store } = h;
      const v0 = await store.tenantsVersion();
      expect(await store.insertTenant(tenant('north'), 10)).toBe(true);
      expect(await store.insertTenant(tenant('north', { other: true }), 11)).toBe(false);
      const v1 = await store.tenantsVersion();
      expect(v1).toBe(v0 + 1);
      expect(await store.getTenant('north')).toMatchObject({ id: 'north', source: 'api', status: 'enabled', createdAt: 10, updatedAt: 10, removedAt: null, secrets: tenant('north').secrets });
      expect((await store.getTenant('north'))!.settings).not.toHaveProperty('other');

      expect(await store.updateTenant('north', { status: 'disabled' }, 20)).toBe(true);
      expect(await store.getTenant('north')).toMatchObject({ status: 'disabled', updatedAt: 20, settings: tenant('north').settings });
      expect(await store.updateTenant('north', { secrets: { rotated: true } }, 21)).toBe(true);
      expect((await store.getTenant('north'))!.secrets).toEqual({ rotated: true });
      expect(await store.tenantsVersion()).toBe(v1 + 2);

      expect(await store.removeTenant('north', 30)).toBe(true);
      expect(await store.removeTenant('north', 31)).toBe(false);
      expect(await store.updateTenant('north', { status: 'enabled' }, 32)).toBe(false);
      expect(await store.updateTenant('nobody', { status: 'enabled' }, 32)).toBe(false);
      expect(await store.getTenant('north')).toMatchObject({ removedAt: 30, status: 'disabled' });
      expect(await store.tenantsVersion()).toBe(v1 + 3);
      // Removed tenants keep their id.
      expect(await store.insertTenant(tenant('north'), 40)).toBe(false);
      expect((await store.listTenants()).map((t) => t.id)).toEqual(['north']);
    });

    it('seals the secrets under the tenant’s own context, and reads them back with the key only', async () => {
      h = await make();
      await h.store.insertTenant(tenant('south'), 1);
      const stored = await h.rawSecrets('south');
      expect(stored.toString('latin1')).not.toContain('client-secret-of-south');
      await expect((await h.reopen()).getTenant('south')).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
      expect((await (await h.reopen(KEY)).getTenant('south'))!.secrets).toEqual(tenant('south').secrets);
    });

    it('seeds config tenants: upserted as config (status kept), and removed once gone from the file', async () => {
      h = await make();
      const { store } = h;
      await store.insertTenant(tenant('api-one'), 1);
      await store.seedConfigTenants([{ id: 'a', settings: { n: 1 }, secrets: { s: 1 } }, { id: 'b', settings: { n: 1 }, secrets: { s: 1 } }], 2);
      await store.updateTenant('a', { status: 'disabled' }, 3);
      await store.seedConfigTenants([{ id: 'a', settings: { n: 2 }, secrets: { s: 2 } }], 4);
      const byId = new Map((await store.listTenants()).map((t) => [t.id, t]));
      expect(byId.get('a')).toMatchObject({ source: 'config', status: 'disabled', settings: { n: 2 }, secrets: { s: 2 }, removedAt: null });
      expect(byId.get('b')).toMatchObject({ source: 'config', removedAt: 4 });
      expect(byId.get('api-one')).toMatchObject({ source: 'api', removedAt: null });
      // Back in the file: back in service.
      await store.seedConfigTenants([{ id: 'b', settings: {}, secrets: {} }], 5);
      expect(await store.getTenant('b')).toMatchObject({ removedAt: null });
      expect(await store.getTenant('a')).toMatchObject({ removedAt: 5 });
    });

    it("purges a removed tenant's PHI after the retention period and keeps its audit trail", async () => {
      h = await make();
      const { store } = h;
      for (const id of ['gone', 'kept']) {
        await store.insertTenant(tenant(id), 1);
        await store.insertEvent({
          tenantId: id,
          source: 'spry',
          eventKey: 'e1',
          type: 'patient.created',
          occurredAt: 1,
          receivedAt: 1,
          payload: Buffer.from('{"first_name":"x"}'),
          subject: { patientId: 7 },
          status: 'queued',
          job: { key: `spry-patient:${id}:7`, task: 'spry.patient', params: { patientId: 7 } },
        });
        await store.upsertLink(id, 7, `contact-${id}`, 1);
        await store.setState(id, 'k', 'v');
        await store.appendAudit({ at: 1, tenantId: id, system: 'spruce', recordType: 'contact', recordId: `contact-${id}`, action: 'create' });
      }
      await store.removeTenant('gone', 100);
      expect(await store.purgeRemovedTenants(100, 150)).toEqual([]);
      expect(await store.purgeRemovedTenants(101, 200)).toEqual(['gone']);
      expect(await store.purgeRemovedTenants(1_000, 300)).toEqual([]);
      expect(await store.searchEvents({ tenantId: 'gone', limit: 10 })).toEqual([]);
      expect(await store.getLinkByPatient('gone', 7)).toBeNull();
      expect(await store.getState('gone', 'k')).toBeNull();
      expect((await store.queueStats('gone')).reduce((n, s) => n + s.waiting, 0)).toBe(0);
      expect(await store.searchAudit({ tenantId: 'gone', limit: 10 })).toHaveLength(1);
      expect(await store.getTenant('gone')).toMatchObject({ purgedAt: 200 });
      // Another tenant's data is untouched.
      expect(await store.searchEvents({ tenantId: 'kept', limit: 10 })).toHaveLength(1);
      expect(await store.getLinkByPatient('kept', 7)).not.toBeNull();
    });
  });
}
