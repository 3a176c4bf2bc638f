// The tenant directory port against both stores: inserts refuse a taken id, updates and removals
// bump the version every instance polls, secrets are sealed at rest under the tenant's own
// context, config seeding upserts and removes, and a removed tenant's PHI is purged after the
// retention period while its audit trail stays, and with its fan-out rows (tenants/purge.ts, the
// fan-out store on the same database).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ControlledClock } from '../../src/clock.ts';
import { openFanoutStore } from '../../src/fanout/open-store.ts';
import type { FanoutStore } from '../../src/fanout/types.ts';
import { createLogger } from '../../src/observe/logger.ts';
import { openStore } from '../../src/store/open-store.ts';
import { purgeRemovedTenants } from '../../src/tenants/purge.ts';
import { message, subscription } from './fanout-store.suite.ts';
import type { Store } from '../../src/store/types.ts';
import { dropSchema, findPostgres, schemaQuery, skipNotice, uniqueSchema } from '../support/postgres.ts';

const KEY = 'a'.repeat(64);

interface Harness {
  store: Store;
  /** The secrets column of a tenant as stored. */
  rawSecrets(id: string): Promise<Buffer>;
  reopen(encryptionKey?: string): Promise<Store>;
  /** The fan-out store on the same database. */
  fanout(): Promise<FanoutStore>;
  cleanup(): Promise<void>;
}

/** Opens stores on one database (each with the key given, or none) and closes them all at the end. */
function opener(url: string, options: { schema?: string } = {}) {
  const stores: { close(): Promise<void> }[] = [];
  return {
    open: async (encryptionKey?: string) => {
      const store = await openStore(url, { ...options, encryptionKey });
      stores.push(store);
      return store;
    },
    fanout: async () => {
      const store = await openFanoutStore(url, { ...options, encryptionKey: KEY });
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
      const { open, fanout, closeAll } = opener(`sqlite:${join(dir, 'sync.db')}`);
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
        fanout,
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
      const { open, fanout, closeAll } = opener(pgUrl!, { schema });
      const store = await open(KEY);
      return {
        store,
        async rawSecrets(id) {
          const rows = await schemaQuery<{ secrets: Buffer }>(pgUrl!, schema, 'SELECT secrets FROM tenants WHERE id = $1', [id]);
          return rows[0]!.secrets;
        },
        reopen: open,
        fanout,
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

    it("writes an operator's audit entry with the change, in its transaction: none when nothing changed", async () => {
      h = await make();
      const { store } = h;
      const entry = (action: string) => ({ at: 10, tenantId: 'east', system: 'spruce-sync' as const, recordType: 'tenant', recordId: 'east', action, detail: { actor: 'admin-api' } });
      expect(await store.insertTenant(tenant('east'), 10, entry('add'))).toBe(true);
      expect(await store.insertTenant(tenant('east'), 11, entry('add'))).toBe(false);
      expect(await store.updateTenant('east', { status: 'disabled' }, 12, entry('disable'))).toBe(true);
      expect(await store.updateTenant('nobody', { status: 'disabled' }, 12, { ...entry('disable'), tenantId: 'nobody', recordId: 'nobody' })).toBe(false);
      expect(await store.removeTenant('east', 13, entry('remove'))).toBe(true);
      expect(await store.removeTenant('east', 14, entry('remove'))).toBe(false);
      expect(await store.updateTenant('east', { status: 'enabled' }, 15, entry('enable'))).toBe(false);
      const trail = await store.searchAuditRecords({ system: 'spruce-sync', limit: 10 });
      expect(trail.map((a) => [a.tenantId, a.action, a.detail])).toEqual([
        ['east', 'remove', { actor: 'admin-api' }],
        ['east', 'disable', { actor: 'admin-api' }],
        ['east', 'add', { actor: 'admin-api' }],
      ]);
    });

    it('seals the secrets under the tenant’s own context, and reads them back with the key only', async () => {
      h = await make();
      await h.store.insertTenant(tenant('south'), 1);
      const stored = await h.rawSecrets('south');
      expect(stored.toString('latin1')).not.toContain('client-secret-of-south');
      await expect((await h.reopen()).getTenant('south')).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
      expect((await (await h.reopen(KEY)).getTenant('south'))!.secrets).toEqual(tenant('south').secrets);
    });

    it('summarises every tenant without unsealing a secret: readable even without the key', async () => {
      h = await make();
      await h.store.insertTenant(tenant('west'), 1);
      await h.store.insertTenant(tenant('east'), 2);
      await h.store.updateTenant('west', { status: 'disabled' }, 3);
      await h.store.removeTenant('east', 4);
      const keyless = await h.reopen();
      await expect(keyless.listTenants()).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
      const summaries = await keyless.listTenantSummaries();
      expect(summaries.map(({ revision: _revision, ...place }) => place)).toEqual([
        { id: 'east', source: 'api', status: 'enabled', createdAt: 2, updatedAt: 4, removedAt: 4, purgedAt: null },
        { id: 'west', source: 'api', status: 'disabled', createdAt: 1, updatedAt: 3, removedAt: null, purgedAt: null },
      ]);
      // The same rows as the full listing, less the definition.
      const full = await h.store.listTenants();
      expect(summaries.map(({ revision: _revision, ...place }) => place)).toEqual(full.map(({ settings: _settings, secrets: _secrets, ...place }) => place));
    });

    it('gives each tenant a revision that changes with its settings or secrets, and only then', async () => {
      h = await make();
      const { store } = h;
      await store.insertTenant(tenant('north'), 1);
      await store.insertTenant(tenant('south'), 1);
      const revisionOf = async (id: string) => (await store.listTenantSummaries()).find((t) => t.id === id)!.revision;
      const first = await revisionOf('north');
      const south = await revisionOf('south');
      expect(first).not.toBe(south);
      await store.updateTenant('north', { status: 'disabled' }, 2);
      expect(await revisionOf('north')).toBe(first);
      // The same settings written again: the same definition, the same revision.
      await store.updateTenant('north', { settings: tenant('north').settings }, 2);
      expect(await revisionOf('north')).toBe(first);
      // Changed at the same clock time as before: a new revision all the same.
      await store.updateTenant('north', { settings: tenant('north', { note: 'changed' }).settings }, 2);
      const second = await revisionOf('north');
      expect(second).not.toBe(first);
      await store.updateTenant('north', { secrets: { spry: { clientSecret: 'rotated' } } }, 2);
      expect(await revisionOf('north')).not.toBe(second);
      expect(await revisionOf('south')).toBe(south);
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

    it('hands each seeding change to the audit as the directory had it and the file has it, and writes the entries with it', async () => {
      h = await make();
      const { store } = h;
      await store.insertTenant(tenant('taken'), 1);
      await store.seedConfigTenants([{ id: 'a', settings: { n: 1 }, secrets: { s: 1 } }, { id: 'b', settings: {}, secrets: {} }], 2);
      const seen: unknown[] = [];
      const entry = (id: string, action: string) => ({ at: 3, tenantId: id, system: 'spruce-sync' as const, recordType: 'tenant', recordId: id, action, detail: { actor: 'config-file' } });
      await store.seedConfigTenants(
        [
          { id: 'a', settings: { n: 2 }, secrets: { s: 2 } },
          { id: 'taken', settings: { t: 1 }, secrets: {} },
          { id: 'new', settings: {}, secrets: {} },
        ],
        3,
        (change) => {
          seen.push(change);
          return change.id === 'new' ? null : entry(change.id, change.after ? 'seeded' : 'remove');
        },
      );
      const byId = new Map((seen as { id: string }[]).map((c) => [c.id, c]));
      expect([...byId.keys()].sort()).toEqual(['a', 'b', 'new', 'taken']);
      expect(byId.get('a')).toMatchObject({ before: { source: 'config', settings: { n: 1 }, secrets: { s: 1 }, removedAt: null }, after: { settings: { n: 2 }, secrets: { s: 2 } } });
      expect(byId.get('taken')).toMatchObject({ before: { source: 'api', secrets: tenant('taken').secrets }, after: { settings: { t: 1 } } });
      expect(byId.get('new')).toMatchObject({ before: null, after: { id: 'new' } });
      expect(byId.get('b')).toMatchObject({ before: { source: 'config', removedAt: null }, after: null });
      const trail = await store.searchAuditRecords({ system: 'spruce-sync', limit: 10 });
      expect(trail.map((a) => [a.tenantId, a.action]).sort()).toEqual([
        ['a', 'seeded'],
        ['b', 'remove'],
        ['taken', 'seeded'],
      ]);
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
      expect(await store.purgeRemovedTenants(101, 200, new Map([['gone', { fanout_messages: 3 }]]))).toEqual(['gone']);
      expect(await store.purgeRemovedTenants(1_000, 300)).toEqual([]);
      expect(await store.searchEvents({ tenantId: 'gone', limit: 10 })).toEqual([]);
      expect(await store.getLinkByPatient('gone', 7)).toBeNull();
      expect(await store.getState('gone', 'k')).toBeNull();
      expect((await store.queueStats('gone')).reduce((n, s) => n + s.waiting, 0)).toBe(0);
      // The audit trail stays, with the purge itself on it: what went, by table, as counts.
      const trail = await store.searchAudit({ tenantId: 'gone', limit: 10 });
      expect(trail.map((a) => [a.system, a.recordType, a.action])).toEqual([
        ['spruce-sync', 'tenant', 'purge'],
        ['spruce', 'contact', 'create'],
      ]);
      expect(trail[0]).toMatchObject({ at: 200, recordId: 'gone', detail: { actor: 'retention', deleted: { events: 1, jobs: 1, links: 1, state: 1, fanout_messages: 3 } } });
      expect(await store.getTenant('gone')).toMatchObject({ purgedAt: 200 });
      // Another tenant's data is untouched.
      expect(await store.searchEvents({ tenantId: 'kept', limit: 10 })).toHaveLength(1);
      expect(await store.getLinkByPatient('kept', 7)).not.toBeNull();
    });

    it("the scheduled purge takes the removed tenant's fan-out rows first, then its PHI, and audits both", async () => {
      h = await make();
      const { store } = h;
      const fanout = await h.fanout();
      const clock = new ControlledClock({ start: 10 * 86_400_000, flowing: false });
      const logger = createLogger({ level: 'silent' });
      for (const id of ['gone', 'kept']) {
        await store.insertTenant(tenant(id), 1);
        const sub = subscription({ tenantId: id });
        await fanout.insertSubscription(sub);
        await fanout.insertMessages([{ message: message(`m-${id}`, null, { tenantId: id }), deliveries: [{ subscriptionId: sub.id, version: sub.version }] }], 2);
        await store.setState(id, 'k', 'v');
      }
      await store.removeTenant('gone', clock.now() - 2 * 86_400_000);
      // Within the retention period (3 days): nothing goes.
      expect(await purgeRemovedTenants({ directory: store, fanout, clock, logger, payloadDays: 3 })).toEqual([]);
      expect(await fanout.listSubscriptions('gone')).toHaveLength(1);
      // Past it (1 day): the fan-out rows, then the PHI; a second run finds nothing to do.
      expect(await purgeRemovedTenants({ directory: store, fanout, clock, logger, payloadDays: 1 })).toEqual(['gone']);
      expect(await purgeRemovedTenants({ directory: store, fanout, clock, logger, payloadDays: 1 })).toEqual([]);
      expect(await fanout.listSubscriptions('gone')).toEqual([]);
      expect(await fanout.purgeTenant('gone')).toEqual({ subscriptions: 0, messages: 0, deliveries: 0, attempts: 0 });
      expect(await store.getState('gone', 'k')).toBeNull();
      const [purge] = await store.searchAuditRecords({ tenantId: 'gone', action: 'purge', limit: 5 });
      expect(purge!.detail).toMatchObject({ deleted: { fanout_subscriptions: 1, fanout_messages: 1, fanout_deliveries: 1, fanout_attempts: 0, state: 1 } });
      // The tenant kept keeps everything.
      expect(await fanout.listSubscriptions('kept')).toHaveLength(1);
      expect(await store.getState('kept', 'k')).toBe('v');
    });
  });
}
