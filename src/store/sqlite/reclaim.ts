// One process owns a SQLite file, so when the service starts every job lease in it was left by
// a process that is gone (killed, crashed, powered off): waiting out those leases (a minute by
// default) would only delay the jobs. They are cleared at start and the jobs are due at once;
// attempts are kept, so the fence in queue.ts still tells the claims apart.
import type { Sqlite } from './db.ts';

/** Unlocks every leased waiting job; returns how many. Call only before this process claims. */
export function reclaimAllLeases(sql: Sqlite, now: number): number {
  return sql.write(
    () => sql.run(`UPDATE jobs SET locked_by = NULL, locked_until = NULL, updated_at = ? WHERE locked_by IS NOT NULL AND state = 'waiting'`, [now]).changes,
  );
}
