import { describe, expect, it } from 'vitest';
import { codeForStatus } from './http/classify.ts';
import { AdminError, ERRORS, errorCode, isErrorCode, isRetryable, SyncError } from './errors.ts';

describe('the error catalog', () => {
  it('gives every code a message and every status an error status', () => {
    for (const [code, spec] of Object.entries(ERRORS)) {
      expect(spec.message, code).not.toBe('');
      if ('statusCode' in spec) expect(spec.statusCode, code).toBeGreaterThanOrEqual(400);
    }
  });

  it('holds every code the HTTP boundary classifies a remote answer as', () => {
    for (const system of ['spry', 'spruce'] as const) {
      for (const status of [400, 401, 403, 404, 408, 409, 422, 429, 500, 503]) {
        expect(isErrorCode(codeForStatus(system, status).code)).toBe(true);
      }
    }
  });

  it('takes retryable from the catalog unless the raiser knows better', () => {
    expect(new SyncError('SPRUCE_UNAVAILABLE').retryable).toBe(true);
    expect(new SyncError('SPRUCE_REJECTED').retryable).toBe(false);
    expect(new SyncError('UNEXPECTED', 'no handler', { retryable: false }).retryable).toBe(false);
    expect(new SyncError('CONFIG_INVALID').message).toBe(ERRORS.CONFIG_INVALID.message);
  });

  it('answers an operator refusal with its code’s status', () => {
    const error = new AdminError('not_dead', 'event 7 is processed');
    expect(error).toBeInstanceOf(SyncError);
    expect(error).toMatchObject({ code: 'not_dead', statusCode: 409, message: 'event 7 is processed', retryable: false });
    expect(new AdminError('unknown_tenant').statusCode).toBe(404);
  });

  it('reads only catalog codes: another library’s code is not ours to promise', () => {
    expect(errorCode(new SyncError('STORE_UNAVAILABLE'))).toBe('STORE_UNAVAILABLE');
    expect(errorCode(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }))).toBe('UNEXPECTED');
    expect(errorCode(new Error('x'), 'STORE_UNAVAILABLE')).toBe('STORE_UNAVAILABLE');
    expect(isRetryable(new Error('x'))).toBe(true);
  });
});
