// One run for one Spry patient: fetch the current records, build the contact we want, and
// drive Spruce to it with as few calls as it takes (none when nothing changed). State
// converges: the run never replays events, so order and duplicates stop mattering.
import { SyncError } from '../errors.ts';
import type { SpruceContact } from '../spruce/types.ts';
import type { SpryAppointment, SpryPatient } from '../spry/types.ts';
import {
  contactPatch,
  createBody,
  desiredHash,
  snapshotOfContact,
  snapshotOfDesired,
  type ContactSnapshot,
} from './contact-diff.ts';
import { desiredContact, isUpcoming, type DesiredContact } from './desired-contact.ts';
import { audit } from './audit.ts';
import { createGenerationKey, leaveDeletedKey } from './inbound-contact.ts';
import type { TenantContext } from './tenant-context.ts';

export type PatientSyncOutcome = 'created' | 'linked' | 'updated' | 'unchanged' | 'deleted' | 'patient_missing';

export interface PatientSyncResult {
  outcome: PatientSyncOutcome;
  contactId?: string;
  /** Names of what changed (no values). */
  changed: string[];
}

/** How many upcoming appointments to look through for the next one that still stands. */
const APPOINTMENT_LOOKAHEAD = 20;

/** What a caller that works in bulk (backfill) already knows, to save calls. */
export interface SyncPatientOptions {
  /** The patient as just read from a page of patients: no GET of it again. */
  patient?: SpryPatient;
  /**
   * The contacts a batched search just found carrying the patient's integration link: the
   * first lookup uses these instead of searching (a later one, after a 422, still searches).
   */
  contactsWithLink?: SpruceContact[];
}

export async function syncPatient(
  ctx: TenantContext,
  patientId: number,
  eventId?: number,
  options: SyncPatientOptions = {},
): Promise<PatientSyncResult> {
  const { config, store, clock } = ctx;
  const tenantId = config.id;
  const now = clock.now();

  const [patient, cases, appointments] = await Promise.all([
    options.patient ?? ctx.spry.getPatient(patientId),
    ctx.spry.listPatientCases(patientId),
    ctx.spry.listPatientAppointments(patientId, { fromEpochSeconds: Math.floor(now / 1000), page: 1, size: APPOINTMENT_LOOKAHEAD }),
  ]);
  if (!patient) {
    await audit(ctx, 'spry', 'patient', String(patientId), 'skip', eventId, { reason: 'not_found' });
    return { outcome: 'patient_missing', changed: [] };
  }
  await audit(ctx, 'spry', 'patient', String(patientId), 'read', eventId);

  const nextAppointment = appointments.content.find((a: SpryAppointment) => isUpcoming(a, now)) ?? null;
  const desired = desiredContact(
    { patient, cases, nextAppointment },
    { organisationId: config.spry.organisationId, chartUrl: config.spry.chartUrl, policy: config.sync },
  );
  const hash = desiredHash(desired);

  if (patient.status === 'ARCHIVED' && config.sync.deleteArchivedContacts) {
    return deleteArchived(ctx, patientId, eventId);
  }

  const link = await store.getLinkByPatient(tenantId, patientId);
  if (link) {
    const result = await updateLinked(ctx, link.contactId, desired, hash, eventId);
    if (result) return result;
    // The linked contact is gone from Spruce: forget the link and find or create it afresh.
    await store.deleteLinkByContact(tenantId, link.contactId);
    await audit(ctx, 'spruce', 'link', link.contactId, 'unlink', eventId, { reason: 'contact_not_found' });
  }
  return findOrCreate(ctx, patientId, desired, hash, eventId, options.contactsWithLink);
}

/** Brings a linked contact up to date; null when the contact no longer exists. */
async function updateLinked(
  ctx: TenantContext,
  contactId: string,
  desired: DesiredContact,
  hash: string,
  eventId: number | undefined,
): Promise<PatientSyncResult | null> {
  const ledger = await ctx.store.getLedger(ctx.config.id, 'spruce', contactId);
  if (ledger?.hash === hash) return { outcome: 'unchanged', contactId, changed: [] };
  let current: ContactSnapshot;
  if (ledger) {
    current = ledger.fields;
  } else {
    const live = await ctx.spruce.getContact(contactId);
    if (!live) return null;
    // No ledger yet: a run may have died between our link row and the integration link.
    await ensureIntegrationLink(ctx, live, desired, eventId);
    current = snapshotOfContact(live);
  }
  return applyPatch(ctx, contactId, desired, hash, current, eventId, 'updated');
}

async function applyPatch(
  ctx: TenantContext,
  contactId: string,
  desired: DesiredContact,
  hash: string,
  current: ContactSnapshot,
  eventId: number | undefined,
  outcome: 'updated' | 'linked',
): Promise<PatientSyncResult | null> {
  const catalog = await ctx.catalog.get();
  const { changed, patch } = contactPatch(desired, current, catalog);
  const written = snapshotOfDesired(desired, catalog, current.tags);
  if (patch) {
    await putSnapshot(ctx, 'spruce-intent', contactId, written);
    try {
      // The client keys this PATCH for its own retries: one whose answer was lost is read back
      // on the 422. A later run decides afresh from what it reads, and a repeated PATCH of the
      // same values leaves the same contact.
      await ctx.spruce.updateContact(contactId, patch);
    } catch (error) {
      if (error instanceof SyncError && error.code === 'SPRUCE_NOT_FOUND') return null;
      throw error;
    }
    await audit(ctx, 'spruce', 'contact', contactId, 'update', eventId, { fields: changed });
  }
  await putSnapshot(ctx, 'spruce', contactId, written, hash);
  return { outcome: patch || outcome === 'linked' ? outcome : 'unchanged', contactId, changed };
}

async function findOrCreate(
  ctx: TenantContext,
  patientId: number,
  desired: DesiredContact,
  hash: string,
  eventId: number | undefined,
  contactsWithLink: SpruceContact[] | undefined,
): Promise<PatientSyncResult> {
  const existing = await findByLink(ctx, desired, patientId, eventId, contactsWithLink);
  if (existing) return linkExisting(ctx, patientId, existing, desired, hash, eventId);
  if (await ctx.store.isFlagSet(ctx.config.id, leaveDeletedKey(patientId))) {
    // Staff deleted this patient's contact and the tenant's policy is to leave it gone.
    await audit(ctx, 'spruce', 'contact', `patient:${patientId}`, 'skip', eventId, { reason: 'deleted_in_spruce' });
    return { outcome: 'unchanged', changed: [] };
  }
  const created = await createContact(ctx, patientId, desired, eventId);
  if (!created.fresh) return linkExisting(ctx, patientId, created.contact, desired, hash, eventId);
  const contact = created.contact;
  // Our own record first: if we die before the link lands, the retry finds the contact here.
  await ctx.store.upsertLink(ctx.config.id, patientId, contact.id, ctx.clock.now());
  const catalog = await ctx.catalog.get();
  const written = snapshotOfDesired(desired, catalog);
  // Adding the link is announced as a contact.updated that may beat the link's answer.
  await putSnapshot(ctx, 'spruce-intent', contact.id, written);
  await ensureIntegrationLink(ctx, contact, desired, eventId);
  await putSnapshot(ctx, 'spruce', contact.id, written, hash);
  return { outcome: 'created', contactId: contact.id, changed: [] };
}

/** The contact already carrying our integration link; the lowest id when there are several. */
async function findByLink(
  ctx: TenantContext,
  desired: DesiredContact,
  patientId: number,
  eventId: number | undefined,
  known?: SpruceContact[],
): Promise<SpruceContact | null> {
  const found = [...(known ?? (await ctx.spruce.findContactsByIntegrationId(desired.link.externalId)))];
  if (found.length > 1) {
    await audit(ctx, 'spruce', 'contact', found[0]!.id, 'duplicate_links', eventId, {
      patientId,
      contactIds: found.map((c) => c.id),
    });
  }
  return found.sort((a, b) => (a.id < b.id ? -1 : 1))[0] ?? null;
}

async function linkExisting(
  ctx: TenantContext,
  patientId: number,
  contact: SpruceContact,
  desired: DesiredContact,
  hash: string,
  eventId: number | undefined,
): Promise<PatientSyncResult> {
  await ctx.store.upsertLink(ctx.config.id, patientId, contact.id, ctx.clock.now());
  await audit(ctx, 'spruce', 'link', contact.id, 'link', eventId, { patientId });
  await ensureIntegrationLink(ctx, contact, desired, eventId);
  const result = await applyPatch(ctx, contact.id, desired, hash, snapshotOfContact(contact), eventId, 'linked');
  if (!result) throw new SyncError('SYNC_CONFLICT', 'contact vanished while being linked', { retryable: true, ids: { patientId, contactId: contact.id } });
  return result;
}

/**
 * Creates the contact with an idempotency key derived from the patient. A 422 means an
 * earlier attempt landed: we search again (by link, then by our Spry Patient ID field, which the
 * create sets) rather than create twice.
 */
async function createContact(
  ctx: TenantContext,
  patientId: number,
  desired: DesiredContact,
  eventId: number | undefined,
): Promise<{ contact: SpruceContact; fresh: boolean }> {
  const tenantId = ctx.config.id;
  const generationKey = createGenerationKey(patientId);
  const generation = await ctx.store.getCounter(tenantId, generationKey);
  const catalog = await ctx.catalog.get();
  try {
    const contact = await ctx.spruce.createContact(createBody(desired, catalog), {
      idempotencyKey: `spruce-sync:create:${desired.link.externalId}:${generation}`,
    });
    await audit(ctx, 'spruce', 'contact', contact.id, 'create', eventId, { patientId });
    return { contact, fresh: true };
  } catch (error) {
    if (!(error instanceof SyncError) || error.code !== 'SPRUCE_IDEMPOTENCY_REPLAY') throw error;
  }
  const landed =
    (await findByLink(ctx, desired, patientId, eventId)) ?? (await findByPatientIdField(ctx, patientId));
  if (landed) return { contact: landed, fresh: false };
  // The earlier contact was created and has since been deleted: the next attempt uses a new key.
  await ctx.store.incrementCounter(tenantId, generationKey);
  throw new SyncError('SYNC_CONFLICT', 'an earlier create landed but its contact is gone; retrying with a new key', {
    retryable: true,
    ids: { tenantId, patientId },
  });
}

async function findByPatientIdField(ctx: TenantContext, patientId: number): Promise<SpruceContact | null> {
  const page = await ctx.spruce.searchContacts({
    structured: {
      organizationContactFieldFilter: [
        { organizationContactFields: [{ name: ctx.config.sync.fieldNames.spryPatientId, value: String(patientId) }], match: 'all' },
      ],
    },
  });
  // Only a contact without another Spry link can be ours from an interrupted create.
  return page.items.find((c) => !(c.integrationLinks ?? []).some((l) => l.externalId?.startsWith('spry:'))) ?? null;
}

async function ensureIntegrationLink(
  ctx: TenantContext,
  contact: SpruceContact,
  desired: DesiredContact,
  eventId: number | undefined,
): Promise<void> {
  const has = (contact.integrationLinks ?? []).some((l) => l.type === 'custom' && l.externalId === desired.link.externalId);
  if (has) return;
  // A 422 for the key (an earlier attempt landed) is settled by the client reading the links back.
  await ctx.spruce.createIntegrationLink(contact.id, desired.link, {
    idempotencyKey: `spruce-sync:link:${desired.link.externalId}:${contact.id}`,
  });
  await audit(ctx, 'spruce', 'contact', contact.id, 'link', eventId, { externalId: desired.link.externalId });
}

async function deleteArchived(ctx: TenantContext, patientId: number, eventId: number | undefined): Promise<PatientSyncResult> {
  const link = await ctx.store.getLinkByPatient(ctx.config.id, patientId);
  if (!link) return { outcome: 'unchanged', changed: [] };
  const live = await ctx.spruce.getContact(link.contactId);
  if (live && !live.canDelete) {
    await audit(ctx, 'spruce', 'contact', link.contactId, 'skip', eventId, { reason: 'not_deletable' });
    return { outcome: 'unchanged', contactId: link.contactId, changed: [] };
  }
  if (live) await ctx.spruce.deleteContact(link.contactId);
  await ctx.store.deleteLinkByContact(ctx.config.id, link.contactId);
  await audit(ctx, 'spruce', 'contact', link.contactId, 'delete', eventId, { patientId });
  return { outcome: 'deleted', contactId: link.contactId, changed: [] };
}

/**
 * Keeps a snapshot of the contact: `spruce`, what we wrote (the write ledger), or
 * `spruce-intent`, what we are about to write. Spruce sends contact.updated as soon as it applies
 * a write, often before its answer reaches us and the ledger is updated: the inbound handler
 * checks the intent too, so it never takes our own write for a staff edit.
 */
async function putSnapshot(
  ctx: TenantContext,
  system: 'spruce' | 'spruce-intent',
  contactId: string,
  snapshot: ContactSnapshot,
  hash = '',
): Promise<void> {
  await ctx.store.putLedger({
    tenantId: ctx.config.id,
    system,
    recordId: contactId,
    fields: snapshot,
    hash,
    writtenAt: ctx.clock.now(),
  });
}
