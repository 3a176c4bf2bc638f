// Contacts as Spruce keeps them: create / patch / delete / merge, integration links, tags and
// organization contact fields, and the Contact shape the API and webhooks return. Every change
// emits its webhook event here, so API writes and staff actions behave the same.
import type { SpruceContact, SpruceCreateContact, SpruceUpdateContact } from '../../spruce/types.ts';
import { APP_BASE, iso, type SimContext } from './context.ts';
import { ApiError, badParameter, notFound } from './errors.ts';
import { normalizePhone } from './phone.ts';
import type { Category, Gender, LinkType, OrgState, StoredContact, StoredEmail, StoredLink, StoredPhone } from './state.ts';

/** Extra state only staff (the app) can set; the API cannot. */
export interface StaffContactExtras {
  hasAccount?: boolean;
  hasPendingInvite?: boolean;
}

const STRING_FIELDS = ['givenName', 'middleName', 'familyName', 'companyName', 'dateOfBirth', 'genderDetail', 'pronouns'] as const;
type StringField = (typeof STRING_FIELDS)[number];

export function canDelete(contact: StoredContact): boolean {
  // [ours] A contact who has a Spruce account cannot be deleted through the API.
  return !contact.hasAccount;
}

export function displayName(contact: StoredContact): string {
  // The spec: the names combined, else company name, phone number or email address.
  const name = [contact.givenName, contact.middleName, contact.familyName].filter(Boolean).join(' ');
  return (
    name ||
    contact.companyName ||
    contact.phoneNumbers[0]?.displayValue ||
    contact.emailAddresses[0]?.value ||
    contact.faxNumbers[0]?.displayValue ||
    ''
  );
}

export function renderContact(ctx: SimContext, org: OrgState, c: StoredContact): SpruceContact {
  const optional: Partial<Record<StringField, string>> = {};
  for (const key of STRING_FIELDS) if (c[key]) optional[key] = c[key];
  const contact = {
    object: 'contact',
    id: c.id,
    displayName: displayName(c),
    ...optional,
    gender: c.gender,
    category: c.category,
    phoneNumbers: c.phoneNumbers.map(renderPhone),
    faxNumbers: c.faxNumbers.map(renderPhone),
    emailAddresses: c.emailAddresses.map((e) => (e.label ? { id: e.id, label: e.label, value: e.value } : { id: e.id, value: e.value })),
    tags: c.tagIds.flatMap((id) => {
      const tag = org.tags.get(id);
      return tag ? [{ object: 'tag', id: tag.id, value: tag.value }] : [];
    }),
    organizationContactFields: [...c.fields].flatMap(([id, value]) => {
      const field = org.fields.get(id);
      return field && value ? [{ id, name: field.name, value }] : [];
    }),
    customContactFields: [],
    // The spec lists `customFields` as required without defining it; sent empty so responses
    // validate against the schema.
    customFields: [],
    integrationLinks: c.links.map((l) => renderLink(c.id, l)),
    internalMemberIds: [...c.internalMemberIds],
    hasAccount: c.hasAccount,
    hasPendingInvite: c.hasPendingInvite,
    canEdit: true,
    canDelete: canDelete(c),
    created: iso(c.created),
    appURL: `${APP_BASE}/org/${org.id}/contact/${c.id}`,
    apiURL: `${ctx.apiBase()}/contacts/${c.id}`,
  };
  return contact as SpruceContact;
}

function renderPhone(p: StoredPhone) {
  return p.label
    ? { id: p.id, label: p.label, value: p.value, displayValue: p.displayValue }
    : { id: p.id, value: p.value, displayValue: p.displayValue };
}

export function renderLink(contactId: string, l: StoredLink) {
  // `url` only for custom links [spec].
  return l.type === 'custom' && l.url !== undefined
    ? { type: l.type, externalId: l.externalId, contactId, url: l.url }
    : { type: l.type, externalId: l.externalId, contactId };
}

function phones(
  ctx: SimContext,
  input: { value: string; label?: string }[],
  field: 'phoneNumbers' | 'faxNumbers',
  previous: StoredPhone[] = [],
): StoredPhone[] {
  return input.map((p, i) => {
    const normal = normalizePhone(String(p.value));
    if (!normal) {
      throw badParameter(`${field}/${i}/value is not a valid phone number (use 2065551234, +12065551234, (206) 555-1234 or 206-555-1234)`);
    }
    // A number that stays keeps its id, as an edit in the app would.
    const kept = previous.find((old) => old.value === normal.value);
    const stored: StoredPhone = { id: kept?.id ?? ctx.ids.short('entityContact'), ...normal };
    if (p.label) stored.label = p.label;
    return stored;
  });
}

function emails(ctx: SimContext, input: { value: string; label?: string }[], previous: StoredEmail[] = []): StoredEmail[] {
  return input.map((e) => {
    const kept = previous.find((old) => old.value.toLowerCase() === e.value.toLowerCase());
    const stored: StoredEmail = { id: kept?.id ?? ctx.ids.short('entityContact'), value: e.value };
    if (e.label) stored.label = e.label;
    return stored;
  });
}

function checkTags(org: OrgState, tagIds: string[]): string[] {
  tagIds.forEach((id, i) => {
    if (!org.tags.has(id)) throw badParameter(`tagIds/${i}: unknown tag id ${id}`);
  });
  return [...new Set(tagIds)];
}

function setFields(org: OrgState, fields: Map<string, string>, input: { id: string; value: string }[]): void {
  input.forEach((f, i) => {
    if (!org.fields.has(f.id)) throw badParameter(`organizationContactFields/${i}: unknown field id ${f.id}`);
    if (f.value === '') fields.delete(f.id);
    else fields.set(f.id, f.value);
  });
}

function nonEmpty(value: unknown): boolean {
  return Array.isArray(value) ? value.length > 0 : typeof value === 'string' && value.trim() !== '';
}

/** `POST /contacts` (and a contact created by hand in the app): validates, stores, emits. */
export function createContact(
  ctx: SimContext,
  org: OrgState,
  input: SpruceCreateContact,
  extras: StaffContactExtras = {},
): StoredContact {
  if (!['givenName', 'familyName', 'phoneNumbers', 'faxNumbers', 'emailAddresses'].some((k) => nonEmpty(input[k as keyof SpruceCreateContact]))) {
    throw badParameter('a contact needs at least one of givenName, familyName, phoneNumbers, faxNumbers or emailAddresses');
  }
  const contact: StoredContact = {
    id: ctx.ids.short('entity'),
    orgId: org.id,
    created: ctx.clock.now(),
    gender: (input.gender ?? 'unknown') as Gender,
    category: (input.category ?? 'patient') as Category,
    phoneNumbers: phones(ctx, input.phoneNumbers ?? [], 'phoneNumbers'),
    faxNumbers: phones(ctx, input.faxNumbers ?? [], 'faxNumbers'),
    emailAddresses: emails(ctx, input.emailAddresses ?? []),
    tagIds: checkTags(org, input.tagIds ?? []),
    fields: new Map(),
    links: [],
    internalMemberIds: [...(input.internalMemberIds ?? [])],
    hasAccount: extras.hasAccount ?? false,
    hasPendingInvite: extras.hasPendingInvite ?? false,
  };
  for (const key of STRING_FIELDS) {
    const value = input[key];
    if (typeof value === 'string' && value !== '') contact[key] = value;
  }
  setFields(org, contact.fields, input.organizationContactFields ?? []);
  org.contacts.set(contact.id, contact);
  org.index(contact);
  ctx.events.emit(org, 'contact.created', renderContact(ctx, org, contact));
  return contact;
}

/**
 * `PATCH /contacts/{id}`: omitted or null = unchanged, `""` / `[]` clears [spec]. A supplied
 * array replaces the whole list (phones, faxes, emails, tagIds) [ours]. Organization contact
 * fields are set per id (value `""` clears that field; `[]` clears them all) [ours].
 * Always emits contact.updated, even when nothing changed [ours]: Spruce does not diff.
 */
export function updateContact(ctx: SimContext, org: OrgState, contact: StoredContact, patch: SpruceUpdateContact): StoredContact {
  const p = Object.fromEntries(Object.entries(patch).filter(([, v]) => v !== null && v !== undefined)) as SpruceUpdateContact;
  // Validate everything before changing anything, so a 400 leaves the contact as it was.
  const nextPhones = p.phoneNumbers ? phones(ctx, p.phoneNumbers, 'phoneNumbers', contact.phoneNumbers) : undefined;
  const nextFaxes = p.faxNumbers ? phones(ctx, p.faxNumbers, 'faxNumbers', contact.faxNumbers) : undefined;
  const nextTags = p.tagIds ? checkTags(org, p.tagIds) : undefined;
  const nextFields = new Map(contact.fields);
  if (p.organizationContactFields) {
    if (p.organizationContactFields.length === 0) nextFields.clear();
    else setFields(org, nextFields, p.organizationContactFields);
  }
  org.unindex(contact);
  for (const key of STRING_FIELDS) {
    const value = p[key];
    if (value === undefined) continue;
    if (value === '') delete contact[key];
    else contact[key] = value;
  }
  if (p.gender) contact.gender = p.gender as Gender;
  if (p.category) contact.category = p.category as Category;
  if (nextPhones) contact.phoneNumbers = nextPhones;
  if (nextFaxes) contact.faxNumbers = nextFaxes;
  if (p.emailAddresses) contact.emailAddresses = emails(ctx, p.emailAddresses, contact.emailAddresses);
  if (nextTags) contact.tagIds = nextTags;
  if (p.internalMemberIds) contact.internalMemberIds = [...p.internalMemberIds];
  contact.fields = nextFields;
  org.index(contact);
  ctx.events.emit(org, 'contact.updated', renderContact(ctx, org, contact));
  return contact;
}

/** `DELETE /contacts/{id}`: only when `canDelete` [spec], else 400 NOT_DELETABLE [ours]. */
export function deleteContact(ctx: SimContext, org: OrgState, contact: StoredContact, options: { force?: boolean } = {}): void {
  if (!options.force && !canDelete(contact)) {
    throw new ApiError(400, 'NOT_DELETABLE', `contact ${contact.id} cannot be deleted (canDelete is false)`);
  }
  const before = renderContact(ctx, org, contact);
  org.unindex(contact);
  org.contacts.delete(contact.id);
  ctx.events.emit(org, 'contact.deleted', before);
}

/**
 * Staff merge (the app's "merge contacts"): the survivor keeps its own values and links and
 * gains the other's phones, faxes, emails, tags, links and any fields or names it lacks; the
 * other contact is gone. One contact.merged event carries the survivor and
 * `deletedContactIds` [ours]; no contact.deleted is sent for the merged-away contact.
 */
export function mergeContacts(ctx: SimContext, org: OrgState, survivor: StoredContact, merged: StoredContact): StoredContact {
  if (survivor.id === merged.id) throw badParameter('cannot merge a contact into itself');
  org.unindex(survivor);
  org.unindex(merged);
  for (const key of STRING_FIELDS) if (!survivor[key] && merged[key]) survivor[key] = merged[key];
  if (survivor.gender === 'unknown') survivor.gender = merged.gender;
  const addMissing = <T>(into: T[], from: T[], same: (a: T, b: T) => boolean) => {
    for (const item of from) if (!into.some((x) => same(x, item))) into.push(item);
  };
  addMissing(survivor.phoneNumbers, merged.phoneNumbers, (a, b) => a.value === b.value);
  addMissing(survivor.faxNumbers, merged.faxNumbers, (a, b) => a.value === b.value);
  addMissing(survivor.emailAddresses, merged.emailAddresses, (a, b) => a.value.toLowerCase() === b.value.toLowerCase());
  addMissing(survivor.tagIds, merged.tagIds, (a, b) => a === b);
  addMissing(survivor.links, merged.links, (a, b) => a.type === b.type && a.externalId === b.externalId);
  addMissing(survivor.internalMemberIds, merged.internalMemberIds, (a, b) => a === b);
  for (const [id, value] of merged.fields) if (!survivor.fields.has(id)) survivor.fields.set(id, value);
  survivor.hasAccount ||= merged.hasAccount;
  survivor.hasPendingInvite ||= merged.hasPendingInvite;
  org.contacts.delete(merged.id);
  org.index(survivor);
  // Conversations that pointed at the merged contact now belong to the survivor.
  for (const conversation of org.conversations.values()) {
    if (conversation.secureContactId === merged.id) conversation.secureContactId = survivor.id;
    if (conversation.noteContactIds?.includes(merged.id)) {
      conversation.noteContactIds = [...new Set(conversation.noteContactIds.map((id) => (id === merged.id ? survivor.id : id)))];
    }
  }
  ctx.events.emit(org, 'contact.merged', renderContact(ctx, org, survivor), { deletedContactIds: [merged.id] });
  return survivor;
}

/**
 * `POST /contacts/{id}/integrationlinks`: adds the link (or updates the url of the same
 * type + externalId). `url` is accepted only for `custom` links [ours: the spec says it is
 * only for custom]. The same link may sit on several contacts: Spruce does not dedupe.
 * Emits contact.updated, since links are part of the contact [ours].
 */
export function addLink(ctx: SimContext, org: OrgState, contact: StoredContact, link: { type?: string; externalId?: string; url?: string }): void {
  if (!link.type || !link.externalId) throw badParameter('type and externalId are required');
  if (link.url !== undefined && link.type !== 'custom') throw badParameter('url is only allowed for custom integration links');
  org.unindex(contact);
  const existing = contact.links.find((l) => l.type === link.type && l.externalId === link.externalId);
  if (existing) {
    if (link.url !== undefined) existing.url = link.url;
  } else {
    const stored: StoredLink = { type: link.type as LinkType, externalId: link.externalId };
    if (link.url !== undefined) stored.url = link.url;
    contact.links.push(stored);
  }
  org.index(contact);
  ctx.events.emit(org, 'contact.updated', renderContact(ctx, org, contact));
}

/** `DELETE /contacts/{id}/integrationlinks?type=&externalId=`. */
export function removeLink(ctx: SimContext, org: OrgState, contact: StoredContact, type?: string, externalId?: string): void {
  if (!type || !externalId) throw badParameter('type and externalId are required');
  const index = contact.links.findIndex((l) => l.type === type && l.externalId === externalId);
  if (index < 0) throw notFound('integration link');
  org.unindex(contact);
  contact.links.splice(index, 1);
  org.index(contact);
  ctx.events.emit(org, 'contact.updated', renderContact(ctx, org, contact));
}

/** Creating an existing tag value (case-insensitive) returns the existing tag [spec]. */
export function ensureTag(ctx: SimContext, org: OrgState, value: string): { id: string; value: string } {
  return ensureTagIn(ctx, org.tags, value);
}

/** The same rule for any tag list (contact tags, conversation tags). */
export function ensureTagIn(ctx: SimContext, tags: Map<string, { id: string; value: string }>, value: string): { id: string; value: string } {
  const wanted = value.trim();
  if (!wanted) throw badParameter('value must not be empty');
  for (const tag of tags.values()) if (tag.value.toLowerCase() === wanted.toLowerCase()) return tag;
  const tag = { id: ctx.ids.short('tag'), value: wanted };
  tags.set(tag.id, tag);
  return tag;
}

/** Same rule for organization contact fields, by name. */
export function ensureField(ctx: SimContext, org: OrgState, name: string): { id: string; name: string } {
  const wanted = name.trim();
  if (!wanted) throw badParameter('name must not be empty');
  for (const field of org.fields.values()) if (field.name.toLowerCase() === wanted.toLowerCase()) return field;
  const field = { id: ctx.ids.short('managedCustomField'), name: wanted };
  org.fields.set(field.id, field);
  return field;
}
