// What a command or the service process says about a failure it did not expect: a stable code,
// never the error's text (a driver's or library's message may quote data, PHI included). Our own
// SyncError messages carry routes, ids and codes only, so their first line may be shown.
import { SyncError } from '../errors.ts';

/** SyncError's code, a system or driver code (ECONNREFUSED, a SQLSTATE), else the error's class name. */
export function failureCode(error: unknown): string {
  if (error instanceof SyncError) return error.code;
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && /^[A-Za-z0-9_.-]{1,64}$/.test(code)) return code;
  if (error instanceof Error && /^[A-Za-z]{1,64}$/.test(error.name)) return error.name;
  return 'UNEXPECTED';
}

/** One line for an operator: `failed: CODE`, plus the first line of our own message. */
export function failureLine(error: unknown): string {
  return `failed: ${failureCode(error)}${error instanceof SyncError ? ` (${error.message.split('\n')[0]})` : ''}`;
}
