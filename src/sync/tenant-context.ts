// What a sync handler works with for one tenant: its policy and the interfaces it depends on,
// never a concrete database or server.
import type { Clock } from '../clock.ts';
import type { TenantConfig } from '../config/schema.ts';
import type { Logger } from '../observe/logger.ts';
import type { SpruceApi } from '../spruce/types.ts';
import type { SpryApi } from '../spry/types.ts';
import type { Store } from '../store/types.ts';
import type { OrgCatalogCache } from './org-catalog.ts';

export interface TenantContext {
  config: TenantConfig;
  spry: SpryApi;
  spruce: SpruceApi;
  store: Store;
  clock: Clock;
  logger: Logger;
  catalog: OrgCatalogCache;
}
