// The tenant context that bulk work (backfill, reconciliation, catch-up) runs with: the same
// clients at `bulk` priority, so their calls queue behind live traffic and leave it a share of
// the Spruce budget; one whose calls stop waiting for their turn when its work is stopped; and,
// for a dry run, a context that reads everything and writes nothing.
import { setMaxListeners } from 'node:events';
import { errorCode, stoppedWhileWaiting } from '../errors.ts';
import type { Priority } from '../http/types.ts';
import type { SpruceApi, SpruceContact, SpruceCreateContact } from '../spruce/types.ts';
import type { SpryApi } from '../spry/types.ts';
import type { Store } from '../store/types.ts';
import { OrgCatalogCache } from './org-catalog.ts';
import type { TenantContext } from './tenant-context.ts';

/** The views our Spry and Spruce clients offer of themselves (same pools, same limiters). */
type ClientViews<T> = Partial<{
  withPriority(priority: Priority): T;
  stopWaitingOn(signal: AbortSignal): T;
}>;

/** The view `make` picks of `api`; test doubles and wrappers without views are used as they are. */
function viewOf<T extends object>(api: T, make: (views: ClientViews<T>) => T | undefined): T {
  return make(api as ClientViews<T>) ?? api;
}

/**
 * The same tenant, its API calls sent at bulk priority (same pools, same limiters); with
 * `stopWaiting`, they also stop waiting for their turn once it aborts (see stopWaitingOn).
 */
export function bulkContext(ctx: TenantContext, stopWaiting?: AbortSignal): TenantContext {
  const spry = viewOf<SpryApi>(ctx.spry, (v) => v.withPriority?.('bulk'));
  const spruce = viewOf<SpruceApi>(ctx.spruce, (v) => v.withPriority?.('bulk'));
  return stopWaitingOn({ ...ctx, spry, spruce }, stopWaiting);
}

/**
 * The same tenant, its API calls no longer waiting for their turn (a rate window, a retry) once
 * `signal` aborts: such a call fails with WORK_STOPPED and nothing is sent, so stopped work ends
 * now instead of after the window. Calls already sent finish. Without a signal, `ctx` as it is.
 */
export function stopWaitingOn(ctx: TenantContext, signal: AbortSignal | undefined): TenantContext {
  if (!signal) return ctx;
  // Every run of a pool (every patient of a backfill page) may wait on this one signal at once:
  // each waiter listens to it until its turn comes, so the default cap of 10 would warn of a leak.
  setMaxListeners(0, signal);
  const spry = viewOf<SpryApi>(ctx.spry, (v) => v.stopWaitingOn?.(signal));
  const spruce = viewOf<SpruceApi>(ctx.spruce, (v) => v.stopWaitingOn?.(signal));
  return { ...ctx, spry, spruce };
}

/** How `error` ends a bulk run: interrupted when its work was stopped mid-wait, else failed with the error's code. */
export function runEndedBy(error: unknown, signal: AbortSignal | undefined): { status: 'interrupted' } | { status: 'failed'; error: string } {
  return stoppedWhileWaiting(error, signal) ? { status: 'interrupted' } : { status: 'failed', error: errorCode(error) };
}

/** Store methods that change something; a dry run answers them with nothing. */
const STORE_WRITES = new Set<keyof Store>([
  'insertEvent',
  'enqueueJob',
  'completeJob',
  'failJob',
  'recordAttempt',
  'replayDeadJob',
  'upsertLink',
  'deleteLinkByContact',
  'putLedger',
  'setState',
  'incrementCounter',
  'setFlag',
  'appendAudit',
  'prunePayloads',
]);

/** Spruce calls that change something, with the harmless answer a dry run gives instead. */
const SPRUCE_WRITES: Partial<Record<keyof SpruceApi, (...args: never[]) => unknown>> = {
  createContact: (input: SpruceCreateContact) => pretendContact(input),
  updateContact: (contactId: string) => ({ ...pretendContact({}), id: contactId }),
  deleteContact: () => undefined,
  createIntegrationLink: () => [],
  deleteIntegrationLink: () => undefined,
  createTag: (value: string) => ({ id: `dry-run:tag:${value}`, value }),
  createContactField: (name: string) => ({ id: `dry-run:field:${name}`, name }),
  createWebhookEndpoint: () => {
    throw new Error('a dry run registers no webhook endpoint');
  },
};

let pretendIds = 0;

function pretendContact(input: SpruceCreateContact): SpruceContact {
  const id = `dry-run:${++pretendIds}`;
  return {
    id,
    displayName: '',
    tags: [],
    gender: input.gender ?? 'unknown',
    category: 'patient',
    created: new Date(0).toISOString(),
    phoneNumbers: [],
    emailAddresses: [],
    customFields: [],
    appURL: '',
    apiURL: '',
    hasAccount: false,
    hasPendingInvite: false,
    customContactFields: [],
    organizationContactFields: [],
    canDelete: true,
    canEdit: true,
    integrationLinks: [],
    object: 'contact',
    internalMemberIds: [],
  } as SpruceContact;
}

/** Forwards reads to `target` and answers the listed writes with `fake` (no call made). */
function readOnly<T extends object>(target: T, fake: (name: string, args: unknown[]) => unknown | undefined, writes: Set<string>): T {
  return new Proxy(target, {
    get(object, property, receiver) {
      const value = Reflect.get(object, property, receiver) as unknown;
      if (typeof value !== 'function') return value;
      if (typeof property === 'string' && writes.has(property)) {
        return async (...args: unknown[]) => fake(property, args);
      }
      return (value as (...args: unknown[]) => unknown).bind(object);
    },
  });
}

/**
 * A context in which the sync runs exactly as it would, reading Spry, Spruce and the store,
 * while every write is answered as if it had succeeded and goes nowhere: its outcome is what a
 * real run would do.
 */
export function dryRunContext(ctx: TenantContext): TenantContext {
  const store = readOnly(ctx.store, () => undefined, STORE_WRITES as Set<string>);
  const spruce = readOnly(
    ctx.spruce,
    (name, args) => (SPRUCE_WRITES[name as keyof SpruceApi] as ((...a: unknown[]) => unknown) | undefined)?.(...args),
    new Set(Object.keys(SPRUCE_WRITES)),
  );
  const spry = readOnly(ctx.spry, () => {
    throw new Error('a dry run writes nothing to Spry');
  }, new Set(['patchPatient', 'recordCommunication', 'createSubscription']));
  const { fieldNames, tag } = ctx.config.sync;
  const catalog = new OrgCatalogCache(ctx.config.id, spruce, store, Object.values(fieldNames), [tag]);
  return { ...ctx, store, spruce, spry, catalog };
}
