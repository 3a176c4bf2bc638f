// Injectable faults shared by both simulators: what the real networks and APIs do to us on a
// bad day, reproducible from a seed.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Clock } from '../clock.ts';

export interface RouteFault {
  /** `METHOD /path` with `*` for one path segment and a trailing `**` for the rest; omitted = every route. */
  match?: string;
  /** Added to every matching request. */
  latencyMs?: number;
  /** Fraction (0–1) of matching requests answered with `errorStatus`. */
  errorRate?: number;
  errorStatus?: number;
  /** Fraction (0–1) of matching requests never answered: the connection is held, then dropped. */
  timeoutRate?: number;
  /** How long a "timed out" request is held before the socket is destroyed. Default 30 s. */
  hangMs?: number;
  /** The next N matching requests are answered 429 with `Retry-After`. */
  rateLimitBurst?: number;
  retryAfterSeconds?: number;
  /**
   * Fraction (0–1) of matching WRITE requests (POST, PATCH, PUT, DELETE) that are carried out
   * and committed, after which the answer is lost (`ambiguousMode`). Only writes that did
   * commit (the simulator's own success answer) are touched; a refused write keeps its answer.
   */
  ambiguousRate?: number;
  /**
   * `reset` (default): the connection is reset instead of the answer. `hang`: no answer for
   * `hangMs`, then the connection is dropped (the client times out first). `error`: answered
   * `ambiguousStatus` as if it had failed.
   */
  ambiguousMode?: AmbiguousMode;
  /** Status of an ambiguous `error`, 500–599. Default 502 (a gateway that lost the answer). */
  ambiguousStatus?: number;
}

export type AmbiguousMode = 'reset' | 'hang' | 'error';

const WRITE_METHODS = new Set(['POST', 'PATCH', 'PUT', 'DELETE']);

export interface DeliveryFaults {
  /** Fraction (0–1) of webhook deliveries sent twice. */
  duplicateRate?: number;
  /** Fraction (0–1) of webhook events never delivered (they stay in any delivery log). */
  dropRate?: number;
  /** Each delivery is held a random time up to this, so later events can overtake it. */
  reorderWindowMs?: number;
}

export interface DeliveryDecision {
  drop: boolean;
  duplicate: boolean;
  delayMs: number;
}

export type FaultErrorBody = (status: number, kind: 'error' | 'rate_limited') => unknown;

export interface FaultInstallOptions {
  clock: Clock;
  errorBody: FaultErrorBody;
  exceptPrefix: string;
  /**
   * Whether an answer means the write was carried out (default: a 2xx status). Spry answers
   * some refusals with HTTP 200 and an error envelope, so it passes its own test.
   */
  committed?: (statusCode: number, payload: unknown) => boolean;
}

type AmbiguousFate = { mode: AmbiguousMode; hangMs: number; status: number };

/** A small seeded PRNG (mulberry32): the same seed gives the same faults. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function routeMatches(pattern: string | undefined, method: string, path: string): boolean {
  if (!pattern || pattern === '*') return true;
  const [patternMethod, patternPath = '/**'] = pattern.includes(' ') ? pattern.split(' ', 2) : ['*', pattern];
  if (patternMethod !== '*' && patternMethod!.toUpperCase() !== method.toUpperCase()) return false;
  const want = patternPath.split('/').filter(Boolean);
  const got = path.split('?')[0]!.split('/').filter(Boolean);
  for (let i = 0; i < want.length; i++) {
    if (want[i] === '**') return true;
    if (i >= got.length) return false;
    if (want[i] !== '*' && want[i] !== got[i]) return false;
  }
  return want.length === got.length;
}

export class FaultInjector {
  private random: () => number;
  private routeFaults: RouteFault[] = [];
  private burstLeft = new Map<RouteFault, number>();
  private deliveryFaults: DeliveryFaults = {};

  constructor(seed = 1) {
    this.random = seededRandom(seed);
  }

  setRouteFaults(faults: RouteFault[]): void {
    this.routeFaults = faults;
    this.burstLeft = new Map(faults.filter((f) => f.rateLimitBurst).map((f) => [f, f.rateLimitBurst!]));
  }

  setDeliveryFaults(faults: DeliveryFaults): void {
    this.deliveryFaults = faults;
  }

  clear(): void {
    this.setRouteFaults([]);
    this.setDeliveryFaults({});
  }

  describe(): { routes: RouteFault[]; deliveries: DeliveryFaults } {
    return { routes: this.routeFaults, deliveries: this.deliveryFaults };
  }

  /** Decides the fate of one webhook delivery. */
  decideDelivery(): DeliveryDecision {
    const { duplicateRate = 0, dropRate = 0, reorderWindowMs = 0 } = this.deliveryFaults;
    return {
      drop: dropRate > 0 && this.random() < dropRate,
      duplicate: duplicateRate > 0 && this.random() < duplicateRate,
      delayMs: reorderWindowMs > 0 ? Math.floor(this.random() * reorderWindowMs) : 0,
    };
  }

  /**
   * Applies route faults to every request of `app` except those under `exceptPrefix` (the
   * control API must stay reachable while the API is "down"). Install it before the routes'
   * own plugins, so its hooks run first.
   */
  install(app: FastifyInstance, options: FaultInstallOptions): void {
    const ambiguous = new WeakMap<FastifyRequest, AmbiguousFate>();
    const committed = options.committed ?? ((status: number) => status >= 200 && status < 300);
    app.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
      if (request.url.startsWith(options.exceptPrefix)) return;
      for (const fault of this.routeFaults) {
        if (!routeMatches(fault.match, request.method, request.url)) continue;
        if (fault.latencyMs) await options.clock.sleep(fault.latencyMs);
        const burst = this.burstLeft.get(fault) ?? 0;
        if (burst > 0) {
          this.burstLeft.set(fault, burst - 1);
          const retryAfter = fault.retryAfterSeconds ?? 1;
          return reply.code(429).header('retry-after', String(retryAfter)).send(options.errorBody(429, 'rate_limited'));
        }
        if (fault.timeoutRate && this.random() < fault.timeoutRate) {
          await options.clock.sleep(fault.hangMs ?? 30_000);
          request.raw.socket.destroy();
          return reply.hijack();
        }
        if (fault.errorRate && this.random() < fault.errorRate) {
          const status = fault.errorStatus ?? 503;
          return reply.code(status).send(options.errorBody(status, 'error'));
        }
        if (fault.ambiguousRate && WRITE_METHODS.has(request.method.toUpperCase()) && !ambiguous.has(request) && this.random() < fault.ambiguousRate) {
          ambiguous.set(request, { mode: fault.ambiguousMode ?? 'reset', hangMs: fault.hangMs ?? 30_000, status: fault.ambiguousStatus ?? 502 });
        }
      }
    });

    // The write has been carried out by now; only its answer is lost.
    app.addHook('onSend', async (request: FastifyRequest, reply: FastifyReply, payload: unknown) => {
      const fate = ambiguous.get(request);
      if (!fate || !committed(reply.statusCode, payload)) return payload;
      if (fate.mode === 'error') {
        reply.code(fate.status).header('content-type', 'application/json; charset=utf-8');
        return JSON.stringify(options.errorBody(fate.status, 'error'));
      }
      if (fate.mode === 'hang') await options.clock.sleep(fate.hangMs);
      request.raw.socket.destroy();
      return payload;
    });
  }
}

export const faultsForTest = { routeMatches };
