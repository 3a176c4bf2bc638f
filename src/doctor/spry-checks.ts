// The Spry checks: the OAuth token, then each read the sync makes, at the path it uses, judged
// on the raw answer (envelope, page, fields), and our webhook subscription.
import { errorCode, SyncError } from '../errors.ts';
import { SPRY_TOKEN_PATH } from '../spry/token-source.ts';
import { SPRY_API_VERSION, SPRY_EVENT_TYPES, type SprySubscription } from '../spry/types.ts';
import { webhookUrls } from '../sync/webhook-registration.ts';
import { findOurs } from './ours.ts';
import { observe, type Observed, type Probe } from './probe.ts';
import { listShapeProblems, shapeProblems, type Shape } from './shape.ts';
import { fail, ok, skip, warn, type CheckResult } from './types.ts';
import { parseBody, readSpry, type Reading } from './vendor-answer.ts';
import { SPRY_APPOINTMENT, SPRY_CASE, SPRY_PAGE, SPRY_PATIENT, SPRY_SUBSCRIPTION } from './vendor-shapes.ts';
import type { Exchange } from './wire-tap.ts';

export interface DoctorTarget {
  tenantId: string;
  /** `server.publicUrl`: where our webhooks should point. */
  publicUrl?: string;
  now: number;
}

export interface SpryFindings {
  results: CheckResult[];
  /** The organisation's patient count, from the first page. */
  patientCount?: number;
}

const PAGE_SIZE = 5;
const BASE_URL_ACTION = 'check tenants[].spry.baseUrl (host, and no path prefix before /apis)';

const isToken = (e: Exchange) => e.path.split('?')[0]!.endsWith(SPRY_TOKEN_PATH);

/** The last answer of the call that was not a token fetch. */
function apiAnswer(observed: Observed<unknown>): Exchange | undefined {
  return observed.exchanges.filter((e) => !isToken(e)).at(-1);
}

function networkFailure(check: string, observed: Observed<unknown>, what: string): CheckResult {
  return fail(check, `${what}: no answer (${errorCode(observed.error)})`, {
    action: 'check tenants[].spry.baseUrl and that this machine can reach it',
    assumption: 'spry.base-url',
  });
}

function tokenCheck(observed: Observed<unknown>): CheckResult {
  const check = 'spry.token';
  const answer = observed.exchanges.find(isToken);
  if (!answer) return networkFailure(check, observed, `POST ${SPRY_TOKEN_PATH}`);
  const parsed = parseBody(answer);
  const body = (parsed.ok ? parsed.value : undefined) as Record<string, unknown> | undefined;
  const data = (typeof body?.code === 'number' ? body.data : body) as Record<string, unknown> | undefined;
  if (answer.status === 404 || answer.status === 405 || !parsed.ok) {
    return fail(check, `POST ${SPRY_TOKEN_PATH} answered HTTP ${answer.status}${parsed.ok ? '' : ', not JSON'}: no token endpoint there`, {
      action: BASE_URL_ACTION,
      assumption: 'spry.base-url',
    });
  }
  if (answer.status >= 400 || typeof data?.access_token !== 'string') {
    const error = typeof body?.error === 'string' && /^[a-z_]{2,40}$/.test(body.error) ? ` ${body.error}` : '';
    return fail(check, `Spry refused the client credentials (HTTP ${answer.status}${error})`, {
      action: 'check tenants[].spry.clientId and clientSecret (and that the API client is enabled in Spry)',
      assumption: 'spry.oauth',
    });
  }
  const expires = typeof data.expires_in === 'number' ? `expires in ${data.expires_in} s` : 'no expires_in (we assume 3600 s)';
  return ok(check, `token issued (${expires})`);
}

/** Turns a failed reading of `route` into the result that names the broken assumption. */
function readingFailure(check: string, route: string, reading: Extract<Reading, { ok: false }>, pathAssumption: string): CheckResult {
  switch (reading.problem) {
    case 'missing-path':
      return fail(check, `${route} answered ${reading.detail}: Spry has no such path here`, {
        action: `${BASE_URL_ACTION}; confirm the path with Spry`,
        assumption: pathAssumption,
      });
    case 'refused':
      return fail(check, `${route} refused our token (${reading.detail})`, {
        action: 'ask Spry to grant the API client read and write access to patients, cases and appointments',
        assumption: 'spry.oauth',
      });
    case 'code':
      return fail(check, `${route} answered ${reading.detail}`, { action: 'ask Spry what this code means for this call', assumption: pathAssumption });
    case 'status':
      return fail(check, `${route} answered ${reading.detail}`, { action: 'try again; if it persists, ask Spry', assumption: pathAssumption });
    default:
      return fail(check, `${route} answered ${reading.detail}`, {
        action: 'the answer is not what Spry documents: capture it and tell Spry and us',
        assumption: 'spry.envelope',
      });
  }
}

/** The answer as data, or the failure; when the client threw on an answer that looked fine, that too. */
function judge(check: string, route: string, observed: Observed<unknown>, pathAssumption: string, options: { envelopeOptional?: boolean } = {}): { data: unknown } | CheckResult {
  const answer = apiAnswer(observed);
  if (!answer) return networkFailure(check, observed, route);
  const reading = readSpry(answer, options);
  if (!reading.ok) return readingFailure(check, route, reading, pathAssumption);
  if (observed.error) {
    const message = observed.error instanceof SyncError ? observed.error.message : errorCode(observed.error);
    return fail(check, `${route}: our client refused the answer (${message})`, { action: 'capture the answer and tell us', assumption: 'spry.envelope' });
  }
  return { data: reading.data };
}

function shapeFailure(check: string, route: string, what: string, problems: string[], assumption: string): CheckResult {
  return fail(check, `${route}: ${what} not as we read it: ${problems.join('; ')}`, {
    action: 'the sync would misread these records: tell us which fields Spry changed',
    assumption,
  });
}

function checkItems(check: string, route: string, items: unknown[], shape: Shape, assumption: string, what: string): CheckResult | undefined {
  const problems = listShapeProblems(items, shape);
  return problems.length > 0 ? shapeFailure(check, route, what, problems, assumption) : undefined;
}

export async function spryChecks(probe: Probe, target: DoctorTarget): Promise<SpryFindings> {
  const { spry, spryTap: tap } = probe;
  const results: CheckResult[] = [];

  // The first read fetches the token, so one call answers both checks.
  const pageRoute = 'GET /apis/v1/patient';
  const page = await observe(tap, () => spry.listPatients({ page: 1, size: PAGE_SIZE }));
  const token = tokenCheck(page);
  results.push(token);
  const later = ['spry.patients.page', 'spry.patient', 'spry.cases', 'spry.appointments', 'spry.subscription'];
  if (token.status === 'fail') {
    results.push(...later.map((c) => skip(c, 'needs a Spry token')));
    return { results };
  }

  let patientCount: number | undefined;
  let patientId: number | undefined;
  const pageJudged = judge('spry.patients.page', pageRoute, page, 'spry.path.patients');
  if (!('data' in pageJudged)) {
    results.push(pageJudged);
  } else {
    const problems = shapeProblems(pageJudged.data, SPRY_PAGE);
    if (problems.length > 0) {
      results.push(shapeFailure('spry.patients.page', pageRoute, 'the page', problems, 'spry.page'));
    } else {
      const data = pageJudged.data as { total: number; pages: number; content: unknown[] };
      const itemProblem = checkItems('spry.patients.page', pageRoute, data.content, SPRY_PATIENT, 'spry.shape.patient', 'patients');
      results.push(itemProblem ?? ok('spry.patients.page', `${data.total} patients in ${data.pages} pages; read ${data.content.length}`));
      patientCount = data.total;
      const first = data.content[0] as { patient_id?: unknown } | undefined;
      if (!itemProblem && typeof first?.patient_id === 'number') patientId = first.patient_id;
    }
  }

  if (patientId === undefined) {
    const reason = patientCount === 0 ? 'no patients in Spry to read' : 'needs a patient from the page';
    results.push(skip('spry.patient', reason), skip('spry.cases', reason), skip('spry.appointments', reason));
  } else {
    results.push(await patientCheck(probe, patientId));
    results.push(...(await caseChecks(probe, patientId)));
    results.push(...(await appointmentChecks(probe, patientId, target.now)));
  }
  results.push(await subscriptionCheck(probe, target));
  return { results, patientCount };
}

async function patientCheck(probe: Probe, patientId: number): Promise<CheckResult> {
  const check = 'spry.patient';
  const route = 'GET /apis/v1/patient/{patient_id}';
  const observed = await observe(probe.spryTap, () => probe.spry.getPatient(patientId));
  // The client reads 404 + code 4004 as "no such patient"; for a patient the list just gave, the path is wrong.
  const answer = apiAnswer(observed);
  const reading = answer ? readSpry(answer) : undefined;
  if (answer?.status === 404 && reading && !reading.ok && reading.problem === 'code') {
    return fail(check, `${route} says patient ${patientId}, which the list returned, does not exist (${reading.detail})`, {
      action: 'the list and the record read disagree: ask Spry which path reads one patient',
      assumption: 'spry.path.patient',
    });
  }
  const judged = judge(check, route, observed, 'spry.path.patient');
  if (!('data' in judged)) return judged;
  const problems = shapeProblems(judged.data, SPRY_PATIENT);
  if (problems.length > 0) return shapeFailure(check, route, 'the patient', problems, 'spry.shape.patient');
  return ok(check, `patient ${patientId} read`);
}

async function caseChecks(probe: Probe, patientId: number): Promise<CheckResult[]> {
  const check = 'spry.cases';
  const route = 'GET /apis/v1/patient/{patient_id}/cases';
  const observed = await observe(probe.spryTap, () => probe.spry.listPatientCases(patientId));
  const judged = judge(check, route, observed, 'spry.path.cases');
  if (!('data' in judged)) return [judged];
  const items = Array.isArray(judged.data) ? judged.data : (judged.data as { content?: unknown } | null)?.content;
  if (!Array.isArray(items)) return [shapeFailure(check, route, 'the answer', ['data: expected a list or a page'], 'spry.path.cases')];
  const problem = checkItems(check, route, items, SPRY_CASE, 'spry.shape.case', 'cases');
  if (problem) return [problem];
  const results = [ok(check, `${items.length} case${items.length === 1 ? '' : 's'} of patient ${patientId}`)];
  const caseId = (items[0] as { spry_case_id?: string } | undefined)?.spry_case_id;
  if (caseId) {
    results.push(
      await readOne(probe, () => probe.spry.getCase(caseId), {
        check: 'spry.case',
        route: 'GET /apis/soap-enrichment/v1/patientCase/{spry_case_id}',
        record: `case ${caseId}`,
        shape: SPRY_CASE,
        pathAssumption: 'spry.path.case',
        shapeAssumption: 'spry.shape.case',
      }),
    );
  }
  return results;
}

/** Reads one record a list just returned, by its id: it must be there, in the shape we read. */
async function readOne(
  probe: Probe,
  call: () => Promise<unknown>,
  what: { check: string; route: string; record: string; shape: Shape; pathAssumption: string; shapeAssumption: string },
): Promise<CheckResult> {
  const observed = await observe(probe.spryTap, call);
  const judged = judge(what.check, what.route, observed, what.pathAssumption);
  if (!('data' in judged)) return judged;
  if (judged.data === null || judged.data === undefined) {
    return fail(what.check, `${what.route} found no ${what.record}, which the list returned`, { assumption: what.pathAssumption });
  }
  const problems = shapeProblems(judged.data, what.shape);
  if (problems.length > 0) return shapeFailure(what.check, what.route, what.record, problems, what.shapeAssumption);
  return ok(what.check, `${what.record} read`);
}

async function appointmentChecks(probe: Probe, patientId: number, now: number): Promise<CheckResult[]> {
  const check = 'spry.appointments';
  const route = 'GET /apis/v1/appointment';
  // A year back, so that a patient with only past visits still shows the shape.
  const fromEpochSeconds = Math.floor(now / 1000) - 365 * 86_400;
  const observed = await observe(probe.spryTap, () => probe.spry.listPatientAppointments(patientId, { fromEpochSeconds, page: 1, size: PAGE_SIZE }));
  const judged = judge(check, route, observed, 'spry.path.appointments');
  if (!('data' in judged)) return [judged];
  const pageProblems = shapeProblems(judged.data, SPRY_PAGE);
  if (pageProblems.length > 0) return [shapeFailure(check, route, 'the page', pageProblems, 'spry.page')];
  const data = judged.data as { total: number; content: unknown[] };
  const problem = checkItems(check, route, data.content, SPRY_APPOINTMENT, 'spry.shape.appointment', 'appointments');
  if (problem) return [problem];
  const results = [ok(check, `${data.total} appointment${data.total === 1 ? '' : 's'} of patient ${patientId} from a year back on`)];
  const appointmentId = (data.content[0] as { appointment_id?: number } | undefined)?.appointment_id;
  if (appointmentId !== undefined) {
    results.push(
      await readOne(probe, () => probe.spry.getAppointment(appointmentId), {
        check: 'spry.appointment',
        route: 'GET /apis/v1/appointment/{appointment_id}',
        record: `appointment ${appointmentId}`,
        shape: SPRY_APPOINTMENT,
        pathAssumption: 'spry.path.appointment',
        shapeAssumption: 'spry.shape.appointment',
      }),
    );
  }
  return results;
}

async function subscriptionCheck(probe: Probe, target: DoctorTarget): Promise<CheckResult> {
  const check = 'spry.subscription';
  const route = 'GET /api/v2/subscriptions';
  const observed = await observe(probe.spryTap, () => probe.spry.listSubscriptions());
  const judged = judge(check, route, observed, 'spry.path.subscriptions', { envelopeOptional: true });
  if (!('data' in judged)) return judged;
  const list = observed.value ?? [];
  const problems = listShapeProblems(list, SPRY_SUBSCRIPTION);
  if (problems.length > 0) return shapeFailure(check, route, 'subscriptions', problems, 'spry.shape.subscription');
  const expected = target.publicUrl ? webhookUrls(target.publicUrl, target.tenantId).spry : undefined;
  const ours = findOurs<SprySubscription>(list, (s) => s.notification_url, expected, 'spry', target.tenantId);
  const where = expected ?? `a URL ending in /webhooks/spry/${target.tenantId} (server.publicUrl is not set)`;
  if (ours.length === 0) {
    return fail(check, `no Spry subscription delivers to ${where} (${list.length} subscriptions in the organisation)`, {
      action: 'run `spruce-sync setup --config <file>` (it registers the subscription)',
      assumption: 'setup.spry-subscription',
    });
  }
  const active = ours.find((s) => s.is_active);
  if (!active) {
    return fail(check, `subscription ${ours[0]!.id} delivers to us but is inactive`, {
      action: 'activate it in Spry (PATCH /api/v2/subscriptions/{id} is_active=true); missed events come back through reconcile',
      assumption: 'setup.spry-subscription-active',
    });
  }
  const missing = SPRY_EVENT_TYPES.filter((t) => !active.event_types.includes(t));
  if (missing.length > 0) {
    return fail(check, `subscription ${active.id} does not send ${missing.join(', ')}`, {
      action: 'add the missing event types to the subscription in Spry',
      assumption: 'setup.spry-subscription-events',
    });
  }
  if (active.api_version !== SPRY_API_VERSION) {
    return fail(check, `subscription ${active.id} sends api_version ${active.api_version.replace(/[^\w.-]/g, '').slice(0, 20)}, we read ${SPRY_API_VERSION}`, {
      action: `move it to ${SPRY_API_VERSION} (PATCH api_version)`,
      assumption: 'spry.webhook-version',
    });
  }
  if (ours.length > 1) {
    return warn(check, `subscription ${active.id} is active, but ${ours.length} subscriptions point at us: each event would arrive ${ours.length} times`, {
      action: 'delete the extra subscriptions in Spry',
      assumption: 'setup.spry-subscription',
    });
  }
  return ok(check, `subscription ${active.id} active with all ${SPRY_EVENT_TYPES.length} event types`);
}
