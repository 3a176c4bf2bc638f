import { describe, expect, it, vi } from 'vitest';
import type { TenantContext } from './tenant-context.ts';

let release: () => void = () => {};
vi.mock('./backfill.ts', () => ({
  runBackfill: vi.fn(() => new Promise((resolve) => (release = () => resolve({ dryRun: true })))),
}));
vi.mock('./reconcile.ts', () => ({ runReconcile: vi.fn(async () => ({})) }));

const { backgroundOperations, DRY_RUN_SUMMARY_KEY } = await import('./backfill-admin.ts');
const { runBackfill } = await import('./backfill.ts');

describe('backgroundOperations', () => {
  it('starts a backfill in the background, refuses a second one meanwhile, and checks its options', async () => {
    const saved: [string, string][] = [];
    const ctx = {
      config: { id: 't' },
      store: { setState: async (_t: string, key: string, value: string) => void saved.push([key, value]) },
      logger: { error: () => undefined },
    } as unknown as TenantContext;
    const ops = backgroundOperations(new Map([['t', ctx]]));
    expect(await ops.backfill('t', { dryRun: true, statuses: ['ACTIVE'] })).toMatchObject({ operation: 'backfill', dryRun: true, statuses: ['ACTIVE'], progress: DRY_RUN_SUMMARY_KEY });
    expect(runBackfill).toHaveBeenCalledWith(ctx, { dryRun: true, statuses: ['ACTIVE'], matchExisting: undefined, restart: undefined, signal: expect.any(AbortSignal) });
    await expect(ops.backfill('t', {})).rejects.toMatchObject({ code: 'SYNC_CONFLICT' });
    release();
    await ops.idle();
    expect(saved.map(([key]) => key)).toEqual([DRY_RUN_SUMMARY_KEY]);
    await expect(ops.backfill('t', { statuses: ['LOST'] })).rejects.toMatchObject({ code: 'PAYLOAD_INVALID' });
    await expect(ops.reconcile('nobody', {})).rejects.toMatchObject({ code: 'PAYLOAD_INVALID' });
    expect(await ops.reconcile('t', { fix: true })).toMatchObject({ fix: true, all: false });
  });

  it('stops its runs on shutdown through their signal and starts no new one', async () => {
    const ctx = { config: { id: 't' }, store: { setState: async () => undefined }, logger: { error: () => undefined } } as unknown as TenantContext;
    const ops = backgroundOperations(new Map([['t', ctx]]));
    await ops.backfill('t', {});
    const { signal } = vi.mocked(runBackfill).mock.calls.at(-1)![1] as { signal: AbortSignal };
    expect(signal.aborted).toBe(false);
    const stopped = ops.stop();
    expect(signal.aborted).toBe(true);
    release();
    await stopped;
    await expect(ops.reconcile('t', {})).rejects.toMatchObject({ code: 'SYNC_CONFLICT' });
  });
});
