// The Spruce Public API client (../shared/specs/spruce-openapi.json): Basic-style Bearer
// credentials, `{statusCode, type, message}` errors with `s-request-id`, idempotency keys on
// writes, and pacing from the rate-limit headers. Response shapes follow the OpenAPI: bare
// Contact for contact reads and writes, wrapped `{conversation}` / `{conversationItem}`, and a
// per-resource list key.
//
// A write whose answer was lost (reset, timeout, 5xx) is sent again with the same idempotency
// key; Spruce then answers 422, never the first answer. A 422 on a key is only ever earned by a
// write that committed, so each write that can name its resource reads it back instead of
// failing: the PATCH answers the contact as it now is, the link the contact's links, a tag or
// field the one listed under its value or name. Only a create cannot be read back by id: its
// caller searches (sync-patient.ts).
import { createHash, randomUUID } from 'node:crypto';
import type { Dispatcher } from 'undici';
import { systemClock, type Clock } from '../clock.ts';
import { SyncError } from '../errors.ts';
import { safeToken } from '../http/classify.ts';
import { HttpClient, type HttpRequest, type HttpResponse, type RetryPolicy } from '../http/http-client.ts';
import { RatePacer } from '../http/rate-pacer.ts';
import type { OnCall, Priority, RequestLimiter } from '../http/types.ts';
import type { operations } from './openapi-types.ts';
import { clampPageSize, collect, MAX_PAGE, spruceItems, toPage } from './pages.ts';
import type {
  PageQuery,
  SpruceApi,
  SpruceContact,
  SpruceContactField,
  SpruceContactSearch,
  SpruceConversation,
  SpruceConversationItem,
  SpruceCreateContact,
  SpruceIntegrationLink,
  SpruceOrganization,
  SprucePage,
  SpruceTag,
  SpruceUpdateContact,
  SpruceWebhookEndpoint,
  SpruceWebhookEndpointEvent,
  WriteOptions,
} from './types.ts';

/** The JSON body the OpenAPI gives for `status` of operation `op`. */
type Answer<Op extends keyof operations, Status extends number> = operations[Op]['responses'] extends Record<
  Status,
  { content: { 'application/json': infer Body } }
>
  ? Body
  : never;

export interface SpruceClientOptions {
  baseUrl: string;
  accessId: string;
  secretKey: string;
  clock?: Clock;
  /** Per attempt. Default 15 000. */
  timeoutMs?: number;
  onCall?: OnCall;
  /** One pacer per organization, shared when several clients act for it. Default: a RatePacer. */
  pacer?: RequestLimiter;
  /** A pool shared with other clients. */
  dispatcher?: Dispatcher;
  /** Default 'live'; see withPriority. */
  priority?: Priority;
  /** See stopWaitingOn. */
  stopWaiting?: AbortSignal;
  retry?: Partial<RetryPolicy>;
}

const IDEMPOTENCY_KEY_MAX = 255;

type SpruceRequest = Omit<HttpRequest, 'headers' | 'accept' | 'priority'> & {
  /** 404 answers null instead of failing. */
  nullIfMissing?: boolean;
  idempotencyKey?: string;
};

export class SpruceClient implements SpruceApi {
  private readonly http: HttpClient;
  private readonly priority: Priority;
  private readonly authorization: string;

  constructor(
    private readonly options: SpruceClientOptions,
    shared?: HttpClient,
  ) {
    const clock = options.clock ?? systemClock;
    this.priority = options.priority ?? 'live';
    this.authorization = `Bearer ${Buffer.from(`${options.accessId}:${options.secretKey}`, 'utf8').toString('base64')}`;
    this.http =
      shared ??
      new HttpClient({
        system: 'spruce',
        baseUrl: options.baseUrl,
        clock,
        timeoutMs: options.timeoutMs,
        dispatcher: options.dispatcher,
        onCall: options.onCall,
        retry: options.retry,
        requestIdHeader: 's-request-id',
        limiter: options.pacer ?? new RatePacer({ clock }),
        errorDetail: (body) => safeToken((body as { type?: unknown } | undefined)?.type),
      });
  }

  /** The same client (pool, pacer) sending at another priority, e.g. 'bulk' for backfill. */
  withPriority(priority: Priority): SpruceClient {
    return new SpruceClient({ ...this.options, priority }, this.http);
  }

  /**
   * The same client whose calls stop waiting for their turn (the pacer's window, a retry) once
   * `signal` aborts: such a call fails with WORK_STOPPED, unsent. Calls already sent finish.
   */
  stopWaitingOn(signal: AbortSignal): SpruceClient {
    return new SpruceClient({ ...this.options, stopWaiting: signal }, this.http);
  }

  async close(): Promise<void> {
    await this.http.close();
  }

  async getContact(contactId: string): Promise<SpruceContact | null> {
    const res = await this.send<Answer<'Contact', 200>>({
      method: 'GET',
      path: '/contacts/{contactId}',
      params: { contactId },
      ids: { contactId },
      nullIfMissing: true,
    });
    return res.status === 404 ? null : expectObject(res.body, 'GET /contacts/{contactId}');
  }

  async listContacts(query: PageQuery = {}): Promise<SprucePage<SpruceContact>> {
    const path = '/contacts';
    const res = await this.send<Answer<'ListContacts', 200>>({ method: 'GET', path, query: pageQuery(query, MAX_PAGE.contacts) });
    return toPage<SpruceContact, 'contacts'>(res.body, 'contacts', `GET ${path}`);
  }

  /** Every contact of the organization, page by page. */
  iterateContacts(pageSize: number = MAX_PAGE.contacts): AsyncGenerator<SpruceContact> {
    return spruceItems((paginationToken) => this.listContacts({ pageSize, paginationToken }));
  }

  async createContact(input: SpruceCreateContact, options: WriteOptions = {}): Promise<SpruceContact> {
    const path = '/contacts';
    const res = await this.send<Answer<'CreateContact', 201>>({
      method: 'POST',
      path,
      json: input,
      idempotencyKey: options.idempotencyKey,
    });
    return expectObject(res.body, `POST ${path}`);
  }

  /**
   * Without a key of the caller's, each call gets a key of its own: retries of this call share
   * it (a 422 proves this PATCH landed), while a later PATCH, even of the same values, is never
   * refused for an earlier one.
   */
  async updateContact(contactId: string, patch: SpruceUpdateContact, options: WriteOptions = {}): Promise<SpruceContact> {
    const path = '/contacts/{contactId}';
    const ids = { contactId };
    const res = await this.sendOnce<Answer<'UpdateContact', 200>>({
      method: 'PATCH',
      path,
      params: { contactId },
      json: patch,
      ids,
      idempotencyKey: options.idempotencyKey ?? callKey('patch'),
    });
    if (res !== REPLAYED) return expectObject(res.body, `PATCH ${path}`);
    const landed = await this.getContact(contactId);
    if (!landed) throw new SyncError('SPRUCE_NOT_FOUND', `Spruce PATCH ${path}: the contact is gone since the PATCH landed`, { retryable: false, ids });
    return landed;
  }

  /** Deleting a contact that is already gone (404) succeeds. */
  async deleteContact(contactId: string): Promise<void> {
    await this.send({
      method: 'DELETE',
      path: '/contacts/{contactId}',
      params: { contactId },
      ids: { contactId },
      nullIfMissing: true,
      retrySafe: true,
    });
  }

  async searchContacts(body: SpruceContactSearch, query: PageQuery = {}): Promise<SprucePage<SpruceContact>> {
    const path = '/contacts/search';
    const res = await this.send<Answer<'SearchContacts', 200>>({
      method: 'POST',
      path,
      query: pageQuery(query, MAX_PAGE.search),
      json: body,
      // A search changes nothing, whatever its verb.
      retrySafe: true,
    });
    return toPage<SpruceContact, 'contacts'>(res.body, 'contacts', `POST ${path}`);
  }

  async findContactsByIntegrationId(externalId: string): Promise<SpruceContact[]> {
    const search: SpruceContactSearch = {
      structured: {
        integrationIDFilter: [{ integrationIDs: [{ integrationLinkType: 'custom', id: externalId }], match: 'any' }],
      },
    };
    return collect(
      spruceItems((paginationToken) => this.searchContacts(search, { pageSize: MAX_PAGE.search, paginationToken })),
    );
  }

  /**
   * A 422 means a link with this key landed; the contact's links say whether it is still
   * there. When it was removed since (a caller's key may be reused within Spruce's 24 hours),
   * the link is created again once, with a key of this call's own.
   */
  async createIntegrationLink(
    contactId: string,
    link: { type: 'custom'; externalId: string; url: string },
    options: WriteOptions = {},
  ): Promise<SpruceIntegrationLink[]> {
    const path = '/contacts/{contactId}/integrationlinks';
    const ids = { contactId, externalId: link.externalId };
    const keys = [options.idempotencyKey ?? callKey('link'), callKey('link')];
    for (const idempotencyKey of keys) {
      const res = await this.sendOnce<Answer<'CreateContactIntegrationLink', 201>>({
        method: 'POST',
        path,
        params: { contactId },
        json: link,
        ids,
        idempotencyKey,
      });
      if (res !== REPLAYED) return expectList(res.body, 'integrationLinks', `POST ${path}`);
      const contact = await this.getContact(contactId);
      if (!contact) throw new SyncError('SPRUCE_NOT_FOUND', `Spruce POST ${path}: the contact is gone`, { retryable: false, ids });
      const links = contact.integrationLinks ?? [];
      if (links.some((l) => l.type === link.type && l.externalId === link.externalId)) return links;
    }
    throw new SyncError('SYNC_CONFLICT', `Spruce POST ${path}: the link landed and was removed again`, { retryable: true, ids });
  }

  /** Removing a link that is already gone (404) succeeds. */
  async deleteIntegrationLink(contactId: string, type: string, externalId: string): Promise<void> {
    await this.send({
      method: 'DELETE',
      path: '/contacts/{contactId}/integrationlinks',
      params: { contactId },
      query: { type, externalId },
      ids: { contactId, externalId },
      nullIfMissing: true,
      retrySafe: true,
    });
  }

  async listTags(): Promise<SpruceTag[]> {
    const path = '/contacts/tags';
    return collect(
      spruceItems(async (paginationToken) => {
        const res = await this.send<Answer<'ContactTags', 200>>({
          method: 'GET',
          path,
          query: { pageSize: MAX_PAGE.tags, paginationToken },
        });
        return toPage<SpruceTag, 'tags'>(res.body, 'tags', `GET ${path}`);
      }),
    );
  }

  async createTag(value: string): Promise<SpruceTag> {
    const path = '/contacts/tags';
    // An existing value answers the existing tag, so the create is safe to repeat whatever the key.
    const res = await this.sendOnce<Answer<'CreateContactTag', 201>>({ method: 'POST', path, json: { value }, idempotencyKey: callKey('tag') });
    if (res !== REPLAYED) return expectObject(res.body, `POST ${path}`);
    const wanted = value.toLowerCase();
    return landedOrConflict((await this.listTags()).find((t) => t.value.toLowerCase() === wanted), `POST ${path}`);
  }

  async listContactFields(): Promise<SpruceContactField[]> {
    const path = '/contacts/fields';
    return collect(
      spruceItems(async (paginationToken) => {
        const res = await this.send<Answer<'ContactFields', 200>>({
          method: 'GET',
          path,
          query: { pageSize: MAX_PAGE.fields, paginationToken },
        });
        return toPage<SpruceContactField, 'fields'>(res.body, 'fields', `GET ${path}`);
      }),
    );
  }

  async createContactField(name: string): Promise<SpruceContactField> {
    const path = '/contacts/fields';
    // Like tags: an existing name answers the existing field.
    const res = await this.sendOnce<Answer<'CreateContactField', 201>>({ method: 'POST', path, json: { name }, idempotencyKey: callKey('field') });
    if (res !== REPLAYED) return expectObject(res.body, `POST ${path}`);
    return landedOrConflict((await this.listContactFields()).find((f) => f.name === name), `POST ${path}`);
  }

  async getConversation(conversationId: string): Promise<SpruceConversation | null> {
    const path = '/conversations/{conversationId}';
    const res = await this.send<Answer<'Conversation', 200>>({
      method: 'GET',
      path,
      params: { conversationId },
      ids: { conversationId },
      nullIfMissing: true,
    });
    return res.status === 404 ? null : expectObject(res.body?.conversation, `GET ${path}`);
  }

  async getConversationItem(itemId: string): Promise<SpruceConversationItem | null> {
    const path = '/conversationItems/{conversationItemId}';
    const res = await this.send<Answer<'ConversationItem', 200>>({
      method: 'GET',
      path,
      params: { conversationItemId: itemId },
      ids: { conversationItemId: itemId },
      nullIfMissing: true,
    });
    return res.status === 404 ? null : expectObject(res.body?.conversationItem, `GET ${path}`);
  }

  /** The organization the credentials act for: the cheapest authenticated read (used by `doctor`). */
  async getOrganization(): Promise<SpruceOrganization> {
    const path = '/organization';
    const res = await this.send<Answer<'Organization', 200>>({ method: 'GET', path });
    return expectObject(res.body?.organization, `GET ${path}`);
  }

  async listWebhookEndpoints(): Promise<SpruceWebhookEndpoint[]> {
    const path = '/webhooks/endpoints';
    const res = await this.send<Answer<'ListWebhookEndpoints', 200>>({ method: 'GET', path });
    return expectList(res.body, 'endpoints', `GET ${path}`);
  }

  async createWebhookEndpoint(input: { name: string; url: string }): Promise<SpruceWebhookEndpoint> {
    const path = '/webhooks/endpoints';
    const res = await this.send<Answer<'CreateWebhookEndpoint', 200>>({ method: 'POST', path, json: input });
    return expectObject(res.body?.endpoint, `POST ${path}`);
  }

  async listWebhookEndpointEvents(
    endpointId: string,
    query: { startTime?: string; endTime?: string; paginationToken?: string },
  ): Promise<SprucePage<SpruceWebhookEndpointEvent>> {
    const path = '/webhooks/endpoints/{endpointId}/events';
    const res = await this.send<Answer<'ListWebhookEndpointEvents', 200>>({
      method: 'GET',
      path,
      params: { endpointId },
      query,
      ids: { endpointId },
    });
    return toPage<SpruceWebhookEndpointEvent, 'events'>(res.body, 'events', `GET ${path}`);
  }

  /** Every logged event of the endpoint in the time range (20 a page), for catching up. */
  iterateWebhookEndpointEvents(
    endpointId: string,
    range: { startTime?: string; endTime?: string } = {},
  ): AsyncGenerator<SpruceWebhookEndpointEvent> {
    return spruceItems((paginationToken) => this.listWebhookEndpointEvents(endpointId, { ...range, paginationToken }));
  }

  /** A keyed write whose 422 is handed back as REPLAYED, for the caller to read the resource back. */
  private async sendOnce<T>(req: SpruceRequest & { idempotencyKey: string }): Promise<HttpResponse<T> | typeof REPLAYED> {
    try {
      return await this.send<T>(req);
    } catch (error) {
      if (error instanceof SyncError && error.code === 'SPRUCE_IDEMPOTENCY_REPLAY') return REPLAYED;
      throw error;
    }
  }

  private async send<T>(req: SpruceRequest): Promise<HttpResponse<T>> {
    const { nullIfMissing = false, idempotencyKey, ...rest } = req;
    const key = idempotencyKey === undefined ? undefined : boundedKey(idempotencyKey);
    const res = await this.http.request<T>({
      ...rest,
      priority: this.priority,
      stopWaiting: this.options.stopWaiting,
      headers: { authorization: this.authorization, ...(key ? { 's-idempotency-key': key } : {}) },
      accept: [...(nullIfMissing ? [404] : []), ...(key ? [422] : [])],
      // With a key a repeat cannot act twice: Spruce refuses it with 422, which we report below.
      retrySafe: rest.retrySafe ?? (rest.method === 'GET' || key !== undefined),
    });
    if (res.status === 422) {
      throw new SyncError('SPRUCE_IDEMPOTENCY_REPLAY', `Spruce ${req.method} ${req.path} refused a repeated idempotency key`, {
        retryable: false,
        status: 422,
        requestId: res.requestId,
        ids: req.ids,
      });
    }
    return res;
  }
}

/** What sendOnce answers for a 422: an earlier attempt with the key committed. */
const REPLAYED = Symbol('replayed');

/** A key for this call alone: its retries share it, no other write does. */
function callKey(kind: string): string {
  return `spruce-sync:${kind}:${randomUUID()}`;
}

/** The tag or field a landed create made, which a listing must show. */
function landedOrConflict<T>(found: T | undefined, route: string): T {
  if (found) return found;
  throw new SyncError('SYNC_CONFLICT', `Spruce ${route} landed but the listing does not show it yet`, { retryable: true });
}

function pageQuery(query: PageQuery, max: number): Record<string, string | number | undefined> {
  return { pageSize: clampPageSize(query.pageSize, max), paginationToken: query.paginationToken };
}

/** Keys over Spruce's 255-character limit are hashed, which keeps them stable and unique. */
function boundedKey(key: string): string {
  return key.length <= IDEMPOTENCY_KEY_MAX ? key : `sha256:${createHash('sha256').update(key).digest('hex')}`;
}

function expectObject<T>(value: T | undefined, route: string): T {
  if (typeof value !== 'object' || value === null) throw malformed(route, 'the expected object');
  return value;
}

function expectList<T, K extends string>(body: Partial<Record<K, T[]>> | undefined, key: K, route: string): T[] {
  const list = body?.[key];
  if (!Array.isArray(list)) throw malformed(route, key);
  return list;
}

/** A read may be tried again; a write may have acted already, so it is left to the caller. */
function malformed(route: string, what: string): SyncError {
  return new SyncError('SPRUCE_UNAVAILABLE', `Spruce ${route} answered without ${what}`, {
    retryable: route.startsWith('GET '),
  });
}
