// Finding the Spruce contacts that already exist for a page of Spry patients, with a few batched
// searches per page instead of one per patient: first those carrying our integration link, then
// (opt-in) hand-made contacts without any Spry link that share the patient's birth date and a
// phone number or email address. One such contact is a match; several are ambiguous and are
// reported, never guessed.
import { spruceItems, MAX_PAGE } from '../spruce/pages.ts';
import type { SpruceApi, SpruceContact, SpruceContactSearch } from '../spruce/types.ts';
import type { SpryPatient } from '../spry/types.ts';
import { normalisePhone } from './contact-diff.ts';

export type MatchVerdict =
  | { kind: 'none' }
  | { kind: 'one'; contact: SpruceContact; by: 'phone' | 'email' | 'phone+email' }
  | { kind: 'ambiguous'; contactIds: string[] };

/** Every contact matching `search`, all pages. */
async function searchAll(spruce: SpruceApi, search: SpruceContactSearch): Promise<SpruceContact[]> {
  const found: SpruceContact[] = [];
  const pages = spruceItems((paginationToken) => spruce.searchContacts(search, { pageSize: MAX_PAGE.search, paginationToken }));
  for await (const contact of pages) found.push(contact);
  return found;
}

/** The contacts carrying each of these custom integration links, by external id, lowest id first. */
export async function contactsByLink(spruce: SpruceApi, externalIds: string[]): Promise<Map<string, SpruceContact[]>> {
  const byLink = new Map<string, SpruceContact[]>();
  if (externalIds.length === 0) return byLink;
  const wanted = new Set(externalIds);
  const found = await searchAll(spruce, {
    structured: {
      integrationIDFilter: [{ integrationIDs: externalIds.map((id) => ({ integrationLinkType: 'custom' as const, id })), match: 'any' }],
    },
  });
  for (const contact of found) {
    for (const link of contact.integrationLinks ?? []) {
      if (link.type !== 'custom' || !link.externalId || !wanted.has(link.externalId)) continue;
      const list = byLink.get(link.externalId) ?? [];
      if (!list.some((c) => c.id === contact.id)) list.push(contact);
      byLink.set(link.externalId, list);
    }
  }
  for (const list of byLink.values()) list.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return byLink;
}

/** A contact that already belongs to some Spry patient (of any organisation) is never a candidate. */
export function hasSpryLink(contact: SpruceContact): boolean {
  return (contact.integrationLinks ?? []).some((l) => l.externalId?.startsWith('spry:'));
}

/** The patient's phone numbers as Spruce can search them (E.164; anything else left out). */
function searchablePhones(patient: SpryPatient): string[] {
  const valid = /^\+(1[2-9]\d{2}[2-9]\d{6}|[2-9]\d{7,14})$/;
  return [patient.mobile, patient.secondary_contact].filter((p): p is string => !!p && valid.test(p));
}

function emailOf(patient: SpryPatient): string | null {
  const email = patient.email_address?.trim().toLowerCase();
  return email ? email : null;
}

/** Contacts without a Spry link that share a phone number or an email address with any of the patients. */
export async function unlinkedCandidates(spruce: SpruceApi, patients: SpryPatient[]): Promise<SpruceContact[]> {
  const phones = [...new Set(patients.flatMap(searchablePhones))];
  const emails = [...new Set(patients.map(emailOf).filter((e): e is string => e !== null))];
  const found = new Map<string, SpruceContact>();
  // Filters combine with AND, so phones and emails need a search each.
  if (phones.length > 0) {
    for (const c of await searchAll(spruce, { structured: { phoneNumberFilter: [{ values: phones, match: 'any' }] } })) found.set(c.id, c);
  }
  if (emails.length > 0) {
    for (const c of await searchAll(spruce, { structured: { emailAddressFilter: [{ values: emails, match: 'any' }] } })) found.set(c.id, c);
  }
  return [...found.values()].filter((c) => !hasSpryLink(c));
}

/**
 * The verdict for each patient: the candidates with the same birth date and a shared phone
 * number or email. A contact that fits two patients (twins sharing a parent's phone) is
 * ambiguous for both.
 */
export function matchPatients(patients: SpryPatient[], candidates: SpruceContact[]): Map<number, MatchVerdict> {
  const fits = new Map<number, { contact: SpruceContact; by: 'phone' | 'email' | 'phone+email' }[]>();
  const claimedBy = new Map<string, number>();
  for (const patient of patients) {
    const birthDate = patient.date_of_birth;
    const phones = new Set([patient.mobile, patient.secondary_contact].filter((p): p is string => !!p).map(normalisePhone));
    const email = emailOf(patient);
    const list: { contact: SpruceContact; by: 'phone' | 'email' | 'phone+email' }[] = [];
    for (const contact of birthDate ? candidates : []) {
      if (contact.dateOfBirth !== birthDate || hasSpryLink(contact)) continue;
      const byPhone = (contact.phoneNumbers ?? []).some((p) => phones.has(normalisePhone(p.value)));
      const byEmail = email !== null && (contact.emailAddresses ?? []).some((e) => e.value.trim().toLowerCase() === email);
      if (!byPhone && !byEmail) continue;
      list.push({ contact, by: byPhone && byEmail ? 'phone+email' : byPhone ? 'phone' : 'email' });
      claimedBy.set(contact.id, (claimedBy.get(contact.id) ?? 0) + 1);
    }
    fits.set(patient.patient_id, list);
  }
  const verdicts = new Map<number, MatchVerdict>();
  for (const [patientId, list] of fits) {
    if (list.length === 0) verdicts.set(patientId, { kind: 'none' });
    else if (list.length === 1 && claimedBy.get(list[0]!.contact.id) === 1) verdicts.set(patientId, { kind: 'one', ...list[0]! });
    else verdicts.set(patientId, { kind: 'ambiguous', contactIds: list.map((f) => f.contact.id).sort() });
  }
  return verdicts;
}
