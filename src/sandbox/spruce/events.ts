// Webhook events: the envelope, the signature, the per-endpoint delivery log, and handing each
// event to the shared WebhookDispatcher with Spruce's documented delivery rules (answer within
// 5 s; retry every 2 min, at most 10 attempts; at most 1000 events/min per endpoint, delayed
// not dropped) — all on the injected clock.
import { createHmac } from 'node:crypto';
import type { Clock } from '../../clock.ts';
import type { SpruceWebhookEndpointEvent } from '../../spruce/types.ts';
import type { FaultInjector } from '../faults.ts';
import { WebhookDispatcher } from '../webhook-dispatcher.ts';
import { iso, type EventSink, type EventType } from './context.ts';
import { badParameter } from './errors.ts';
import type { IdFactory } from './ids.ts';
import { paginate, queryHash } from './pagination.ts';
import type { OrgState } from './state.ts';

export const DELIVERY_RULES = {
  timeoutMs: 5_000,
  retryEveryMs: 2 * 60_000,
  attemptLimit: 10,
  maxPerMinute: 1000,
  logRetentionMs: 30 * 24 * 60 * 60_000,
  logPageSize: 20,
} as const;

/** Kinder-than-documented event shapes, each off by default [ours]. */
export interface SpruceEventOptions {
  /** Add a top-level `id` (the delivery log's `wev_` id) to every payload. Spruce sends none. */
  eventIds?: boolean;
  /**
   * Give `eventTime` nanosecond digits, unique and ordered within the simulator. Spruce's own
   * examples give it to the second, so two changes in one second share it.
   */
  distinctEventTimes?: boolean;
}

export interface LoggedEvent {
  /** The delivery log's `wev_` id; in the payload only with the `eventIds` option. */
  id: string;
  orgId: string;
  type: EventType;
  eventTime: string;
  /** Clock ms when it was emitted. */
  at: number;
  /** The exact bytes sent and signed. */
  body: string;
}

interface LogEntry {
  event: LoggedEvent;
  /** The endpoint was paused when the event happened: logged, never delivered [ours]. */
  heldWhilePaused: boolean;
}

/** base64(HMAC-SHA256(key = signing secret as UTF-8, message = raw body)) [doc]. */
export function signSpruceBody(secret: string, body: string): string {
  return createHmac('sha256', Buffer.from(secret, 'utf8')).update(body).digest('base64');
}

export class SpruceEvents implements EventSink {
  /** Every event emitted, in order, whether or not any endpoint existed. */
  readonly emitted: LoggedEvent[] = [];
  private readonly logs = new Map<string, LogEntry[]>();
  private readonly secrets = new Map<string, string>();
  private lastMs = -1;
  private sameMs = 0;
  private current: WebhookDispatcher;
  /** While false (seeding pre-existing data), nothing is emitted. */
  enabled = true;

  constructor(
    private readonly clock: Clock,
    private readonly ids: IdFactory,
    private readonly faults: FaultInjector,
    private readonly options: SpruceEventOptions = {},
  ) {
    this.current = this.newDispatcher();
  }

  get dispatcher(): WebhookDispatcher {
    return this.current;
  }

  private newDispatcher(): WebhookDispatcher {
    return new WebhookDispatcher({
      clock: this.clock,
      timeoutMs: DELIVERY_RULES.timeoutMs,
      retryDelaysMs: Array.from({ length: DELIVERY_RULES.attemptLimit - 1 }, () => DELIVERY_RULES.retryEveryMs),
      maxPerMinute: DELIVERY_RULES.maxPerMinute,
      faults: this.faults,
      headers: (event, target) => ({
        'content-type': 'application/json',
        'user-agent': 'Spruce-Webhooks (spruce-sync sandbox)',
        'x-spruce-signature': signSpruceBody(this.secrets.get(target.id) ?? '', event.body),
      }),
    });
  }

  /** Forgets every event and delivery (sandbox reset). */
  reset(): void {
    this.current.stop();
    this.current = this.newDispatcher();
    this.emitted.length = 0;
    this.logs.clear();
    this.secrets.clear();
  }

  stop(): void {
    this.current.stop();
  }

  registerEndpoint(endpointId: string, secret: string): void {
    this.secrets.set(endpointId, secret);
  }

  /**
   * RFC 3339 to the second, as every Spruce example shows it [doc]. With `distinctEventTimes`
   * [ours]: nanosecond digits (as Go's RFC3339Nano, always 9) where the clock gives the
   * milliseconds and a counter the rest, so events in one millisecond get distinct, ordered times.
   */
  private eventTime(now: number): string {
    if (!this.options.distinctEventTimes) return iso(now);
    if (now === this.lastMs) this.sameMs = Math.min(this.sameMs + 1, 999_999);
    else {
      this.lastMs = now;
      this.sameMs = 0;
    }
    return `${new Date(now).toISOString().slice(0, 23)}${String(this.sameMs).padStart(6, '0')}Z`;
  }

  emit(org: OrgState, type: EventType, object: object, extraData: Record<string, unknown> = {}): void {
    if (!this.enabled) return;
    const at = this.clock.now();
    const id = this.ids.ulid('wev');
    const eventTime = this.eventTime(at);
    // The envelope [doc]: no event id. The `eventIds` option adds the log's id [ours]. The bytes
    // are fixed here, so every redelivery and the delivery log's `data` repeat them exactly.
    const envelope = this.options.eventIds
      ? { object: 'event', id, type, eventTime, data: { object, ...extraData } }
      : { object: 'event', type, eventTime, data: { object, ...extraData } };
    const body = JSON.stringify(envelope);
    const event: LoggedEvent = { id, orgId: org.id, type, eventTime, at, body };
    this.emitted.push(event);
    for (const endpoint of org.endpoints.values()) {
      let log = this.logs.get(endpoint.id);
      if (!log) this.logs.set(endpoint.id, (log = []));
      log.push({ event, heldWhilePaused: endpoint.paused });
      if (!endpoint.paused) this.current.dispatch({ id: endpoint.id, url: endpoint.url }, { id, body });
    }
  }

  private delivery(endpointId: string, entry: LogEntry): NonNullable<SpruceWebhookEndpointEvent['delivery']> {
    const attemptLimit = DELIVERY_RULES.attemptLimit;
    if (entry.heldWhilePaused) return { status: 'paused', attempts: 0, attemptLimit };
    const state = this.current.state(endpointId, entry.event.id);
    if (!state) return { status: 'failed', attempts: 0, attemptLimit };
    if (state.status === 'dropped') {
      // The drop fault models a delivery lost after Spruce was told it arrived: the log
      // claims success, and only the receiver can tell it never came [ours].
      return { status: 'delivered', attempts: 1, attemptLimit, deliveryTime: iso(entry.event.at) };
    }
    const out: NonNullable<SpruceWebhookEndpointEvent['delivery']> = { status: state.status, attempts: state.attempts, attemptLimit };
    if (state.status === 'delivered' && state.deliveredAt !== undefined) out.deliveryTime = iso(state.deliveredAt);
    if (state.status === 'pending' && state.nextAttemptAt !== undefined) out.nextAttemptTime = iso(state.nextAttemptAt);
    return out;
  }

  /**
   * `GET /webhooks/endpoints/{id}/events`: oldest first, 20 per page, the last 30 days;
   * `startTime` inclusive, `endTime` exclusive [ours].
   */
  listLog(
    endpointId: string,
    query: { startTime?: string; endTime?: string; paginationToken?: string },
  ): { events: SpruceWebhookEndpointEvent[]; hasMore: boolean; paginationToken?: string } {
    const now = this.clock.now();
    const start = query.startTime ? Date.parse(query.startTime) : -Infinity;
    const end = query.endTime ? Date.parse(query.endTime) : Infinity;
    if (start > end) throw badParameter('startTime must not be after endTime');
    const entries = (this.logs.get(endpointId) ?? []).filter((entry) => {
      const t = Date.parse(entry.event.eventTime);
      return entry.event.at >= now - DELIVERY_RULES.logRetentionMs && t >= start && t < end;
    });
    const page = paginate(entries, (entry) => [entry.event.id], {
      kind: `events:${endpointId}`,
      token: query.paginationToken,
      pageSize: DELIVERY_RULES.logPageSize,
      query: queryHash([query.startTime ?? null, query.endTime ?? null]),
    });
    const out: { events: SpruceWebhookEndpointEvent[]; hasMore: boolean; paginationToken?: string } = {
      events: page.items.map((entry) => ({
        object: 'event',
        id: entry.event.id,
        eventTime: entry.event.eventTime,
        data: entry.event.body,
        delivery: this.delivery(endpointId, entry),
      })),
      hasMore: page.hasMore,
    };
    if (page.paginationToken) out.paginationToken = page.paginationToken;
    return out;
  }
}
