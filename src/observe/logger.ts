// The one logger. Log lines carry ids (tenant, patient id, contact id, event id) and codes;
// PHI must never be passed in. Redaction of well-known PHI keys is the second line of defence.
import { pino, type Logger, type LevelWithSilent, type DestinationStream } from 'pino';

/** Keys that may hold PHI in either system's records. */
export const PHI_KEYS = [
  'givenName', 'middleName', 'familyName', 'displayName', 'dateOfBirth', 'phoneNumbers',
  'emailAddresses', 'faxNumbers', 'first_name', 'middle_name', 'last_name', 'name', 'alias',
  'date_of_birth', 'mobile', 'secondary_contact', 'email_address', 'address', 'text', 'summary',
  'body', 'payload', 'rawBody', 'value', 'rawValue', 'displayValue', 'organizationContactFields',
  'externalParticipants', 'title', 'authorization', 'clientSecret', 'secretKey', 'webhookSecrets',
];

function redactPaths(): string[] {
  return PHI_KEYS.flatMap((key) => [key, `*.${key}`, `*.*.${key}`]);
}

export function createLogger(options: { level?: LevelWithSilent; destination?: DestinationStream } = {}): Logger {
  return pino(
    {
      level: options.level ?? 'info',
      base: { service: 'spruce-sync' },
      redact: { paths: redactPaths(), censor: '[redacted]' },
    },
    options.destination,
  );
}

export type { Logger };
