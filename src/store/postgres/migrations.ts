// The PostgreSQL schema, as plain SQL, one numbered step per change. Several instances may
// start at once: each migrates under a transaction-scoped advisory lock, so exactly one applies
// a step and the others then find it applied.
import type pg from 'pg';
import { inTransaction } from './db.ts';
import { INSTANCES_MIGRATION } from './instances.ts';

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export const migrations: Migration[] = [
  {
    version: 1,
    name: 'inbox, queue, links, ledger, state, audit',
    sql: `
-- The inbox: every event we acknowledged. A repeat delivery hits the unique key and is dropped.
CREATE TABLE events (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  tenant_id   text   NOT NULL,
  source      text   NOT NULL,
  event_key   text   NOT NULL,
  type        text   NOT NULL,
  occurred_at bigint NOT NULL,
  received_at bigint NOT NULL,
  payload     bytea  NOT NULL,                -- sealed when a key is configured
  subject     jsonb  NOT NULL,                -- ids only
  patient_id  bigint,                         -- from subject, for search
  contact_id  text,                           -- from subject, for search
  status      text   NOT NULL,
  job_key     text,
  reason      text,
  updated_at  bigint NOT NULL,
  UNIQUE (tenant_id, source, event_key)
);
CREATE INDEX events_by_tenant   ON events (tenant_id, id);
CREATE INDEX events_by_status   ON events (tenant_id, status, id);
CREATE INDEX events_by_type     ON events (tenant_id, type, id);
CREATE INDEX events_by_received ON events (tenant_id, received_at);
CREATE INDEX events_by_occurred ON events (tenant_id, source, occurred_at);
CREATE INDEX events_by_patient  ON events (tenant_id, patient_id, id) WHERE patient_id IS NOT NULL;
CREATE INDEX events_by_contact  ON events (tenant_id, contact_id, id) WHERE contact_id IS NOT NULL;
CREATE INDEX events_by_job      ON events (tenant_id, job_key, status, id) WHERE job_key IS NOT NULL;

-- One row per (tenant, key): this is what keeps one key's work in order and coalesces bursts.
-- enqueue_seq counts enqueues; claimed_seq is its value at claim, so completion can tell
-- whether anything arrived while the job ran.
CREATE TABLE jobs (
  id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  tenant_id     text    NOT NULL,
  key           text    NOT NULL,
  task          text    NOT NULL,
  params        jsonb   NOT NULL,
  state         text    NOT NULL DEFAULT 'waiting' CHECK (state IN ('waiting', 'dead')),
  attempts      integer NOT NULL DEFAULT 0,
  max_attempts  integer NOT NULL,
  run_at        bigint  NOT NULL,
  last_event_id bigint  NOT NULL DEFAULT 0,
  enqueue_seq   bigint  NOT NULL DEFAULT 1,
  claimed_seq   bigint  NOT NULL DEFAULT 0,
  locked_by     text,
  locked_until  bigint,
  last_error    text,
  created_at    bigint  NOT NULL,
  updated_at    bigint  NOT NULL,
  UNIQUE (tenant_id, key)
);
CREATE INDEX jobs_due ON jobs (run_at, id) WHERE state = 'waiting';

CREATE TABLE job_attempts (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  job_id      bigint NOT NULL,
  tenant_id   text   NOT NULL,
  job_key     text   NOT NULL,
  started_at  bigint NOT NULL,
  finished_at bigint NOT NULL,
  outcome     text   NOT NULL,
  error_code  text,
  request_id  text
);
CREATE INDEX job_attempts_by_key ON job_attempts (tenant_id, job_key, id);

-- One contact per patient and one patient per contact, per tenant.
CREATE TABLE links (
  tenant_id  text   NOT NULL,
  patient_id bigint NOT NULL,
  contact_id text   NOT NULL,
  created_at bigint NOT NULL,
  updated_at bigint NOT NULL,
  PRIMARY KEY (tenant_id, patient_id),
  UNIQUE (tenant_id, contact_id)
);

CREATE TABLE ledger (
  tenant_id  text   NOT NULL,
  system     text   NOT NULL,
  record_id  text   NOT NULL,
  fields     bytea  NOT NULL,                 -- sealed when a key is configured
  hash       text   NOT NULL,
  written_at bigint NOT NULL,
  PRIMARY KEY (tenant_id, system, record_id)
);

CREATE TABLE state (
  tenant_id text NOT NULL,
  key       text NOT NULL,
  value     text NOT NULL,
  PRIMARY KEY (tenant_id, key)
);

-- Who touched what, when and why: append-only, enforced by the database itself.
CREATE TABLE audit (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  at          bigint NOT NULL,
  tenant_id   text   NOT NULL,
  system      text   NOT NULL,
  record_type text   NOT NULL,
  record_id   text   NOT NULL,
  action      text   NOT NULL,
  event_id    bigint,
  detail      jsonb
);
CREATE INDEX audit_by_tenant ON audit (tenant_id, at);
CREATE INDEX audit_by_record ON audit (record_id, at);
CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit is append-only';
END
$$;
CREATE TRIGGER audit_no_change BEFORE UPDATE OR DELETE ON audit
  FOR EACH ROW EXECUTE FUNCTION audit_append_only();
`,
  },
  {
    version: 2,
    name: 'event ids drawn under the job row lock',
    sql: `
-- An event that feeds a job takes its id from events_id_seq inside the statement that locks the
-- job row (see queue.ts, enqueueWithEvent), so the column must accept a given id.
ALTER TABLE events ALTER COLUMN id SET GENERATED BY DEFAULT;
`,
  },
  {
    version: 3,
    name: 'operator views: attempts by time',
    sql: `
-- Error rates over the last hour (admin API, dashboard) read attempts by finish time.
CREATE INDEX job_attempts_by_time ON job_attempts (tenant_id, finished_at);
`,
  },
  {
    version: 4,
    name: 'shared rate budgets',
    sql: `
-- A tenant's API budgets (Spruce pacing, Spry token bucket), shared by every instance: each one
-- changes a row under SELECT ... FOR UPDATE (see shared-rows.ts).
CREATE TABLE shared_budgets (
  tenant_id  text   NOT NULL,
  name       text   NOT NULL,
  value      jsonb  NOT NULL,
  updated_at bigint NOT NULL,
  PRIMARY KEY (tenant_id, name)
);
`,
  },
  {
    version: 5,
    name: 'audit archives: the one way audit rows may leave',
    sql: `
-- An archive run writes old audit rows to a file, records the file here, then deletes exactly
-- the rows this record covers; the trigger still refuses every other delete and every update.
-- Export and archiving read the audit by time.
CREATE INDEX audit_by_time ON audit (at);
CREATE TABLE audit_archives (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  file        text   NOT NULL,
  first_id    bigint NOT NULL,
  last_id     bigint NOT NULL,
  before_at   bigint NOT NULL UNIQUE,           -- one archive per cutoff: two instances never both record one
  row_count   bigint NOT NULL,
  archived_at bigint NOT NULL,
  done_at     bigint
);
CREATE OR REPLACE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' AND EXISTS (
    SELECT 1 FROM audit_archives a WHERE OLD.id BETWEEN a.first_id AND a.last_id AND OLD.at < a.before_at
  ) THEN
    RETURN OLD;
  END IF;
  RAISE EXCEPTION 'audit is append-only';
END
$$;
`,
  },
  {
    version: 6,
    name: 'jobs: live before bulk',
    sql: `
-- Work a tenant's own sweeps found (catch-up) is bulk: claimed after the tenant's live work.
ALTER TABLE jobs ADD COLUMN bulk smallint NOT NULL DEFAULT 0;
`,
  },
  INSTANCES_MIGRATION,
  {
    version: 8,
    name: 'tenants as data',
    sql: `
-- Tenants live here (the config file's are seeded at start, source 'config'). Secrets (API
-- credentials, webhook secrets) are sealed in their own column; settings hold none.
CREATE TABLE tenants (
  id         text    PRIMARY KEY,
  source     text    NOT NULL,              -- config | api
  status     text    NOT NULL,              -- enabled | disabled
  settings   text    NOT NULL,              -- JSON, no secrets
  secrets    bytea    NOT NULL,              -- sealed JSON
  created_at bigint NOT NULL,
  updated_at bigint NOT NULL,
  removed_at bigint,                       -- webhooks 404 from then; PHI purged after retention
  purged_at  bigint
);
-- One row: bumped by every change, polled by every instance to reload the directory.
CREATE TABLE tenants_version (
  id      integer PRIMARY KEY,
  version bigint NOT NULL
);
INSERT INTO tenants_version (id, version) VALUES (1, 0);
`,
  },
  {
    version: 9,
    name: 'jobs: fair claims rank the first jobs of each tenant only',
    sql: `
-- The claim walks each tenant with waiting jobs to its first due ones, live then bulk, oldest
-- first (store/sql/queue.ts claim), and counts the leases each tenant holds.
CREATE INDEX jobs_turns ON jobs (tenant_id, bulk, run_at, id) WHERE state = 'waiting';
CREATE INDEX jobs_leased ON jobs (locked_until) WHERE state = 'waiting' AND locked_until IS NOT NULL;
`,
  },
];

export async function migrate(pool: pg.Pool, schema: string | undefined): Promise<void> {
  await inTransaction(pool, async (client) => {
    await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`spruce-sync:migrate:${schema ?? ''}`]);
    // The name was checked to be a plain identifier when the pool was made.
    if (schema) await client.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
    await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version    integer PRIMARY KEY,
      name       text    NOT NULL,
      applied_at bigint  NOT NULL
    )`);
    const { rows } = await client.query<{ version: number }>('SELECT version FROM schema_migrations');
    const applied = new Set(rows.map((r) => r.version));
    for (const step of migrations) {
      if (applied.has(step.version)) continue;
      await client.query(step.sql);
      await client.query('INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)', [
        step.version,
        step.name,
        Date.now(),
      ]);
    }
  });
}
