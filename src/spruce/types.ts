// Spruce shapes come from the OpenAPI description (generated into openapi-types.ts by
// `npm run gen:spruce-types`); this file names the ones we use and the client the sync needs.
import type { components } from './openapi-types.ts';

type Schemas = components['schemas'];

export type SpruceContact = Schemas['contact'];
export type SpruceCreateContact = Schemas['createContact'];
export type SpruceUpdateContact = Schemas['updateContact'];
export type SpruceContactSearch = Schemas['contactSearch'];
export type SpruceIntegrationLink = Schemas['contact_integrationLink'];
export type SpruceTag = Schemas['contact_tag'];
export type SpruceContactField = Schemas['contact_organizationContactFieldName'];
export type SpruceConversation = Schemas['conversation'];
export type SpruceConversationItem = Schemas['conversationItem'];
export type SpruceWebhookEndpoint = Schemas['webhookDestinationEndpoint'];
export type SpruceWebhookEndpointEvent = Schemas['webhookDestinationEndpointEvent'];
export type SpruceOrganization = Schemas['organization'];
export type SpruceError = Schemas['error'];

export interface SprucePage<T> {
  items: T[];
  hasMore: boolean;
  paginationToken?: string;
  totalCount?: number;
}

export interface PageQuery {
  pageSize?: number;
  paginationToken?: string;
}

export interface WriteOptions {
  /** `s-idempotency-key`: a repeat within 24 h on the same path is answered 422. */
  idempotencyKey?: string;
}

export type SpruceWebhookEventType =
  | 'contact.created'
  | 'contact.updated'
  | 'contact.deleted'
  | 'contact.merged'
  | 'conversation.created'
  | 'conversation.updated'
  | 'conversation.deleted'
  | 'conversationItem.created'
  | 'conversationItem.updated'
  | 'conversationItem.deleted'
  | 'conversationItem.restored'
  | 'scheduledMessage.created'
  | 'scheduledMessage.updated'
  | 'scheduledMessage.deleted'
  | 'scheduledMessage.sent';

/** The webhook envelope. `id` is a sandbox extra ([ours]); receivers must not depend on it. */
export interface SpruceWebhookEnvelope {
  id?: string;
  object: 'event';
  type: string;
  eventTime: string;
  data: { object: Record<string, unknown> & { id?: string }; deletedContactIds?: string[] };
}

/** What the sync needs from Spruce. */
export interface SpruceApi {
  /** The contact, or null when Spruce answers 404. */
  getContact(contactId: string): Promise<SpruceContact | null>;
  listContacts(query?: PageQuery): Promise<SprucePage<SpruceContact>>;
  createContact(input: SpruceCreateContact, options?: WriteOptions): Promise<SpruceContact>;
  updateContact(contactId: string, patch: SpruceUpdateContact, options?: WriteOptions): Promise<SpruceContact>;
  deleteContact(contactId: string): Promise<void>;
  searchContacts(body: SpruceContactSearch, query?: PageQuery): Promise<SprucePage<SpruceContact>>;
  /** Contacts carrying the custom integration link with this external id. */
  findContactsByIntegrationId(externalId: string): Promise<SpruceContact[]>;
  createIntegrationLink(
    contactId: string,
    link: { type: 'custom'; externalId: string; url: string },
    options?: WriteOptions,
  ): Promise<SpruceIntegrationLink[]>;
  deleteIntegrationLink(contactId: string, type: string, externalId: string): Promise<void>;
  listTags(): Promise<SpruceTag[]>;
  createTag(value: string): Promise<SpruceTag>;
  listContactFields(): Promise<SpruceContactField[]>;
  createContactField(name: string): Promise<SpruceContactField>;
  getConversation(conversationId: string): Promise<SpruceConversation | null>;
  getConversationItem(itemId: string): Promise<SpruceConversationItem | null>;
  listWebhookEndpoints(): Promise<SpruceWebhookEndpoint[]>;
  createWebhookEndpoint(input: { name: string; url: string }): Promise<SpruceWebhookEndpoint>;
  listWebhookEndpointEvents(
    endpointId: string,
    query: { startTime?: string; endTime?: string; paginationToken?: string },
  ): Promise<SprucePage<SpruceWebhookEndpointEvent>>;
}
