// The admin API's OpenAPI description, assembled from the very schemas Fastify validates and
// serializes with (collected as the routes register), so the two cannot drift apart.
// OpenAPI 3.1: its schemas are JSON Schema, so ours go in unchanged.
import 'fastify';

export interface RouteRecord {
  method: string;
  url: string;
  schema?: {
    summary?: string;
    params?: unknown;
    querystring?: unknown;
    body?: unknown;
    response?: Record<string, unknown>;
  };
}

type JsonObject = { type?: unknown; properties?: Record<string, unknown>; required?: string[]; description?: unknown };

function parameters(schema: unknown, location: 'path' | 'query'): unknown[] {
  const object = schema as JsonObject | undefined;
  if (!object?.properties) return [];
  return Object.entries(object.properties).map(([name, property]) => {
    const { description, ...rest } = property as { description?: string };
    return {
      name,
      in: location,
      required: location === 'path' || (object.required ?? []).includes(name),
      ...(description ? { description } : {}),
      schema: rest,
    };
  });
}

function responses(response: Record<string, unknown> | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [status, schema] of Object.entries(response ?? {})) {
    const code = status.replace(/xx$/i, 'XX');
    out[code] = {
      description: code.startsWith('2') ? 'success' : 'error: { error: code, message }',
      content: { 'application/json': { schema } },
    };
  }
  out['401'] ??= { description: 'missing or wrong bearer token' };
  return out;
}

export function buildOpenApi(routes: RouteRecord[], info: { title: string; version: string }): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of routes) {
    const path = route.url.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
    const schema = route.schema ?? {};
    const body = schema.body as JsonObject | undefined;
    const operation: Record<string, unknown> = {
      summary: schema.summary ?? `${route.method} ${path}`,
      parameters: [...parameters(schema.params, 'path'), ...parameters(schema.querystring, 'query')],
      responses: responses(schema.response),
    };
    if (body) {
      operation.requestBody = {
        // A body whose type admits null may be left out.
        required: !(Array.isArray(body.type) && body.type.includes('null')),
        content: { 'application/json': { schema: body } },
      };
    }
    (paths[path] ??= {})[route.method.toLowerCase()] = operation;
  }
  return {
    openapi: '3.1.0',
    info: {
      ...info,
      description:
        'The operator API of spruce-sync: tenant health, event log, dead letters and replay, pause/resume, audit. ' +
        'Ids, codes and times only: no payloads, no PHI. Times are epoch milliseconds.',
    },
    components: { securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer' } } },
    security: [{ bearerAuth: [] }],
    paths,
  };
}

// Route schemas carry a one-line summary for the description (as @fastify/swagger's do).
declare module 'fastify' {
  interface FastifySchema {
    summary?: string;
  }
}
