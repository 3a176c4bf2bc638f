// `GET /organization`: which organization the credential acts for (a cheap "test connection").
import type { Handler } from './handler.ts';

export const organizationHandlers: Record<string, Handler> = {
  Organization(_s, req) {
    return { status: 200, body: { organization: { object: 'organization', id: req.org.id, name: req.org.config.name, type: 'organization' } } };
  },
};
