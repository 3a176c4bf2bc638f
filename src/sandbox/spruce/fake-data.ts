// Seeded, deterministic fake data: the people of an organization (teammates, its phone line and
// Spruce Link) and contacts that already existed before any sync, including the messy parts a
// matcher must survive: shared family phone numbers, duplicates, foreign integration links,
// contacts with Spruce accounts (not deletable), phones typed in every accepted format.
import { Faker, base, en, en_US } from '@faker-js/faker';
import type { SpruceCreateContact } from '../../spruce/types.ts';
import { addLink, createContact, ensureField, ensureTag } from './contacts.ts';
import type { SimContext } from './context.ts';
import type { OrgState, Teammate } from './state.ts';

const AREA_CODES = [206, 212, 303, 312, 404, 415, 503, 512, 617, 702, 713, 718, 801, 808, 907, 971];

export function fakerFor(seed: number): Faker {
  return new Faker({ locale: [en_US, en, base], seed });
}

/** A valid North American number in one of the spec's four input formats. */
export function fakePhone(faker: Faker): string {
  const area = faker.helpers.arrayElement(AREA_CODES);
  const exchange = faker.number.int({ min: 200, max: 999 });
  const line = String(faker.number.int({ min: 0, max: 9999 })).padStart(4, '0');
  return faker.helpers.arrayElement([
    `${area}${exchange}${line}`,
    `+1${area}${exchange}${line}`,
    `(${area}) ${exchange}-${line}`,
    `${area}-${exchange}-${line}`,
  ]);
}

export function fakeOrganizationPeople(seed: number, ids: SimContext['ids']): {
  teammates: Teammate[];
  phoneLine: { id: string; value: string; displayValue: string };
  spruceLink: { id: string; url: string };
} {
  const faker = fakerFor(seed);
  const teammates = [0, 1].map(() => ({
    id: ids.short('entity'),
    displayName: `${faker.person.firstName()} ${faker.person.lastName()}${faker.helpers.arrayElement(['', ', PT', ', DPT'])}`,
  }));
  const line = String(faker.number.int({ min: 100, max: 199 })).padStart(4, '0');
  return {
    teammates,
    phoneLine: { id: ids.short('phoneline'), value: `+1206555${line}`, displayValue: `(206) 555-${line}` },
    spruceLink: { id: ids.short('organizationCode'), url: `https://spruce.care/${faker.string.alphanumeric(8).toLowerCase()}` },
  };
}

/** Creates `count` pre-existing contacts in `org` (the caller turns events off meanwhile). */
export function seedContacts(ctx: SimContext, org: OrgState, count: number, seed: number): void {
  if (count <= 0) return;
  const faker = fakerFor(seed ^ 0xc0ffee);
  const tags = [ensureTag(ctx, org, 'New patient'), ensureTag(ctx, org, 'Spanish speaking')];
  const pharmacy = ensureField(ctx, org, 'Preferred Pharmacy');
  const phones: string[] = [];
  const now = ctx.clock.now();
  let previous: SpruceCreateContact | undefined;
  for (let i = 0; i < count; i++) {
    const roll = faker.number.float({ min: 0, max: 1 });
    let input: SpruceCreateContact;
    if (previous && roll < 0.02) {
      // An accidental duplicate (same person entered twice, Spruce does not dedupe).
      input = { ...previous };
    } else if (roll < 0.06) {
      input = {
        category: 'professional',
        companyName: faker.company.name(),
        phoneNumbers: [{ value: fakePhone(faker), label: 'Work' }],
        faxNumbers: [{ value: fakePhone(faker), label: 'Fax' }],
      };
    } else {
      const sex = faker.helpers.arrayElement(['female', 'male'] as const);
      input = {
        category: 'patient',
        givenName: faker.person.firstName(sex),
        familyName: faker.person.lastName(),
        gender: faker.helpers.weightedArrayElement([
          { value: sex, weight: 90 },
          { value: 'unknown' as const, weight: 7 },
          { value: 'other' as const, weight: 3 },
        ]),
        dateOfBirth: faker.date.birthdate({ mode: 'age', min: 1, max: 95 }).toISOString().slice(0, 10),
      };
      if (faker.datatype.boolean(0.2)) input.middleName = faker.person.middleName();
      if (faker.datatype.boolean(0.9)) {
        // A family sharing one number: several contacts, so no single match for that phone.
        const shared = phones.length > 0 && faker.datatype.boolean(0.04);
        const value = shared ? faker.helpers.arrayElement(phones) : fakePhone(faker);
        phones.push(value);
        input.phoneNumbers = [{ value, label: faker.helpers.arrayElement(['Mobile', 'Home', 'Work']) }];
      }
      if (faker.datatype.boolean(0.7)) {
        input.emailAddresses = [{ value: faker.internet.email({ firstName: input.givenName, lastName: input.familyName }).toLowerCase() }];
      }
      if (faker.datatype.boolean(0.1)) input.tagIds = [faker.helpers.arrayElement(tags).id];
      if (faker.datatype.boolean(0.1)) {
        input.organizationContactFields = [{ id: pharmacy.id, value: faker.helpers.arrayElement(['CVS', 'Walgreens', 'Rite Aid']) }];
      }
    }
    previous = input;
    const hasAccount = input.category === 'patient' && faker.datatype.boolean(0.1);
    const contact = createContact(ctx, org, input, { hasAccount, hasPendingInvite: !hasAccount && faker.datatype.boolean(0.05) });
    // Added over the past months, one every few hours, oldest first (ids keep creation order).
    contact.created = now - (count - i) * 3 * 3_600_000;
    if (faker.datatype.boolean(0.02)) {
      // Linked by another integration before our sync existed.
      addLink(ctx, org, contact, { type: 'hint', externalId: `hint_${faker.string.numeric(10)}` });
    }
  }
}
