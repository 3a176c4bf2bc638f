// Request (and, on demand, response) validation against Spruce's OpenAPI 3.0 description, the
// authority for every path, parameter and schema. Validators are compiled once per process
// (the spec never changes at run time) so that starting a simulator per test stays fast.
import fs from 'node:fs';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';

// ajv-formats is CommonJS; under NodeNext its default export is the module object.
const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ?? addFormatsModule) as (
  ajv: Ajv,
) => Ajv;

export const SPEC_PATH = new URL('../../../specs/spruce-openapi.json', import.meta.url);

type Json = Record<string, unknown>;

export type HttpMethod = 'GET' | 'POST' | 'PATCH' | 'DELETE' | 'PUT';

export interface Operation {
  operationId: string;
  method: HttpMethod;
  /** The spec's path, e.g. `/contacts/{contactId}`. */
  path: string;
  /** The template the request log uses, e.g. `PATCH /v1/contacts/{contactId}`. */
  route: string;
  /** Fastify's form of `path`, e.g. `/contacts/:contactId`. */
  fastifyUrl: string;
  hasBody: boolean;
  bodyRequired: boolean;
  /** Declares the `s-idempotency-key` header. */
  idempotencyKey: boolean;
}

export interface RequestParts {
  params: Record<string, unknown>;
  query: Record<string, unknown>;
  /** `undefined` when the request had no body. */
  body: unknown;
}

export interface RequestCheck {
  errors: string[];
  /** Path and query parameters coerced to their schema types (`pageSize` → number …). */
  params: Record<string, unknown>;
  query: Record<string, unknown>;
  body: unknown;
}

/**
 * Operations whose description says "omitted or null fields are unchanged" (the schema itself
 * has no `nullable`): null members are dropped before validation, i.e. treated as omitted.
 */
const NULL_MEANS_OMITTED = new Set(['UpdateContact', 'UpdateConversation']);

interface CompiledOperation extends Operation {
  validateParams: ValidateFunction;
  validateQuery: ValidateFunction;
  validateBody?: ValidateFunction;
  responses: Map<string, Json | null>;
}

function clone<T>(value: T): T {
  return structuredClone(value);
}

/** Points the operation-level `$ref`s at the components document registered as `spruce`. */
function rebaseRefs(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(rebaseRefs);
  if (node && typeof node === 'object') {
    const out: Json = {};
    for (const [key, value] of Object.entries(node)) {
      out[key] = key === '$ref' && typeof value === 'string' && value.startsWith('#/') ? `spruce${value}` : rebaseRefs(value);
    }
    return out;
  }
  return node;
}

/**
 * The request-side copy of the components: every object schema with declared properties
 * rejects unknown ones. The spec does not forbid them, but a real server silently drops an
 * unknown (misspelt) field, which would hide our bug; the sandbox says so instead [ours].
 */
function strictify(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(strictify);
  if (node && typeof node === 'object') {
    const out: Json = {};
    for (const [key, value] of Object.entries(node)) out[key] = strictify(value);
    if (out.type === 'object' && out.properties && out.additionalProperties === undefined) out.additionalProperties = false;
    return out;
  }
  return node;
}

function newAjv(coerce: boolean): Ajv {
  const ajv = new Ajv({ strict: false, allErrors: true, coerceTypes: coerce, useDefaults: false });
  addFormats(ajv);
  // `url` per ajv-formats rejects loopback and private hosts; the spec only means "an absolute URL".
  ajv.addFormat('url', (value: string) => {
    try {
      new URL(value);
      return /^[a-z][a-z0-9+.-]*:/i.test(value);
    } catch {
      return false;
    }
  });
  // OpenAPI uses `format: string` on plain strings (phone numbers); it constrains nothing.
  ajv.addFormat('string', () => true);
  return ajv;
}

function formatError(where: string, error: ErrorObject): string {
  const at = `${where}${error.instancePath}`;
  const params = error.params as Record<string, unknown>;
  if (error.keyword === 'additionalProperties') return `${at} has unknown property '${String(params.additionalProperty)}'`;
  if (error.keyword === 'enum') return `${at} must be one of ${(params.allowedValues as unknown[]).join(', ')}`;
  return `${at} ${error.message ?? 'is invalid'}`;
}

function errorsOf(where: string, validate: ValidateFunction): string[] {
  const seen = new Set<string>();
  for (const error of validate.errors ?? []) seen.add(formatError(where, error));
  return [...seen];
}

export class OpenApiValidator {
  readonly operations: Operation[] = [];
  private readonly byId = new Map<string, CompiledOperation>();
  private readonly responseAjv = newAjv(false);
  private readonly bodyAjv = newAjv(false);
  private readonly inputValidators = new Map<string, ValidateFunction>();
  private readonly responseValidators = new Map<string, ValidateFunction>();

  constructor(spec: Json) {
    const components = spec.components as Json;
    const paramAjv = newAjv(true);
    paramAjv.addSchema({ components }, 'spruce');
    const strictComponents = strictify(components) as Json;
    // The PATCH description says `""` clears a field; for the date of birth the schema's
    // `format: date` would reject that `""`, so the request side accepts it explicitly.
    const schemas = strictComponents.schemas as Record<string, Json>;
    const updateContactProps = schemas.updateContact!.properties as Record<string, unknown>;
    updateContactProps.dateOfBirth = { anyOf: [{ $ref: '#/components/schemas/contact_dateOfBirth' }, { type: 'string', maxLength: 0 }] };
    const bodyAjv = this.bodyAjv;
    bodyAjv.addSchema({ components: strictComponents }, 'spruce');
    this.responseAjv.addSchema({ components: clone(components) }, 'spruce');

    const parameters = (components.parameters ?? {}) as Record<string, Json>;
    for (const [path, item] of Object.entries(spec.paths as Record<string, Json>)) {
      for (const [methodKey, rawOp] of Object.entries(item)) {
        if (!['get', 'post', 'patch', 'delete', 'put'].includes(methodKey)) continue;
        const op = rawOp as Json;
        const method = methodKey.toUpperCase() as HttpMethod;
        const params = ((op.parameters ?? []) as Json[]).map((p) =>
          typeof p.$ref === 'string' ? parameters[p.$ref.split('/').pop()!]! : p,
        );
        const group = (where: string) => {
          const list = params.filter((p) => p.in === where);
          return {
            type: 'object',
            properties: Object.fromEntries(list.map((p) => [p.name as string, rebaseRefs(p.schema ?? {})])),
            required: list.filter((p) => p.required).map((p) => p.name as string),
          };
        };
        const body = ((op.requestBody as Json | undefined)?.content as Json | undefined)?.['application/json'] as Json | undefined;
        const operationId = op.operationId as string;
        const responses = new Map<string, Json | null>();
        for (const [status, response] of Object.entries((op.responses ?? {}) as Record<string, Json>)) {
          const schema = ((response.content as Json | undefined)?.['application/json'] as Json | undefined)?.schema;
          responses.set(status, schema ? (rebaseRefs(schema) as Json) : null);
        }
        const compiled: CompiledOperation = {
          operationId,
          method,
          path,
          route: `${method} /v1${path}`,
          fastifyUrl: path.replace(/\{([^}]+)\}/g, ':$1'),
          hasBody: body !== undefined,
          bodyRequired: Boolean((op.requestBody as Json | undefined)?.required),
          idempotencyKey: params.some((p) => p.name === 's-idempotency-key'),
          validateParams: paramAjv.compile(group('path')),
          validateQuery: paramAjv.compile(group('query')),
          validateBody: body?.schema ? bodyAjv.compile(rebaseRefs(body.schema) as Json) : undefined,
          responses,
        };
        this.byId.set(operationId, compiled);
        const { validateParams: _p, validateQuery: _q, validateBody: _b, responses: _r, ...plain } = compiled;
        this.operations.push(plain);
      }
    }
  }

  operation(operationId: string): Operation | undefined {
    return this.byId.get(operationId);
  }

  /** Checks path parameters, query and JSON body of one request against its operation. */
  validateRequest(operationId: string, parts: RequestParts): RequestCheck {
    const op = this.byId.get(operationId);
    if (!op) throw new Error(`unknown operation ${operationId}`);
    const errors: string[] = [];
    const params = { ...parts.params };
    if (!op.validateParams(params)) errors.push(...errorsOf('path', op.validateParams));
    const query = { ...parts.query };
    if (!op.validateQuery(query)) errors.push(...errorsOf('query', op.validateQuery));
    let body = parts.body;
    if (op.validateBody) {
      if (body === undefined) {
        if (op.bodyRequired) errors.push('body is required (application/json)');
      } else {
        if (NULL_MEANS_OMITTED.has(operationId) && body && typeof body === 'object' && !Array.isArray(body)) {
          body = Object.fromEntries(Object.entries(body).filter(([, value]) => value !== null));
        }
        if (!op.validateBody(body)) errors.push(...errorsOf('body', op.validateBody));
      }
    }
    return { errors, params, query, body };
  }

  /** Checks a response body against the schema the operation declares for that status. */
  validateResponse(operationId: string, status: number, body: unknown): string[] {
    const op = this.byId.get(operationId);
    if (!op) return [`unknown operation ${operationId}`];
    const schema = op.responses.get(String(status));
    if (schema === undefined) return [`status ${status} is not declared for ${operationId}`];
    if (schema === null) return body === undefined || body === '' ? [] : [`response to ${operationId} ${status} should have no body`];
    const key = `${operationId} ${status}`;
    let validate = this.responseValidators.get(key);
    if (!validate) {
      validate = this.responseAjv.compile(schema);
      this.responseValidators.set(key, validate);
    }
    return validate(body) ? [] : errorsOf('response', validate);
  }

  /** Checks a value against a component schema as a request body would be (staff input). */
  validateInput(name: string, value: unknown): string[] {
    let validate = this.inputValidators.get(name);
    if (!validate) {
      validate = this.bodyAjv.compile({ $ref: `spruce#/components/schemas/${name}` });
      this.inputValidators.set(name, validate);
    }
    return validate(value) ? [] : errorsOf('body', validate);
  }

  /** Checks a value against a component schema (response side), e.g. a webhook payload. */
  validateSchema(name: string, value: unknown): string[] {
    const key = `#${name}`;
    let validate = this.responseValidators.get(key);
    if (!validate) {
      validate = this.responseAjv.compile({ $ref: `spruce#/components/schemas/${name}` });
      this.responseValidators.set(key, validate);
    }
    return validate(value) ? [] : errorsOf(name, validate);
  }
}

let cached: OpenApiValidator | undefined;

/** The validator for the repo's copy of the spec, compiled on first use and then shared. */
export function spruceOpenApi(): OpenApiValidator {
  cached ??= new OpenApiValidator(JSON.parse(fs.readFileSync(SPEC_PATH, 'utf8')) as Json);
  return cached;
}
