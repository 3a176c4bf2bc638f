// No job waits out a lease held by a process that is gone. SQLite: one process owns the file, so
// every lease found at start is an orphan and is cleared then. PostgreSQL: instances beat a
// heartbeat row, and the leases of one gone silent are cleared within seconds by the others
// (postgres/instances.ts). A live instance's leases, however slow its job, are never touched.
import type { InstanceLivenessOptions } from './postgres/instances.ts';
import { PostgresStore } from './postgres/postgres-store.ts';
import { SqliteStore } from './sqlite/sqlite-store.ts';
import type { Store } from './types.ts';

/** Who this process is (its worker id), its clock, and, on PostgreSQL, its heartbeat's settings. */
export type LeaseRecoveryOptions = InstanceLivenessOptions;

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
