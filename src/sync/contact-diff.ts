// What Spruce must be told to make a contact match the desired one: the create body, or a
// PATCH holding only the fields that differ (none → no call at all).
import { createHash } from 'node:crypto';
import type { SpruceContact, SpruceCreateContact, SpruceUpdateContact } from '../spruce/types.ts';
import type { DesiredContact } from './desired-contact.ts';

/** A contact as far as the sync cares: what Spruce holds, or what we last wrote. */
export interface ContactSnapshot {
  givenName: string;
  middleName: string;
  familyName: string;
  dateOfBirth: string;
  gender: string;
  phoneNumbers: { label: string; value: string }[];
  emailAddresses: { label: string; value: string }[];
  fields: Record<string, string>;
  tags: { id: string; value: string }[];
}

/** Spruce ids of the organization's contact fields (by name) and tags (by value). */
export interface OrgCatalog {
  fieldIds: Record<string, string>;
  tagIds: Record<string, string>;
}

export function snapshotOfContact(contact: SpruceContact): ContactSnapshot {
  return {
    givenName: contact.givenName ?? '',
    middleName: contact.middleName ?? '',
    familyName: contact.familyName ?? '',
    dateOfBirth: contact.dateOfBirth ?? '',
    gender: contact.gender ?? 'unknown',
    phoneNumbers: (contact.phoneNumbers ?? []).map((p) => ({ label: p.label ?? '', value: p.value })),
    emailAddresses: (contact.emailAddresses ?? []).map((e) => ({ label: e.label ?? '', value: e.value })),
    fields: Object.fromEntries((contact.organizationContactFields ?? []).map((f) => [f.name, f.value ?? ''])),
    tags: (contact.tags ?? []).map((t) => ({ id: t.id, value: t.value })),
  };
}

/** The snapshot Spruce will hold once the desired contact is written (tags kept alongside ours). */
export function snapshotOfDesired(desired: DesiredContact, catalog: OrgCatalog, keepTags: ContactSnapshot['tags'] = []): ContactSnapshot {
  const tags = [...keepTags];
  for (const value of desired.tags) {
    if (!tags.some((t) => t.value === value)) tags.push({ id: catalog.tagIds[value] ?? '', value });
  }
  return {
    givenName: desired.givenName,
    middleName: desired.middleName,
    familyName: desired.familyName,
    dateOfBirth: desired.dateOfBirth,
    gender: desired.gender,
    phoneNumbers: desired.phoneNumbers,
    emailAddresses: desired.emailAddresses,
    fields: desired.fields,
    tags,
  };
}

/** A stable hash of what we want Spruce to hold, so "nothing changed" costs no API call. */
export function desiredHash(desired: DesiredContact): string {
  return createHash('sha256').update(canonicalJson(desired)).digest('hex');
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

export function createBody(desired: DesiredContact, catalog: OrgCatalog): SpruceCreateContact {
  const body: SpruceCreateContact = {
    category: 'patient',
    givenName: desired.givenName || undefined,
    middleName: desired.middleName || undefined,
    familyName: desired.familyName || undefined,
    dateOfBirth: desired.dateOfBirth || undefined,
    gender: desired.gender,
    phoneNumbers: desired.phoneNumbers,
    emailAddresses: desired.emailAddresses,
    organizationContactFields: Object.entries(desired.fields)
      .filter(([, value]) => value !== '')
      .map(([name, value]) => ({ id: fieldId(catalog, name), value })),
    tagIds: desired.tags.map((value) => tagId(catalog, value)),
  };
  return dropUndefined(body);
}

/**
 * The names of what differs between the contact we want and the one we have: the scalar
 * field names, `phoneNumbers`, `emailAddresses`, `field:<name>` for our organization fields,
 * and `tags` when one of `ourTags` is missing. Tags staff added are nobody's business here.
 */
export function differences(want: ContactSnapshot, have: ContactSnapshot, ourTags: string[]): string[] {
  const changed: string[] = [];
  for (const key of ['givenName', 'middleName', 'familyName', 'gender'] as const) {
    if (want[key] !== have[key]) changed.push(key);
  }
  // Spruce's date format cannot express "no birth date": an empty one is left as it is.
  if (want.dateOfBirth && want.dateOfBirth !== have.dateOfBirth) changed.push('dateOfBirth');
  if (!sameEntries(want.phoneNumbers, have.phoneNumbers, normalisePhone)) changed.push('phoneNumbers');
  if (!sameEntries(want.emailAddresses, have.emailAddresses, (v) => v.trim().toLowerCase())) changed.push('emailAddresses');
  for (const [name, value] of Object.entries(want.fields)) {
    if ((have.fields[name] ?? '') !== value) changed.push(`field:${name}`);
  }
  if (ourTags.some((value) => !have.tags.some((t) => t.value === value))) changed.push('tags');
  return changed;
}

/** The names of what differs, and the PATCH that fixes it; `patch` is null when nothing does. */
export function contactPatch(
  desired: DesiredContact,
  current: ContactSnapshot,
  catalog: OrgCatalog,
): { changed: string[]; patch: SpruceUpdateContact | null } {
  const want = snapshotOfDesired(desired, catalog, current.tags);
  const changed = differences(want, current, desired.tags);
  if (changed.length === 0) return { changed, patch: null };
  const patch: SpruceUpdateContact = {};
  const fields: { id: string; value: string }[] = [];
  for (const key of changed) {
    if (key.startsWith('field:')) {
      const name = key.slice('field:'.length);
      fields.push({ id: fieldId(catalog, name), value: want.fields[name]! });
    } else if (key === 'tags') {
      // A supplied tag list replaces the whole list: keep the tags staff put there.
      patch.tagIds = want.tags.map((t) => t.id || tagId(catalog, t.value));
    } else if (key === 'gender') {
      patch.gender = want.gender as SpruceUpdateContact['gender'];
    } else {
      const scalar = key as 'givenName' | 'middleName' | 'familyName' | 'dateOfBirth' | 'phoneNumbers' | 'emailAddresses';
      (patch as Record<string, unknown>)[scalar] = want[scalar];
    }
  }
  if (fields.length > 0) patch.organizationContactFields = fields;
  return { changed, patch };
}

function sameEntries(
  a: { label: string; value: string }[],
  b: { label: string; value: string }[],
  normalise: (value: string) => string,
): boolean {
  const key = (e: { label: string; value: string }) => `${e.label.trim().toLowerCase()}\u0000${normalise(e.value)}`;
  const left = a.map(key).sort();
  const right = b.map(key).sort();
  return left.length === right.length && left.every((k, i) => k === right[i]);
}

/** Digits with a US country code, so `+12065551234` and `(206) 555-1234` compare equal. */
export function normalisePhone(value: string): string {
  const digits = value.replace(/\D/g, '');
  return digits.length === 10 ? `1${digits}` : digits;
}

function fieldId(catalog: OrgCatalog, name: string): string {
  const id = catalog.fieldIds[name];
  if (!id) throw new Error(`No Spruce contact field id for the field "${name}"`);
  return id;
}

function tagId(catalog: OrgCatalog, value: string): string {
  const id = catalog.tagIds[value];
  if (!id) throw new Error(`No Spruce tag id for the tag "${value}"`);
  return id;
}

function dropUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}
