// The body a subscriber receives, by payload version. A subscription is pinned to the newest
// version when it is created and moves only when upgraded on request (as Spry pins
// `api_version`), so a receiver written against one shape keeps getting it. A delivery keeps
// the version it was created with, so its retries carry the same bytes.
//
//   2026-01-01  { type, timestamp, data }
//   2026-07-01  { id, type, timestamp, tenantId, source, subject, data }   (adds routing ids)
//
// `timestamp` is when the event happened (ISO 8601); `data` is the source event's body as
// received, or, for sync events, their ids.
import type { Message } from './types.ts';

export const PAYLOAD_VERSIONS = ['2026-01-01', '2026-07-01'] as const;
export type PayloadVersion = (typeof PAYLOAD_VERSIONS)[number];
export const LATEST_PAYLOAD_VERSION: PayloadVersion = '2026-07-01';

export function isPayloadVersion(value: string): value is PayloadVersion {
  return (PAYLOAD_VERSIONS as readonly string[]).includes(value);
}

export function renderBody(version: string, message: Message): string {
  const timestamp = new Date(message.occurredAt).toISOString();
  if (version === '2026-01-01') return JSON.stringify({ type: message.type, timestamp, data: message.data });
  return JSON.stringify({
    id: message.id,
    type: message.type,
    timestamp,
    tenantId: message.tenantId,
    source: message.source,
    subject: message.subject,
    data: message.data,
  });
}
