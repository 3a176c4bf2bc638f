import { describe, expect, it } from 'vitest';
import { tenantSchema } from '../config/schema.ts';
import { systemClock } from '../clock.ts';
import { createLogger } from '../observe/logger.ts';
import type { SpruceApi } from '../spruce/types.ts';
import type { SpryApi } from '../spry/types.ts';
import type { Store } from '../store/types.ts';
import { bulkContext, dryRunContext } from './backfill-context.ts';
import { OrgCatalogCache } from './org-catalog.ts';
import type { TenantContext } from './tenant-context.ts';

const config = tenantSchema.parse({
  id: 't',
  spry: { baseUrl: 'https://spry.test', clientId: 'c', clientSecret: 's', organisationId: 74, webhookSecrets: ['w'], chartUrl: 'https://spry.test/p/{patientId}' },
  spruce: { baseUrl: 'https://spruce.test/v1', accessId: 'a', secretKey: 'k', webhookSecrets: ['w'] },
});

function context(calls: string[]): TenantContext {
  const record = (name: string, answer?: unknown) => async () => {
    calls.push(name);
    return answer;
  };
  const store = { getLinkByPatient: record('store.getLinkByPatient', null), upsertLink: record('store.upsertLink'), setState: record('store.setState'), appendAudit: record('store.appendAudit') } as unknown as Store;
  const spruce = {
    getContact: record('spruce.getContact', null),
    createContact: record('spruce.createContact'),
    deleteContact: record('spruce.deleteContact'),
    withPriority: (priority: string) => ({ ...spruce, priority }),
  } as unknown as SpruceApi;
  const spry = { getPatient: record('spry.getPatient', null), patchPatient: record('spry.patchPatient') } as unknown as SpryApi;
  const catalog = new OrgCatalogCache('t', spruce, store, [], []);
  return { config, spry, spruce, store, clock: systemClock, logger: createLogger({ level: 'silent' }), catalog };
}

describe('dryRunContext', () => {
  it('reads through and answers every write without making it', async () => {
    const calls: string[] = [];
    const dry = dryRunContext(context(calls));
    expect(await dry.store.getLinkByPatient('t', 1)).toBeNull();
    await dry.store.upsertLink('t', 1, 'entity_1', 0);
    await dry.store.setState('t', 'k', 'v');
    await dry.store.appendAudit({ at: 0, tenantId: 't', system: 'spruce', recordType: 'contact', recordId: 'x', action: 'create' });
    expect(await dry.spruce.getContact('entity_1')).toBeNull();
    const created = await dry.spruce.createContact({ givenName: 'A' });
    expect(created.id).toMatch(/^dry-run:/);
    await dry.spruce.deleteContact('entity_1');
    await expect(dry.spry.patchPatient(1, {})).rejects.toThrow(/writes nothing/);
    expect(calls).toEqual(['store.getLinkByPatient', 'spruce.getContact']);
  });
});

describe('bulkContext', () => {
  it('uses the clients at bulk priority when they have priorities, as they are otherwise', () => {
    const ctx = context([]);
    const bulk = bulkContext(ctx);
    expect((bulk.spruce as unknown as { priority: string }).priority).toBe('bulk');
    expect(bulk.spry).toBe(ctx.spry);
  });
});
