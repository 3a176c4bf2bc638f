// The tenants this instance runs, kept in step with the tenant directory: the config file's
// tenants are seeded at start, and every change (this instance's admin API, another instance's,
// the CLI) is seen within one poll of the directory's version row, or at once when made here.
// A tenant whose definition changes is stopped and started again; one whose webhook secrets
// only change (a rotation, an overlap ending) keeps running.
import type { CancelTimer, Clock } from '../clock.ts';
import type { TenantConfig } from '../config/schema.ts';
import { errorCode } from '../errors.ts';
import type { Logger } from '../observe/logger.ts';
import type { TenantDirectory } from '../store/ports.ts';
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
    const rows = await this.options.directory.listTenants();
    this.version = version;
    this.expiresAt = null;
    const live = new Map<string, TenantConfig>();
    for (const row of rows) {
      if (row.removedAt !== null) {
        this.hasStrangers = true;
        continue;
      }
      const secrets = asSecrets(row.secrets);
      try {
        live.set(row.id, runtimeTenant(row.settings, secrets, now));
      } catch (error) {
        // A row this version cannot read (written by a newer one?) must not stop the others.
        this.options.logger.error({ tenantId: row.id, code: errorCode(error) }, 'tenant definition not valid; not running it');
        continue;
      }
      const expiry = nextExpiry(secrets, now);
      if (expiry !== null) this.expiresAt = Math.min(this.expiresAt ?? expiry, expiry);
      if (row.status === 'disabled') this.disabled.add(row.id);
      else this.disabled.delete(row.id);
    }
    for (const id of [...this.tenants.keys()]) {
      if (!live.has(id)) this.stopTenant(id, 'gone');
    }
    for (const [id, tenant] of live) {
      const shape = workerShape(tenant);
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
