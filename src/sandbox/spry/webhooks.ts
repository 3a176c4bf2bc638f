// Spry's webhook sender: one minimized event per change, fanned out to every active
// subscription of the organisation that asked for its type, signed per attempt with the
// subscription's key(s), retried 15 s, 1 min, 10 min, 1 h, 6 h after failures, then dropped.
import { createHmac, randomUUID } from 'node:crypto';
import type { Clock } from '../../clock.ts';
import { SPRY_API_VERSION, type SpryEventType, type SpryWebhookEnvelope } from '../../spry/types.ts';
import type { FaultInjector } from '../faults.ts';
import { WebhookDispatcher } from '../webhook-dispatcher.ts';
import type { EventData } from './records.ts';
import { signingKeys, type StoredSubscription } from './subscriptions.ts';

export const DELIVERY_TIMEOUT_MS = 10_000;
export const RETRY_DELAYS_MS = [15_000, 60_000, 600_000, 3_600_000, 21_600_000];
export const USER_AGENT = 'SpryWebhookService/2.0';

/** `t=<epoch s>,v1=<hex>[,v1=<hex>]`: one v1 entry per signing key. */
export function signatureHeader(keys: string[], timestampSeconds: number, body: string): string {
  const signatures = keys.map((key) => `v1=${createHmac('sha256', key).update(`${timestampSeconds}.${body}`).digest('hex')}`);
  return [`t=${timestampSeconds}`, ...signatures].join(',');
}

export interface EmittedEvent {
  envelope: SpryWebhookEnvelope;
  /** Subscriptions it was dispatched to. */
  subscriptionIds: string[];
}

export class SpryWebhooks {
  readonly dispatcher: WebhookDispatcher;
  /** Every event emitted (including tests), oldest first. Ids and statuses only: no PHI. */
  readonly emitted: EmittedEvent[] = [];
  /** The subscription behind each delivery target; kept after deletion so retries still sign. */
  private readonly targets = new Map<string, StoredSubscription>();
  private readonly eventTypes = new Map<string, string>();

  constructor(
    private readonly clock: Clock,
    faults: FaultInjector,
    private readonly subscriptionsOf: (organisationId: number) => Iterable<StoredSubscription>,
  ) {
    this.dispatcher = new WebhookDispatcher({
      clock,
      timeoutMs: DELIVERY_TIMEOUT_MS,
      retryDelaysMs: RETRY_DELAYS_MS,
      faults,
      headers: (event, target, _attempt, now) => this.headers(event.id, event.body, target.id, now),
    });
  }

  /** Emits an event for a change; delivery starts at once. */
  publish(organisationId: number, type: SpryEventType, data: EventData): SpryWebhookEnvelope {
    const envelope = this.envelope(type, data);
    const targets = [...this.subscriptionsOf(organisationId)].filter(
      ({ subscription }) => subscription.is_active && subscription.event_types.includes(type),
    );
    this.send(envelope, targets);
    return envelope;
  }

  /** `POST /api/v2/subscriptions/:id/test`: a sample event marked `test: true`, to that subscription only. */
  sendTest(stored: StoredSubscription, type: SpryEventType): SpryWebhookEnvelope {
    const organisation_id = stored.organisationId;
    const data: EventData = type.startsWith('patient.')
      ? { organisation_id, patient_id: 0, status: 'ACTIVE' }
      : type.startsWith('appointment.')
        ? { organisation_id, appointment_id: 0, patient_id: 0, spry_case_id: null, clinic_id: 0, status: 'CONFIRMED' }
        : { organisation_id, spry_case_id: `SPRY_CASE_${'0'.repeat(20)}`, patient_id: 0, treatment_status: 'ACTIVE' };
    const envelope = { ...this.envelope(type, data), test: true };
    this.send(envelope, [stored]);
    return envelope;
  }

  reset(): void {
    this.dispatcher.reset();
    this.emitted.length = 0;
    this.targets.clear();
    this.eventTypes.clear();
  }

  private envelope(type: SpryEventType, data: EventData): SpryWebhookEnvelope {
    return {
      event_id: `evt_${randomUUID()}`,
      event_type: type,
      api_version: SPRY_API_VERSION,
      timestamp: Math.floor(this.clock.now() / 1000),
      data,
    };
  }

  private send(envelope: SpryWebhookEnvelope, targets: StoredSubscription[]): void {
    this.emitted.push({ envelope, subscriptionIds: targets.map((t) => t.subscription.id) });
    this.eventTypes.set(envelope.event_id, envelope.event_type);
    for (const stored of targets) {
      this.targets.set(stored.subscription.id, stored);
      const body = JSON.stringify({ ...envelope, api_version: stored.subscription.api_version });
      this.dispatcher.dispatch({ id: stored.subscription.id, url: stored.subscription.notification_url }, { id: envelope.event_id, body });
    }
  }

  private headers(eventId: string, body: string, subscriptionId: string, now: number): Record<string, string> {
    const stored = this.targets.get(subscriptionId);
    const timestamp = Math.floor(now / 1000);
    // Spelled as the doc spells them (HTTP itself ignores the case).
    return {
      'Content-Type': 'application/json',
      'X-Sprypt-Signature': signatureHeader(stored ? signingKeys(stored, now) : [], timestamp, body),
      'X-Event-Type': this.eventTypes.get(eventId) ?? 'unknown',
      'X-Event-Id': eventId,
      // A new id per attempt: it identifies the attempt, not the event (not a dedupe key).
      'X-Delivery-Id': randomUUID(),
      'X-Sprypt-Api-Version': stored?.subscription.api_version ?? SPRY_API_VERSION,
      'User-Agent': USER_AGENT,
    };
  }
}
