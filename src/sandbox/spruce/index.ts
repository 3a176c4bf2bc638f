// The Spruce simulator: a faithful stand-in for the documented Spruce Public API (a subset),
// its webhooks and the people using the app, on an injectable clock. See
// docs/sandbox-spruce.md for what is simulated and every contract we had to choose.
import Fastify, { type FastifyInstance } from 'fastify';
import { ControlledClock, type Clock } from '../../clock.ts';
import type { SpruceContact, SpruceConversation, SpruceConversationItem, SpruceWebhookEndpoint } from '../../spruce/types.ts';
import { FaultInjector } from '../faults.ts';
import type { WebhookDispatcher } from '../webhook-dispatcher.ts';
import { API_PREFIX, installApi, type RequestLogEntry, type Violation } from './api.ts';
import { bearerToken } from './auth.ts';
import { renderContact } from './contacts.ts';
import type { SimContext } from './context.ts';
import { CONTROL_PREFIX, installControlApi } from './control-api.ts';
import { renderConversation, renderItem } from './conversations.ts';
import { errorBody } from './errors.ts';
import { SpruceEvents, type LoggedEvent, type SpruceEventOptions } from './events.ts';
import { fakeOrganizationPeople, seedContacts } from './fake-data.ts';
import { IdempotencyStore } from './idempotency.ts';
import { IdFactory } from './ids.ts';
import { spruceOpenApi, type OpenApiValidator } from './openapi.ts';
import { RateLimiter } from './rate-limit.ts';
import { pendingScheduledMessages, renderScheduledMessage } from './scheduled-messages.ts';
import { SpruceStaff } from './staff.ts';
import { OrgState, SpruceState, type OrganizationConfig } from './state.ts';
import { renderEndpoint } from './webhook-endpoints.ts';

export type { RequestLogEntry, Violation } from './api.ts';
export type { LoggedEvent, SpruceEventOptions } from './events.ts';
export type { OrganizationConfig } from './state.ts';
export type { SpruceStaff } from './staff.ts';
export { signSpruceBody, DELIVERY_RULES } from './events.ts';
export { bearerToken } from './auth.ts';

export interface SpruceSimulatorOptions {
  /** Default: a new ControlledClock (flows in real time, can be advanced). */
  clock?: Clock;
  /** Seeds fake data, ids, secrets and faults. Default 1. */
  seed?: number;
  /** Default: one organization with deterministic credentials (DEFAULT_ORGANIZATION). */
  organizations?: OrganizationConfig[];
  /** Also check every response body against the spec, into `responseViolations`. Default false. */
  validateResponses?: boolean;
  /** Kinder-than-documented webhook payloads (event ids, distinct event times). Default: none. */
  events?: SpruceEventOptions;
}

export interface SpruceCredentials {
  organizationId: string;
  name: string;
  accessId: string;
  secretKey: string;
  /** base64(accessId:secretKey) */
  token: string;
  /** The whole header value: `Bearer <token>`. */
  authorization: string;
}

export interface SpruceSimulator {
  app: FastifyInstance;
  /** Starts listening (default 127.0.0.1 and any free port); resolves to the base URL incl. `/v1`. */
  listen(options?: { port?: number; host?: string }): Promise<string>;
  /** The base URL incl. `/v1` once listening (empty before). */
  readonly url: string;
  close(): Promise<void>;
  clock: Clock;
  faults: FaultInjector;
  /** The webhook dispatcher (replaced by reset(); read it through this property). */
  readonly dispatcher: WebhookDispatcher;
  /**
   * Waits until every webhook delivery due now has been attempted and answered (or until
   * `maxRealMs` of real time passed, so a receiver that never answers cannot hang a test).
   */
  settle(maxRealMs?: number): Promise<void>;
  /**
   * ControlledClock only: moves the clock forward by `ms`, stopping at each due retry, held
   * delivery or receiver timeout on the way and settling there, so retries are scheduled from
   * the right instant and a jump never times out a delivery that was merely in flight.
   */
  advance(ms: number): Promise<void>;
  /** Every `/v1` request answered, in order. */
  requestLog: RequestLogEntry[];
  /** Requests that broke the OpenAPI (each also answered 400). */
  violations: Violation[];
  /** Responses that broke the OpenAPI (only with `validateResponses`). */
  responseViolations: Violation[];
  staff: SpruceStaff;
  state: SpruceState;
  /** Every webhook event emitted, in order. */
  events: LoggedEvent[];
  openapi: OpenApiValidator;
  credentials(): SpruceCredentials[];
  /** The first organization's id. */
  readonly organizationId: string;
  contacts(organizationId?: string): SpruceContact[];
  conversations(organizationId?: string): SpruceConversation[];
  conversationItems(conversationId: string): SpruceConversationItem[];
  webhookEndpoints(organizationId?: string): SpruceWebhookEndpoint[];
  /** Everything of one organization (default: the first), as the API would render it. */
  snapshot(organizationId?: string): Record<string, unknown>;
  /** Back to the initial state: data re-seeded, logs, faults, keys, windows and deliveries cleared. */
  reset(): Promise<void>;
}

export const DEFAULT_ORGANIZATION: Required<Omit<OrganizationConfig, 'contacts'>> = {
  id: 'entity_0SANDB0X0RG00',
  accessId: 'aid_0SANDB0X00000001',
  secretKey: 'sk_sandbox_0000000000000000000001',
  name: 'Sandbox Physical Therapy',
  rateLimitPerMinute: 100,
  rateLimitPerDay: 0,
};

export async function createSpruceSimulator(options: SpruceSimulatorOptions = {}): Promise<SpruceSimulator> {
  const clock = options.clock ?? new ControlledClock();
  const seed = options.seed ?? 1;
  const configs: OrganizationConfig[] = options.organizations?.length ? options.organizations : [DEFAULT_ORGANIZATION];
  const openapi = spruceOpenApi();
  const ids = new IdFactory(clock, seed);
  const faults = new FaultInjector(seed);
  const events = new SpruceEvents(clock, ids, faults, options.events);
  const state = new SpruceState();
  let baseUrl = '';
  const ctx: SimContext = { clock, ids, state, events, apiBase: () => baseUrl || 'https://api.sprucehealth.com/v1' };
  const requestLog: RequestLogEntry[] = [];
  const violations: Violation[] = [];
  const responseViolations: Violation[] = [];
  const rateLimiter = new RateLimiter();
  const idempotency = new IdempotencyStore();

  const seedState = () => {
    events.enabled = false; // pre-existing data emits nothing
    try {
      configs.forEach((config, index) => {
        const people = fakeOrganizationPeople(seed + index, ids);
        const org = new OrgState(
          {
            id: config.id,
            accessId: config.accessId,
            secretKey: config.secretKey,
            name: config.name ?? `Organization ${index + 1}`,
            rateLimitPerMinute: config.rateLimitPerMinute ?? 100,
            rateLimitPerDay: config.rateLimitPerDay ?? 0,
          },
          people.teammates,
          people.phoneLine,
          people.spruceLink,
        );
        state.orgs.set(org.id, org);
        seedContacts(ctx, org, config.contacts ?? 0, seed + index);
      });
    } finally {
      events.enabled = true;
    }
  };
  seedState();

  const app = Fastify({ logger: false });
  // An empty JSON body is "no body" (validation then decides whether one was required);
  // anything else goes to Fastify's own parser, which refuses __proto__ poisoning and answers
  // malformed JSON with a 400 (turned into Spruce's error shape by the API's error handler).
  const jsonParser = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, raw, done) => {
    if (String(raw).trim() === '') return done(null, undefined);
    return jsonParser(request, String(raw), done);
  });

  const org = (organizationId?: string) => {
    const found = state.org(organizationId ?? configs[0]!.id);
    if (!found) throw new Error(`unknown organization ${organizationId}`);
    return found;
  };

  const staff = new SpruceStaff(ctx, openapi, () => configs[0]!.id);

  const sim: SpruceSimulator = {
    app,
    clock,
    faults,
    get dispatcher() {
      return events.dispatcher;
    },
    get url() {
      return baseUrl;
    },
    requestLog,
    violations,
    responseViolations,
    staff,
    state,
    events: events.emitted,
    openapi,
    organizationId: configs[0]!.id,
    async listen(listenOptions = {}) {
      const address = await app.listen({ port: listenOptions.port ?? 0, host: listenOptions.host ?? '127.0.0.1' });
      baseUrl = `${address}${API_PREFIX}`;
      return baseUrl;
    },
    async close() {
      events.stop();
      await app.close();
    },
    async settle(maxRealMs = 10_000) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const deadline = new Promise<'late'>((resolve) => {
        timer = setTimeout(() => resolve('late'), maxRealMs);
        timer.unref?.();
      });
      try {
        // Deliveries due now start at once; on a ControlledClock, advance(0) also fires anything
        // (a held or delayed delivery) whose time has come. Repeat while that starts new work.
        for (let i = 0; i < 20; i++) {
          const before = events.dispatcher.attempts.length;
          if (clock instanceof ControlledClock) await clock.advance(0);
          if ((await Promise.race([events.dispatcher.settle(), deadline])) === 'late') return;
          if (events.dispatcher.attempts.length === before) break;
        }
      } finally {
        clearTimeout(timer);
      }
    },
    async advance(ms) {
      if (!(clock instanceof ControlledClock)) throw new Error('advance() needs the simulator to run on a ControlledClock');
      const target = clock.now() + ms;
      await sim.settle();
      for (let steps = 0; steps < 100_000; steps++) {
        const next = events.dispatcher.nextDueAt();
        if (next === undefined || next > target) break;
        await clock.advanceTo(Math.max(next, clock.now()));
        await sim.settle();
      }
      await clock.advanceTo(target);
      await sim.settle();
    },
    credentials() {
      return [...state.orgs.values()].map((o) => {
        const token = bearerToken(o.config.accessId, o.config.secretKey);
        return {
          organizationId: o.id,
          name: o.config.name,
          accessId: o.config.accessId,
          secretKey: o.config.secretKey,
          token,
          authorization: `Bearer ${token}`,
        };
      });
    },
    contacts(organizationId) {
      const o = org(organizationId);
      return [...o.contacts.values()].map((c) => renderContact(ctx, o, c));
    },
    conversations(organizationId) {
      const o = org(organizationId);
      return [...o.conversations.values()].map((c) => renderConversation(ctx, o, c));
    },
    conversationItems(conversationId) {
      const found = state.findConversation(conversationId);
      if (!found) return [];
      const { org: o } = found;
      return (o.itemsByConversation.get(conversationId) ?? [])
        .map((id) => o.items.get(id)!)
        .filter((item) => item.deletedAt === undefined)
        .map((item) => renderItem(ctx, o, item));
    },
    webhookEndpoints(organizationId) {
      return [...org(organizationId).endpoints.values()].map((e) => renderEndpoint(e));
    },
    snapshot(organizationId) {
      const o = org(organizationId);
      return {
        organization: { id: o.id, name: o.config.name, phoneLine: o.phoneLine, spruceLink: o.spruceLink, teammates: o.teammates },
        contacts: sim.contacts(o.id),
        tags: [...o.tags.values()],
        fields: [...o.fields.values()],
        conversations: sim.conversations(o.id),
        conversationItems: [...o.items.values()].filter((item) => item.deletedAt === undefined).map((item) => renderItem(ctx, o, item)),
        scheduledMessages: pendingScheduledMessages(o).map(renderScheduledMessage),
        webhookEndpoints: sim.webhookEndpoints(o.id),
        counts: { contacts: o.contacts.size, conversations: o.conversations.size, items: o.items.size, events: events.emitted.length },
      };
    },
    async reset() {
      events.reset();
      state.orgs.clear();
      ids.reset();
      seedState();
      requestLog.length = 0;
      violations.length = 0;
      responseViolations.length = 0;
      faults.clear();
      rateLimiter.reset();
      idempotency.reset();
    },
  };

  installApi(app, {
    services: { ctx, events },
    openapi,
    rateLimiter,
    idempotency,
    requestLog,
    violations,
    responseViolations: options.validateResponses ? responseViolations : undefined,
    installFaults: (target) =>
      faults.install(target, {
        clock,
        exceptPrefix: CONTROL_PREFIX,
        errorBody: (status, kind) =>
          kind === 'rate_limited'
            ? errorBody(429, 'RATE_LIMITED', 'rate limit exceeded')
            : errorBody(status, status >= 500 ? 'INTERNAL' : 'BAD_PARAMETER', 'injected fault'),
      }),
  });
  installControlApi(app, sim);
  app.setNotFoundHandler(async (request, reply) =>
    reply.code(404).send(errorBody(404, 'NOT_FOUND', `no route ${request.method} ${request.url.split('?')[0]} (the API is under ${API_PREFIX}/)`)),
  );
  await app.ready();
  return sim;
}
