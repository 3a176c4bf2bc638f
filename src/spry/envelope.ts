// Spry wraps answers in `{code, data, message}`; `code !== 2000` is a failure whatever the HTTP
// status (some errors come with HTTP 200). Spry's code catalogue is not published: 4004 is
// "not found", 5xxx is read as a server fault, anything else as a permanent refusal.
import { SyncError } from '../errors.ts';
import { contractMismatch } from './contract.ts';

export const SPRY_OK = 2000;
export const SPRY_NOT_FOUND_CODE = 4004;

export interface SpryEnvelope {
  code: number;
  data?: unknown;
  message?: string;
}

export function isEnvelope(body: unknown): body is SpryEnvelope {
  return typeof body === 'object' && body !== null && typeof (body as { code?: unknown }).code === 'number';
}

export interface EnvelopeContext {
  route: string;
  status: number;
  requestId?: string;
  ids?: Record<string, string | number>;
}

/** The error for a failed envelope. The message names the code only: Spry's text may hold PHI. */
export function envelopeError(code: number, ctx: EnvelopeContext): SyncError {
  const details = { status: ctx.status, requestId: ctx.requestId, ids: ctx.ids };
  const message = `Spry ${ctx.route} answered code ${code} (HTTP ${ctx.status})`;
  if (code === SPRY_NOT_FOUND_CODE) return new SyncError('SPRY_NOT_FOUND', message, { ...details, retryable: false });
  if (code >= 5000 && code < 6000) return new SyncError('SPRY_UNAVAILABLE', message, { ...details, retryable: true });
  return new SyncError('SPRY_REJECTED', message, { ...details, retryable: false });
}

/** A success envelope's data; throws when the body is no envelope (no Spry answer) or a failed one. */
export function unwrapEnvelope(body: unknown, ctx: EnvelopeContext): unknown {
  if (!isEnvelope(body)) throw contractMismatch("without Spry's envelope", ctx);
  if (body.code !== SPRY_OK) throw envelopeError(body.code, ctx);
  return body.data;
}
