// The shape of spruce-sync's config file, with every default in one place. Every object is
// strict: a key the schema does not know is an error (a typo must not silently fall back to a
// default), reported with the nearest known key (load-config.ts).
import { z } from 'zod';
import { fanoutSchema, tenantFanoutSchema } from '../fanout/config.ts';

const secretList = z.array(z.string().min(1)).min(1, 'at least one secret is needed');

/** Names of the Spruce organization contact fields we maintain; a tenant may rename them. */
export const fieldNamesSchema = z
  .strictObject({
    spryPatientId: z.string().min(1).default('Spry Patient ID'),
    spryStatus: z.string().min(1).default('Spry Status'),
    address: z.string().min(1).default('Address'),
    activeCase: z.string().min(1).default('Active Case'),
    referringPhysician: z.string().min(1).default('Referring Physician'),
    primaryInsurance: z.string().min(1).default('Primary Insurance'),
    nextAppointment: z.string().min(1).default('Next Appointment'),
  })
  .prefault({});

export const syncPolicySchema = z
  .strictObject({
    /** Tag put on every contact we sync. */
    tag: z.string().min(1).default('Spry'),
    fieldNames: fieldNamesSchema,
    /** Delete the Spruce contact when the patient is ARCHIVED (only where Spruce allows it). */
    deleteArchivedContacts: z.boolean().default(false),
    /** IANA zone for "Next Appointment" when a clinic has none of its own. */
    timezone: z.string().default('America/New_York'),
    /** Per Spry clinic id, its IANA zone. */
    clinicTimezones: z.record(z.string(), z.string()).default({}),
  })
  .prefault({});

/** Contact fields staff may edit in Spruce and that are written back to Spry. */
export const WRITE_BACK_FIELDS = ['phoneNumbers', 'emailAddresses'] as const;

export const inboundPolicySchema = z
  .strictObject({
    /** Write Spruce edits of the `writeBackFields` back to the Spry patient. */
    writeBack: z.boolean().default(true),
    writeBackFields: z.array(z.enum(WRITE_BACK_FIELDS)).default([...WRITE_BACK_FIELDS]),
    /** Record Spruce conversation activity on the Spry chart. */
    activityLogging: z.boolean().default(true),
    /** Also record internal notes (off: notes stay in Spruce). */
    internalNotes: z.boolean().default(false),
    /** When a linked contact is deleted in Spruce: create it again on the next sync, or leave it gone. */
    onContactDeleted: z.enum(['recreate', 'leave']).default('recreate'),
    /** Link a hand-made contact to the one Spry patient matching its birth date and phone or email. */
    matchUnlinkedContacts: z.boolean().default(false),
  })
  .prefault({});

/** Bootstrap backfill (`spruce-sync backfill`, admin API). */
export const backfillPolicySchema = z
  .strictObject({
    /** Link a contact without a Spry link when it is the only one with the patient's birth date and phone or email. */
    matchExisting: z.boolean().default(false),
    /** Patients per Spry page (and per checkpoint). */
    pageSize: z.number().int().min(1).max(500).default(100),
    /** Patients in flight at once; 0 = sized from spry.requestsPerSecond. */
    concurrency: z.number().int().min(0).max(256).default(0),
  })
  .prefault({});

/** What the service runs on its own, per tenant; 0 minutes turns a schedule off. */
export const schedulesSchema = z
  .strictObject({
    /** Catch up on webhooks missed while the service was down (Spruce delivery log, Spry updated_since) when it starts. */
    catchUpOnStart: z.boolean().default(true),
    /** And this often while it runs (each run reads the Spruce delivery log since the last: ~1 call per 20 events). */
    catchUpEveryMinutes: z.number().min(0).default(15),
    /** Reconcile patients updated since the last run, repairing what differs. */
    reconcileEveryMinutes: z.number().min(0).default(60),
  })
  .prefault({});

/** Optional per-tenant alerts: a JSON POST when a condition starts and when it recovers. */
export const alertsSchema = z.strictObject({
  /** Where the POST goes (e.g. a chat or paging webhook). */
  url: z.url(),
  /** Fires while dead-letter jobs are above this count. */
  deadLettersAbove: z.number().int().min(0).default(0),
  /** Fires while this many webhook signature failures happened within `windowSeconds`. */
  signatureFailures: z.number().int().positive().default(10),
  /** Fires while this share (0–1) of a remote system's calls failed within `windowSeconds` (at least 5 calls). */
  apiFailureRate: z.number().gt(0).max(1).default(0.5),
  windowSeconds: z.number().int().positive().default(300),
  /** Extra headers for the POST, e.g. an authorization token of the receiver. */
  headers: z.record(z.string(), z.string()).default({}),
});

export const tenantSchema = z.strictObject({
  id: z.string().regex(/^[a-z0-9-]+$/, 'tenant ids use a-z, 0-9 and -'),
  spry: z.strictObject({
    baseUrl: z.url(),
    clientId: z.string().min(1),
    clientSecret: z.string().min(1),
    organisationId: z.number().int().positive(),
    webhookSecrets: secretList,
    chartUrl: z.string().includes('{patientId}', { message: 'must contain {patientId}' }),
    requestsPerSecond: z.number().positive().default(5),
  }),
  spruce: z.strictObject({
    baseUrl: z.url(),
    accessId: z.string().min(1),
    secretKey: z.string().min(1),
    webhookSecrets: secretList,
  }),
  sync: syncPolicySchema,
  inbound: inboundPolicySchema,
  alerts: alertsSchema.optional(),
  /** Who the tenant's event subscribers may be (docs/fanout.md). */
  fanout: tenantFanoutSchema,
  backfill: backfillPolicySchema,
  schedules: schedulesSchema,
});

export const configSchema = z.strictObject({
  server: z
    .strictObject({
      host: z.string().default('127.0.0.1'),
      port: z.number().int().min(0).max(65535).default(8080),
      /** Webhook bodies above this are refused with 413. */
      bodyLimitBytes: z.number().int().positive().default(1024 * 1024),
      /** How Spry and Spruce reach this service (https://…): `setup` registers webhooks there; catch-up finds our Spruce endpoint by it. */
      publicUrl: z.url().optional(),
      /** On SIGTERM/SIGINT (or a crash) running jobs get this long to finish; then the process exits non-zero. */
      shutdownTimeoutMs: z.number().int().positive().default(10_000),
    })
    .prefault({}),
  database: z
    .strictObject({
      url: z.string().default('sqlite:./data/spruce-sync.db'),
      /**
       * 32 bytes, base64 or hex: seals PHI and stored secrets at rest. Without it SQLite keeps a
       * generated key beside the database (`<file>.key`); PostgreSQL needs one (or `encryption: off`).
       */
      encryptionKey: z.string().optional(),
      /** Older keys, read only, while `spruce-sync rekey` moves every row to encryptionKey. */
      decryptionKeys: z.array(z.string()).optional(),
      /** `off` stores PHI in plaintext (every start warns); only when written explicitly. */
      encryption: z.enum(['on', 'off']).default('on'),
      synchronous: z.enum(['NORMAL', 'FULL']).default('FULL'),
      /** PostgreSQL: keep our tables in this schema (created on start); default: the server's search_path. */
      schema: z
        .string()
        .regex(/^[A-Za-z_][A-Za-z0-9_]{0,62}$/, 'a plain identifier: letters, digits and _')
        .optional(),
      /** PostgreSQL: connections per instance (plus one per leadership duty). */
      poolSize: z.number().int().min(2).max(200).default(10),
    })
    .prefault({}),
  workers: z
    .strictObject({
      concurrency: z.number().int().positive().default(32),
      /** Most jobs one tenant runs at once, on all instances together. Default: all when one tenant, else half. */
      perTenantConcurrency: z.number().int().positive().optional(),
      /** This instance's name in job leases; unique among running instances. Default: hostname:pid. */
      workerId: z.string().min(1).optional(),
      leaseMs: z.number().int().positive().default(60_000),
      pollIntervalMs: z.number().int().positive().default(1_000),
      maxAttempts: z.number().int().positive().default(12),
      /** A Spry job waits this long after its first event, so a burst becomes one run. */
      coalesceMs: z.number().int().min(0).default(100),
    })
    .prefault({}),
  log: z
    .strictObject({
      level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
      /** `json` (one object a line) or `pretty` (for people); default: pretty when stdout is a terminal, else JSON. */
      format: z.enum(['json', 'pretty']).optional(),
    })
    .prefault({}),
  admin: z
    .strictObject({
      /** Bearer token of the admin API and dashboard (`/admin`); without one both are off (404). */
      token: z.string().min(16, 'use at least 16 characters').optional(),
      /** How often the service checks alert conditions. */
      alertCheckSeconds: z.number().int().positive().default(30),
    })
    .prefault({}),
  retention: z
    .strictObject({
      /** Payloads of processed (and ignored, test) events older than this are removed. */
      payloadDays: z.number().positive().default(30),
      /** How often the service prunes; 0 = only on demand (`spruce-sync prune`, admin API). */
      pruneEveryMinutes: z.number().min(0).default(60),
      /** Job attempts and fan-out delivery attempts older than this are deleted. */
      attemptDays: z.number().positive().default(30),
      /**
       * Audit rows older than this are written to a gzip file in auditArchiveDir and only then
       * deleted. Unset (the default): the audit trail is never deleted.
       */
      auditArchiveAfterDays: z.number().positive().optional(),
      /** Where audit archive files go (created 0700; files 0600). Needed with auditArchiveAfterDays. */
      auditArchiveDir: z.string().min(1).optional(),
    })
    .refine((r) => r.auditArchiveAfterDays === undefined || r.auditArchiveDir !== undefined, {
      message: 'auditArchiveAfterDays needs auditArchiveDir (the folder archive files are written to)',
      path: ['auditArchiveDir'],
    })
    .prefault({}),
  /** Event fan-out to the clinic's other systems (docs/fanout.md). */
  fanout: fanoutSchema,
  /**
   * Seeded into the tenant directory at start (source `config`: changed only here). More tenants
   * are added through the admin API or `spruce-sync tenants add`; a deployment may start with none.
   */
  tenants: z.array(tenantSchema).default([]),
});

export type Config = z.infer<typeof configSchema>;
export type TenantConfig = z.infer<typeof tenantSchema>;
export type SyncPolicy = z.infer<typeof syncPolicySchema>;
export type InboundPolicy = z.infer<typeof inboundPolicySchema>;
export type FieldNames = z.infer<typeof fieldNamesSchema>;
export type AlertsConfig = z.infer<typeof alertsSchema>;
export type BackfillPolicy = z.infer<typeof backfillPolicySchema>;
export type Schedules = z.infer<typeof schedulesSchema>;
