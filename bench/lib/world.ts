// A whole world in this process (both simulators + the real service on loopback), for
// scenarios that count calls on the far side: what the simulators were asked is the truth.
import { startSandboxWithService, type Sandbox, type SandboxWithService } from '../../src/sandbox/environment.ts';

export type World = SandboxWithService;

export const startWorld = startSandboxWithService;

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Polls `check` every few ms until it holds; throws after `timeoutMs`. */
export async function until<T>(check: () => T | Promise<T>, what: string, timeoutMs = 20_000, everyMs = 5): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== null && value !== false) return value as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(everyMs);
  }
}

async function busy(world: World): Promise<boolean> {
  const stats = await world.service.store.queueStats(world.config.tenants[0]!.id);
  return stats.some((s) => s.waiting > 0 || s.running > 0) || world.service.pool.activeCount > 0;
}

/** Waits until no webhook is in flight and no job waits or runs, twice in a row. */
export async function quiesce(world: World, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const settle = async (sandbox: Sandbox) => {
    await sandbox.spry.settle();
    await sandbox.spruce.settle();
  };
  for (let quietRounds = 0; quietRounds < 2; ) {
    if (Date.now() > deadline) throw new Error('timed out waiting for the sync to go quiet');
    await settle(world.sandbox);
    if (await busy(world)) {
      quietRounds = 0;
      await sleep(10);
      continue;
    }
    quietRounds += 1;
    // A job finishing may cause a webhook that queues another: look again a moment later.
    await sleep(150);
  }
}
