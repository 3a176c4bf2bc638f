import { describe, expect, it } from 'vitest';
import { addLink, createContact, deleteContact, ensureField, ensureTag, mergeContacts, removeLink, renderContact, updateContact } from './contacts.ts';
import { ApiError } from './errors.ts';
import { spruceOpenApi } from './openapi.ts';
import { testContext } from './test-context.ts';

function errorOf(fn: () => unknown): ApiError {
  try {
    fn();
  } catch (error) {
    return error as ApiError;
  }
  throw new Error('expected an error');
}

describe('contacts', () => {
  it('creates a contact that matches the spec and emits contact.created', () => {
    const { ctx, org, events } = testContext();
    const c = createContact(ctx, org, { givenName: 'Ann', familyName: 'Lee', phoneNumbers: [{ value: '206-555-1234', label: 'Mobile' }] });
    const rendered = renderContact(ctx, org, c);
    expect(rendered).toMatchObject({
      id: expect.stringMatching(/^entity_[0-9A-Z]{13}$/),
      displayName: 'Ann Lee',
      gender: 'unknown',
      category: 'patient',
      phoneNumbers: [{ value: '+12065551234', displayValue: '(206) 555-1234', label: 'Mobile', id: expect.stringMatching(/^entityContact_/) }],
      integrationLinks: [],
      canDelete: true,
    });
    expect(spruceOpenApi().validateSchema('contact', rendered)).toEqual([]);
    expect(events.map((e) => e.type)).toEqual(['contact.created']);
  });

  it('needs a name, phone, fax or email', () => {
    const { ctx, org } = testContext();
    expect(errorOf(() => createContact(ctx, org, { companyName: 'Only a company' })).statusCode).toBe(400);
    expect(errorOf(() => createContact(ctx, org, { givenName: '', phoneNumbers: [] })).statusCode).toBe(400);
    expect(errorOf(() => createContact(ctx, org, { phoneNumbers: [{ value: '555-1234' }] })).message).toMatch(/phoneNumbers\/0/);
  });

  it('PATCH: omitted/null unchanged, "" and [] clear, arrays replace, fields per id', () => {
    const { ctx, org, events } = testContext();
    const vip = ensureTag(ctx, org, 'VIP');
    const spanish = ensureTag(ctx, org, 'Spanish');
    const pharmacy = ensureField(ctx, org, 'Preferred Pharmacy');
    const plan = ensureField(ctx, org, 'Plan');
    const c = createContact(ctx, org, {
      givenName: 'Ann',
      middleName: 'Q',
      familyName: 'Lee',
      dateOfBirth: '1980-02-03',
      phoneNumbers: [{ value: '2065551234' }, { value: '2065559999' }],
      emailAddresses: [{ value: 'ann@example.com' }],
      tagIds: [vip.id],
      organizationContactFields: [
        { id: pharmacy.id, value: 'CVS' },
        { id: plan.id, value: 'Gold' },
      ],
    });
    const keptPhoneId = c.phoneNumbers[0]!.id;
    updateContact(ctx, org, c, {
      givenName: null as unknown as string,
      middleName: '',
      dateOfBirth: '',
      phoneNumbers: [{ value: '+12065551234' }, { value: '(503) 555-0000' }],
      emailAddresses: [],
      tagIds: [spanish.id],
      organizationContactFields: [{ id: pharmacy.id, value: '' }],
    });
    const r = renderContact(ctx, org, c);
    expect(r.givenName).toBe('Ann');
    expect(r.familyName).toBe('Lee');
    expect(r.middleName).toBeUndefined();
    expect(r.dateOfBirth).toBeUndefined();
    expect(r.phoneNumbers.map((p) => p.value)).toEqual(['+12065551234', '+15035550000']);
    expect(r.phoneNumbers[0]!.id).toBe(keptPhoneId);
    expect(r.emailAddresses).toEqual([]);
    expect(r.tags.map((t) => t.value)).toEqual(['Spanish']);
    expect(r.organizationContactFields).toEqual([{ id: plan.id, name: 'Plan', value: 'Gold' }]);
    updateContact(ctx, org, c, { organizationContactFields: [] });
    expect(renderContact(ctx, org, c).organizationContactFields).toEqual([]);
    expect(events.filter((e) => e.type === 'contact.updated')).toHaveLength(2);
  });

  it('a failed PATCH changes nothing', () => {
    const { ctx, org } = testContext();
    const c = createContact(ctx, org, { givenName: 'Ann', phoneNumbers: [{ value: '2065551234' }] });
    expect(() => updateContact(ctx, org, c, { givenName: 'Bea', phoneNumbers: [{ value: 'nope' }] })).toThrow(ApiError);
    expect(() => updateContact(ctx, org, c, { givenName: 'Bea', tagIds: ['tag_unknown'] })).toThrow(/unknown tag/);
    expect(renderContact(ctx, org, c).givenName).toBe('Ann');
  });

  it('deletes only when canDelete, else 400 NOT_DELETABLE', () => {
    const { ctx, org, events } = testContext();
    const withAccount = createContact(ctx, org, { givenName: 'Ann' }, { hasAccount: true });
    const error = errorOf(() => deleteContact(ctx, org, withAccount));
    expect([error.statusCode, error.type]).toEqual([400, 'NOT_DELETABLE']);
    const plain = createContact(ctx, org, { givenName: 'Bob' });
    deleteContact(ctx, org, plain);
    expect(org.contacts.has(plain.id)).toBe(false);
    expect(events.at(-1)).toMatchObject({ type: 'contact.deleted', object: { id: plain.id } });
  });

  it('integration links: no id, url only for custom, shown in the contact, removable', () => {
    const { ctx, org } = testContext();
    const c = createContact(ctx, org, { givenName: 'Ann' });
    addLink(ctx, org, c, { type: 'custom', externalId: 'spry-1', url: 'https://spry.example/p/1' });
    addLink(ctx, org, c, { type: 'hint', externalId: 'h-1' });
    expect(errorOf(() => addLink(ctx, org, c, { type: 'hint', externalId: 'h-2', url: 'https://x' })).statusCode).toBe(400);
    expect(renderContact(ctx, org, c).integrationLinks).toEqual([
      { type: 'custom', externalId: 'spry-1', contactId: c.id, url: 'https://spry.example/p/1' },
      { type: 'hint', externalId: 'h-1', contactId: c.id },
    ]);
    removeLink(ctx, org, c, 'custom', 'spry-1');
    expect(renderContact(ctx, org, c).integrationLinks).toHaveLength(1);
    expect(errorOf(() => removeLink(ctx, org, c, 'custom', 'spry-1')).statusCode).toBe(404);
  });

  it('creating an existing tag or field returns the existing one', () => {
    const { ctx, org } = testContext();
    expect(ensureTag(ctx, org, 'VIP')).toBe(ensureTag(ctx, org, ' vip '));
    expect(ensureField(ctx, org, 'Plan').id).toMatch(/^managedCustomField_/);
    expect(ensureField(ctx, org, 'Plan')).toBe(ensureField(ctx, org, 'PLAN'));
  });

  it('merge: the survivor keeps its links and gains the other contact\u2019s', () => {
    const { ctx, org, events } = testContext();
    const a = createContact(ctx, org, { givenName: 'Ann', phoneNumbers: [{ value: '2065551234' }] });
    const b = createContact(ctx, org, { givenName: 'Annie', familyName: 'Lee', phoneNumbers: [{ value: '2065559999' }] });
    addLink(ctx, org, a, { type: 'custom', externalId: 'spry-1', url: 'https://spry.example/p/1' });
    addLink(ctx, org, b, { type: 'custom', externalId: 'spry-2', url: 'https://spry.example/p/2' });
    mergeContacts(ctx, org, a, b);
    const r = renderContact(ctx, org, a);
    expect(r.givenName).toBe('Ann');
    expect(r.familyName).toBe('Lee');
    expect(r.phoneNumbers.map((p) => p.value)).toEqual(['+12065551234', '+12065559999']);
    expect(r.integrationLinks.map((l) => l.externalId)).toEqual(['spry-1', 'spry-2']);
    expect(org.contacts.has(b.id)).toBe(false);
    expect(org.contactsWithPhone('+12065559999')).toEqual([a.id]);
    expect(events.at(-1)).toMatchObject({ type: 'contact.merged', object: { id: a.id }, extra: { deletedContactIds: [b.id] } });
  });
});
