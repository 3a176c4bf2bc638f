// Job leases of processes that are gone, cleared so their jobs are claimable at once
// (store/lease-recovery.ts says when). The job stays due as it was and keeps its attempts, so
// the fence in queue.ts still tells the new claim from the dead one's.
import { anyOf, sql, type Db } from './sql.ts';

/** Every leased waiting job: SQLite at start, when every lease in the file is an orphan. */
export function releaseAllLeases(db: Db, now: number): Promise<number> {
  return db.run(sql`UPDATE jobs SET locked_by = NULL, locked_until = NULL, updated_at = ${now} WHERE locked_by IS NOT NULL AND state = 'waiting'`);
}

/** The waiting jobs leased by these workers (instances judged gone). */
export function releaseLeasesOf(db: Db, workerIds: readonly string[], now: number): Promise<number> {
  if (workerIds.length === 0) return Promise.resolve(0);
  return db.run(sql`UPDATE jobs SET locked_by = NULL, locked_until = NULL, updated_at = ${now} WHERE ${anyOf('locked_by', workerIds)} AND state = 'waiting'`);
}
