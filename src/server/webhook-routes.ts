// Webhook ingress: verify on the raw bytes, store durably, then acknowledge. Nothing is
// acknowledged before it is in the inbox, and no sync work happens on this path.
import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import type { Clock } from '../clock.ts';
import type { TenantConfig } from '../config/schema.ts';
import { errorCode, statusOf } from '../errors.ts';
import { parseSpruceEnvelope, spruceInboundEvent } from '../ingest/spruce-envelope.ts';
import { parseSpryEnvelope, spryInboundEvent } from '../ingest/spry-envelope.ts';
import type { Logger } from '../observe/logger.ts';
import type { IngestLoad } from './ingest-load.ts';
import { verifySpruceWebhook } from '../spruce/webhook-signature.ts';
import { verifySpryWebhook } from '../spry/webhook-signature.ts';
import type { Inbox } from '../store/ports.ts';
import type { NewInboundEvent } from '../store/types.ts';

export interface WebhookRoutesOptions {
  tenants: ReadonlyMap<string, TenantConfig>;
  store: Pick<Inbox, 'insertEvent'>;
  clock: Clock;
  logger: Logger;
  bodyLimitBytes: number;
  /** Spry jobs wait this long after their first event so that a burst collapses into one run. */
  coalesceMs: number;
  /** Attempts a job gets before it becomes a dead letter. */
  maxAttempts: number;
  /** Called after an event is stored with a job, to wake the workers. */
  onQueued: (tenantId: string) => void;
  /** Called for every answered delivery (metrics). */
  onOutcome?: (source: 'spry' | 'spruce', outcome: IngestOutcome) => void;
  /** Called right after a new event is stored, before the answer (fan-out); must return at once. */
  onStored?: (event: NewInboundEvent, id: number) => void;
  /** Counts the deliveries in hand, so the workers can step back during a burst. */
  load?: IngestLoad;
}

export type IngestOutcome =
  | 'stored'
  | 'duplicate'
  | 'test'
  | 'ignored'
  | 'unknown_tenant'
  | 'bad_signature'
  | 'bad_payload'
  | 'wrong_organisation'
  | 'store_failed';

/** The outcomes that refuse the delivery, each answered with its catalog status (src/errors.ts). */
type Refusal = Exclude<IngestOutcome, 'stored' | 'duplicate' | 'test' | 'ignored'>;

const params = {
  type: 'object',
  properties: { tenantId: { type: 'string', pattern: '^[a-z0-9-]+$', maxLength: 100 } },
  required: ['tenantId'],
} as const;

const errorBody = {
  type: 'object',
  properties: { error: { type: 'string' }, message: { type: 'string' } },
  required: ['error', 'message'],
} as const;

const response = {
  200: {
    type: 'object',
    properties: { received: { type: 'boolean' }, duplicate: { type: 'boolean' }, status: { type: 'string' } },
    required: ['received', 'duplicate', 'status'],
  },
  '4xx': errorBody,
  '5xx': errorBody,
} as const;

export const webhookRoutes: FastifyPluginAsync<WebhookRoutesOptions> = async (app, options) => {
  const { tenants, store, clock, logger } = options;
  // Signatures are over the exact bytes: keep the body raw in this plugin only.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: options.bodyLimitBytes }, (_request, body, done) => {
    done(null, body);
  });

  if (options.load) {
    const load = options.load;
    const inHand = new WeakSet<object>();
    const leave = (request: object) => {
      if (inHand.delete(request)) load.leave();
    };
    // Connections still waiting to be accepted are a burst too (ingest-load.ts).
    app.server.on('connection', () => load.connected());
    // Callback hooks, not async ones: every delivery passes them, and a promise each is waste.
    app.addHook('onRequest', (request, _reply, done) => {
      inHand.add(request);
      load.enter();
      done();
    });
    app.addHook('onResponse', (request, _reply, done) => {
      leave(request);
      done();
    });
    // A sender that hangs up before the answer may get no onResponse; it is counted out once.
    app.addHook('onRequestAbort', (request, done) => {
      leave(request);
      done();
    });
  }

  const refuse = (reply: FastifyReply, source: 'spry' | 'spruce', outcome: Refusal, message: string) => {
    options.onOutcome?.(source, outcome);
    return reply.code(statusOf(outcome)).send({ error: outcome, message });
  };

  const store_ = async (reply: FastifyReply, source: 'spry' | 'spruce', received: NewInboundEvent) => {
    const event = received.job ? { ...received, job: { ...received.job, maxAttempts: options.maxAttempts } } : received;
    let result: { id: number; inserted: boolean };
    try {
      result = await store.insertEvent(event);
    } catch (error) {
      // No 2xx without a durable row: the sender will retry.
      logger.error({ tenantId: event.tenantId, source, code: errorCode(error, 'STORE_UNAVAILABLE') }, 'inbox write failed');
      return refuse(reply, source, 'store_failed', 'the event could not be stored; retry later');
    }
    if (result.inserted && event.job) options.onQueued(event.tenantId);
    if (result.inserted) options.onStored?.(event, result.id);
    const outcome: IngestOutcome = !result.inserted ? 'duplicate' : event.status === 'queued' ? 'stored' : (event.status as IngestOutcome);
    options.onOutcome?.(source, outcome);
    logger.debug({ tenantId: event.tenantId, source, eventId: result.id, type: event.type, outcome }, 'webhook received');
    return reply.code(200).send({ received: true, duplicate: !result.inserted, status: event.status });
  };

  app.post<{ Params: { tenantId: string }; Body: Buffer | undefined }>(
    '/webhooks/spry/:tenantId',
    { schema: { params, response } },
    async (request, reply) => {
      const tenant = tenants.get(request.params.tenantId);
      if (!tenant) return refuse(reply, 'spry', 'unknown_tenant', 'no such tenant');
      const rawBody = request.body ?? Buffer.alloc(0);
      const verdict = verifySpryWebhook({
        rawBody,
        header: request.headers['x-sprypt-signature'] as string | undefined,
        secrets: tenant.spry.webhookSecrets,
        now: clock.now(),
      });
      if (!verdict.ok) return refuse(reply, 'spry', 'bad_signature', `signature ${verdict.reason}`);
      const parsed = parseSpryEnvelope(parseJson(rawBody));
      if (!parsed.ok) return refuse(reply, 'spry', 'bad_payload', parsed.problem);
      if (parsed.envelope.data.organisation_id !== tenant.spry.organisationId) {
        return refuse(reply, 'spry', 'wrong_organisation', 'the event belongs to another Spry organisation');
      }
      return store_(reply, 'spry', spryInboundEvent(tenant.id, parsed.envelope, rawBody, clock.now(), options.coalesceMs));
    },
  );

  app.post<{ Params: { tenantId: string }; Body: Buffer | undefined }>(
    '/webhooks/spruce/:tenantId',
    { schema: { params, response } },
    async (request, reply) => {
      const tenant = tenants.get(request.params.tenantId);
      if (!tenant) return refuse(reply, 'spruce', 'unknown_tenant', 'no such tenant');
      const rawBody = request.body ?? Buffer.alloc(0);
      const verdict = verifySpruceWebhook({
        rawBody,
        header: request.headers['x-spruce-signature'] as string | undefined,
        secrets: tenant.spruce.webhookSecrets,
      });
      if (!verdict.ok) return refuse(reply, 'spruce', 'bad_signature', `signature ${verdict.reason}`);
      const parsed = parseSpruceEnvelope(parseJson(rawBody));
      if (!parsed.ok) return refuse(reply, 'spruce', 'bad_payload', parsed.problem);
      return store_(reply, 'spruce', spruceInboundEvent(tenant.id, parsed.envelope, rawBody, clock.now()));
    },
  );
};

function parseJson(raw: Buffer): unknown {
  try {
    return JSON.parse(raw.toString('utf8'));
  } catch {
    return undefined;
  }
}
