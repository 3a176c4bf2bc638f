// What makes an answer a Spry answer: the `{code, data}` envelope, on a route Spry has, with the
// shape we read. Anything else (a gateway's 404 for a path Spry does not have, a web page, a
// record without its id) is a configuration error — a wrong base URL, a route or shape that
// changed — never "record missing": asking again will not mend it, so it is permanent and the job
// dead-letters, which raises the dead-letter alert and turns the tenant's health red.
import { SyncError } from '../errors.ts';

export interface ContractContext {
  route: string;
  status: number;
  requestId?: string;
  ids?: Record<string, string | number>;
}

/** `what` names the broken expectation; never any text of the answer (it may hold PHI). */
export function contractMismatch(what: string, ctx: ContractContext): SyncError {
  return new SyncError('SPRY_CONTRACT_MISMATCH', `Spry ${ctx.route} answered ${ctx.status} ${what} (check spry.baseUrl and the API version)`, {
    retryable: false,
    status: ctx.status,
    requestId: ctx.requestId,
    ids: ctx.ids,
  });
}

/** A record as Spry sends it: an object whose id field has the expected type. */
export function expectRecord<T>(data: unknown, idField: string, idType: 'number' | 'string', ctx: ContractContext): T {
  const record = data as Record<string, unknown> | null;
  if (typeof record !== 'object' || record === null || Array.isArray(record) || typeof record[idField] !== idType) {
    throw contractMismatch(`without a record carrying ${idField}`, ctx);
  }
  return data as T;
}
