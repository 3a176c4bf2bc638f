// Shared by the end-to-end tests: a whole world (both simulators + spruce-sync) on loopback.
import type { SpruceContact } from '../../src/spruce/types.ts';
import {
  SANDBOX_SPRY_ORG,
  startSandboxWithService,
  type Sandbox,
  type SandboxOptions,
  type SandboxServiceOptions,
  type SandboxWithService,
} from '../../src/sandbox/environment.ts';
import { spryExternalId } from '../../src/sync/desired-contact.ts';

export { SANDBOX_SPRY_ORG };

export interface World extends SandboxWithService {
  sandbox: Sandbox;
}

export function startWorld(options: SandboxOptions & { service?: SandboxServiceOptions } = {}): Promise<World> {
  return startSandboxWithService({ patients: 20, ...options });
}

/** Polls `check` until it returns a value other than undefined/false, or fails after `timeoutMs`. */
export async function eventually<T>(check: () => T | Promise<T>, timeoutMs = 10_000, what = 'condition'): Promise<Exclude<T, false | undefined | null>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== false && value !== null) return value as Exclude<T, false | undefined | null>;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** The Spruce contacts carrying the integration link of a Spry patient. */
export function contactsOfPatient(world: { sandbox: Sandbox }, patientId: number): SpruceContact[] {
  const externalId = spryExternalId(SANDBOX_SPRY_ORG, patientId);
  return world.sandbox.spruce.contacts().filter((c) => (c.integrationLinks ?? []).some((l) => l.externalId === externalId));
}

/** Waits until the queue has nothing waiting or running and no webhook is in flight. */
/** No job of the world's tenant waiting or running, and no handler running. */
async function isQuiet(world: World): Promise<boolean> {
  const stats = await world.service.store.queueStats(world.config.tenants[0]!.id);
  return world.service.pool.activeCount === 0 && stats.every((s) => s.waiting === 0 && s.running === 0);
}

export async function quiesce(world: World, timeoutMs = 15_000): Promise<void> {
  await eventually(
    async () => {
      await world.sandbox.spry.settle();
      await world.sandbox.spruce.settle();
      return isQuiet(world);
    },
    timeoutMs,
    'the sync to go quiet',
  );
  // One more round: a job finishing may have caused a webhook that queues another.
  await new Promise((resolve) => setTimeout(resolve, 150));
  await world.sandbox.spry.settle();
  await world.sandbox.spruce.settle();
  const stats = await world.service.store.queueStats(world.config.tenants[0]!.id);
  if (stats.some((s) => s.waiting > 0 || s.running > 0)) await quiesce(world, timeoutMs);
}

/**
 * Quiet with the sandbox clock moving: what waits on that clock (an open circuit breaker's
 * cool-down, an answer a simulated hang holds, a retry's backoff) never ends under quiesce alone.
 */
export async function quiesceOnClock(world: World): Promise<void> {
  await advanceUntil(world, () => isQuiet(world), { what: 'the sync to go quiet', stepMs: 5_000 });
  await quiesce(world);
}

export function countRequests(log: { route: string }[], pattern: RegExp): number {
  return log.filter((entry) => pattern.test(entry.route)).length;
}

/**
 * Moves the sandbox clock forward in steps (retries, backoff, Retry-After all run on it) until
 * `check` holds; real time is given a moment at each step for the HTTP work to happen.
 */
export async function advanceUntil<T>(
  world: { sandbox: Sandbox },
  check: () => T | Promise<T>,
  options: { stepMs?: number; maxSimulatedMs?: number; what?: string } = {},
): Promise<Exclude<T, false | undefined | null>> {
  const { stepMs = 1_000, maxSimulatedMs = 3_600_000, what = 'condition' } = options;
  let simulated = 0;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false && value !== null) return value as Exclude<T, false | undefined | null>;
    if (simulated >= maxSimulatedMs) throw new Error(`${what} did not happen within ${maxSimulatedMs} simulated ms`);
    await world.sandbox.spry.settle();
    await world.sandbox.spruce.settle();
    await world.sandbox.clock.advance(stepMs);
    simulated += stepMs;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Every Spry patient of the sandbox has exactly one linked contact, matching its current name. */
export function agreesWithSpry(world: { sandbox: Sandbox }, patientIds: number[]): boolean {
  return patientIds.every((patientId) => {
    const patient = world.sandbox.spry.patient(SANDBOX_SPRY_ORG, patientId);
    const contacts = contactsOfPatient(world, patientId);
    return patient && contacts.length === 1 && contacts[0]!.familyName === patient.last_name && contacts[0]!.givenName === patient.first_name;
  });
}
