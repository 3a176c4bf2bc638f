// The Spry EMR simulator: the documented REST API (../shared/docs/spry-api.md) over seeded fake
// data, signed webhooks with Spry's retry schedule on an injectable clock, faults, and a control
// API for tests and demos. docs/sandbox-spry.md describes the contracts it assumes.
import type { AddressInfo } from 'node:net';
import { ControlledClock } from '../../clock.ts';
import { FaultInjector } from '../faults.ts';
import { buildApp } from './app.ts';
import { OAuthServer } from './oauth.ts';
import { hash32 } from './random.ts';
import { OrgRateLimiter } from './rate-limit.ts';
import { SpryRecords } from './records.ts';
import type { RequestLogEntry } from './request-log.ts';
import { buildOrganisation } from './seed-data.ts';
import { SpryStaff } from './staff.ts';
import { SubscriptionService } from './subscriptions.ts';
import type { SpryCredentials, SprySimulator, SprySimulatorOptions } from './types.ts';
import { SpryWebhooks } from './webhooks.ts';

export type {
  SpryCredentials,
  SpryOrganisationInfo,
  SpryOrganisationOptions,
  SprySimulator,
  SprySimulatorOptions,
} from './types.ts';
export type { RequestLogEntry } from './request-log.ts';
export type { SpryClinic, SpryDoctor } from './seed-data.ts';
export { SpryStaff } from './staff.ts';
export { signatureHeader, DELIVERY_TIMEOUT_MS, RETRY_DELAYS_MS, USER_AGENT } from './webhooks.ts';
export { ROTATION_OVERLAP_MS, SUPPORTED_API_VERSIONS } from './subscriptions.ts';
export { CODE } from './envelope.ts';
export { ValidationError } from './validation.ts';
export { RecordError } from './records.ts';

export const DEFAULT_ORGANISATION_ID = 74;
export const DEFAULT_PATIENTS = 200;

/** Deterministic sandbox credentials for an organisation (the same for the same seed). */
export function defaultCredentials(organisationId: number, seed = 1): SpryCredentials {
  const hash = hash32(seed, organisationId, 0x5ec2e7).toString(16).padStart(8, '0');
  return {
    organisationId,
    clientId: `spry-sandbox-${organisationId}`,
    clientSecret: `sandbox-secret-${organisationId}-${hash}`,
  };
}

export async function createSprySimulator(options: SprySimulatorOptions = {}): Promise<SprySimulator> {
  const clock = options.clock ?? new ControlledClock();
  const seed = options.seed ?? 1;
  const orgOptions = options.organisations ?? [{ ...defaultCredentials(DEFAULT_ORGANISATION_ID, seed), patients: DEFAULT_PATIENTS }];
  const ids = new Set<number>();
  for (const o of orgOptions) {
    if (!Number.isSafeInteger(o.organisationId) || o.organisationId <= 0) throw new Error(`Invalid organisationId ${o.organisationId}`);
    if (ids.has(o.organisationId)) throw new Error(`Duplicate organisationId ${o.organisationId}`);
    if (!Number.isInteger(o.patients) || o.patients < 0 || o.patients > 999_000) throw new Error(`Invalid patient count ${o.patients}`);
    ids.add(o.organisationId);
  }
  const credentials: SpryCredentials[] = orgOptions.map(({ organisationId, clientId, clientSecret }) => ({
    organisationId,
    clientId,
    clientSecret,
  }));
  const referenceMs = clock.now();
  const seeds = orgOptions.map((o) =>
    buildOrganisation({ seed, organisationId: o.organisationId, name: o.name, patients: o.patients, referenceMs }),
  );

  const faults = new FaultInjector(seed);
  // Records emit through the webhooks, which read subscriptions from the records.
  const webhooks: SpryWebhooks = new SpryWebhooks(clock, faults, (org) => records.org(org).subscriptions.values());
  const records: SpryRecords = new SpryRecords(seeds, clock, (org, type, data) => webhooks.publish(org, type, data));
  const subscriptions = new SubscriptionService(records, clock);
  const staff = new SpryStaff(records, clock);
  const rateLimiter = new OrgRateLimiter(clock, options.requestsPerSecond ?? null);
  const oauth = new OAuthServer(clock, credentials, options.tokenTtlSeconds ?? 3600, (org) => {
    const s = records.org(org).seed;
    return { name: s.name, clinicIds: s.clinics.map((c) => c.clinic_id) };
  });
  const requestLog: RequestLogEntry[] = [];
  const dispatcher = webhooks.dispatcher;
  let baseUrl: string | undefined;

  const sim: SprySimulator = {
    app: undefined as never, // set below, once built
    async listen({ port = 0, host = '127.0.0.1' } = {}) {
      await sim.app.listen({ port, host });
      const address = sim.app.server.address() as AddressInfo;
      const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
      baseUrl = `http://${shownHost}:${address.port}`;
      return baseUrl;
    },
    get url() {
      if (!baseUrl) throw new Error('The Spry simulator is not listening yet');
      return baseUrl;
    },
    async close() {
      dispatcher.stop();
      await sim.app.close();
    },
    clock,
    faults,
    dispatcher,
    settle: () => dispatcher.settle(),
    async advance(ms) {
      if (!(clock instanceof ControlledClock)) throw new Error('advance() needs a ControlledClock');
      const target = clock.now() + ms;
      // Step from one due retry/timeout to the next, letting each delivery finish before time
      // moves on; otherwise a retry would be scheduled from wherever the clock had jumped to.
      for (;;) {
        await settleBriefly(dispatcher);
        const next = dispatcher.nextDueAt();
        if (next === undefined || next > target) break;
        await clock.advanceTo(Math.max(next, clock.now()));
      }
      await clock.advanceTo(target);
      await settleBriefly(dispatcher);
    },
    requestLog,
    staff,
    credentials: () => credentials.map((c) => ({ ...c })),
    organisations: () =>
      records.organisationIds().map((organisationId) => {
        const s = records.org(organisationId).seed;
        return {
          organisationId,
          name: s.name,
          clinics: structuredClone(s.clinics),
          doctors: structuredClone(s.doctors),
          patientCount: records.patientCount(organisationId),
          firstPatientId: s.firstPatientId,
        };
      }),
    patient: (org, id) => records.patient(org, id),
    patients: (org) => [...records.patientIds(org)].map((id) => records.requirePatient(org, id)),
    patientIds: (org) => [...records.patientIds(org)],
    appointment: (org, id) => records.appointment(org, id),
    appointments: (org, patientId) => records.appointmentsOf(org, patientId),
    case: (org, id) => records.case(org, id),
    cases: (org, patientId) => records.casesOf(org, patientId),
    communications: (org, patientId) => records.communicationsOf(org, patientId),
    subscriptions: (org) => subscriptions.list(org),
    events: (org) =>
      webhooks.emitted
        .map((e) => e.envelope)
        .filter((e) => org === undefined || e.data.organisation_id === org)
        .map((e) => structuredClone(e)),
    setRateLimit: (rps) => rateLimiter.setLimit(rps),
    expireTokens: () => oauth.expireAll(),
    reset() {
      records.reset();
      webhooks.reset();
      requestLog.length = 0;
      faults.clear();
      rateLimiter.setLimit(options.requestsPerSecond ?? null);
    },
  };
  const app = await buildApp({
    clock,
    records,
    subscriptions,
    webhooks,
    faults,
    oauth,
    rateLimiter,
    requestLog,
    staff,
    sim: () => sim,
  });
  Object.defineProperty(sim, 'app', { value: app, enumerable: true });
  return sim;
}

/** Waits for in-flight deliveries, but not forever: a receiver may itself be waiting on the clock. */
async function settleBriefly(dispatcher: SpryWebhooks['dispatcher']): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([
    dispatcher.settle(),
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, 250);
    }),
  ]);
  clearTimeout(timer);
}
