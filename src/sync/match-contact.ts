// Opt-in: a contact staff made by hand in Spruce is linked to a Spry patient when exactly one
// patient matches its birth date and one of its phones or emails. Spry offers no patient
// search, so this pages through the patients (a few calls for a small clinic, one per 500
// patients); it only runs for contacts created without our link.
import type { SpruceContact } from '../spruce/types.ts';
import type { SpryPatient } from '../spry/types.ts';
import { audit } from './audit.ts';
import { normalisePhone } from './contact-diff.ts';
import { spryExternalId } from './desired-contact.ts';
import type { TenantContext } from './tenant-context.ts';

const PAGE_SIZE = 500;

export type MatchOutcome = 'linked' | 'no_match' | 'ambiguous' | 'already_linked' | 'not_enough_data';

/** Patients whose birth date and a phone or email equal the contact's. */
export async function matchingPatients(ctx: TenantContext, contact: SpruceContact): Promise<SpryPatient[]> {
  const phones = new Set((contact.phoneNumbers ?? []).map((p) => normalisePhone(p.value)));
  const emails = new Set((contact.emailAddresses ?? []).map((e) => e.value.trim().toLowerCase()));
  const matches: SpryPatient[] = [];
  for (let page = 1; ; page++) {
    const result = await ctx.spry.listPatients({ page, size: PAGE_SIZE });
    for (const patient of result.content) {
      if (patient.date_of_birth !== contact.dateOfBirth) continue;
      const patientPhones = [patient.mobile, patient.secondary_contact].filter((p): p is string => Boolean(p)).map(normalisePhone);
      const samePhone = patientPhones.some((p) => phones.has(p));
      const sameEmail = Boolean(patient.email_address) && emails.has(patient.email_address!.trim().toLowerCase());
      if (samePhone || sameEmail) matches.push(patient);
    }
    if (page >= result.pages || result.content.length === 0) break;
  }
  return matches;
}

export async function matchUnlinkedContact(ctx: TenantContext, contact: SpruceContact, eventId: number): Promise<MatchOutcome> {
  const record = (outcome: MatchOutcome, detail: Record<string, unknown> = {}) =>
    audit(ctx, 'spruce', 'contact', contact.id, outcome === 'linked' ? 'link' : 'unmatched_contact', eventId, { outcome, ...detail });
  const hasContactPoint = (contact.phoneNumbers ?? []).length > 0 || (contact.emailAddresses ?? []).length > 0;
  if (!contact.dateOfBirth || !hasContactPoint) {
    await record('not_enough_data');
    return 'not_enough_data';
  }
  const matches = await matchingPatients(ctx, contact);
  if (matches.length !== 1) {
    const outcome = matches.length === 0 ? 'no_match' : 'ambiguous';
    await record(outcome, { candidates: matches.length });
    return outcome;
  }
  const patientId = matches[0]!.patient_id;
  const existing = await ctx.store.getLinkByPatient(ctx.config.id, patientId);
  if (existing && existing.contactId !== contact.id) {
    // The patient has its contact already: this one is a duplicate for the operator to merge.
    await record('already_linked', { patientId, linkedContactId: existing.contactId });
    return 'already_linked';
  }
  const externalId = spryExternalId(ctx.config.spry.organisationId, patientId);
  await ctx.store.upsertLink(ctx.config.id, patientId, contact.id, ctx.clock.now());
  await ctx.spruce.createIntegrationLink(
    contact.id,
    { type: 'custom', externalId, url: ctx.config.spry.chartUrl.replaceAll('{patientId}', String(patientId)) },
    { idempotencyKey: `spruce-sync:link:${externalId}:${contact.id}` },
  );
  await record('linked', { patientId });
  return 'linked';
}
