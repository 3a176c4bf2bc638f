// Conversations, their items, posting a message, conversation tags.
import type { components } from '../../spruce/openapi-types.ts';
import { ensureTagIn } from './contacts.ts';
import { deleteItem, liveItem, postMessage, renderConversation, renderItem, updateConversation } from './conversations.ts';
import { badParameter, notFound } from './errors.ts';
import { DEFAULT_PAGE_SIZE, type ApiRequest, type Handler } from './handler.ts';
import { paginate, queryHash } from './pagination.ts';
import type { StoredConversation } from './state.ts';

/** ConversationItems and PostConversationMessage declare no 404: there it is a 400. */
function conversationOf(req: ApiRequest, status: 400 | 404 = 404): StoredConversation {
  const conversation = req.org.conversations.get(req.params.conversationId!);
  if (conversation) return conversation;
  if (status === 400) throw badParameter(`unknown conversation ${req.params.conversationId}`);
  throw notFound('conversation');
}

export const conversationHandlers: Record<string, Handler> = {
  ListConversations({ ctx }, req) {
    const { orderBy, startFrom, paginationToken } = req.query as { orderBy: 'created' | 'last_message'; startFrom?: string; paginationToken?: string };
    if (startFrom && paginationToken) throw badParameter('only one of startFrom or paginationToken can be provided');
    const time = (c: StoredConversation) => (orderBy === 'last_message' ? (c.lastMessageAt ?? c.createdAt) : c.createdAt);
    const from = startFrom ? Date.parse(startFrom) : -Infinity;
    const key = (c: StoredConversation) => [time(c), c.id];
    const all = [...req.org.conversations.values()].filter((c) => time(c) >= from);
    all.sort((a, b) => time(a) - time(b) || (a.id < b.id ? -1 : 1));
    const page = paginate(all, key, {
      kind: 'conversations',
      token: paginationToken,
      pageSize: (req.query.pageSize as number | undefined) ?? DEFAULT_PAGE_SIZE.small,
      query: queryHash(orderBy),
    });
    return {
      status: 200,
      body: {
        conversations: page.items.map((c) => renderConversation(ctx, req.org, c)),
        hasMore: page.hasMore,
        ...(page.paginationToken ? { paginationToken: page.paginationToken } : {}),
        totalCount: all.length,
      },
    };
  },

  Conversation({ ctx }, req) {
    return { status: 200, body: { conversation: renderConversation(ctx, req.org, conversationOf(req)) } };
  },

  // PATCH answers the bare conversation [spec], unlike GET's `{conversation}`.
  UpdateConversation({ ctx }, req) {
    const conversation = conversationOf(req);
    updateConversation(ctx, req.org, conversation, req.body as components['schemas']['updateConversation']);
    return { status: 200, body: renderConversation(ctx, req.org, conversation) };
  },

  ConversationItems({ ctx }, req) {
    const conversation = conversationOf(req, 400);
    const { order = 'newest_first', startFrom, paginationToken } = req.query as { order?: string; startFrom?: string; paginationToken?: string };
    const from = startFrom ? Date.parse(startFrom) : -Infinity;
    const all = (req.org.itemsByConversation.get(conversation.id) ?? [])
      .map((id) => req.org.items.get(id)!)
      .filter((item) => item.deletedAt === undefined && item.createdAt >= from);
    const descending = order === 'newest_first';
    if (descending) all.reverse();
    const page = paginate(all, (item) => [item.id], {
      kind: `items:${conversation.id}`,
      token: paginationToken,
      pageSize: (req.query.pageSize as number | undefined) ?? DEFAULT_PAGE_SIZE.small,
      query: queryHash([order, startFrom ?? null]),
      descending,
    });
    return {
      status: 200,
      body: {
        conversationItems: page.items.map((item) => renderItem(ctx, req.org, item)),
        hasMore: page.hasMore,
        ...(page.paginationToken ? { paginationToken: page.paginationToken } : {}),
        totalCount: all.length,
      },
    };
  },

  ConversationItem({ ctx }, req) {
    const item = liveItem(req.org, req.params.conversationItemId!);
    if (!item) throw notFound('conversation item');
    return { status: 200, body: { conversationItem: renderItem(ctx, req.org, item) } };
  },

  // 200 {requestId} [spec]; `canDelete: false` (calls) → 400 NOT_DELETABLE [ours].
  DeleteConversationItem({ ctx }, req) {
    const item = liveItem(req.org, req.params.conversationItemId!);
    if (!item) throw notFound('conversation item');
    deleteItem(ctx, req.org, item);
    return { status: 200, body: { requestId: ctx.ids.short('asyncRequest') } };
  },

  PostConversationMessage({ ctx }, req) {
    const conversation = conversationOf(req, 400);
    const { requestId } = postMessage(ctx, req.org, conversation, req.body as components['schemas']['conversation_messagePost'], req.accessId);
    return { status: 200, body: { requestId } };
  },

  ConversationTags(_s, req) {
    const all = [...req.org.conversationTags.values()];
    const page = paginate(all, (t) => [t.id], {
      kind: 'conversationTags',
      token: req.query.paginationToken,
      pageSize: (req.query.pageSize as number | undefined) ?? DEFAULT_PAGE_SIZE.large,
    });
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

  CreateConversationTag({ ctx }, req) {
    const tag = ensureTagIn(ctx, req.org.conversationTags, (req.body as { value: string }).value);
    return { status: 201, body: { object: 'tag', id: tag.id, value: tag.value } };
  },
};
