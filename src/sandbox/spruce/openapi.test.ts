import { describe, expect, it } from 'vitest';
import { spruceOpenApi } from './openapi.ts';

const v = spruceOpenApi();
const check = (op: string, parts: Partial<{ params: Record<string, unknown>; query: Record<string, unknown>; body: unknown }>) =>
  v.validateRequest(op, { params: {}, query: {}, body: undefined, ...parts });

describe('OpenAPI validation', () => {
  it('knows every operation of the spec with its route template', () => {
    const routes = v.operations.map((o) => o.route);
    expect(routes).toContain('PATCH /v1/contacts/{contactId}');
    expect(routes).toContain('POST /v1/webhooks/endpoints/{endpointId}/paused');
    expect(v.operation('CreateContact')).toMatchObject({ fastifyUrl: '/contacts', idempotencyKey: true, bodyRequired: true });
  });

  it('coerces and bounds query parameters per operation', () => {
    expect(check('ListContacts', { query: { pageSize: '500' } })).toMatchObject({ errors: [], query: { pageSize: 500 } });
    expect(check('ListContacts', { query: { pageSize: '501' } }).errors).toEqual(['query/pageSize must be <= 500']);
    expect(check('ConversationItems', { params: { conversationId: 't_1' }, query: { pageSize: '201' } }).errors).toEqual(['query/pageSize must be <= 200']);
    expect(check('ListConversations', {}).errors[0]).toMatch(/orderBy/);
    expect(check('ModifyWebhookEndpointPaused', { params: { endpointId: 'wde_1' }, query: { paused: 'maybe' } }).errors[0]).toMatch(/paused/);
  });

  it('checks bodies: types, enums, formats, $refs, unknown properties, required body', () => {
    expect(check('CreateContact', {}).errors).toEqual(['body is required (application/json)']);
    expect(check('CreateContact', { body: { givenName: 'A', emailAddresses: [{ value: 'not-an-email' }] } }).errors[0]).toMatch(/email/);
    expect(check('CreateContact', { body: { givenName: 'A', dateOfBirth: '2001-02-30' } }).errors[0]).toMatch(/date/);
    expect(check('CreateContact', { body: { givenName: 'A', gender: 'x' } }).errors[0]).toMatch(/gender must be one of/);
    expect(check('CreateContact', { body: { givenName: 'A', category: 'clinic' } }).errors[0]).toMatch(/category/);
    expect(check('CreateContact', { body: { givenName: 'A', phone: '2065551234' } }).errors).toEqual(["body has unknown property 'phone'"]);
    expect(check('CreateContact', { body: { givenName: 'A', phoneNumbers: [{ label: 'x' }] } }).errors[0]).toMatch(/value/);
  });

  it('PATCH bodies: null means omitted and "" clears the date of birth', () => {
    expect(check('UpdateContact', { params: { contactId: 'e' }, body: { givenName: null, dateOfBirth: '' } })).toMatchObject({
      errors: [],
      body: { dateOfBirth: '' },
    });
    expect(check('UpdateContact', { params: { contactId: 'e' }, body: { dateOfBirth: '1999-13-01' } }).errors).not.toEqual([]);
  });

  it('accepts an http loopback URL as a `url` format value', () => {
    expect(check('CreateWebhookEndpoint', { body: { name: 'n', url: 'http://127.0.0.1:3000/hook' } }).errors).toEqual([]);
    expect(check('CreateWebhookEndpoint', { body: { name: 'n', url: 'not a url' } }).errors[0]).toMatch(/url/);
  });
});
