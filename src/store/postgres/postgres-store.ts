// The scale-out Store: any number of stateless instances share one PostgreSQL database. The
// statements are shared (sql/); what is PostgreSQL's own is here: the event id drawn under the
// job's lock, leadership, and the rows instances change together.
import type pg from 'pg';
import { SyncError } from '../../errors.ts';
import { cipherFor, type EncryptionOptions } from '../cipher.ts';
import { eventValues, findEventId, insertEventRow } from '../sql/inbox.ts';
import { COALESCE_INTO_EXISTING, JOB_COLUMNS, jobValues, requeueDeadEvents } from '../sql/queue.ts';
import { sql, type Db } from '../sql/sql.ts';
import { SqlStore } from '../sql/sql-store.ts';
import type { EnqueueJob, NewInboundEvent } from '../types.ts';
import { createPool, PgDb, type PoolOptions } from './db.ts';
import { InstanceLiveness, type InstanceLivenessOptions } from './instances.ts';
import { PostgresLeadership, type PostgresLeadershipOptions } from './leadership.ts';
import { migrate } from './migrations.ts';
import { SharedRow } from './shared-rows.ts';

export interface PostgresStoreOptions extends PoolOptions, EncryptionOptions {}

export class PostgresStore extends SqlStore {
  private readonly pool: pg.Pool;
  private readonly schema: string | undefined;
  private readonly url: string;

  constructor(url: string, options: PostgresStoreOptions = {}) {
    const pool = createPool(url, options);
    super(new PgDb(pool), cipherFor(options));
    this.pool = pool;
    this.schema = options.schema;
    this.url = url;
  }

  // Scale-out: what the instances sharing this database coordinate through (not part of Store) --

  /** Leadership of scheduled duties among the instances on this database and schema. */
  leadership(options: Omit<PostgresLeadershipOptions, 'url' | 'schema'> = {}): PostgresLeadership {
    return new PostgresLeadership({ ...options, url: this.url, schema: this.schema });
  }

  /** This instance's heartbeat; the job leases of instances gone silent are reclaimed. */
  instanceLiveness(options: InstanceLivenessOptions): InstanceLiveness {
    return new InstanceLiveness(this.db, options);
  }

  /** A record every instance changes atomically, e.g. a tenant's API budget. */
  sharedRow<S>(tenantId: string, name: string, initial: S): SharedRow<S> {
    return new SharedRow(this.pool, tenantId, name, initial);
  }

  async migrate(): Promise<void> {
    await migrate(this.pool, this.schema);
  }

  async ping(): Promise<void> {
    try {
      await this.pool.query('SELECT 1');
    } catch (cause) {
      throw new SyncError('STORE_UNAVAILABLE', 'PostgreSQL did not answer', { retryable: true, cause });
    }
  }

  async close(): Promise<void> {
    await this.pool.end();
  }

  /** Stores one event and, when it feeds a job, enqueues or coalesces that job in the same transaction. */
  async insertEvent(event: NewInboundEvent): Promise<{ id: number; inserted: boolean }> {
    const values = eventValues(event, this.cipher);
    const { job } = event;
    const id = job
      ? await this.db
          .transaction(async (tx) => {
            const id = await enqueueWithEvent(tx, job, values);
            if (id === null) throw new Duplicate();
            await requeueDeadEvents(tx, event.tenantId, job.key, event.receivedAt);
            return id;
          })
          .catch((error: unknown) => {
            if (error instanceof Duplicate) return null;
            throw error;
          })
      : await insertEventRow(this.db, values);
    return id === null ? { id: await findEventId(this.db, event), inserted: false } : { id, inserted: true };
  }

  async refreshStatistics(): Promise<void> {
    // Autovacuum's auto-analyze keeps PostgreSQL's statistics current.
  }
}

/** Rolls back the job's update when the event turns out to be a repeat. */
class Duplicate extends Error {}

/**
 * Stores an event and enqueues (or coalesces) its job in one statement, in the caller's
 * transaction. The event's id is drawn while the statement holds the job row (just inserted, or
 * locked for the update) and becomes the row's last_event_id. Ids of one key's events therefore
 * follow the order in which they commit: when a worker claims "up to id N", every event of that
 * key with a smaller id is already visible, and completing cannot mark one the run never saw.
 * Returns null for a duplicate; the caller then rolls back.
 */
async function enqueueWithEvent(db: Db, job: EnqueueJob, e: ReturnType<typeof eventValues>): Promise<number | null> {
  const row = await db.get<{ id: number }>(sql`
    WITH job AS (
      INSERT INTO jobs AS j (${JOB_COLUMNS}, last_event_id)
      VALUES (${jobValues(e.tenantId, job, e.receivedAt)}, nextval('events_id_seq'))
      ON CONFLICT (tenant_id, key) DO UPDATE SET ${COALESCE_INTO_EXISTING},
        last_event_id = nextval('events_id_seq')
      RETURNING last_event_id
    )
    INSERT INTO events (id, tenant_id, source, event_key, type, occurred_at, received_at, payload, subject,
                        patient_id, contact_id, status, job_key, updated_at)
    SELECT job.last_event_id, ${e.tenantId}, ${e.source}, ${e.eventKey}, ${e.type}, ${e.occurredAt}, ${e.receivedAt},
           ${e.payload}, ${e.subject}, ${e.patientId}, ${e.contactId}, ${e.status}, ${job.key}, ${e.receivedAt} FROM job
    ON CONFLICT (tenant_id, source, event_key) DO NOTHING
    RETURNING id`);
  return row?.id ?? null;
}
