// What the control APIs of both simulators accept for `PUT /_sandbox/faults` (see faults.ts for
// what each setting does). Unknown settings are refused, so a misspelt fault is never silently off.
import { z } from 'zod';
import type { DeliveryFaults, RouteFault } from './faults.ts';

const rate = z.number().min(0).max(1);
const ms = z.number().min(0);

export const routeFaultSchema: z.ZodType<RouteFault> = z.strictObject({
  match: z.string().optional(),
  latencyMs: ms.optional(),
  errorRate: rate.optional(),
  errorStatus: z.number().int().min(400).max(599).optional(),
  timeoutRate: rate.optional(),
  hangMs: ms.optional(),
  rateLimitBurst: z.number().int().min(0).optional(),
  retryAfterSeconds: z.number().min(0).optional(),
  ambiguousRate: rate.optional(),
  ambiguousMode: z.enum(['reset', 'hang', 'error']).optional(),
  ambiguousStatus: z.number().int().min(500).max(599).optional(),
});

export const deliveryFaultsSchema: z.ZodType<DeliveryFaults> = z.strictObject({
  duplicateRate: rate.optional(),
  dropRate: rate.optional(),
  reorderWindowMs: ms.optional(),
});

export const faultsSchema = z.strictObject({
  routes: z.array(routeFaultSchema).optional(),
  deliveries: deliveryFaultsSchema.optional(),
});
