// Config of the event fan-out: the service-wide `fanout` section and each tenant's `fanout`
// (which addresses its subscribers may have). Referenced from config/schema.ts.
import { z } from 'zod';
import { DEFAULT_RETRY_SCHEDULE, parseSchedule } from './retry-schedule.ts';
import { isCidr } from './url-guard.ts';

const durationList = z
  .array(z.union([z.string(), z.number()]))
  .transform((values, ctx) => {
    const parsed = parseSchedule(values);
    if (!parsed.ok) {
      ctx.addIssue({ code: 'custom', message: parsed.problem });
      return z.NEVER;
    }
    return parsed.schedule;
  });

export const fanoutSchema = z
  .strictObject({
    /** Run the delivery engine in this instance (events are taken in either way). */
    enabled: z.boolean().default(true),
    /** How often each endpoint's queue is looked at when nothing woke it. */
    pollIntervalMs: z.number().int().positive().default(1_000),
    /** Per attempt, connect to last byte. */
    timeoutMs: z.number().int().positive().max(120_000).default(10_000),
    /** A Retry-After longer than this is cut to it. */
    retryAfterCapMs: z.number().int().positive().default(300_000),
    /** Waits between attempts for subscriptions that set none (durations: 5s, 2m, 1h …). */
    retrySchedule: durationList.prefault([...DEFAULT_RETRY_SCHEDULE]),
    /** ± share of each wait drawn at random. */
    jitter: z.number().min(0).max(1).default(0.2),
    /** Default per-endpoint limits (a subscription may set its own). 0 = no rate limit. */
    ratePerSecond: z.number().min(0).default(20),
    maxInFlight: z.number().int().min(1).max(64).default(4),
    circuit: z
      .strictObject({
        /** Failures in a row that open the circuit. */
        failureThreshold: z.number().int().positive().default(5),
        /** First cool-down; doubles on each trip up to maxOpenMs. */
        openMs: z.number().int().positive().default(30_000),
        maxOpenMs: z.number().int().positive().default(600_000),
        /** Failing without a single success for this long disables the subscription (and alerts). */
        disableAfterMs: z.number().int().positive().default(24 * 3_600_000),
      })
      .prefault({}),
    /** How long the previous secret keeps signing after a rotation. */
    rotationOverlapMs: z.number().int().min(0).default(24 * 3_600_000),
    /** Bytes of an answer's body kept in the attempt log (never for PHI messages). */
    responseSnippetBytes: z.number().int().min(0).max(4_096).default(256),
    /** At start, inbox events received this long before are fanned out if they were not yet. */
    recoverMs: z.number().int().min(0).default(15 * 60_000),
    /** Settled deliveries and their attempts are removed after this many days. */
    retentionDays: z.number().positive().default(30),
  })
  .prefault({});

export const tenantFanoutSchema = z
  .strictObject({
    /** Subscribers on loopback (plain http allowed there): tests and the demo only. */
    allowLoopback: z.boolean().default(false),
    /** Private or link-local networks subscribers may be in, as CIDRs (refused otherwise). */
    allowedNetworks: z.array(z.string().refine(isCidr, 'a CIDR such as 10.20.0.0/16')).default([]),
    /** Subscriptions the tenant may have. */
    maxSubscriptions: z.number().int().positive().default(50),
  })
  .prefault({});

export type FanoutConfig = z.infer<typeof fanoutSchema>;
export type TenantFanoutConfig = z.infer<typeof tenantFanoutSchema>;
