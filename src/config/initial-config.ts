// The commented config `spruce-sync init` writes: a generated admin token and encryption key,
// `${NAME}` placeholders for every vendor credential (read from the environment at start, so
// the file holds no vendor secret), and the settings a clinic is most likely to change, each
// with a comment. It passes `spruce-sync config check` once the variables are set.
import { randomBytes } from 'node:crypto';

/** The environment variables the written config reads, in the order an operator meets them. */
export const INITIAL_CONFIG_ENV = [
  'SPRY_CLIENT_ID',
  'SPRY_CLIENT_SECRET',
  'SPRY_ORGANISATION_ID',
  'SPRY_WEBHOOK_SECRET',
  'SPRUCE_ACCESS_ID',
  'SPRUCE_SECRET_KEY',
  'SPRUCE_WEBHOOK_SECRET',
] as const;

export interface InitialConfigOptions {
  tenantId: string;
  databaseUrl: string;
  /** Default: 32 random bytes, base64url. */
  adminToken?: string;
  /** Default: 32 random bytes, base64. */
  encryptionKey?: string;
  /** Shown in the header. */
  writtenAt?: Date;
}

export function initialConfig(options: InitialConfigOptions): string {
  if (!/^[a-z0-9-]+$/.test(options.tenantId)) throw new RangeError('tenant ids use a-z, 0-9 and -');
  const adminToken = options.adminToken ?? randomBytes(32).toString('base64url');
  const encryptionKey = options.encryptionKey ?? randomBytes(32).toString('base64');
  const writtenAt = (options.writtenAt ?? new Date()).toISOString().replace(/\.\d{3}Z$/, 'Z');
  return `# spruce-sync config, written by \`spruce-sync init\` at ${writtenAt}.
# Reference: docs/configuration.md. Check it with: spruce-sync config check -c <this file>
# Every key is checked: one spruce-sync does not know (a typo) is an error, never ignored.
# \${NAME} is read from the environment when the service starts; a variable that is not set
# is an error. The vendor credentials below are all such placeholders.
#
# This file holds the admin token and the database encryption key: keep it private (it was
# written with mode 0600). Back the key up apart from the database: without it the stored
# payloads, snapshots and secrets cannot be read.

server:
  host: 127.0.0.1                 # 0.0.0.0 to listen on every interface (put TLS in front)
  port: 8080
  # How Spry and Spruce reach this service (https://…); \`spruce-sync setup\` registers webhooks there.
  # publicUrl: https://sync.example-clinic.com
  shutdownTimeoutMs: 10000        # on SIGTERM running jobs get this long, then the process exits non-zero

database:
  url: ${JSON.stringify(options.databaseUrl)}   # or postgres://user@host:5432/db (then also schema: and poolSize:)
  encryptionKey: "${encryptionKey}"
  synchronous: FULL               # SQLite: every acknowledged webhook is on disk

log:
  level: info
  # format: json                  # json or pretty; default: pretty on a terminal, JSON otherwise

admin:
  # Bearer token of the dashboard and admin API (/admin); remove it to turn both off.
  token: "${adminToken}"

retention:
  payloadDays: 30                 # payloads of processed events are removed after this many days
  attemptDays: 30                 # job and fan-out delivery attempts are deleted after this many days
  # auditArchiveAfterDays: 365    # move older audit rows to gzip files (default: never delete audit)
  # auditArchiveDir: ./audit-archive

tenants:
  - id: ${options.tenantId}       # a-z, 0-9 and -: part of the webhook URLs
    spry:
      baseUrl: https://provider.sprypt.com          # staging: https://provider.staging.spryhealth.care
      clientId: \${SPRY_CLIENT_ID}
      clientSecret: \${SPRY_CLIENT_SECRET}
      organisationId: \${SPRY_ORGANISATION_ID}      # a number
      # \`spruce-sync setup\` prints the secret Spry signs with; set the variable to it.
      webhookSecrets: ["\${SPRY_WEBHOOK_SECRET}"]
      chartUrl: "https://provider.sprypt.com/patients/{patientId}"
      requestsPerSecond: 5
    spruce:
      baseUrl: https://api.sprucehealth.com/v1
      accessId: \${SPRUCE_ACCESS_ID}
      secretKey: \${SPRUCE_SECRET_KEY}
      # \`spruce-sync setup\` prints the secret Spruce signs with; set the variable to it.
      webhookSecrets: ["\${SPRUCE_WEBHOOK_SECRET}"]
    sync:
      tag: Spry                   # put on every contact we keep
      timezone: America/New_York  # for "Next Appointment"
    inbound:
      writeBack: true             # phone and email edits in Spruce go back to Spry
      activityLogging: true       # conversation activity is noted on the Spry chart
    schedules:
      catchUpEveryMinutes: 15     # read what the vendors sent while we were not listening
      reconcileEveryMinutes: 60   # compare and repair recently changed patients
`;
}
