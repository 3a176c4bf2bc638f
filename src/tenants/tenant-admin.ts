// Adding, changing, disabling and removing tenants: what the admin API and the CLI both do. Input
// is validated as a config tenant is (strict: an unknown field is refused, with the nearest known
// one), every refusal is a clear AdminError, and nothing is half-written: each change is one
// directory write, with its audit entry in the same transaction (tenant-audit.ts: who, what,
// which fields — never their values). Secrets go in and never come out.
import type { Clock } from '../clock.ts';
import { tenantSchema, type TenantConfig } from '../config/schema.ts';
import { unknownKeyProblems } from '../config/unknown-keys.ts';
import type { Logger } from '../observe/logger.ts';
import { AdminError } from '../errors.ts';
import type { StoredTenant, TenantDirectory, TenantStatus } from '../store/ports.ts';
import { asSecrets, fullDefinition, mergePatch, redactedDefinition, rotateSecrets, splitTenant } from './definition.ts';
import { probeVendors } from './reachability.ts';
import { tenantAuditEntry, updateAuditEntry, type TenantActor } from './tenant-audit.ts';

/** How long a replaced webhook secret stays valid unless the edit says otherwise. */
export const DEFAULT_SECRET_OVERLAP_MINUTES = 24 * 60;

export interface TenantView {
  id: string;
  source: StoredTenant['source'];
  status: TenantStatus;
  createdAt: number;
  updatedAt: number;
  removedAt: number | null;
  /** The definition with every secret as `***` or `{ set: true }`. */
  definition: Record<string, unknown>;
}

export interface TenantChange {
  tenant: TenantView;
  /** Worth knowing, not worth refusing (e.g. a vendor not reachable from here right now). */
  warnings: string[];
}

export interface TenantAdminOptions {
  directory: TenantDirectory;
  clock: Clock;
  /** Who the changes are audited as: the admin API or the CLI. */
  actor: TenantActor;
  /** Checks the vendors answer at `add`; default: an HTTP request to each base URL. */
  probe?: (tenant: TenantConfig) => Promise<string[]>;
  /**
   * Called after every change; awaited, so that the instance answering has loaded the change
   * before the caller hears of it (a webhook sent right after a 201 must find its tenant).
   */
  onChange?: () => void | Promise<void>;
  logger?: Logger;
}

export class TenantAdmin {
  constructor(private readonly options: TenantAdminOptions) {}

  async list(options: { includeRemoved?: boolean } = {}): Promise<TenantView[]> {
    const all = await this.options.directory.listTenants();
    return all.filter((t) => options.includeRemoved || t.removedAt === null).map((t) => this.view(t));
  }

  async show(id: string): Promise<TenantView> {
    return this.view(await this.live(id));
  }

  async add(input: unknown): Promise<TenantChange> {
    const tenant = validTenant(input);
    const { settings, secrets } = splitTenant(tenant);
    const existing = await this.options.directory.getTenant(tenant.id);
    if (existing) throw duplicate(existing);
    const warnings = await (this.options.probe ?? probeVendors)(tenant);
    const now = this.now();
    const audit = tenantAuditEntry(tenant.id, 'add', this.options.actor, now, { warnings: warnings.length });
    const inserted = await this.options.directory.insertTenant({ id: tenant.id, source: 'api', status: 'enabled', settings, secrets: { ...secrets } }, now, audit);
    if (!inserted) throw duplicate((await this.options.directory.getTenant(tenant.id))!);
    await this.changed(tenant.id, 'added');
    return { tenant: await this.show(tenant.id), warnings };
  }

  /** Merges `patch` into the definition; a replaced webhook secret stays valid for `overlapMinutes`. */
  async update(id: string, patch: unknown, options: { overlapMinutes?: number } = {}): Promise<TenantChange> {
    const current = this.changeable(await this.live(id));
    if (patch && typeof patch === 'object' && 'id' in patch && (patch as { id: unknown }).id !== id) {
      throw new AdminError('bad_request', 'id: a tenant id cannot be changed (add a new tenant instead)');
    }
    const before = asSecrets(current.secrets);
    const tenant = validTenant(mergePatch(fullDefinition(current.settings, before), patch));
    const { settings, secrets } = splitTenant(tenant);
    const overlapMinutes = options.overlapMinutes ?? DEFAULT_SECRET_OVERLAP_MINUTES;
    const now = this.now();
    const rotated = rotateSecrets(before, secrets, now, overlapMinutes * 60_000);
    const audit = updateAuditEntry(id, this.options.actor, now, { settingsBefore: current.settings, settingsAfter: settings, secretsBefore: before, secretsAfter: secrets, overlapMinutes });
    if (!(await this.options.directory.updateTenant(id, { settings, secrets: { ...rotated } }, now, audit))) throw unknown(id);
    await this.changed(id, 'updated');
    return { tenant: await this.show(id), warnings: [] };
  }

  /** A disabled tenant's webhooks are still verified and stored; its jobs wait until it is enabled. */
  async setStatus(id: string, status: TenantStatus): Promise<TenantView> {
    const current = await this.live(id);
    const now = this.now();
    const audit = tenantAuditEntry(id, status === 'disabled' ? 'disable' : 'enable', this.options.actor, now, { from: current.status });
    if (!(await this.options.directory.updateTenant(id, { status }, now, audit))) throw unknown(id);
    await this.changed(id, status);
    return this.show(id);
  }

  /** Its webhooks are refused from now on; its PHI is purged after the retention period; its audit trail stays. */
  async remove(id: string): Promise<TenantView> {
    this.changeable(await this.live(id));
    const now = this.now();
    if (!(await this.options.directory.removeTenant(id, now, tenantAuditEntry(id, 'remove', this.options.actor, now)))) throw unknown(id);
    await this.changed(id, 'removed');
    const removed = await this.options.directory.getTenant(id);
    return this.view(removed!);
  }

  private async live(id: string): Promise<StoredTenant> {
    const tenant = await this.options.directory.getTenant(id);
    if (!tenant || tenant.removedAt !== null) throw unknown(id);
    return tenant;
  }

  private changeable(tenant: StoredTenant): StoredTenant {
    if (tenant.source === 'config') {
      throw new AdminError('config_tenant', `tenant ${tenant.id} comes from the config file: change or remove it there`);
    }
    return tenant;
  }

  private async changed(tenantId: string, change: string): Promise<void> {
    this.options.logger?.info({ tenantId, change }, 'tenant directory changed');
    await this.options.onChange?.();
  }

  private view(tenant: StoredTenant): TenantView {
    return {
      id: tenant.id,
      source: tenant.source,
      status: tenant.status,
      createdAt: tenant.createdAt,
      updatedAt: tenant.updatedAt,
      removedAt: tenant.removedAt,
      definition: redactedDefinition(tenant.settings, asSecrets(tenant.secrets), this.now()),
    };
  }

  private now(): number {
    return this.options.clock.now();
  }
}

/** A config tenant from untrusted input, or a 400 listing every problem by path. */
export function validTenant(input: unknown): TenantConfig {
  const result = tenantSchema.safeParse(input);
  if (result.success) return result.data;
  const problems = result.error.issues.flatMap((issue) =>
    issue.code === 'unrecognized_keys' ? unknownKeyProblems(tenantSchema, issue.path, issue.keys) : [`${issue.path.join('.') || '(tenant)'}: ${issue.message}`],
  );
  throw new AdminError('invalid_tenant', problems.join('; '));
}

function unknown(id: string): AdminError {
  return new AdminError('unknown_tenant', `no tenant ${id}`);
}

function duplicate(existing: StoredTenant): AdminError {
  return existing.removedAt === null
    ? new AdminError('tenant_exists', `tenant ${existing.id} exists already`)
    : new AdminError('tenant_exists', `tenant ${existing.id} was removed; its id is not reused`);
}
