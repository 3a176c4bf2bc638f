// No job waits out a lease held by a process that is gone. SQLite: one process owns the file, so
// every lease found at start is an orphan and is cleared then. PostgreSQL: instances beat a
// heartbeat row, and the leases of one gone silent are cleared within seconds by the others
// (postgres/instances.ts). A live instance's leases, however slow its job, are never touched.
import type { Clock } from '../clock.ts';
import { PostgresStore } from './postgres/postgres-store.ts';
import { SqliteStore } from './sqlite/sqlite-store.ts';
import type { Store } from './types.ts';

export interface LeaseRecoveryOptions {
  /** The worker id this process claims jobs under. */
  instanceId: string;
  clock: Clock;
  /** PostgreSQL: heartbeat period and silence that means gone (defaults 2 s and 10 s). */
  heartbeatMs?: number;
  deadAfterMs?: number;
  /** Leases of a gone process were cleared. */
  onReclaimed?: (count: number) => void;
  onError?: (error: unknown) => void;
}

export interface LeaseRecovery {
  /** Stops the heartbeat (PostgreSQL) after the worker pool has stopped. */
  close(): Promise<void>;
}

/** Call before the worker pool first claims. */
export async function startLeaseRecovery(store: Store, options: LeaseRecoveryOptions): Promise<LeaseRecovery> {
  if (store instanceof SqliteStore) {
    const released = await store.reclaimLeasesAtStart(options.clock.now());
    if (released > 0) options.onReclaimed?.(released);
    return { close: async () => {} };
  }
  if (store instanceof PostgresStore) {
    const liveness = store.instanceLiveness(options);
    await liveness.start();
    return liveness;
  }
  return { close: async () => {} };
}
