// A run that lost its job's lease must not write on: another worker may hold the key now.
import type { SpruceApi } from '../spruce/types.ts';
import type { SpryApi } from '../spry/types.ts';
import type { TenantContext } from './tenant-context.ts';

/** The calls that change something in Spry or Spruce. */
export const SPRY_WRITES: ReadonlySet<PropertyKey> = new Set<keyof SpryApi>(['patchPatient', 'recordCommunication', 'createSubscription']);
export const SPRUCE_WRITES: ReadonlySet<PropertyKey> = new Set<keyof SpruceApi>([
  'createContact',
  'updateContact',
  'deleteContact',
  'createIntegrationLink',
  'deleteIntegrationLink',
  'createTag',
  'createContactField',
  'createWebhookEndpoint',
]);

/**
 * The tenant context whose Spry and Spruce writes throw once `signal` aborts: a run that lost
 * its lease (another worker may hold the key now) stops before its next write. Reads and store
 * bookkeeping go on; the pool records the run as LEASE_LOST and leaves the job to its new holder.
 * The tenant's shared OrgCatalogCache keeps the unguarded client: creating a missing field or tag
 * is organization setup, idempotent by name, not this run's write.
 */
export function stopWritesOnAbort(ctx: TenantContext, signal: AbortSignal): TenantContext {
  const guard = (writes: ReadonlySet<PropertyKey>, target: object) => (property: PropertyKey) => {
    if (!writes.has(property)) return undefined;
    const call = Reflect.get(target, property) as (...args: unknown[]) => Promise<unknown>;
    return (...args: unknown[]) => {
      signal.throwIfAborted();
      return call.apply(target, args);
    };
  };
  return { ...ctx, spry: wrapped(ctx.spry, guard(SPRY_WRITES, ctx.spry)), spruce: wrapped(ctx.spruce, guard(SPRUCE_WRITES, ctx.spruce)) };
}

/** `target` with the members `replace` returns a function for swapped out; the rest bound to it. */
export function wrapped<T extends object>(target: T, replace: (property: PropertyKey) => unknown): T {
  return new Proxy(target, {
    get(object, property) {
      const replacement = replace(property);
      if (replacement !== undefined) return replacement;
      const value: unknown = Reflect.get(object, property);
      return typeof value === 'function' ? value.bind(object) : value;
    },
  });
}
