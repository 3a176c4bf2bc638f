// `POST /contacts/search`: structured filters (arrays of `{<values>, match: all|any|none}`,
// every filter ANDed with the others) sorted by id ascending, and free text sorted by
// relevance [spec]. The exact matching rules are not published; ours are listed in
// docs/sandbox-spruce.md and kept here.
import type { SpruceContactSearch } from '../../spruce/types.ts';
import { badParameter } from './errors.ts';
import { normalizePhone } from './phone.ts';
import { linkKey, type OrgState, type StoredContact } from './state.ts';

type Structured = NonNullable<SpruceContactSearch['structured']>;
type Match = 'all' | 'any' | 'none';

function matchList<T>(values: T[], test: (value: T) => boolean, match: Match): boolean {
  if (match === 'all') return values.every(test);
  if (match === 'any') return values.some(test);
  return !values.some(test);
}

const same = (a: string | undefined, b: string) => (a ?? '').trim().toLowerCase() === b.trim().toLowerCase();

function e164(value: string, where: string): string {
  const normal = normalizePhone(String(value));
  if (!normal) throw badParameter(`${where}: ${JSON.stringify(value)} is not a valid phone number`);
  return normal.value;
}

function ageOf(dateOfBirth: string, now: number): number {
  const [y, m, d] = dateOfBirth.split('-').map(Number) as [number, number, number];
  const today = new Date(now);
  let age = today.getUTCFullYear() - y;
  if (today.getUTCMonth() + 1 < m || (today.getUTCMonth() + 1 === m && today.getUTCDate() < d)) age--;
  return age;
}

function compare(a: number, b: number, comparison: string): boolean {
  switch (comparison) {
    case 'equal':
      return a === b;
    case 'less_than':
      return a < b;
    case 'less_than_or_equal_to':
      return a <= b;
    case 'greater_than':
      return a > b;
    default:
      return a >= b;
  }
}

type Predicate = (c: StoredContact) => boolean;

/** Turns the structured filters into predicates (validating values) plus candidate ids. */
function compile(org: OrgState, s: Structured, now: number): { predicates: Predicate[]; candidates?: Set<string> } {
  const predicates: Predicate[] = [];
  const candidateSets: Set<string>[] = [];
  // A positive (all/any) filter on an indexed value limits the contacts worth looking at.
  const narrow = (match: Match, keys: string[], index: Map<string, Set<string>>) => {
    if (match === 'none' || keys.length === 0) return;
    const set = new Set<string>();
    for (const key of keys) for (const id of index.get(key) ?? []) set.add(id);
    candidateSets.push(set);
  };

  s.nameFilter?.forEach((f, i) => {
    f.names.forEach((n, j) => {
      if (!n.givenName && !n.familyName) throw badParameter(`structured/nameFilter/${i}/names/${j} needs givenName or familyName`);
    });
    predicates.push((c) =>
      matchList(f.names, (n) => (!n.givenName || same(c.givenName, n.givenName)) && (!n.familyName || same(c.familyName, n.familyName)), f.match),
    );
  });
  s.phoneNumberFilter?.forEach((f, i) => {
    const values = f.values.map((v, j) => e164(v, `structured/phoneNumberFilter/${i}/values/${j}`));
    narrow(f.match, values, org.phoneIndex);
    predicates.push((c) => matchList(values, (v) => c.phoneNumbers.some((p) => p.value === v), f.match));
  });
  s.faxNumberFilter?.forEach((f, i) => {
    const values = f.values.map((v, j) => e164(v, `structured/faxNumberFilter/${i}/values/${j}`));
    predicates.push((c) => matchList(values, (v) => c.faxNumbers.some((p) => p.value === v), f.match));
  });
  s.emailAddressFilter?.forEach((f) => {
    const values = f.values.map((v) => v.toLowerCase());
    narrow(f.match, values, org.emailIndex);
    predicates.push((c) => matchList(values, (v) => c.emailAddresses.some((e) => e.value.toLowerCase() === v), f.match));
  });
  s.tagFilter?.forEach((f) => {
    // [ours] a tag is named by its id or its value (case-insensitive).
    const ids = f.tags.map((t) => org.tags.get(t)?.id ?? [...org.tags.values()].find((tag) => same(tag.value, t))?.id ?? `?${t}`);
    predicates.push((c) => matchList(ids, (id) => c.tagIds.includes(id), f.match));
  });
  s.categoryFilter?.forEach((f) => predicates.push((c) => matchList(f.categories, (v) => c.category === v, f.match)));
  s.genderFilter?.forEach((f) => predicates.push((c) => matchList(f.genders, (v) => c.gender === v, f.match)));
  s.organizationContactFieldFilter?.forEach((f) => {
    predicates.push((c) =>
      matchList(
        f.organizationContactFields,
        (want) => [...c.fields].some(([id, value]) => same(org.fields.get(id)?.name, want.name) && same(value, want.value)),
        f.match,
      ),
    );
  });
  s.integrationIDFilter?.forEach((f) => {
    const keys = f.integrationIDs.map((x) => linkKey(x.integrationLinkType, x.id));
    narrow(f.match, keys, org.linkIndex);
    predicates.push((c) => matchList(keys, (key) => c.links.some((l) => linkKey(l.type, l.externalId) === key), f.match));
  });
  s.ageFilter?.forEach((f) => {
    predicates.push((c) => matchList(f.ages, (a) => c.dateOfBirth !== undefined && compare(ageOf(c.dateOfBirth, now), a.age, a.comparison), f.match));
  });
  s.createdTimeFilter?.forEach((f) => {
    predicates.push((c) => matchList(f.createdTimes, (t) => compare(c.created, Date.parse(t.time), t.comparison), f.match));
  });
  s.inviteFilter?.forEach((f) => {
    const state = (c: StoredContact) => (c.hasAccount ? 'has_account' : c.hasPendingInvite ? 'invited' : 'not_invited');
    predicates.push((c) => matchList(f.inviteStates, (v) => state(c) === v, f.match));
  });

  if (candidateSets.length === 0) return { predicates };
  candidateSets.sort((a, b) => a.size - b.size);
  return { predicates, candidates: candidateSets[0] };
}

/** Free text: every word must be found in a name, email, company or phone number. */
function textScore(c: StoredContact, words: string[]): number {
  const names = [c.givenName, c.middleName, c.familyName, c.companyName].filter(Boolean).map((n) => n!.toLowerCase());
  const emails = c.emailAddresses.map((e) => e.value.toLowerCase());
  const phones = c.phoneNumbers.map((p) => p.value.replace(/\D/g, ''));
  let score = 0;
  for (const word of words) {
    const digits = word.replace(/\D/g, '');
    if (names.some((n) => n === word)) score += 3;
    else if (names.some((n) => n.split(/\s+/).some((part) => part.startsWith(word)))) score += 2;
    else if (emails.some((e) => e.includes(word))) score += 2;
    else if (digits.length >= 4 && phones.some((p) => p.includes(digits))) score += 2;
    else return 0;
  }
  return score;
}

export interface SearchResult {
  contacts: StoredContact[];
  /** Sort key of each contact (for keyset pagination). */
  key: (c: StoredContact) => (string | number)[];
}

export function searchContacts(org: OrgState, body: SpruceContactSearch, now: number): SearchResult {
  const { predicates, candidates } = compile(org, body.structured ?? {}, now);
  const pool: StoredContact[] = candidates
    ? [...candidates].sort().flatMap((id) => org.contacts.get(id) ?? [])
    : [...org.contacts.values()]; // insertion order = id order (ids are monotonic)
  const matched = pool.filter((c) => predicates.every((p) => p(c)));
  const words = (body.freeText ?? '').toLowerCase().split(/\s+/).filter(Boolean);
  if (words.length === 0) return { contacts: matched, key: (c) => [c.id] };
  const scores = new Map<string, number>();
  for (const c of matched) {
    const score = textScore(c, words);
    if (score > 0) scores.set(c.id, score);
  }
  const key = (c: StoredContact) => [-(scores.get(c.id) ?? 0), c.id];
  const ranked = matched.filter((c) => scores.has(c.id));
  ranked.sort((a, b) => (scores.get(b.id)! - scores.get(a.id)!) || (a.id < b.id ? -1 : 1));
  return { contacts: ranked, key };
}
