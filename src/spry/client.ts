// The Spry EMR client (../shared/docs/spry-api.md): OAuth client credentials, the `{code, data}`
// envelope, pagination, at most 5 requests a second per organisation. Each [assumed] endpoint
// sits behind one method so that a change in Spry's contract touches one place.
import type { Dispatcher } from 'undici';
import { systemClock, type Clock } from '../clock.ts';
import { SyncError } from '../errors.ts';
import { safeToken } from '../http/classify.ts';
import { HttpClient, type HttpRequest, type RetryPolicy } from '../http/http-client.ts';
import { TokenBucket } from '../http/token-bucket.ts';
import type { OnCall, Priority, RequestLimiter } from '../http/types.ts';
import { contractMismatch, expectRecord } from './contract.ts';
import { envelopeError, isEnvelope, SPRY_NOT_FOUND_CODE, unwrapEnvelope } from './envelope.ts';
import { asSpryList, asSpryPage, spryItems } from './pages.ts';
import { SpryTokenSource } from './token-source.ts';
import type {
  SpryApi,
  SpryAppointment,
  SpryCase,
  SpryCommunication,
  SpryCommunicationInput,
  SpryListPatientsQuery,
  SpryPage,
  SpryPatient,
  SpryPatientPatch,
  SpryPatientStatus,
  SprySubscription,
} from './types.ts';

export interface SpryClientOptions {
  baseUrl: string;
  clientId: string;
  clientSecret: string;
  organisationId: number | string;
  clock?: Clock;
  /** Per attempt. Default 15 000. */
  timeoutMs?: number;
  /** Default 5. Ignored when `limiter` is given. */
  requestsPerSecond?: number;
  onCall?: OnCall;
  /** One limiter per organisation, shared when several clients act for it. */
  limiter?: RequestLimiter;
  /** A pool shared with other clients. */
  dispatcher?: Dispatcher;
  /** Default 'live'; see withPriority. */
  priority?: Priority;
  /** See stopWaitingOn. */
  stopWaiting?: AbortSignal;
  retry?: Partial<RetryPolicy>;
}

const SUMMARY_MAX = 2000;

interface Shared {
  http: HttpClient;
  tokens: SpryTokenSource;
}

type SpryRequest = Omit<HttpRequest, 'headers' | 'accept' | 'priority'> & {
  /** A missing record (HTTP 404 or code 4004) answers null instead of failing. */
  nullIfMissing?: boolean;
  /** The subscription service may answer without the envelope ([assumed]). */
  envelopeOptional?: boolean;
};

export class SpryClient implements SpryApi {
  private readonly shared: Shared;
  private readonly priority: Priority;
  private readonly ids: Record<string, string | number>;

  constructor(
    private readonly options: SpryClientOptions,
    shared?: Shared,
  ) {
    const clock = options.clock ?? systemClock;
    this.priority = options.priority ?? 'live';
    this.ids = { organisationId: options.organisationId };
    if (shared) {
      this.shared = shared;
      return;
    }
    const http = new HttpClient({
      system: 'spry',
      baseUrl: options.baseUrl,
      clock,
      timeoutMs: options.timeoutMs,
      dispatcher: options.dispatcher,
      onCall: options.onCall,
      retry: options.retry,
      requestIdHeader: 'x-request-id',
      limiter: options.limiter ?? new TokenBucket({ clock, ratePerSecond: options.requestsPerSecond ?? 5 }),
      errorDetail: (body) => {
        const code = isEnvelope(body) ? safeToken(body.code) : undefined;
        return code === undefined ? undefined : `code ${code}`;
      },
    });
    const tokens = new SpryTokenSource({
      http,
      clock,
      clientId: options.clientId,
      clientSecret: options.clientSecret,
      ids: this.ids,
    });
    this.shared = { http, tokens };
  }

  /** The same client (token, pool, limiter) sending at another priority, e.g. 'bulk' for backfill. */
  withPriority(priority: Priority): SpryClient {
    return new SpryClient({ ...this.options, priority }, this.shared);
  }

  /**
   * The same client whose calls stop waiting for their turn (the limiter, a retry) once `signal`
   * aborts: such a call fails with WORK_STOPPED, unsent. Calls already sent finish.
   */
  stopWaitingOn(signal: AbortSignal): SpryClient {
    return new SpryClient({ ...this.options, stopWaiting: signal }, this.shared);
  }

  async close(): Promise<void> {
    await this.shared.http.close();
  }

  async getPatient(patientId: number): Promise<SpryPatient | null> {
    return this.record<SpryPatient>('patient_id', 'number', {
      method: 'GET',
      path: '/apis/v1/patient/{patient_id}',
      params: { patient_id: patientId },
      ids: { patientId },
      nullIfMissing: true,
    });
  }

  async listPatients(query: SpryListPatientsQuery): Promise<SpryPage<SpryPatient>> {
    const path = '/apis/v1/patient';
    const data = await this.call({
      method: 'GET',
      path,
      query: { page: query.page, size: query.size, status: query.status, updated_since: query.updatedSince },
    });
    return asSpryPage<SpryPatient>(data, `GET ${path}`);
  }

  /** Every patient matching the filter, page by page. */
  iteratePatients(filter: { status?: SpryPatientStatus; updatedSince?: string; size?: number } = {}): AsyncGenerator<SpryPatient> {
    const { size = 100, ...rest } = filter;
    return spryItems((page) => this.listPatients({ ...rest, page, size }));
  }

  async patchPatient(patientId: number, patch: SpryPatientPatch): Promise<SpryPatient> {
    return this.record<SpryPatient>('patient_id', 'number', {
      method: 'PATCH',
      path: '/apis/v1/patient/{patient_id}',
      params: { patient_id: patientId },
      json: patch,
      // Setting the same fields twice leaves the same record.
      retrySafe: true,
      ids: { patientId },
    }) as Promise<SpryPatient>;
  }

  async getAppointment(appointmentId: number): Promise<SpryAppointment | null> {
    return this.record<SpryAppointment>('appointment_id', 'number', {
      method: 'GET',
      path: '/apis/v1/appointment/{appointment_id}',
      params: { appointment_id: appointmentId },
      ids: { appointmentId },
      nullIfMissing: true,
    });
  }

  async listPatientAppointments(
    patientId: number,
    query: { fromEpochSeconds: number; page: number; size: number },
  ): Promise<SpryPage<SpryAppointment>> {
    const path = '/apis/v1/appointment';
    const data = await this.call({
      method: 'GET',
      path,
      query: { patient_id: patientId, from: query.fromEpochSeconds, page: query.page, size: query.size },
      ids: { patientId },
    });
    return asSpryPage<SpryAppointment>(data, `GET ${path}`);
  }

  /** Every appointment of the patient from `fromEpochSeconds` on, in date order. */
  iteratePatientAppointments(patientId: number, fromEpochSeconds: number, size = 50): AsyncGenerator<SpryAppointment> {
    return spryItems((page) => this.listPatientAppointments(patientId, { fromEpochSeconds, page, size }));
  }

  async getCase(caseId: string): Promise<SpryCase | null> {
    return this.record<SpryCase>('spry_case_id', 'string', {
      method: 'GET',
      path: '/apis/soap-enrichment/v1/patientCase/{spry_case_id}',
      params: { spry_case_id: caseId },
      ids: { caseId },
      nullIfMissing: true,
    });
  }

  async listPatientCases(patientId: number): Promise<SpryCase[]> {
    const path = '/apis/v1/patient/{patient_id}/cases';
    const data = await this.call({ method: 'GET', path, params: { patient_id: patientId }, ids: { patientId } });
    return asSpryList<SpryCase>(data, `GET ${path}`);
  }

  async recordCommunication(patientId: number, input: SpryCommunicationInput): Promise<SpryCommunication> {
    const chars = [...input.summary];
    const summary = chars.length > SUMMARY_MAX ? `${chars.slice(0, SUMMARY_MAX - 1).join('')}…` : input.summary;
    return this.record<SpryCommunication>('communication_id', 'number', {
      method: 'POST',
      path: '/apis/v1/patient/{patient_id}/communication',
      params: { patient_id: patientId },
      json: { ...input, summary },
      // Spry answers a repeated external_id with the record it already has.
      retrySafe: true,
      ids: { patientId, externalId: input.external_id },
    }) as Promise<SpryCommunication>;
  }

  async listSubscriptions(): Promise<SprySubscription[]> {
    const path = '/api/v2/subscriptions';
    const data = await this.call({ method: 'GET', path, envelopeOptional: true });
    return asSpryList<SprySubscription>(data, `GET ${path}`);
  }

  async createSubscription(input: {
    name: string;
    event_types: string[];
    notification_url: string;
    api_version: string;
  }): Promise<SprySubscription & { signature_key: string }> {
    const data = await this.call<SprySubscription & { signature_key: string }>({
      method: 'POST',
      path: '/api/v2/subscriptions',
      json: input,
      envelopeOptional: true,
    });
    if (!data || typeof data.signature_key !== 'string') {
      // Not retryable: the subscription may exist now, and a second one would double deliveries.
      throw new SyncError('SPRY_REJECTED', 'Spry POST /api/v2/subscriptions answered without a signature key', {
        retryable: false,
        ids: this.ids,
      });
    }
    return data;
  }

  /** One record: null when missing (if the request allows), else checked to carry its id. */
  private async record<T>(idField: string, idType: 'number' | 'string', req: SpryRequest): Promise<T | null> {
    const data = await this.call(req);
    if (data === null) return null;
    return expectRecord<T>(data, idField, idType, { route: `${req.method} ${req.path}`, status: 200, ids: { ...this.ids, ...req.ids } });
  }

  /** One authenticated call: Bearer token, one renewal and retry on 401, envelope unwrapped. */
  private async call<T>(req: SpryRequest): Promise<T | null> {
    const { nullIfMissing = false, envelopeOptional = false, ...rest } = req;
    const route = `${req.method} ${req.path}`;
    const ids = { ...this.ids, ...req.ids };
    for (let renewed = false; ; renewed = true) {
      const token = await this.shared.tokens.get();
      const res = await this.shared.http.request({
        ...rest,
        ids,
        priority: this.priority,
        stopWaiting: this.options.stopWaiting,
        headers: { authorization: `Bearer ${token}` },
        // 404 is read here: Spry's "no such record" comes in its envelope; a 404 without it is
        // a path Spry does not have.
        accept: [...(renewed ? [] : [401]), 404],
      });
      if (res.status === 401) {
        this.shared.tokens.invalidate(token);
        continue;
      }
      const context = { route, status: res.status, requestId: res.requestId, ids };
      if (res.status === 404) {
        if (!isEnvelope(res.body)) throw contractMismatch("without Spry's envelope: a path Spry does not have", context);
        if (nullIfMissing) return null;
        throw envelopeError(res.body.code === 2000 ? SPRY_NOT_FOUND_CODE : res.body.code, context);
      }
      if (envelopeOptional && !isEnvelope(res.body)) return res.body as T;
      if (nullIfMissing && isEnvelope(res.body) && res.body.code === SPRY_NOT_FOUND_CODE) return null;
      const data = unwrapEnvelope(res.body, context);
      if (data === undefined || data === null) {
        if (nullIfMissing) return null;
        throw contractMismatch('a success envelope without data', context);
      }
      return data as T;
    }
  }
}
