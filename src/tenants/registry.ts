// The tenants this instance runs, kept in step with the tenant directory: the config file's
// tenants are seeded at start, and every change (this instance's admin API, another instance's,
// the CLI) is seen within one poll of the directory's version row, or at once when made here.
// A tenant whose definition changes is stopped and started again; one whose webhook secrets
// only change (a rotation, an overlap ending) keeps running.
import type { CancelTimer, Clock } from '../clock.ts';
import type { TenantConfig } from '../config/schema.ts';
import { errorCode } from '../errors.ts';
import type { Logger } from '../observe/logger.ts';
import type { StoredTenant, TenantDirectory } from '../store/ports.ts';
import { asSecrets, nextExpiry, runtimeTenant, splitTenant } from './definition.ts';
import { configTenantAuditEntry } from './tenant-audit.ts';

export interface TenantRegistryOptions {
  directory: TenantDirectory;
  clock: Clock;
  logger: Logger;
  /** How often the directory's version is read for changes made elsewhere. */
  pollIntervalMs: number;
  /** A tenant starts running here (new, enabled again… or restarted after a change). */
  onStart(tenant: TenantConfig): void;
  /**
   * A tenant stops running here: `gone` (removed, or its definition no longer readable) or
   * `restarting` (started again at once with a new definition: what follows a tenant across
   * restarts, such as an alert's firing state, is kept).
   */
  onStop(tenantId: string, why: 'gone' | 'restarting'): void;
}

/** More changed definitions than this are read with the whole directory, in one query. */
const FEW_CHANGED = 16;

interface BuiltTenant {
  revision: string;
  /** null: the definition could not be read (logged once per revision). */
  tenant: TenantConfig | null;
  /** workerShape of the tenant: what its workers were built from. */
  shape: string;
  /** When its next retired webhook secret expires: it is parsed again then. */
  expiresAt: number | null;
}

export class TenantRegistry {
  /** The tenants not removed, enabled or disabled, by id: what webhooks are verified against. */
  readonly tenants = new Map<string, TenantConfig>();
  /** The same tenants as an array, updated in place, for consumers that take the config's list. */
  readonly list: TenantConfig[] = [];
  /** Their ids, updated in place. */
  readonly ids: string[] = [];
  private readonly disabled = new Set<string>();
  /** What a running tenant's workers were built from (its definition without webhook secrets). */
  private readonly builtFrom = new Map<string, string>();
  private version = -1;
  /** Each tenant of the last load as parsed from the directory, by id, with the revision it was parsed from. */
  private built = new Map<string, BuiltTenant>();
  private expiresAt: number | null = null;
  private timer: CancelTimer | null = null;
  private refreshing: Promise<void> | null = null;
  private again = false;

  constructor(private readonly options: TenantRegistryOptions) {}

  /** Seeds the config file's tenants and loads the directory. */
  async seed(configTenants: readonly TenantConfig[]): Promise<void> {
    const now = this.options.clock.now();
    await this.options.directory.seedConfigTenants(
      configTenants.map((tenant) => {
        const { settings, secrets } = splitTenant(tenant);
        return { id: tenant.id, settings, secrets: { ...secrets } };
      }),
      now,
      (change) => configTenantAuditEntry(change, now),
    );
    await this.refresh();
  }

  /** Whether the tenant's jobs may be claimed (it exists here and is not disabled). */
  claimable(tenantId: string): boolean {
    return this.tenants.has(tenantId) && !this.disabled.has(tenantId);
  }

  /**
   * WorkerPool's tenant filter narrowed to claimable tenants: undefined (every tenant) only when
   * nothing is narrowed, so a disabled or removed tenant's jobs wait unclaimed.
   */
  claimFilter(base: string[] | undefined): string[] | undefined {
    if (base === undefined && this.disabled.size === 0 && !this.hasStrangers) return undefined;
    return (base ?? this.ids).filter((id) => this.claimable(id));
  }

  /** Removed tenants may still have jobs: once any tenant was removed, claims name the live ones. */
  private hasStrangers = false;

  /** Reads the directory now if it changed (one refresh at a time; a call meanwhile runs one more). */
  refresh(): Promise<void> {
    if (this.refreshing) {
      this.again = true;
      return this.refreshing;
    }
    this.refreshing = (async () => {
      try {
        do {
          this.again = false;
          await this.load();
        } while (this.again);
      } finally {
        this.refreshing = null;
      }
    })();
    return this.refreshing;
  }

  start(): void {
    const tick = () => {
      this.timer = this.options.clock.setTimer(this.options.pollIntervalMs, () => {
        this.refresh()
          .catch((error: unknown) => this.options.logger.warn({ code: errorCode(error) }, 'tenant directory refresh failed; keeping the tenants running'))
          .finally(() => {
            if (this.timer) tick();
          });
      });
    };
    tick();
  }

  stop(): void {
    this.timer?.();
    this.timer = null;
  }

  private async load(): Promise<void> {
    const now = this.options.clock.now();
    const version = await this.options.directory.tenantsVersion();
    const expired = this.expiresAt !== null && this.expiresAt <= now;
    if (version === this.version && !expired) return;
    // What each tenant is now, without a secret unsealed; only the definitions that changed since
    // the last load (or whose retired webhook secrets have expired) are read and parsed again, so
    // adding one tenant to a thousand costs one definition, not a thousand.
    const summaries = await this.options.directory.listTenantSummaries();
    this.version = version;
    this.expiresAt = null;
    const stale = summaries.filter((row) => row.removedAt === null && !this.isCurrent(row.id, row.revision, now));
    const fresh = await this.definitions(stale.map((row) => row.id));
    const built = new Map<string, BuiltTenant>();
    const live = new Map<string, { tenant: TenantConfig; shape: string }>();
    for (const row of summaries) {
      if (row.removedAt !== null) {
        this.hasStrangers = true;
        continue;
      }
      const definition = fresh.get(row.id);
      const entry = definition ? this.parse(row.id, row.revision, definition, now) : this.built.get(row.id);
      if (!entry) continue;
      built.set(row.id, entry);
      // A row this version cannot read (written by a newer one?) must not stop the others.
      if (!entry.tenant) continue;
      live.set(row.id, { tenant: entry.tenant, shape: entry.shape });
      if (entry.expiresAt !== null) this.expiresAt = Math.min(this.expiresAt ?? entry.expiresAt, entry.expiresAt);
      if (row.status === 'disabled') this.disabled.add(row.id);
      else this.disabled.delete(row.id);
    }
    this.built = built;
    for (const id of [...this.tenants.keys()]) {
      if (!live.has(id)) this.stopTenant(id, 'gone');
    }
    for (const [id, { tenant, shape }] of live) {
      const running = this.builtFrom.get(id);
      if (running !== undefined && running !== shape) this.stopTenant(id, 'restarting');
      this.tenants.set(id, tenant);
      if (this.builtFrom.get(id) === undefined) {
        this.builtFrom.set(id, shape);
        this.options.onStart(tenant);
        this.options.logger.info({ tenantId: id }, 'tenant running');
      }
    }
    this.list.splice(0, this.list.length, ...this.tenants.values());
    this.ids.splice(0, this.ids.length, ...this.tenants.keys());
  }

  /** Whether the tenant as last parsed is still what the directory holds and still valid now. */
  private isCurrent(id: string, revision: string, now: number): boolean {
    const built = this.built.get(id);
    return built !== undefined && built.revision === revision && (built.expiresAt === null || built.expiresAt > now);
  }

  /** The stored definitions of these tenants: one read each for a few, the whole directory for many. */
  private async definitions(ids: string[]): Promise<Map<string, StoredTenant>> {
    if (ids.length === 0) return new Map();
    const wanted = new Set(ids);
    const rows =
      ids.length > FEW_CHANGED
        ? (await this.options.directory.listTenants()).filter((row) => wanted.has(row.id))
        : (await Promise.all(ids.map((id) => this.options.directory.getTenant(id)))).filter((row): row is StoredTenant => row !== null);
    // Removed between the two reads: left to the next load, which sees it removed.
    return new Map(rows.filter((row) => row.removedAt === null).map((row) => [row.id, row]));
  }

  private parse(id: string, revision: string, row: StoredTenant, now: number): BuiltTenant {
    const secrets = asSecrets(row.secrets);
    try {
      const tenant = runtimeTenant(row.settings, secrets, now);
      return { revision, tenant, shape: workerShape(tenant), expiresAt: nextExpiry(secrets, now) };
    } catch (error) {
      this.options.logger.error({ tenantId: id, code: errorCode(error) }, 'tenant definition not valid; not running it');
      return { revision, tenant: null, shape: '', expiresAt: null };
    }
  }

  private stopTenant(id: string, why: 'gone' | 'restarting'): void {
    this.tenants.delete(id);
    // A restart keeps the status this load just read: a disabled tenant whose definition
    // changed must stay out of claims.
    if (why === 'gone') this.disabled.delete(id);
    this.builtFrom.delete(id);
    this.options.onStop(id, why);
    this.options.logger.info({ tenantId: id }, 'tenant stopped');
  }
}

/** A tenant's definition as far as its workers, clients and schedules are concerned. */
function workerShape(tenant: TenantConfig): string {
  return JSON.stringify({ ...tenant, spry: { ...tenant.spry, webhookSecrets: [] }, spruce: { ...tenant.spruce, webhookSecrets: [] } });
}
