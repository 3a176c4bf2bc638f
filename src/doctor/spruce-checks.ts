// The Spruce checks: the credentials and their organization, our contact fields and tag, our
// webhook endpoint (registered, not paused) and what its delivery log says about recent
// deliveries.
import { errorCode, SyncError } from '../errors.ts';
import type { FieldNames } from '../config/schema.ts';
import type { SpruceWebhookEndpoint, SpruceWebhookEndpointEvent } from '../spruce/types.ts';
import { webhookUrls } from '../sync/webhook-registration.ts';
import { findOurs } from './ours.ts';
import { observe, type Observed, type Probe } from './probe.ts';
import { listShapeProblems, shapeProblems } from './shape.ts';
import type { DoctorTarget } from './spry-checks.ts';
import { fail, ok, skip, warn, type CheckResult } from './types.ts';
import { readSpruce, topLevelKeys } from './vendor-answer.ts';
import { SPRUCE_EVENT, SPRUCE_LOGGED_EVENT } from './vendor-shapes.ts';

export interface SpruceTarget extends DoctorTarget {
  fieldNames: FieldNames;
  tag: string;
}

/** How far back the delivery log is read, and at most how many pages (20 events each). */
const LOG_WINDOW_MS = 24 * 3_600_000;
const LOG_PAGES = 5;

/** The answer's failure as the result naming the broken assumption; undefined when it was a good answer. */
function answerFailure(check: string, route: string, observed: Observed<unknown>, pathAssumption: string): CheckResult | undefined {
  const answer = observed.exchanges.at(-1);
  if (!answer) {
    return fail(check, `${route}: no answer (${errorCode(observed.error)})`, {
      action: 'check tenants[].spruce.baseUrl and that this machine can reach it',
      assumption: 'spruce.base-url',
    });
  }
  const reading = readSpruce(answer);
  if (!reading.ok) {
    switch (reading.problem) {
      case 'refused':
        return fail(check, `Spruce refused the credentials (${reading.detail})`, {
          action: 'check tenants[].spruce.accessId and secretKey (a disabled or revoked key gets 403)',
          assumption: 'spruce.auth',
        });
      case 'missing-path':
        return fail(check, `${route} answered ${reading.detail}: Spruce has no such path here`, {
          action: 'check tenants[].spruce.baseUrl (it ends in /v1)',
          assumption: pathAssumption,
        });
      default:
        return fail(check, `${route} answered ${reading.detail}`, {
          action: 'try again; if it persists, capture the answer and tell Spruce and us',
          assumption: pathAssumption,
        });
    }
  }
  if (observed.error) {
    const message = observed.error instanceof SyncError ? observed.error.message : errorCode(observed.error);
    return fail(check, `${route}: our client refused the answer (${message}; ${topLevelKeys(reading.data)})`, {
      action: 'capture the answer and tell us',
      assumption: pathAssumption,
    });
  }
  return undefined;
}

export async function spruceChecks(probe: Probe, target: SpruceTarget): Promise<CheckResult[]> {
  const { spruce, spruceTap: tap } = probe;
  const org = await observe(tap, () => spruce.getOrganization());
  const orgFailure = answerFailure('spruce.credentials', 'GET /organization', org, 'spruce.path.organization');
  if (orgFailure) {
    return [orgFailure, ...['spruce.fields', 'spruce.tag', 'spruce.endpoint', 'spruce.deliveries'].map((c) => skip(c, 'needs working Spruce credentials'))];
  }
  const results = [ok('spruce.credentials', `credentials act for organization ${org.value!.id}`)];
  results.push(await fieldsCheck(probe, target));
  results.push(await tagCheck(probe, target));
  const endpoint = await endpointCheck(probe, target);
  results.push(endpoint.result);
  results.push(endpoint.ours ? await deliveriesCheck(probe, endpoint.ours, target.now) : skip('spruce.deliveries', 'needs our webhook endpoint'));
  return results;
}

const lower = (s: string) => s.trim().toLowerCase();

async function fieldsCheck(probe: Probe, target: SpruceTarget): Promise<CheckResult> {
  const check = 'spruce.fields';
  const observed = await observe(probe.spruceTap, () => probe.spruce.listContactFields());
  const failure = answerFailure(check, 'GET /contacts/fields', observed, 'spruce.fields');
  if (failure) return failure;
  const names = new Set(observed.value!.map((f) => f.name));
  const wanted = Object.values(target.fieldNames);
  const missing = wanted.filter((n) => !names.has(n));
  // A field that differs only in case or spaces is someone's rename: the sync would add a second one.
  const near = missing.filter((n) => [...names].some((have) => lower(have) === lower(n)));
  if (near.length > 0) {
    return warn(check, `${near.length} of our contact fields exist under a differently written name`, {
      action: 'set sync.fieldNames to the names used in Spruce, or rename the fields in Spruce back; otherwise the first sync adds duplicates',
      assumption: 'spruce.fields',
    });
  }
  if (missing.length === 0) return ok(check, `all ${wanted.length} contact fields present`);
  return ok(check, `${wanted.length - missing.length} of ${wanted.length} contact fields present; the first sync creates the other ${missing.length}`);
}

async function tagCheck(probe: Probe, target: SpruceTarget): Promise<CheckResult> {
  const check = 'spruce.tag';
  const observed = await observe(probe.spruceTap, () => probe.spruce.listTags());
  const failure = answerFailure(check, 'GET /contacts/tags', observed, 'spruce.tags');
  if (failure) return failure;
  const values = observed.value!.map((t) => t.value);
  if (values.includes(target.tag)) return ok(check, 'our contact tag is present');
  if (values.some((v) => lower(v) === lower(target.tag))) {
    return warn(check, 'our contact tag exists under a differently written value', {
      action: 'set sync.tag to the value used in Spruce; otherwise the first sync adds a second tag',
      assumption: 'spruce.tags',
    });
  }
  return ok(check, `our contact tag is not there yet; the first sync creates it (${values.length} tags in the organization)`);
}

async function endpointCheck(probe: Probe, target: SpruceTarget): Promise<{ result: CheckResult; ours?: SpruceWebhookEndpoint }> {
  const check = 'spruce.endpoint';
  const observed = await observe(probe.spruceTap, () => probe.spruce.listWebhookEndpoints());
  const failure = answerFailure(check, 'GET /webhooks/endpoints', observed, 'spruce.path.endpoints');
  if (failure) return { result: failure };
  const endpoints = observed.value!;
  const expected = target.publicUrl ? webhookUrls(target.publicUrl, target.tenantId).spruce : undefined;
  const ours = findOurs(endpoints, (e) => e.url, expected, 'spruce', target.tenantId);
  const where = expected ?? `a URL ending in /webhooks/spruce/${target.tenantId} (server.publicUrl is not set)`;
  if (ours.length === 0) {
    return {
      result: fail(check, `no Spruce webhook endpoint delivers to ${where} (${endpoints.length} endpoints in the organization)`, {
        action: 'run `spruce-sync setup --config <file>` (it registers the endpoint), then put the secret it returns into the config',
        assumption: 'setup.spruce-endpoint',
      }),
    };
  }
  const endpoint = ours.find((e) => e.status === 'active') ?? ours[0]!;
  if (endpoint.status === 'paused') {
    return {
      ours: endpoint,
      result: fail(check, `endpoint ${endpoint.id} is paused: Spruce delivers nothing to us`, {
        action: `resume it (POST /webhooks/endpoints/${endpoint.id}/paused?paused=false); the service catches up on what was held from the delivery log`,
        assumption: 'setup.spruce-endpoint-active',
      }),
    };
  }
  if (endpoint.status !== 'active') {
    return {
      ours: endpoint,
      result: warn(check, `endpoint ${endpoint.id} has a status we do not know (neither active nor paused)`, {
        action: 'ask Spruce what the status means for deliveries',
        assumption: 'spruce.endpoint-status',
      }),
    };
  }
  if (ours.length > 1) {
    return {
      ours: endpoint,
      result: warn(check, `${ours.length} endpoints deliver to us: each event arrives ${ours.length} times`, {
        action: 'delete the extra endpoints (DELETE /webhooks/endpoints/{id})',
        assumption: 'setup.spruce-endpoint',
      }),
    };
  }
  return { ours: endpoint, result: ok(check, `endpoint ${endpoint.id} active at our URL`) };
}

async function deliveriesCheck(probe: Probe, endpoint: SpruceWebhookEndpoint, now: number): Promise<CheckResult> {
  const check = 'spruce.deliveries';
  const route = 'GET /webhooks/endpoints/{endpointId}/events';
  const startTime = new Date(now - LOG_WINDOW_MS).toISOString();
  const events: SpruceWebhookEndpointEvent[] = [];
  let paginationToken: string | undefined;
  for (let page = 0; page < LOG_PAGES; page++) {
    const observed = await observe(probe.spruceTap, () => probe.spruce.listWebhookEndpointEvents(endpoint.id, { startTime, paginationToken }));
    const failure = answerFailure(check, route, observed, 'spruce.delivery-log');
    if (failure) return failure;
    events.push(...observed.value!.items);
    paginationToken = observed.value!.paginationToken;
    if (!observed.value!.hasMore || !paginationToken) break;
  }
  const logProblems = listShapeProblems(events, SPRUCE_LOGGED_EVENT);
  if (logProblems.length > 0) {
    return fail(check, `${route}: log entries not as we read them: ${logProblems.join('; ')}`, {
      action: 'catch-up cannot read the log: tell us what Spruce changed',
      assumption: 'spruce.delivery-log',
    });
  }
  const payloadProblems = events.flatMap((e, i) => {
    let payload: unknown;
    try {
      payload = JSON.parse(e.data);
    } catch {
      return [`[${i}].data: not JSON`];
    }
    return shapeProblems(payload, SPRUCE_EVENT).map((p) => `[${i}].data.${p}`);
  });
  if (payloadProblems.length > 0) {
    return fail(check, `${route}: logged events not in the documented envelope: ${payloadProblems.slice(0, 5).join('; ')}`, {
      action: 'catch-up and the webhook route would refuse these events: tell us what Spruce changed',
      assumption: 'spruce.event-envelope',
    });
  }
  const count = (status: string) => events.filter((e) => e.delivery?.status === status).length;
  const failed = count('failed');
  const retrying = events.filter((e) => e.delivery?.status === 'pending' && e.delivery.attempts > 0).length;
  const held = count('paused');
  const scope = `${events.length}${events.length >= LOG_PAGES * 20 ? '+' : ''} event${events.length === 1 ? '' : 's'} in the last 24 h`;
  if (failed + retrying + held > 0) {
    return warn(check, `${scope}: ${failed} failed, ${retrying} being retried, ${held} held while paused`, {
      action: 'check that Spruce can reach server.publicUrl (HTTPS, answered within 5 s); catch-up reads missed events from the log',
      assumption: 'spruce.delivery',
    });
  }
  return ok(check, `${scope}, none failed`);
}
