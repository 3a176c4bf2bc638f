// The SQLite schema, as plain SQL, one numbered step per change. Applied in order inside one
// IMMEDIATE transaction, so two processes opening the same file cannot both apply a step.
import type Database from 'better-sqlite3';

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
  id          INTEGER PRIMARY KEY AUTOINCREMENT, -- never reused: jobs cover events "up to an id"
  tenant_id   TEXT    NOT NULL,
  source      TEXT    NOT NULL,
  event_key   TEXT    NOT NULL,
  type        TEXT    NOT NULL,
  occurred_at INTEGER NOT NULL,
  received_at INTEGER NOT NULL,
  payload     BLOB    NOT NULL,               -- sealed when a key is configured
  subject     TEXT    NOT NULL,               -- JSON of ids only
  patient_id  INTEGER,                        -- from subject, for search
  contact_id  TEXT,                           -- from subject, for search
  status      TEXT    NOT NULL,
  job_key     TEXT,
  reason      TEXT,
  updated_at  INTEGER NOT NULL,
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
  id            INTEGER PRIMARY KEY AUTOINCREMENT,
  tenant_id     TEXT    NOT NULL,
  key           TEXT    NOT NULL,
  task          TEXT    NOT NULL,
  params        TEXT    NOT NULL,
  state         TEXT    NOT NULL DEFAULT 'waiting' CHECK (state IN ('waiting', 'dead')),
  attempts      INTEGER NOT NULL DEFAULT 0,
  max_attempts  INTEGER NOT NULL,
  run_at        INTEGER NOT NULL,
  last_event_id INTEGER NOT NULL DEFAULT 0,
  enqueue_seq   INTEGER NOT NULL DEFAULT 1,
  claimed_seq   INTEGER NOT NULL DEFAULT 0,
  locked_by     TEXT,
  locked_until  INTEGER,
  last_error    TEXT,
  created_at    INTEGER NOT NULL,
  updated_at    INTEGER NOT NULL,
  UNIQUE (tenant_id, key)
);
CREATE INDEX jobs_due ON jobs (state, run_at, id);

CREATE TABLE job_attempts (
  id          INTEGER PRIMARY KEY AUTOINCREMENT,
  job_id      INTEGER NOT NULL,
  tenant_id   TEXT    NOT NULL,
  job_key     TEXT    NOT NULL,
  started_at  INTEGER NOT NULL,
  finished_at INTEGER NOT NULL,
  outcome     TEXT    NOT NULL,
  error_code  TEXT,
  request_id  TEXT
);
CREATE INDEX job_attempts_by_key ON job_attempts (tenant_id, job_key, id);

-- One contact per patient and one patient per contact, per tenant.
CREATE TABLE links (
  tenant_id  TEXT    NOT NULL,
  patient_id INTEGER NOT NULL,
  contact_id TEXT    NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (tenant_id, patient_id),
  UNIQUE (tenant_id, contact_id)
);

CREATE TABLE ledger (
  tenant_id  TEXT    NOT NULL,
  system     TEXT    NOT NULL,
  record_id  TEXT    NOT NULL,
  fields     BLOB    NOT NULL,                -- sealed when a key is configured
  hash       TEXT    NOT NULL,
  written_at INTEGER NOT NULL,
  PRIMARY KEY (tenant_id, system, record_id)
);

CREATE TABLE state (
  tenant_id TEXT NOT NULL,
  key       TEXT NOT NULL,
  value     TEXT NOT NULL,
  PRIMARY KEY (tenant_id, key)
);

-- Who touched what, when and why: append-only, enforced by the database itself.
CREATE TABLE audit (
  id          INTEGER PRIMARY KEY AUTOINCREMENT,
  at          INTEGER NOT NULL,
  tenant_id   TEXT    NOT NULL,
  system      TEXT    NOT NULL,
  record_type TEXT    NOT NULL,
  record_id   TEXT    NOT NULL,
  action      TEXT    NOT NULL,
  event_id    INTEGER,
  detail      TEXT
);
CREATE INDEX audit_by_tenant ON audit (tenant_id, at);
CREATE INDEX audit_by_record ON audit (record_id, at);
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END;
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
    version: 5,
    name: 'audit archives: the one way audit rows may leave',
    sql: `
-- An archive run writes old audit rows to a file, records the file here, then deletes exactly
-- the rows this record covers; the trigger still refuses every other delete and every update.
-- Export and archiving read the audit by time.
CREATE INDEX audit_by_time ON audit (at);
CREATE TABLE audit_archives (
  id          INTEGER PRIMARY KEY AUTOINCREMENT,
  file        TEXT    NOT NULL,
  first_id    INTEGER NOT NULL,
  last_id     INTEGER NOT NULL,
  before_at   INTEGER NOT NULL UNIQUE,          -- one archive per cutoff: two instances never both record one
  row_count   INTEGER NOT NULL,
  archived_at INTEGER NOT NULL,
  done_at     INTEGER
);
DROP TRIGGER audit_no_delete;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
WHEN NOT EXISTS (SELECT 1 FROM audit_archives a WHERE old.id BETWEEN a.first_id AND a.last_id AND old.at < a.before_at)
BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END;
`,
  },
  {
    version: 6,
    name: 'jobs: live before bulk',
    sql: `
-- Work a tenant's own sweeps found (catch-up) is bulk: claimed after the tenant's live work.
ALTER TABLE jobs ADD COLUMN bulk INTEGER NOT NULL DEFAULT 0;
`,
  },
  {
    version: 7,
    name: 'tenants as data',
    sql: `
-- Tenants live here (the config file's are seeded at start, source 'config'). Secrets (API
-- credentials, webhook secrets) are sealed in their own column; settings hold none.
CREATE TABLE tenants (
  id         TEXT    PRIMARY KEY,
  source     TEXT    NOT NULL,              -- config | api
  status     TEXT    NOT NULL,              -- enabled | disabled
  settings   TEXT    NOT NULL,              -- JSON, no secrets
  secrets    BLOB    NOT NULL,              -- sealed JSON
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  removed_at INTEGER,                       -- webhooks 404 from then; PHI purged after retention
  purged_at  INTEGER
);
-- One row: bumped by every change, polled by every instance to reload the directory.
CREATE TABLE tenants_version (
  id      integer PRIMARY KEY,
  version INTEGER NOT NULL
);
INSERT INTO tenants_version (id, version) VALUES (1, 0);
`,
  },
  {
    version: 8,
    name: 'jobs: fair claims rank the first jobs of each tenant only',
    sql: `
-- The claim walks each tenant with waiting jobs to its first due ones, live then bulk, oldest
-- first (store/sql/queue.ts claim), and counts the leases each tenant holds.
CREATE INDEX jobs_turns ON jobs (tenant_id, bulk, run_at, id) WHERE state = 'waiting';
CREATE INDEX jobs_leased ON jobs (locked_until) WHERE state = 'waiting' AND locked_until IS NOT NULL;
`,
  },
  {
    version: 9,
    name: 'staged events: the acknowledgement writes one narrow row, filed into events in batches',
    sql: `
-- An acknowledged event waiting to be filed into events (store/sqlite/staged-events.ts): the
-- columns of events, its job's request beside them, and no index but the dedupe key. The id is
-- the one it keeps in events.
CREATE TABLE staged_events (
  id               INTEGER PRIMARY KEY,
  tenant_id        TEXT    NOT NULL,
  source           TEXT    NOT NULL,
  event_key        TEXT    NOT NULL,
  type             TEXT    NOT NULL,
  occurred_at      INTEGER NOT NULL,
  received_at      INTEGER NOT NULL,
  payload          BLOB    NOT NULL,
  subject          TEXT    NOT NULL,
  patient_id       INTEGER,
  contact_id       TEXT,
  status           TEXT    NOT NULL,
  reason           TEXT,
  job_key          TEXT,
  job_task         TEXT,
  job_params       TEXT,
  job_run_at       INTEGER,
  job_max_attempts INTEGER,
  job_bulk         INTEGER,
  UNIQUE (tenant_id, source, event_key)
);
`,
  },
];

export function migrate(db: Database.Database): void {
  const apply = db.transaction(() => {
    db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version    INTEGER PRIMARY KEY,
      name       TEXT    NOT NULL,
      applied_at INTEGER NOT NULL
    )`);
    const applied = new Set(
      (db.prepare('SELECT version FROM schema_migrations').all() as { version: number }[]).map((r) => r.version),
    );
    for (const step of migrations) {
      if (applied.has(step.version)) continue;
      db.exec(step.sql);
      db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(
        step.version,
        step.name,
        Date.now(),
      );
    }
  });
  apply.immediate();
}
