// The shape every simulated operation has: a validated request in, a status and body out.
// Handlers never touch Fastify, so they stay small and the pipeline (api.ts) owns HTTP.
import type { SimContext } from './context.ts';
import type { SpruceEvents } from './events.ts';
import type { OrgState } from './state.ts';

export interface ApiRequest {
  org: OrgState;
  accessId: string;
  /** Path parameters and query, coerced to their OpenAPI types. */
  params: Record<string, string>;
  query: Record<string, unknown>;
  body: unknown;
}

export interface ApiResult {
  status: number;
  /** Omitted for the spec's body-less answers (e.g. `200 ok` of a delete). */
  body?: unknown;
}

export interface ApiServices {
  ctx: SimContext;
  events: SpruceEvents;
}

export type Handler = (services: ApiServices, request: ApiRequest) => ApiResult;

/** [ours] Page size when the caller gives none (the spec publishes only the maxima). */
export const DEFAULT_PAGE_SIZE = { large: 100, small: 50 } as const;
