import { describe, expect, it } from 'vitest';
import { addLink, createContact, ensureField, ensureTag } from './contacts.ts';
import { ApiError } from './errors.ts';
import { searchContacts } from './search.ts';
import { testContext } from './test-context.ts';

function setup() {
  const { ctx, org, clock } = testContext();
  const vip = ensureTag(ctx, org, 'VIP');
  const pharmacy = ensureField(ctx, org, 'Preferred Pharmacy');
  const ann = createContact(ctx, org, {
    givenName: 'Ann',
    familyName: 'Lee',
    gender: 'female',
    dateOfBirth: '1980-05-01',
    phoneNumbers: [{ value: '2065551234' }],
    emailAddresses: [{ value: 'Ann@Example.com' }],
    tagIds: [vip.id],
    organizationContactFields: [{ id: pharmacy.id, value: 'CVS' }],
  });
  const bob = createContact(ctx, org, { givenName: 'Bob', familyName: 'Lee', gender: 'male', phoneNumbers: [{ value: '2065551234' }] });
  const clinic = createContact(ctx, org, { companyName: 'Walgreens', category: 'professional', faxNumbers: [{ value: '5035550000' }] });
  addLink(ctx, org, ann, { type: 'custom', externalId: 'spry-1', url: 'https://spry.example/1' });
  addLink(ctx, org, bob, { type: 'custom', externalId: 'spry-2', url: 'https://spry.example/2' });
  const ids = (body: Parameters<typeof searchContacts>[1]) => searchContacts(org, body, clock.now()).contacts.map((c) => c.id);
  return { ann: ann.id, bob: bob.id, clinic: clinic.id, ids, vip };
}

describe('searchContacts', () => {
  it('returns everything by id ascending with no filter', () => {
    const { ann, bob, clinic, ids } = setup();
    expect(ids({})).toEqual([ann, bob, clinic]);
  });

  it('integrationIDFilter finds a contact by its custom link', () => {
    const { ann, bob, ids } = setup();
    const byLink = (id: string, match: 'all' | 'any' | 'none') => ids({ structured: { integrationIDFilter: [{ integrationIDs: [{ integrationLinkType: 'custom', id }], match }] } });
    expect(byLink('spry-2', 'any')).toEqual([bob]);
    expect(byLink('spry-9', 'any')).toEqual([]);
    expect(byLink('spry-2', 'none')).not.toContain(bob);
    expect(ids({ structured: { integrationIDFilter: [{ integrationIDs: [{ integrationLinkType: 'hint', id: 'spry-1' }], match: 'any' }] } })).toEqual([]);
    expect(byLink('spry-1', 'all')).toEqual([ann]);
  });

  it('phone filters accept any documented format; a shared number matches several', () => {
    const { ann, bob, clinic, ids } = setup();
    expect(ids({ structured: { phoneNumberFilter: [{ values: ['(206) 555-1234'], match: 'any' }] } })).toEqual([ann, bob]);
    expect(ids({ structured: { phoneNumberFilter: [{ values: ['+12065551234'], match: 'none' }] } })).toEqual([clinic]);
    expect(() => ids({ structured: { phoneNumberFilter: [{ values: ['12'], match: 'any' }] } })).toThrow(ApiError);
  });

  it('combines filters with AND, each with all/any/none', () => {
    const { ann, bob, clinic, ids, vip } = setup();
    expect(ids({ structured: { nameFilter: [{ names: [{ familyName: 'lee' }], match: 'any' }], genderFilter: [{ genders: ['male'], match: 'any' }] } })).toEqual([bob]);
    expect(ids({ structured: { nameFilter: [{ names: [{ givenName: 'Ann', familyName: 'Lee' }, { givenName: 'Bob' }], match: 'any' }] } })).toEqual([ann, bob]);
    expect(ids({ structured: { emailAddressFilter: [{ values: ['ann@example.COM'], match: 'all' }] } })).toEqual([ann]);
    expect(ids({ structured: { tagFilter: [{ tags: [vip.id], match: 'any' }] } })).toEqual([ann]);
    expect(ids({ structured: { tagFilter: [{ tags: ['vip'], match: 'none' }] } })).toEqual([bob, clinic]);
    expect(ids({ structured: { categoryFilter: [{ categories: ['professional'], match: 'any' }] } })).toEqual([clinic]);
    expect(ids({ structured: { organizationContactFieldFilter: [{ organizationContactFields: [{ name: 'preferred pharmacy', value: 'cvs' }], match: 'all' }] } })).toEqual([ann]);
    expect(ids({ structured: { faxNumberFilter: [{ values: ['503-555-0000'], match: 'any' }] } })).toEqual([clinic]);
    expect(ids({ structured: { ageFilter: [{ ages: [{ age: 40, comparison: 'greater_than_or_equal_to' }], match: 'all' }] } })).toEqual([ann]);
  });

  it('free text ranks by relevance', () => {
    const { ann, bob, ids } = setup();
    expect(ids({ freeText: 'lee' })).toEqual([ann, bob]);
    expect(ids({ freeText: 'bob lee' })).toEqual([bob]);
    expect(ids({ freeText: '555-1234' })).toEqual([ann, bob]);
    expect(ids({ freeText: 'nobody' })).toEqual([]);
  });
});
