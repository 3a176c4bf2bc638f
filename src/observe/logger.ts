// The one logger. Log lines carry ids (tenant, patient id, contact id, event id) and codes;
// PHI must never be passed in. Redaction of well-known PHI keys is the second line of defence.
// Lines are JSON (one object a line, for log shippers) unless a person is reading: `pretty` when
// stdout is a terminal or `log.format: pretty`. Redaction happens before either format.
import { writeSync } from 'node:fs';
import { pino, type Logger, type LevelWithSilent, type DestinationStream } from 'pino';
import { prettyFactory } from 'pino-pretty';

/** Keys that may hold PHI in either system's records. */
export const PHI_KEYS = [
  'givenName', 'middleName', 'familyName', 'displayName', 'dateOfBirth', 'phoneNumbers',
  'emailAddresses', 'faxNumbers', 'first_name', 'middle_name', 'last_name', 'name', 'alias',
  'date_of_birth', 'mobile', 'secondary_contact', 'email_address', 'address', 'text', 'summary',
  'body', 'payload', 'rawBody', 'value', 'rawValue', 'displayValue', 'organizationContactFields',
  'externalParticipants', 'title', 'authorization', 'clientSecret', 'secretKey', 'webhookSecrets',
];

export type LogFormat = 'json' | 'pretty';

function redactPaths(): string[] {
  return PHI_KEYS.flatMap((key) => [key, `*.${key}`, `*.*.${key}`]);
}

/** `json` or `pretty` as configured; unset: pretty on a terminal, JSON otherwise. */
export function logFormat(configured: LogFormat | undefined, isTerminal = process.stdout.isTTY === true): LogFormat {
  return configured ?? (isTerminal ? 'pretty' : 'json');
}

/**
 * Human-readable lines to stdout, written synchronously: a line logged just before the process
 * exits (a crash, a drain deadline) is not lost in a stream buffer.
 */
export function prettyDestination(options: { colorize?: boolean; fd?: number } = {}): DestinationStream {
  const prettify = prettyFactory({
    colorize: options.colorize ?? process.stdout.isTTY === true,
    translateTime: 'SYS:yyyy-mm-dd HH:MM:ss.l',
    ignore: 'pid,hostname,service',
  });
  const fd = options.fd ?? 1;
  return { write: (line: string) => void writeSync(fd, prettify(line)) };
}

export function createLogger(options: { level?: LevelWithSilent; format?: LogFormat; destination?: DestinationStream } = {}): Logger {
  const destination = options.destination ?? (logFormat(options.format) === 'pretty' ? prettyDestination() : undefined);
  return pino(
    {
      level: options.level ?? 'info',
      base: { service: 'spruce-sync' },
      redact: { paths: redactPaths(), censor: '[redacted]' },
    },
    destination,
  );
}

export type { Logger };
