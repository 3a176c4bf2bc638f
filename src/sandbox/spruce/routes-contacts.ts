// Contacts, search, integration links, contact tags and contact fields.
import type { SpruceContactSearch, SpruceCreateContact, SpruceUpdateContact } from '../../spruce/types.ts';
import { addLink, createContact, deleteContact, ensureField, ensureTag, removeLink, renderContact, renderLink, updateContact } from './contacts.ts';
import { renderConversation } from './conversations.ts';
import { badParameter, notFound } from './errors.ts';
import { DEFAULT_PAGE_SIZE, type ApiRequest, type ApiServices, type Handler } from './handler.ts';
import { paginate, queryHash } from './pagination.ts';
import { searchContacts } from './search.ts';
import type { StoredContact } from './state.ts';

function contactOf(req: ApiRequest, status: 400 | 404 = 404): StoredContact {
  const contact = req.org.contacts.get(req.params.contactId!);
  if (contact) return contact;
  if (status === 400) throw badParameter(`unknown contact ${req.params.contactId}`);
  throw notFound('contact');
}

function pageSize(req: ApiRequest): number {
  return (req.query.pageSize as number | undefined) ?? DEFAULT_PAGE_SIZE.large;
}

export const contactHandlers: Record<string, Handler> = {
  ListContacts({ ctx }, req) {
    const all = [...req.org.contacts.values()]; // insertion order = id order
    const page = paginate(all, (c) => [c.id], { kind: 'contacts', token: req.query.paginationToken, pageSize: pageSize(req) });
    return {
      status: 200,
      body: {
        contacts: page.items.map((c) => renderContact(ctx, req.org, c)),
        hasMore: page.hasMore,
        ...(page.paginationToken ? { paginationToken: page.paginationToken } : {}),
        totalCount: all.length,
      },
    };
  },

  CreateContact({ ctx }, req) {
    const contact = createContact(ctx, req.org, req.body as SpruceCreateContact);
    return { status: 201, body: renderContact(ctx, req.org, contact) };
  },

  Contact({ ctx }, req) {
    return { status: 200, body: renderContact(ctx, req.org, contactOf(req)) };
  },

  UpdateContact({ ctx }, req) {
    const contact = updateContact(ctx, req.org, contactOf(req), req.body as SpruceUpdateContact);
    return { status: 200, body: renderContact(ctx, req.org, contact) };
  },

  DeleteContact({ ctx }, req) {
    deleteContact(ctx, req.org, contactOf(req));
    return { status: 200 };
  },

  ContactConversations({ ctx }, req) {
    const contact = contactOf(req);
    const conversations = [...req.org.conversations.values()]
      .map((c) => renderConversation(ctx, req.org, c))
      .filter((c) => c.associatedContactIds?.includes(contact.id));
    return { status: 200, body: { conversations } };
  },

  ContactIntegrationLinks(_s, req) {
    const contact = contactOf(req);
    return { status: 200, body: { integrationLinks: contact.links.map((l) => renderLink(contact.id, l)) } };
  },

  // No 404 is declared for this operation: an unknown contact is a bad parameter.
  CreateContactIntegrationLink({ ctx }, req) {
    const contact = contactOf(req, 400);
    const body = (req.body ?? {}) as { type?: string; externalId?: string; url?: string };
    addLink(ctx, req.org, contact, {
      type: body.type ?? (req.query.type as string | undefined),
      externalId: body.externalId ?? (req.query.externalId as string | undefined),
      url: body.url,
    });
    return { status: 201, body: { integrationLinks: contact.links.map((l) => renderLink(contact.id, l)) } };
  },

  DeleteContactIntegrationLink({ ctx }, req) {
    const contact = contactOf(req);
    const body = (req.body ?? {}) as { type?: string; externalId?: string };
    removeLink(ctx, req.org, contact, (req.query.type as string | undefined) ?? body.type, (req.query.externalId as string | undefined) ?? body.externalId);
    return { status: 200 };
  },

  SearchContacts({ ctx }, req) {
    const body = (req.body ?? {}) as SpruceContactSearch;
    const result = searchContacts(req.org, body, ctx.clock.now());
    const page = paginate(result.contacts, result.key, {
      kind: 'search',
      token: req.query.paginationToken,
      pageSize: pageSize(req),
      query: queryHash(body),
    });
    return {
      status: 200,
      body: {
        contacts: page.items.map((c) => renderContact(ctx, req.org, c)),
        hasMore: page.hasMore,
        ...(page.paginationToken ? { paginationToken: page.paginationToken } : {}),
        totalCount: result.contacts.length,
        totalCountRelation: 'eq',
      },
    };
  },

  ContactTags(_s, req) {
    const all = [...req.org.tags.values()];
    const page = paginate(all, (t) => [t.id], { kind: 'tags', token: req.query.paginationToken, pageSize: pageSize(req) });
    return {
      status: 200,
      body: {
        tags: page.items.map((t) => ({ object: 'tag', id: t.id, value: t.value })),
        hasMore: page.hasMore,
        ...(page.paginationToken ? { paginationToken: page.paginationToken } : {}),
        totalCount: all.length,
      },
    };
  },

  CreateContactTag({ ctx }: ApiServices, req) {
    const tag = ensureTag(ctx, req.org, (req.body as { value: string }).value);
    return { status: 201, body: { object: 'tag', id: tag.id, value: tag.value } };
  },

  ContactFields(_s, req) {
    const all = [...req.org.fields.values()];
    const page = paginate(all, (f) => [f.id], { kind: 'fields', token: req.query.paginationToken, pageSize: pageSize(req) });
    return {
      status: 200,
      body: {
        fields: page.items.map((f) => ({ id: f.id, name: f.name })),
        hasMore: page.hasMore,
        ...(page.paginationToken ? { paginationToken: page.paginationToken } : {}),
        totalCount: all.length,
      },
    };
  },

  CreateContactField({ ctx }, req) {
    const field = ensureField(ctx, req.org, (req.body as { name: string }).name);
    return { status: 201, body: { id: field.id, name: field.name } };
  },
};
