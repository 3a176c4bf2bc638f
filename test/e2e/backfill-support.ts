// Shared by the backfill, reconcile and catch-up tests: a tenant context on a sandbox without
// a running service, Spruce contacts that existed before us, and a canonical picture of the
// Spruce org to compare two runs by.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseConfig } from '../../src/config/load-config.ts';
import type { Config } from '../../src/config/schema.ts';
import { createLogger } from '../../src/observe/logger.ts';
import { SANDBOX_SPRY_ORG, sandboxConfig, type Sandbox } from '../../src/sandbox/environment.ts';
import { tenantContext } from '../../src/service.ts';
import { SpruceClient } from '../../src/spruce/client.ts';
import type { SpruceContact } from '../../src/spruce/types.ts';
import type { SpryPatient } from '../../src/spry/types.ts';
import type { Store } from '../../src/store/types.ts';
import { spryExternalId } from '../../src/sync/desired-contact.ts';
import type { TenantContext } from '../../src/sync/tenant-context.ts';
import { openConfiguredStore } from '../../src/config/database.ts';

export interface Bench {
  dir: string;
  databaseUrl: string;
  /** The config, as written for a child process (before validation). */
  rawConfig: Record<string, unknown>;
  config: Config;
  store: Store;
  ctx: TenantContext;
  close(): Promise<void>;
}

/** A tenant context (real clients, a real SQLite file) against the sandbox, without a service. */
export async function openBench(sandbox: Sandbox, tenant: Record<string, unknown> = {}): Promise<Bench> {
  const dir = await mkdtemp(path.join(tmpdir(), 'spruce-sync-backfill-'));
  const databaseUrl = `sqlite:${path.join(dir, 'sync.db')}`;
  const rawConfig = sandboxConfig(sandbox, {
    port: 0,
    databaseUrl,
    // No webhooks are registered: nothing is delivered to a service here.
    secrets: { spryWebhook: 'unused-spry-secret', spruceWebhook: 'unused-spruce-secret' },
    config: { database: { url: databaseUrl, synchronous: 'NORMAL' } },
  }) as { tenants: Record<string, Record<string, unknown>>[] };
  const base = rawConfig.tenants[0]!;
  // Spry's ceiling lifted: these tests are about correctness, not the rate limit.
  base.spry = { ...base.spry, requestsPerSecond: 2_000 };
  Object.assign(base, tenant);
  const config = parseConfig(rawConfig);
  const store = await openConfiguredStore(config.database);
  const ctx = tenantContext(config.tenants[0]!, { store, clock: sandbox.clock, logger: createLogger({ level: 'silent' }) });
  return {
    dir,
    databaseUrl,
    rawConfig,
    config,
    store,
    ctx,
    async close() {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export function spruceApi(sandbox: Sandbox): SpruceClient {
  const credentials = sandbox.spruce.credentials()[0]!;
  return new SpruceClient({ baseUrl: sandbox.spruceUrl, accessId: credentials.accessId, secretKey: credentials.secretKey, clock: sandbox.clock });
}

export interface ExistingContacts {
  /** Contacts carrying our integration link (an earlier installation made them). */
  linked: Map<number, string>;
  /** Hand-made contacts with the patient's birth date and phone or email, no link. */
  unlinked: Map<number, string>;
  /** Patients with two such hand-made contacts: ambiguous. */
  ambiguous: Map<number, string[]>;
}

function phoneOf(patient: SpryPatient): string | undefined {
  return patient.mobile ?? patient.secondary_contact ?? undefined;
}

/**
 * Puts contacts for some Spry patients into Spruce before any sync: `linked` of them with our
 * integration link (and a stale family name), `unlinked` hand-made ones that match by birth date
 * plus phone or email, and `ambiguous` patients with two hand-made matches each.
 */
export async function seedExistingContacts(
  sandbox: Sandbox,
  counts: { linked: number; unlinked: number; ambiguous: number; every?: number },
): Promise<ExistingContacts> {
  const spruce = spruceApi(sandbox);
  const every = counts.every ?? 8;
  const result: ExistingContacts = { linked: new Map(), unlinked: new Map(), ambiguous: new Map() };
  const candidates = sandbox.spry
    .patientIds(SANDBOX_SPRY_ORG)
    .filter((_, index) => index % every === 0)
    .map((id) => sandbox.spry.patient(SANDBOX_SPRY_ORG, id)!)
    .filter((p) => p.status !== 'ARCHIVED');
  const handMade = (patient: SpryPatient) => {
    const phone = phoneOf(patient);
    return sandbox.spruce.staff.createContact({
      category: 'patient',
      givenName: patient.first_name,
      familyName: patient.last_name,
      dateOfBirth: patient.date_of_birth,
      ...(phone ? { phoneNumbers: [{ value: phone, label: 'Home' }] } : {}),
      ...(patient.email_address ? { emailAddresses: [{ value: patient.email_address }] } : {}),
    }).id;
  };
  try {
    for (const patient of candidates) {
      const matchable = phoneOf(patient) !== undefined || patient.email_address;
      if (result.linked.size < counts.linked) {
        const contact = await spruce.createContact({ category: 'patient', givenName: patient.first_name, familyName: `${patient.last_name}-old` });
        await spruce.createIntegrationLink(contact.id, { type: 'custom', externalId: spryExternalId(SANDBOX_SPRY_ORG, patient.patient_id), url: 'https://example.test/old' });
        result.linked.set(patient.patient_id, contact.id);
      } else if (matchable && result.unlinked.size < counts.unlinked) {
        result.unlinked.set(patient.patient_id, handMade(patient));
      } else if (matchable && result.ambiguous.size < counts.ambiguous) {
        result.ambiguous.set(patient.patient_id, [handMade(patient), handMade(patient)]);
      } else if (result.linked.size + result.unlinked.size + result.ambiguous.size >= counts.linked + counts.unlinked + counts.ambiguous) {
        break;
      }
    }
    return result;
  } finally {
    await spruce.close();
  }
}

/** The Spruce contacts carrying each patient's link, by patient id. */
export function linkedContacts(sandbox: Sandbox): Map<number, SpruceContact[]> {
  const prefix = `spry:${SANDBOX_SPRY_ORG}:`;
  const byPatient = new Map<number, SpruceContact[]>();
  for (const contact of sandbox.spruce.contacts()) {
    for (const link of contact.integrationLinks ?? []) {
      if (!link.externalId?.startsWith(prefix)) continue;
      const patientId = Number(link.externalId.slice(prefix.length));
      byPatient.set(patientId, [...(byPatient.get(patientId) ?? []), contact]);
    }
  }
  return byPatient;
}

/**
 * The org as content, without ids or times: per contact its names, birth date, phones, emails,
 * fields (the time-dependent Next Appointment left out), tags and links. Two runs that did the
 * same thing give the same picture.
 */
export function canonicalOrg(sandbox: Sandbox): string[] {
  return sandbox.spruce
    .contacts()
    .map((c) =>
      JSON.stringify([
        c.givenName ?? '',
        c.middleName ?? '',
        c.familyName ?? '',
        c.dateOfBirth ?? '',
        c.gender,
        c.category,
        (c.phoneNumbers ?? []).map((p) => `${p.label}:${p.value}`).sort(),
        (c.emailAddresses ?? []).map((e) => `${e.label}:${e.value}`).sort(),
        (c.organizationContactFields ?? []).filter((f) => f.name !== 'Next Appointment').map((f) => `${f.name}=${f.value}`).sort(),
        (c.tags ?? []).map((t) => t.value).sort(),
        // The chart URL names the sandbox's port, which differs between sandboxes.
        (c.integrationLinks ?? []).map((l) => `${l.type}:${l.externalId}:${(l.url ?? '').replace(sandbox.spryUrl, '<spry>')}`).sort(),
      ]),
    )
    .sort();
}
