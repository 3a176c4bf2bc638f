// The Spruce ids of the contact fields and tags we maintain: created once per organization
// when missing, then remembered (memory and store), so a warm run spends no call on them.
import type { SpruceApi } from '../spruce/types.ts';
import type { Store } from '../store/types.ts';
import type { OrgCatalog } from './contact-diff.ts';

const STATE_KEY = 'spruce.catalog';

export class OrgCatalogCache {
  private cached: OrgCatalog | undefined;
  private loading: Promise<OrgCatalog> | undefined;

  constructor(
    private readonly tenantId: string,
    private readonly spruce: SpruceApi,
    private readonly store: Store,
    private readonly fieldNames: string[],
    private readonly tagValues: string[],
  ) {}

  /** The catalog with every field and tag we need; concurrent callers share one load. */
  async get(): Promise<OrgCatalog> {
    if (this.cached && this.isComplete(this.cached)) return this.cached;
    this.loading ??= this.load().finally(() => (this.loading = undefined));
    return this.loading;
  }

  /** Forget what we know (a field or tag id turned out stale). */
  async invalidate(): Promise<void> {
    this.cached = undefined;
    await this.store.setState(this.tenantId, STATE_KEY, JSON.stringify({ fieldIds: {}, tagIds: {} }));
  }

  private isComplete(catalog: OrgCatalog): boolean {
    return this.fieldNames.every((n) => catalog.fieldIds[n]) && this.tagValues.every((v) => catalog.tagIds[v]);
  }

  private async load(): Promise<OrgCatalog> {
    const saved = await this.store.getState(this.tenantId, STATE_KEY);
    if (saved) {
      const catalog = JSON.parse(saved) as OrgCatalog;
      if (this.isComplete(catalog)) return (this.cached = catalog);
    }
    const catalog: OrgCatalog = { fieldIds: {}, tagIds: {} };
    for (const field of await this.spruce.listContactFields()) catalog.fieldIds[field.name] = field.id;
    for (const tag of await this.spruce.listTags()) catalog.tagIds[tag.value] = tag.id;
    // Creating an existing name returns the existing one, so a race with another instance is harmless.
    for (const name of this.fieldNames) {
      if (!catalog.fieldIds[name]) catalog.fieldIds[name] = (await this.spruce.createContactField(name)).id;
    }
    for (const value of this.tagValues) {
      if (!catalog.tagIds[value]) catalog.tagIds[value] = (await this.spruce.createTag(value)).id;
    }
    await this.store.setState(this.tenantId, STATE_KEY, JSON.stringify(catalog));
    return (this.cached = catalog);
  }
}
