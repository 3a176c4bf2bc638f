// The fan-out tables in SQLite, as plain SQL, one numbered step per change, tracked in their
// own `fanout_migrations` table so their numbers never collide with the main schema's.
// Applied inside one IMMEDIATE transaction, like the main migrations.
import type Database from 'better-sqlite3';

export interface FanoutMigration {
  version: number;
  name: string;
  sql: string;
}

export const fanoutMigrations: FanoutMigration[] = [
  {
    version: 1,
    name: 'subscriptions, messages, deliveries, attempts',
    sql: `
CREATE TABLE fanout_subscriptions (
  id                   TEXT    PRIMARY KEY,     -- sub_…
  tenant_id            TEXT    NOT NULL,
  url                  TEXT    NOT NULL,
  description          TEXT,
  event_types          TEXT    NOT NULL,        -- JSON array of patterns
  filter               TEXT,                    -- JSON (filter.ts)
  version              TEXT    NOT NULL,        -- payload version, pinned
  allow_phi            INTEGER NOT NULL,
  retry_schedule       TEXT    NOT NULL,        -- JSON array of ms
  rate_per_second      REAL    NOT NULL,
  max_in_flight        INTEGER NOT NULL,
  ordered              INTEGER NOT NULL,
  status               TEXT    NOT NULL CHECK (status IN ('active', 'paused', 'disabled')),
  status_reason        TEXT,
  secrets              BLOB    NOT NULL,        -- sealed JSON
  consecutive_failures INTEGER NOT NULL DEFAULT 0,
  failing_since        INTEGER,
  last_success_at      INTEGER,
  last_failure_at      INTEGER,
  alerted_at           INTEGER,
  created_at           INTEGER NOT NULL,
  updated_at           INTEGER NOT NULL
);
CREATE INDEX fanout_subscriptions_by_tenant ON fanout_subscriptions (tenant_id, created_at);

-- One row per event handed on, whoever receives it; deduped per (tenant, source, key).
CREATE TABLE fanout_messages (
  id          TEXT    PRIMARY KEY,              -- msg_…, the webhook-id
  tenant_id   TEXT    NOT NULL,
  source      TEXT    NOT NULL,
  dedupe_key  TEXT    NOT NULL,
  type        TEXT    NOT NULL,
  occurred_at INTEGER NOT NULL,
  created_at  INTEGER NOT NULL,
  subject     TEXT    NOT NULL,                 -- JSON of ids
  order_key   TEXT,
  phi         INTEGER NOT NULL,
  data        BLOB    NOT NULL,                 -- sealed JSON
  UNIQUE (tenant_id, source, dedupe_key)
);

-- One row per (subscription, message): the unit that is sent, retried, replayed.
CREATE TABLE fanout_deliveries (
  id               INTEGER PRIMARY KEY AUTOINCREMENT,
  subscription_id  TEXT    NOT NULL,
  tenant_id        TEXT    NOT NULL,
  message_id       TEXT    NOT NULL,
  type             TEXT    NOT NULL,
  order_key        TEXT,
  version          TEXT    NOT NULL,
  status           TEXT    NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
  attempts         INTEGER NOT NULL DEFAULT 0,
  retry_step       INTEGER NOT NULL DEFAULT 0,
  next_attempt_at  INTEGER NOT NULL,
  first_attempt_at INTEGER,
  last_status      INTEGER,
  last_error       TEXT,
  locked_by        TEXT,
  locked_until     INTEGER,
  created_at       INTEGER NOT NULL,
  updated_at       INTEGER NOT NULL,
  delivered_at     INTEGER,
  UNIQUE (subscription_id, message_id)
);
CREATE INDEX fanout_deliveries_queue   ON fanout_deliveries (subscription_id, status, id);
CREATE INDEX fanout_deliveries_heads   ON fanout_deliveries (subscription_id, order_key, id) WHERE status = 'pending';
CREATE INDEX fanout_deliveries_due     ON fanout_deliveries (subscription_id, next_attempt_at) WHERE status = 'pending';
CREATE INDEX fanout_deliveries_message ON fanout_deliveries (message_id);
CREATE INDEX fanout_deliveries_settled ON fanout_deliveries (updated_at) WHERE status <> 'pending';

CREATE TABLE fanout_attempts (
  id               INTEGER PRIMARY KEY AUTOINCREMENT,
  delivery_id      INTEGER NOT NULL,
  subscription_id  TEXT    NOT NULL,
  tenant_id        TEXT    NOT NULL,
  message_id       TEXT    NOT NULL,
  attempted_at     INTEGER NOT NULL,
  status_code      INTEGER,
  latency_ms       INTEGER NOT NULL,
  outcome          TEXT    NOT NULL,
  error_code       TEXT,
  response_snippet TEXT,                        -- capped, scrubbed; never for PHI messages
  trigger          TEXT    NOT NULL
);
CREATE INDEX fanout_attempts_by_delivery ON fanout_attempts (delivery_id, id);
`,
  },
  {
    version: 2,
    name: 'attempts by time, for retention',
    sql: `
CREATE INDEX fanout_attempts_by_time ON fanout_attempts (attempted_at);
`,
  },
];

export function migrateFanout(db: Database.Database): void {
  const apply = db.transaction(() => {
    db.exec(`CREATE TABLE IF NOT EXISTS fanout_migrations (
      version    INTEGER PRIMARY KEY,
      name       TEXT    NOT NULL,
      applied_at INTEGER NOT NULL
    )`);
    const applied = new Set((db.prepare('SELECT version FROM fanout_migrations').all() as { version: number }[]).map((r) => r.version));
    for (const step of fanoutMigrations) {
      if (applied.has(step.version)) continue;
      db.exec(step.sql);
      db.prepare('INSERT INTO fanout_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(step.version, step.name, Date.now());
    }
  });
  apply.immediate();
}
