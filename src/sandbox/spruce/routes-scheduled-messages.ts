// Scheduled messages through the API: schedule in a conversation, list (per conversation or
// the organization's), delete. Only messages not yet sent are listed [ours].
import type { components } from '../../spruce/openapi-types.ts';
import { composeMessage } from './conversations.ts';
import { badParameter, notFound } from './errors.ts';
import { DEFAULT_PAGE_SIZE, type ApiRequest, type Handler } from './handler.ts';
import { paginate } from './pagination.ts';
import { deleteScheduledMessage, pendingScheduledMessages, renderScheduledMessage, scheduleMessage } from './scheduled-messages.ts';
import type { StoredConversation } from './state.ts';

type ScheduleBody = { message: components['schemas']['scheduledMessage_messagePost']; sendAt: string };

function conversationOf(req: ApiRequest): StoredConversation {
  const conversation = req.org.conversations.get(req.params.conversationId!);
  if (!conversation) throw notFound('conversation');
  return conversation;
}

export const scheduledMessageHandlers: Record<string, Handler> = {
  // 201 {scheduledMessage} [spec].
  ScheduleConversationMessage({ ctx }, req) {
    const conversation = conversationOf(req);
    const body = req.body as ScheduleBody;
    const message = composeMessage(req.org, conversation, body.message);
    const sendAt = Date.parse(body.sendAt);
    if (Number.isNaN(sendAt)) throw badParameter('sendAt must be an RFC 3339 date-time');
    const scheduled = scheduleMessage(ctx, req.org, conversation, message, sendAt, req.accessId);
    return { status: 201, body: { scheduledMessage: renderScheduledMessage(scheduled) } };
  },

  ListConversationScheduledMessages(_s, req) {
    const conversation = conversationOf(req);
    return { status: 200, body: { scheduledMessages: pendingScheduledMessages(req.org, conversation.id).map(renderScheduledMessage) } };
  },

  ListScheduledMessages(_s, req) {
    const all = pendingScheduledMessages(req.org);
    const page = paginate(all, (m) => [m.id], { kind: 'scheduledMessages', token: req.query.paginationToken as string | undefined, pageSize: DEFAULT_PAGE_SIZE.small });
    return {
      status: 200,
      body: {
        scheduledMessages: page.items.map(renderScheduledMessage),
        hasMore: page.hasMore,
        ...(page.paginationToken ? { paginationToken: page.paginationToken } : {}),
        totalCount: all.length,
      },
    };
  },

  DeleteScheduledMessage({ ctx }, req) {
    const message = req.org.scheduledMessages.get(req.params.scheduledMessageId!);
    if (!message || message.sentConversationItemId !== undefined) throw notFound('scheduled message');
    deleteScheduledMessage(ctx, req.org, message);
    return { status: 200 };
  },
};
