import type { z } from 'zod';
import { invalidWith200, invalidWith400, type SpryApiError } from '../envelope.ts';
import { parse, ValidationError } from '../validation.ts';

/**
 * Validates a request body or query. `httpStatus` says how this endpoint reports a validation
 * failure: 200 (code 4001, as Spry's v1 write endpoints do) or 400 (code 4001).
 */
export function validate<T extends z.ZodType>(schema: T, input: unknown, httpStatus: 200 | 400): z.output<T> {
  try {
    return parse(schema, input);
  } catch (error) {
    if (error instanceof ValidationError) throw (httpStatus === 200 ? invalidWith200 : invalidWith400)(error.message);
    throw error;
  }
}

/** A numeric path id; anything else is a 400 / 4001. */
export function numericId(value: string, name: string): number {
  if (!/^\d{1,15}$/.test(value)) throw invalidWith400(`${name} must be a positive integer`);
  return Number(value);
}

export type Fail = (message: string) => SpryApiError;
