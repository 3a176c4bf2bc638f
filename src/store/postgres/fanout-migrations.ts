// The fan-out tables in PostgreSQL, tracked in their own `fanout_migrations` table so their
// numbers never collide with the main schema's. Instances starting together migrate under a
// transaction-scoped advisory lock of their own.
import type pg from 'pg';
import { inTransaction } from './db.ts';

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
  id                   text    PRIMARY KEY,
  tenant_id            text    NOT NULL,
  url                  text    NOT NULL,
  description          text,
  event_types          jsonb   NOT NULL,
  filter               jsonb,
  version              text    NOT NULL,
  allow_phi            boolean NOT NULL,
  retry_schedule       jsonb   NOT NULL,
  rate_per_second      double precision NOT NULL,
  max_in_flight        integer NOT NULL,
  ordered              boolean NOT NULL,
  status               text    NOT NULL CHECK (status IN ('active', 'paused', 'disabled')),
  status_reason        text,
  secrets              bytea   NOT NULL,        -- sealed JSON
  consecutive_failures integer NOT NULL DEFAULT 0,
  failing_since        bigint,
  last_success_at      bigint,
  last_failure_at      bigint,
  alerted_at           bigint,
  created_at           bigint  NOT NULL,
  updated_at           bigint  NOT NULL
);
CREATE INDEX fanout_subscriptions_by_tenant ON fanout_subscriptions (tenant_id, created_at);

CREATE TABLE fanout_messages (
  id          text    PRIMARY KEY,
  tenant_id   text    NOT NULL,
  source      text    NOT NULL,
  dedupe_key  text    NOT NULL,
  type        text    NOT NULL,
  occurred_at bigint  NOT NULL,
  created_at  bigint  NOT NULL,
  subject     jsonb   NOT NULL,
  order_key   text,
  phi         boolean NOT NULL,
  data        bytea   NOT NULL,                 -- sealed JSON
  UNIQUE (tenant_id, source, dedupe_key)
);

CREATE TABLE fanout_deliveries (
  id               bigint  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  subscription_id  text    NOT NULL,
  tenant_id        text    NOT NULL,
  message_id       text    NOT NULL,
  type             text    NOT NULL,
  order_key        text,
  version          text    NOT NULL,
  status           text    NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
  attempts         integer NOT NULL DEFAULT 0,
  retry_step       integer NOT NULL DEFAULT 0,
  next_attempt_at  bigint  NOT NULL,
  first_attempt_at bigint,
  last_status      integer,
  last_error       text,
  locked_by        text,
  locked_until     bigint,
  created_at       bigint  NOT NULL,
  updated_at       bigint  NOT NULL,
  delivered_at     bigint,
  UNIQUE (subscription_id, message_id)
);
CREATE INDEX fanout_deliveries_queue   ON fanout_deliveries (subscription_id, status, id);
CREATE INDEX fanout_deliveries_heads   ON fanout_deliveries (subscription_id, order_key, id) WHERE status = 'pending';
CREATE INDEX fanout_deliveries_due     ON fanout_deliveries (subscription_id, next_attempt_at) WHERE status = 'pending';
CREATE INDEX fanout_deliveries_message ON fanout_deliveries (message_id);
CREATE INDEX fanout_deliveries_settled ON fanout_deliveries (updated_at) WHERE status <> 'pending';

CREATE TABLE fanout_attempts (
  id               bigint  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  delivery_id      bigint  NOT NULL,
  subscription_id  text    NOT NULL,
  tenant_id        text    NOT NULL,
  message_id       text    NOT NULL,
  attempted_at     bigint  NOT NULL,
  status_code      integer,
  latency_ms       integer NOT NULL,
  outcome          text    NOT NULL,
  error_code       text,
  response_snippet text,
  trigger          text    NOT NULL
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

export async function migrateFanout(pool: pg.Pool, schema: string | undefined): Promise<void> {
  await inTransaction(pool, async (client) => {
    await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`spruce-sync:fanout-migrate:${schema ?? ''}`]);
    // The name was checked to be a plain identifier when the pool was made.
    if (schema) await client.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
    await client.query(`CREATE TABLE IF NOT EXISTS fanout_migrations (
      version    integer PRIMARY KEY,
      name       text    NOT NULL,
      applied_at bigint  NOT NULL
    )`);
    const { rows } = await client.query<{ version: number }>('SELECT version FROM fanout_migrations');
    const applied = new Set(rows.map((r) => r.version));
    for (const step of fanoutMigrations) {
      if (applied.has(step.version)) continue;
      await client.query(step.sql);
      await client.query('INSERT INTO fanout_migrations (version, name, applied_at) VALUES ($1, $2, $3)', [step.version, step.name, Date.now()]);
    }
  });
}
