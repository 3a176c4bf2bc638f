// Signed Spry webhook deliveries for load generation: the envelope and signature Spry sends
// (../shared/docs/spry-api.md), each with a unique event_id, about patients spread over the
// organisation's existing ids.
import { createHmac } from 'node:crypto';
import { SPRY_API_VERSION } from '../../src/spry/types.ts';

export interface SignedDelivery {
  eventId: string;
  body: string;
  signature: string;
}

export interface DeliveryFactoryOptions {
  secret: string;
  organisationId: number;
  /** Patient ids to spread events over (round robin with a stride, so neighbours differ). */
  patientIds: number[];
  /** Distinguishes the ids of one run from another's. */
  runTag: string;
}

/** Makes the n-th delivery; the same n always gives the same event id. */
export function deliveryFactory(options: DeliveryFactoryOptions): (n: number) => SignedDelivery {
  const { secret, organisationId, patientIds, runTag } = options;
  if (patientIds.length === 0) throw new Error('no patient ids to send events about');
  const stride = 7919 % patientIds.length || 1;
  return (n) => {
    const eventId = `evt_bench_${runTag}_${n}`;
    const timestamp = Math.floor(Date.now() / 1000);
    const body = JSON.stringify({
      event_id: eventId,
      event_type: 'patient.updated',
      api_version: SPRY_API_VERSION,
      timestamp,
      data: { organisation_id: organisationId, patient_id: patientIds[(n * stride) % patientIds.length]!, status: 'ACTIVE' },
    });
    const signature = `t=${timestamp},v1=${createHmac('sha256', Buffer.from(secret, 'utf8')).update(`${timestamp}.${body}`).digest('hex')}`;
    return { eventId, body, signature };
  };
}

/**
 * `count` deliveries made ahead of time, then more on demand: the load generator spends no
 * HMAC on the hot path until the pool runs out (its size is a guess at the run's request count).
 */
export class DeliveryPool {
  private readonly made: SignedDelivery[] = [];
  private next = 0;

  constructor(
    private readonly make: (n: number) => SignedDelivery,
    count: number,
  ) {
    for (let i = 0; i < count; i++) this.made.push(make(i));
  }

  take(): SignedDelivery {
    const n = this.next++;
    return this.made[n] ?? this.make(n);
  }

  get taken(): number {
    return this.next;
  }
}
