// Spruce → Spry for contacts. Each contact event is compared with our write ledger (what Spruce
// holds as far as we know): what merely echoes our own write is dropped; edits of fields Spruce
// may own are written back to Spry; edits of Spry-owned fields are put right by the patient's
// next sync, which we queue at once.
import type { Priority } from '../http/types.ts';
import type { SpruceContact } from '../spruce/types.ts';
import type { SpryPatientPatch } from '../spry/types.ts';
import type { Counter, Flag, InboundEvent, LedgerEntry } from '../store/types.ts';
import { differences, snapshotOfContact, type ContactSnapshot } from './contact-diff.ts';
import { spryExternalId } from './desired-contact.ts';
import { audit } from './audit.ts';
import { matchUnlinkedContact } from './match-contact.ts';
import { taskJob } from './tasks.ts';
import type { TenantContext } from './tenant-context.ts';

interface ContactEnvelope {
  type: string;
  eventTime: string;
  data: { object: SpruceContact; deletedContactIds?: string[] };
}

const appliedKey = (contactId: string) => `spruce-contact-applied:${contactId}`;
export const createGenerationKey = (patientId: number): Counter => `create-generation:${patientId}`;
export const leaveDeletedKey = (patientId: number): Flag => `leave-deleted:${patientId}`;
/** The patient a contact was linked to before it was deleted or merged away: its messages stay that patient's. */
export const formerPatientKey = (contactId: string) => `former-patient:${contactId}`;
/** The contact a merged-away contact was folded into: what it held lives on there. */
const mergedIntoKey = (contactId: string) => `merged-into:${contactId}`;

/** Runs the queued events of one contact, oldest first by Spruce's eventTime. */
export async function handleContactEvents(ctx: TenantContext, events: InboundEvent[]): Promise<void> {
  const ordered = [...events].sort((a, b) => a.occurredAt - b.occurredAt || a.id - b.id);
  for (const event of ordered) {
    const envelope = JSON.parse(event.payload.toString('utf8')) as ContactEnvelope;
    const contact = envelope.data.object;
    // An older picture of the contact than one applied changes nothing; a delete or a merge is
    // an act, not a picture, and counts whenever it arrives.
    const picture = event.type === 'contact.created' || event.type === 'contact.updated';
    if (picture && (await isStale(ctx, contact.id, event))) {
      await audit(ctx, 'spruce', 'contact', contact.id, 'skip', event.id, { reason: 'stale', type: event.type });
      continue;
    }
    switch (event.type) {
      case 'contact.created':
      case 'contact.updated':
        await onContactChanged(ctx, contact, event);
        break;
      case 'contact.deleted':
        await onContactDeleted(ctx, contact.id, event.id);
        break;
      case 'contact.merged':
        await onContactMerged(ctx, contact, envelope.data.deletedContactIds ?? [], event);
        break;
      default:
        await audit(ctx, 'spruce', 'contact', contact.id, 'skip', event.id, { reason: 'unhandled_type', type: event.type });
    }
    await markApplied(ctx, contact.id, event.occurredAt);
  }
}

/** The newest eventTime applied for the contact; never moves back. */
async function markApplied(ctx: TenantContext, contactId: string, occurredAt: number): Promise<void> {
  const applied = Number((await ctx.store.getState(ctx.config.id, appliedKey(contactId))) ?? -Infinity);
  if (occurredAt > applied) await ctx.store.setState(ctx.config.id, appliedKey(contactId), String(occurredAt));
}

/** An event older than one we already applied for the contact changes nothing. */
async function isStale(ctx: TenantContext, contactId: string, event: InboundEvent): Promise<boolean> {
  const applied = await ctx.store.getState(ctx.config.id, appliedKey(contactId));
  return applied !== null && event.occurredAt < Number(applied);
}

/** The Spry patient behind a contact: our link table, else our integration link on the contact. */
export async function patientOfContact(ctx: TenantContext, contact: SpruceContact): Promise<number | null> {
  const link = await ctx.store.getLinkByContact(ctx.config.id, contact.id);
  if (link) return link.patientId;
  const prefix = `spry:${ctx.config.spry.organisationId}:`;
  const ours = (contact.integrationLinks ?? []).find((l) => l.type === 'custom' && l.externalId?.startsWith(prefix));
  if (!ours?.externalId) return null;
  const patientId = Number(ours.externalId.slice(prefix.length));
  return Number.isInteger(patientId) && patientId > 0 ? patientId : null;
}

async function onContactChanged(ctx: TenantContext, contact: SpruceContact, event: InboundEvent): Promise<void> {
  const tenantId = ctx.config.id;
  // A picture of a contact merged away, handled only after its merge (a retried job, a late
  // delivery): the merge read the survivor as it was then and took what it holds beyond our
  // ledger as staff edits, so this older picture is settled. Acting on it would put the patient
  // back on a contact that is gone and write its stale values over later edits of the survivor.
  const mergedInto = await ctx.store.getState(tenantId, mergedIntoKey(contact.id));
  if (mergedInto !== null) {
    await audit(ctx, 'spruce', 'contact', contact.id, 'skip', event.id, { reason: 'merged_away', survivorId: mergedInto });
    return;
  }
  const patientId = await patientOfContact(ctx, contact);
  if (patientId === null) {
    if (event.type !== 'contact.created') return;
    // A contact staff made by hand: matched to its patient when the tenant opts in, else left
    // alone and listed for the operator.
    if (!ctx.config.inbound.matchUnlinkedContacts) {
      await audit(ctx, 'spruce', 'contact', contact.id, 'unmatched_contact', event.id, { outcome: 'matching_off' });
      return;
    }
    if ((await matchUnlinkedContact(ctx, contact, event.id)) === 'linked') {
      const linked = await ctx.store.getLinkByContact(ctx.config.id, contact.id);
      if (linked) await queuePatientSync(ctx, linked.patientId);
    }
    return;
  }
  if (!(await ctx.store.getLinkByContact(tenantId, contact.id))) {
    const previous = await ctx.store.getLinkByPatient(tenantId, patientId);
    await ctx.store.upsertLink(tenantId, patientId, contact.id, ctx.clock.now());
    await audit(ctx, 'spruce', 'link', contact.id, 'link', event.id, { patientId, reason: 'integration_link' });
    if (previous) await inheritLedger(ctx, contact.id, previous.contactId);
  }
  const ourTags = [ctx.config.sync.tag];
  const ledger = await ctx.store.getLedger(tenantId, 'spruce', contact.id);
  if (!ledger) {
    if (await isOurWriteInFlight(ctx, contact.id, snapshotOfContact(contact), event.id, null)) return;
    // We cannot tell an edit from our own write: let the patient's sync compare with the live contact.
    await queuePatientSync(ctx, patientId);
    return;
  }
  const known = ledger.fields;
  if (differences(known, snapshotOfContact(contact), ourTags).length === 0) {
    await audit(ctx, 'spruce', 'contact', contact.id, 'echo', event.id, {});
    return;
  }
  // The announcement of a write a patient sync is making right now (Spruce sends it before our
  // answer arrives and the ledger catches up): this picture is ours, and reading the contact to
  // be sure would cost a call per write under a steady stream of edits.
  if (await isOurWriteInFlight(ctx, contact.id, snapshotOfContact(contact), event.id, ledger)) return;
  // Spruce delivers at most 1000 events a minute per endpoint and delays the rest, so an event
  // may show the contact as it was before our later writes. What differs is acted on only as
  // the contact is now: a stale picture must never be written back to the chart.
  const current = await ctx.spruce.getContact(contact.id);
  // Deleted since (its contact.deleted event settles the link): this event is the last picture
  // there is. It is acted on only when it is surely newer than our last write (eventTime is to
  // the second), so a late picture never overwrites what we wrote after it.
  if (!current && event.occurredAt <= ledger.writtenAt) {
    await audit(ctx, 'spruce', 'contact', contact.id, 'skip', event.id, { reason: 'contact_gone' });
    return;
  }
  const live = current ? snapshotOfContact(current) : snapshotOfContact(contact);
  const changed = differences(known, live, ourTags);
  if (changed.length === 0) {
    await audit(ctx, 'spruce', 'contact', contact.id, 'echo', event.id, { of: 'earlier_write' });
    return;
  }
  if (await isOurWriteInFlight(ctx, contact.id, live, event.id, ledger)) return;
  const policy = ctx.config.inbound;
  const writable = new Set<string>(policy.writeBack ? policy.writeBackFields : []);
  const writeBack = changed.filter((key) => writable.has(key));
  const sprysOwn = changed.filter((key) => !writable.has(key));

  if (writeBack.length > 0) {
    const patch = spryPatchFrom(live, writeBack);
    await ctx.spry.patchPatient(patientId, patch);
    await ctx.store.putLedger({
      tenantId,
      system: 'spry',
      recordId: String(patientId),
      fields: patch,
      hash: '',
      writtenAt: ctx.clock.now(),
    });
    await audit(ctx, 'spry', 'patient', String(patientId), 'update', event.id, { fields: Object.keys(patch), cause: 'spruce_edit' });
  }
  // The ledger now says what Spruce holds: written-back fields are settled; Spry-owned ones
  // differ from what we want, so the next sync puts them right.
  const settled: ContactSnapshot = { ...known };
  for (const key of changed) {
    if (key.startsWith('field:')) {
      const name = key.slice('field:'.length);
      settled.fields = { ...settled.fields, [name]: live.fields[name] ?? '' };
    } else if (key === 'tags') {
      settled.tags = live.tags;
    } else {
      Object.assign(settled, { [key]: live[key as keyof ContactSnapshot] });
    }
  }
  await ctx.store.putLedger({ ...ledger, fields: settled, hash: '', writtenAt: ctx.clock.now() });
  if (sprysOwn.length > 0) {
    await audit(ctx, 'spruce', 'contact', contact.id, 'revert_queued', event.id, { fields: sprysOwn });
  }
  // Either way Spry and the desired contact moved: the patient's sync settles both sides.
  await queuePatientSync(ctx, patientId);
}

/**
 * Whether the contact shows the write a patient sync is making right now: Spruce announces a
 * write as soon as it applies it, often before its answer reaches us and the write is recorded.
 * An intent the ledger has caught up with is a finished write: a staff edit that happens to put
 * those values back is an edit, not our echo.
 */
async function isOurWriteInFlight(
  ctx: TenantContext,
  contactId: string,
  live: ContactSnapshot,
  eventId: number,
  ledger: LedgerEntry<'spruce'> | null,
): Promise<boolean> {
  const intent = await ctx.store.getLedger(ctx.config.id, 'spruce-intent', contactId);
  if (!intent || differences(intent.fields, live, [ctx.config.sync.tag]).length > 0) return false;
  if (ledger && !isNewer(intent, ledger, ctx.config.sync.tag)) return false;
  await audit(ctx, 'spruce', 'contact', contactId, 'echo', eventId, { of: 'write_in_flight' });
  return true;
}

/** Written after the ledger entry, or at the same moment without being what it records. */
function isNewer(intent: LedgerEntry<'spruce-intent'>, ledger: LedgerEntry<'spruce'>, tag: string): boolean {
  if (intent.writtenAt !== ledger.writtenAt) return intent.writtenAt > ledger.writtenAt;
  return differences(ledger.fields, intent.fields, [tag]).length > 0;
}

/** The Spry fields for the Spruce contact's phones and email, as staff left them. */
function spryPatchFrom(live: ContactSnapshot, keys: string[]): SpryPatientPatch {
  const patch: SpryPatientPatch = {};
  if (keys.includes('phoneNumbers')) {
    const phones = live.phoneNumbers;
    const mobile = phones.find((p) => p.label.toLowerCase() === 'mobile') ?? phones.find((p) => p.label.toLowerCase() !== 'secondary');
    const secondary =
      phones.find((p) => p !== mobile && p.label.toLowerCase() === 'secondary') ?? phones.find((p) => p !== mobile);
    patch.mobile = mobile ? toE164(mobile.value) : null;
    patch.secondary_contact = secondary ? toE164(secondary.value) : null;
  }
  if (keys.includes('emailAddresses')) {
    patch.email_address = live.emailAddresses[0]?.value ?? null;
  }
  return patch;
}

function toE164(value: string): string {
  const digits = value.replace(/\D/g, '');
  return digits.length === 10 ? `+1${digits}` : `+${digits}`;
}

async function onContactDeleted(ctx: TenantContext, contactId: string, eventId: number): Promise<void> {
  const tenantId = ctx.config.id;
  const link = await ctx.store.getLinkByContact(tenantId, contactId);
  if (!link) return;
  await ctx.store.deleteLinkByContact(tenantId, contactId);
  await ctx.store.setState(tenantId, formerPatientKey(contactId), String(link.patientId));
  await bumpCreateGeneration(ctx, link.patientId);
  if (ctx.config.inbound.onContactDeleted === 'leave') {
    await ctx.store.setFlag(tenantId, leaveDeletedKey(link.patientId));
    await audit(ctx, 'spruce', 'link', contactId, 'unlink', eventId, { patientId: link.patientId, then: 'leave' });
    return;
  }
  await audit(ctx, 'spruce', 'link', contactId, 'unlink', eventId, { patientId: link.patientId, then: 'recreate' });
  await queuePatientSync(ctx, link.patientId);
}

/**
 * The survivor takes over the merged-away contact's link. If both were linked to different
 * patients, the survivor keeps its own and the other patient gets a contact of its own again.
 */
async function onContactMerged(ctx: TenantContext, survivor: SpruceContact, deletedIds: string[], event: InboundEvent): Promise<void> {
  const tenantId = ctx.config.id;
  const eventId = event.id;
  // A merge handled late may find its survivor gone since. Merged on into another contact (two
  // merges in a row): the contact now carrying the patient's link takes over, with what we knew,
  // so staff edits made before the merges are still told from our writes. Deleted: the
  // merged-away contacts are simply gone, as after a delete.
  const live = await ctx.spruce.getContact(survivor.id);
  if (!live) {
    for (const goneId of [...deletedIds, survivor.id]) {
      const link = await ctx.store.getLinkByContact(tenantId, goneId);
      const heir = link ? await contactCarryingLink(ctx, link.patientId) : null;
      if (link && heir) await takeOverFromGone(ctx, link.patientId, goneId, heir, event);
      else await onContactDeleted(ctx, goneId, eventId);
    }
    return;
  }
  let survivorPatient = await patientOfContact(ctx, survivor);
  let inheritedFrom: string | undefined;
  for (const deletedId of deletedIds) {
    await ctx.store.setState(tenantId, mergedIntoKey(deletedId), survivor.id);
    const link = await ctx.store.getLinkByContact(tenantId, deletedId);
    if (!link) continue;
    await ctx.store.deleteLinkByContact(tenantId, deletedId);
    await ctx.store.setState(tenantId, formerPatientKey(deletedId), String(link.patientId));
    if (survivorPatient === null || survivorPatient === link.patientId) {
      survivorPatient = link.patientId;
      inheritedFrom = deletedId;
      await ctx.store.upsertLink(tenantId, link.patientId, survivor.id, ctx.clock.now());
      await audit(ctx, 'spruce', 'link', survivor.id, 'link', eventId, { patientId: link.patientId, reason: 'merge', from: deletedId });
      continue;
    }
    // Two patients, one contact: unhook the merged-away patient so links stay one to one.
    const externalId = spryExternalId(ctx.config.spry.organisationId, link.patientId);
    if ((survivor.integrationLinks ?? []).some((l) => l.externalId === externalId)) {
      await ctx.spruce.deleteIntegrationLink(survivor.id, 'custom', externalId);
    }
    await bumpCreateGeneration(ctx, link.patientId);
    await audit(ctx, 'spruce', 'link', survivor.id, 'merge_conflict', eventId, { keptPatientId: survivorPatient, releasedPatientId: link.patientId });
    await queuePatientSync(ctx, link.patientId);
  }
  if (survivorPatient === null) return;
  if (!(await ctx.store.getLinkByContact(tenantId, survivor.id))) {
    await ctx.store.upsertLink(tenantId, survivorPatient, survivor.id, ctx.clock.now());
  }
  if (inheritedFrom) await inheritLedger(ctx, survivor.id, inheritedFrom);
  if (!(await ctx.store.getLedger(tenantId, 'spruce', survivor.id))) {
    await ctx.store.putLedger({
      tenantId,
      system: 'spruce',
      recordId: survivor.id,
      fields: snapshotOfContact(survivor),
      hash: '',
      writtenAt: ctx.clock.now(),
    });
  }
  // What the survivor holds now beyond what we know is a staff edit like any other (one made just
  // before or after the merge may have gone unhandled while the survivor was not ours yet).
  await onContactChanged(ctx, live, event);
  await queuePatientSync(ctx, survivorPatient);
}

/** The live contact carrying the patient's integration link; the lowest id when there are several. */
async function contactCarryingLink(ctx: TenantContext, patientId: number): Promise<SpruceContact | null> {
  const found = await ctx.spruce.findContactsByIntegrationId(spryExternalId(ctx.config.spry.organisationId, patientId));
  return [...found].sort((a, b) => (a.id < b.id ? -1 : 1))[0] ?? null;
}

/** The heir of a contact merged away twice over takes its link and our ledger, as at a merge. */
async function takeOverFromGone(ctx: TenantContext, patientId: number, goneId: string, heir: SpruceContact, event: InboundEvent): Promise<void> {
  const tenantId = ctx.config.id;
  await ctx.store.deleteLinkByContact(tenantId, goneId);
  await ctx.store.setState(tenantId, formerPatientKey(goneId), String(patientId));
  await ctx.store.setState(tenantId, mergedIntoKey(goneId), heir.id);
  await ctx.store.upsertLink(tenantId, patientId, heir.id, ctx.clock.now());
  await audit(ctx, 'spruce', 'link', heir.id, 'link', event.id, { patientId, reason: 'merge', from: goneId });
  await inheritLedger(ctx, heir.id, goneId);
  await onContactChanged(ctx, heir, event);
  await queuePatientSync(ctx, patientId);
}

/**
 * A contact that takes over a patient from another (merged into it, or carrying our link after a
 * merge we have not handled yet) starts from what we knew Spruce held for the patient: what it
 * holds beyond that is a staff edit, to be written back, not overwritten by the patient's sync.
 */
async function inheritLedger(ctx: TenantContext, contactId: string, fromContactId: string): Promise<void> {
  if (fromContactId === contactId || (await ctx.store.getLedger(ctx.config.id, 'spruce', contactId))) return;
  const known = await ctx.store.getLedger(ctx.config.id, 'spruce', fromContactId);
  if (known) await ctx.store.putLedger({ ...known, recordId: contactId, hash: '', writtenAt: ctx.clock.now() });
}

async function bumpCreateGeneration(ctx: TenantContext, patientId: number): Promise<void> {
  await ctx.store.incrementCounter(ctx.config.id, createGenerationKey(patientId));
}

/** Queues a sync of the patient; `bulk` when a sweep (catch-up) found it, so live work goes first. */
export async function queuePatientSync(ctx: TenantContext, patientId: number, priority: Priority = 'live'): Promise<void> {
  await ctx.store.enqueueJob(ctx.config.id, { ...taskJob('spry.patient', { patientId }, ctx.config.spry), priority }, ctx.clock.now());
}
