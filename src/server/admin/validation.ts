// Validation for the admin API. Unlike Fastify's default (which silently drops unknown
// properties), an unknown query parameter or body field is refused: a misspelt filter would
// otherwise widen a search, or a replay, without the operator noticing.
import { Ajv, type ErrorObject } from 'ajv';
import type { FastifyInstance } from 'fastify';

export function strictValidation(app: FastifyInstance): void {
  const ajv = new Ajv({ coerceTypes: 'array', useDefaults: true, removeAdditional: false, allErrors: false, strict: false });
  app.setValidatorCompiler(({ schema }) => ajv.compile(schema));
  app.setSchemaErrorFormatter((errors, dataVar) => new Error(errors.map((e) => describe(e, dataVar)).join('; ')));
}

function describe(error: ErrorObject, dataVar: string): string {
  const where = `${dataVar}${error.instancePath.replace(/^\//, '.').replace(/\//g, '.')}`;
  if (error.keyword === 'additionalProperties') return `${where}: unknown parameter ${String(error.params.additionalProperty)}`;
  return `${where} ${error.message ?? 'is not valid'}`;
}
