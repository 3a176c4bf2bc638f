// `Retry-After` is either delta-seconds or an HTTP-date (RFC 9110 §10.2.3).
import type { IncomingHttpHeaders } from 'node:http';

/** A header's first value, lower-case name. */
export function headerValue(headers: IncomingHttpHeaders | undefined, name: string): string | undefined {
  const value = headers?.[name];
  return Array.isArray(value) ? value[0] : value;
}

/** Seconds to wait, or undefined when the header is absent or unreadable. */
export function parseRetryAfter(value: string | undefined, nowMs: number): number | undefined {
  if (value === undefined) return undefined;
  const trimmed = value.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Number(trimmed);
  const date = Date.parse(trimmed);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, Math.ceil((date - nowMs) / 1000));
}

/** A non-negative integer header, or undefined when absent or not a number. */
export function intHeader(headers: IncomingHttpHeaders | undefined, name: string): number | undefined {
  const value = headerValue(headers, name);
  if (value === undefined || !/^\s*\d+\s*$/.test(value)) return undefined;
  return Number(value);
}
