// The public shape of the Spry simulator (see createSprySimulator in index.ts).
import type { FastifyInstance } from 'fastify';
import type { Clock } from '../../clock.ts';
import type {
  SpryAppointment,
  SpryCase,
  SpryCommunication,
  SpryPatient,
  SprySubscription,
  SpryWebhookEnvelope,
} from '../../spry/types.ts';
import type { FaultInjector } from '../faults.ts';
import type { WebhookDispatcher } from '../webhook-dispatcher.ts';
import type { RequestLogEntry } from './request-log.ts';
import type { SpryClinic, SpryDoctor } from './seed-data.ts';
import type { SpryStaff } from './staff.ts';

export interface SpryOrganisationOptions {
  organisationId: number;
  clientId: string;
  clientSecret: string;
  /** Seeded patients, 0–100,000 (more works, but is not what the sandbox is sized for). */
  patients: number;
  name?: string;
}

export interface SprySimulatorOptions {
  /** Default: a `ControlledClock` (flows in real time and can be jumped forward). */
  clock?: Clock;
  /** Seeds the fake data (and the fault dice). Default 1. */
  seed?: number;
  /** Default: organisation 74 with 200 patients and deterministic credentials. */
  organisations?: SpryOrganisationOptions[];
  /** Lifetime of access tokens. Default 3600. */
  tokenTtlSeconds?: number;
  /** [assumed] per-organisation limit, answered 429 + Retry-After. Default: none. */
  requestsPerSecond?: number | null;
}

export interface SpryCredentials {
  organisationId: number;
  clientId: string;
  clientSecret: string;
}

export interface SpryOrganisationInfo {
  organisationId: number;
  name: string;
  clinics: SpryClinic[];
  doctors: SpryDoctor[];
  patientCount: number;
  firstPatientId: number;
}

export interface SprySimulator {
  readonly app: FastifyInstance;
  /** Starts listening (default 127.0.0.1, any free port) and returns the base URL. */
  listen(options?: { port?: number; host?: string }): Promise<string>;
  /** The base URL once listening (throws before). */
  readonly url: string;
  /** Stops deliveries and the server. */
  close(): Promise<void>;
  readonly clock: Clock;
  readonly faults: FaultInjector;
  /** Webhook sender: `attempts` is the log of every delivery attempt. */
  readonly dispatcher: WebhookDispatcher;
  /** Resolves when no webhook request is in flight. */
  settle(): Promise<void>;
  /**
   * Moves a ControlledClock forward, stopping at each retry or timeout on the way and letting its
   * delivery finish, so a 7-hour retry schedule lands on its exact times. Throws for other clocks.
   */
  advance(ms: number): Promise<void>;
  /** Every API request (not the control API), oldest first. */
  readonly requestLog: RequestLogEntry[];
  /** Scripted staff actions; each emits the webhook Spry would. */
  readonly staff: SpryStaff;
  credentials(): SpryCredentials[];
  organisations(): SpryOrganisationInfo[];
  patient(organisationId: number, patientId: number): SpryPatient | undefined;
  /** Builds every patient: fine for hundreds, slow for 100k (use patientIds). */
  patients(organisationId: number): SpryPatient[];
  patientIds(organisationId: number): number[];
  appointment(organisationId: number, appointmentId: number): SpryAppointment | undefined;
  appointments(organisationId: number, patientId: number): SpryAppointment[];
  case(organisationId: number, spryCaseId: string): SpryCase | undefined;
  cases(organisationId: number, patientId: number): SpryCase[];
  communications(organisationId: number, patientId: number): SpryCommunication[];
  /** Without keys, as the API lists them. */
  subscriptions(organisationId: number): SprySubscription[];
  /** Webhook events emitted (one per change, whatever the number of subscriptions). */
  events(organisationId?: number): SpryWebhookEnvelope[];
  setRateLimit(requestsPerSecond: number | null): void;
  /** Every access token issued so far is expired from now on (new ones work). */
  expireTokens(): void;
  /**
   * Back to the seeded state: records, subscriptions, communications, events, deliveries, the
   * request log, faults and the rate limit. Issued tokens stay valid; the clock is not moved.
   */
  reset(): void;
}
