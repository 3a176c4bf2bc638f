// Scenario 3, API economy: how many calls to Spry and to Spruce each everyday change costs,
// counted on the far side (the simulators' request logs), against the minimum each needs.
// Deterministic: the same counts on every machine. test/e2e/api-economy.test.ts pins them.
import { SANDBOX_SPRY_ORG } from '../src/sandbox/environment.ts';
import { spryExternalId } from '../src/sync/desired-contact.ts';
import { jobKey } from '../src/sync/tasks.ts';
import type { ScenarioReport } from './lib/report.ts';
import { quiesce, startWorld, until, type World } from './lib/world.ts';

/** Calls by route template, e.g. `{ 'GET /apis/v1/patient/:id': 1 }`. */
export type RouteCounts = Record<string, number>;

export interface CallCounts {
  spry: RouteCounts;
  spruce: RouteCounts;
}

export interface EconomyScenario {
  name: string;
  /** The fewest calls this change can be handled with, by route, and why. */
  minimum: CallCounts;
  why: string;
}

export interface EconomyMeasurement extends EconomyScenario {
  measured: CallCounts;
  /** Routes called more often than the minimum (route → extra calls). */
  above: RouteCounts;
  /** Routes called less often than the minimum (a scenario that did not run as meant). */
  below: RouteCounts;
  /** What explains the count (e.g. how many runs the patient's job took). */
  detail?: string;
}

export interface EconomyOptions {
  log?: (line: string) => void;
  /**
   * `workers.coalesceMs` of the service (default: the product default, 100 ms). The burst
   * collapses into one fetch only when its 50 deliveries all land within the window; a test on
   * a busy machine widens it so the count does not depend on the machine's speed.
   */
  coalesceMs?: number;
}

const SPRY = {
  patient: 'GET /apis/v1/patient/:id',
  cases: 'GET /apis/v1/patient/:id/cases',
  appointments: 'GET /apis/v1/appointment',
  patch: 'PATCH /apis/v1/patient/:id',
  communication: 'POST /apis/v1/patient/:id/communication',
} as const;
const SPRUCE = {
  search: 'POST /v1/contacts/search',
  create: 'POST /v1/contacts',
  link: 'POST /v1/contacts/{contactId}/integrationlinks',
  patch: 'PATCH /v1/contacts/{contactId}',
  get: 'GET /v1/contacts/{contactId}',
} as const;

/** A Spry event is minimized (ids only): one "fetch" is the three records the contact is built from, read in parallel. */
const FETCH: RouteCounts = { [SPRY.patient]: 1, [SPRY.cases]: 1, [SPRY.appointments]: 1 };

export const ECONOMY_SCENARIOS = {
  newPatient: {
    name: 'new patient (Spry patient.created)',
    minimum: { spry: FETCH, spruce: { [SPRUCE.search]: 1, [SPRUCE.create]: 1, [SPRUCE.link]: 1 } },
    why:
      'one fetch (the event carries only ids); in Spruce one create and one integration link (the create body cannot carry it), ' +
      'preceded by one search by our integration link so that a contact already carrying it (restored database, second installation) is adopted, never duplicated. ' +
      'Our own create and link echo back as Spruce events: 0 calls.',
  },
  updateOneField: {
    name: 'update that changes one field (last name)',
    minimum: { spry: FETCH, spruce: { [SPRUCE.patch]: 1 } },
    why: 'one fetch; one PATCH of the one differing field, diffed against the write ledger (no GET of the contact). The echo of the PATCH: 0 calls.',
  },
  updateNothing: {
    name: 'update that changes nothing we map (alias)',
    minimum: { spry: FETCH, spruce: {} },
    why: 'one fetch is needed to learn that nothing we map changed (the event does not say what changed); the desired contact hashes equal to the last write: no Spruce call.',
  },
  burst: {
    name: 'burst of 50 updates to one patient',
    minimum: { spry: FETCH, spruce: { [SPRUCE.patch]: 1 } },
    why: 'the 50 events fold into one job (coalescing window): one fetch, one PATCH of the final state.',
  },
  echo: {
    name: 'Spruce event echoing our own write (the contact.updated after our PATCH)',
    minimum: { spry: {}, spruce: {} },
    why: 'the event equals the write ledger field by field: recognised as an echo and dropped, no call either way. Counted from the moment our PATCH was answered.',
  },
  staffResave: {
    name: 'Spruce staff edit that re-saves what we wrote',
    minimum: { spry: {}, spruce: {} },
    why: 'a teammate saves the contact with the values we wrote: the event equals the ledger, so it is an echo: no call.',
  },
  writeBack: {
    name: 'Spruce staff edit of a phone (written back to Spry)',
    minimum: { spry: { [SPRY.patch]: 1, ...FETCH }, spruce: { [SPRUCE.get]: 1 } },
    why:
      'one read of the contact as it is now (Spruce delays events beyond 1000 a minute, so an event may be older than our last write and must not be written back as it stands); ' +
      'one PATCH of the patient in Spry; Spry then sends patient.updated for our own write, minimized, so one fetch is needed to see that nothing else changed; ' +
      'the contact already holds the phone: no Spruce write.',
  },
  inboundMessage: {
    name: 'inbound message (patient texts from a saved number)',
    minimum: { spry: { [SPRY.communication]: 1 }, spruce: {} },
    why: 'one communication entry on the chart; the event carries the conversation and the sender\'s contact, which our link table resolves: no Spruce read.',
  },
} as const satisfies Record<string, EconomyScenario>;

type LogEntry = { route: string; at: number };

function countSince(log: LogEntry[], from: number, filter: (e: LogEntry) => boolean = () => true): RouteCounts {
  const counts: RouteCounts = {};
  for (const entry of log.slice(from)) if (filter(entry)) counts[entry.route] = (counts[entry.route] ?? 0) + 1;
  return counts;
}

function compare(minimum: RouteCounts, measured: RouteCounts): { above: RouteCounts; below: RouteCounts } {
  const above: RouteCounts = {};
  const below: RouteCounts = {};
  for (const route of new Set([...Object.keys(minimum), ...Object.keys(measured)])) {
    const diff = (measured[route] ?? 0) - (minimum[route] ?? 0);
    if (diff > 0) above[route] = diff;
    if (diff < 0) below[route] = -diff;
  }
  return { above, below };
}

function measurement(scenario: EconomyScenario, measured: CallCounts, detail?: string): EconomyMeasurement {
  const spry = compare(scenario.minimum.spry, measured.spry);
  const spruce = compare(scenario.minimum.spruce, measured.spruce);
  const prefix = (counts: RouteCounts, system: string) => Object.fromEntries(Object.entries(counts).map(([r, n]) => [`${system}: ${r}`, n]));
  return {
    ...scenario,
    measured,
    above: { ...prefix(spry.above, 'Spry'), ...prefix(spruce.above, 'Spruce') },
    below: { ...prefix(spry.below, 'Spry'), ...prefix(spruce.below, 'Spruce') },
    ...(detail ? { detail } : {}),
  };
}

/** How the patient's sync job ran since `since`: its runs and when its Spry events arrived. */
async function patientJobStory(world: World, patientId: number, since: number): Promise<string> {
  const tenantId = world.config.tenants[0]!.id;
  const runs = (await world.service.store.listAttempts(jobKey('spry.patient', { patientId }, { organisationId: SANDBOX_SPRY_ORG }), tenantId)).filter((a) => a.startedAt >= since);
  const events = (await world.service.store.searchEvents({ tenantId, source: 'spry', patientId, limit: 500 })).filter((e) => e.receivedAt >= since);
  const received = events.map((e) => e.receivedAt - since).sort((a, b) => a - b);
  const spread = received.length ? `${received.length} Spry event(s) stored at +${received[0]}…+${received[received.length - 1]} ms` : 'no Spry event';
  return `${spread}; patient sync ran ${runs.length}× (${runs.map((r) => `+${r.startedAt - since}…+${r.finishedAt - since} ms`).join(', ')})`;
}

/** Counts the calls made from now until the sync is quiet again after `act`. */
async function counted(world: World, act: () => unknown | Promise<unknown>): Promise<CallCounts> {
  const spryFrom = world.sandbox.spry.requestLog.length;
  const spruceFrom = world.sandbox.spruce.requestLog.length;
  await act();
  await quiesce(world);
  return { spry: countSince(world.sandbox.spry.requestLog, spryFrom), spruce: countSince(world.sandbox.spruce.requestLog, spruceFrom) };
}

function contactOf(world: World, patientId: number) {
  const externalId = spryExternalId(SANDBOX_SPRY_ORG, patientId);
  return world.sandbox.spruce.contacts().find((c) => (c.integrationLinks ?? []).some((l) => l.externalId === externalId));
}

/**
 * Runs every scenario once, in order, on a fresh world (warm: OAuth token and the Spruce
 * catalog of fields and tags already fetched by one earlier sync, as in a running service).
 */
export async function measureEconomy(options: EconomyOptions = {}): Promise<EconomyMeasurement[]> {
  const log = options.log ?? (() => {});
  const world = await startWorld({
    patients: 6,
    spruceRateLimitPerMinute: 100_000,
    service: {
      ...(options.coalesceMs !== undefined ? { config: { workers: { coalesceMs: options.coalesceMs } } } : {}),
      // Scheduled catch-up and reconcile would add calls no scenario caused.
      tenant: { schedules: { catchUpOnStart: false, catchUpEveryMinutes: 0, reconcileEveryMinutes: 0 } },
    },
  });
  const now = () => world.sandbox.clock.now();
  try {
    const spry = world.sandbox.spry;
    const spruce = world.sandbox.spruce;
    const [warmId, patientId, burstId] = spry.patientIds(SANDBOX_SPRY_ORG);
    const results: EconomyMeasurement[] = [];

    // Warm-up: the first sync fetches the OAuth token and the Spruce catalog (fields, tags).
    spry.staff.editPatient(SANDBOX_SPRY_ORG, warmId!, { alias: 'warm-up' });
    await until(() => contactOf(world, warmId!), 'the warm-up contact');
    await quiesce(world);
    for (const id of [patientId!, burstId!]) {
      spry.staff.editPatient(SANDBOX_SPRY_ORG, id, { alias: 'linked' });
      await until(() => contactOf(world, id), 'a linked contact');
    }
    await quiesce(world);
    log('economy: warm');

    let registered = 0;
    results.push(
      measurement(
        ECONOMY_SCENARIOS.newPatient,
        await counted(world, async () => {
          registered = spry.staff.registerPatient(SANDBOX_SPRY_ORG, {
            first_name: 'Economy',
            last_name: 'Newcomer',
            date_of_birth: '1985-03-14',
            sex: 'FEMALE',
            mobile: '+12065550130',
          }).patient_id;
          await until(() => contactOf(world, registered), 'the new contact');
        }),
      ),
    );

    // One field; the echo of our PATCH is counted apart from the moment the PATCH was answered.
    let echo: CallCounts = { spry: {}, spruce: {} };
    results.push(
      measurement(
        ECONOMY_SCENARIOS.updateOneField,
        await counted(world, async () => {
          const spruceFrom = spruce.requestLog.length;
          spry.staff.editPatient(SANDBOX_SPRY_ORG, patientId!, { last_name: 'Onefield' });
          const patchIndex = await until(() => {
            const i = spruce.requestLog.findIndex((e, n) => n >= spruceFrom && e.route === SPRUCE.patch);
            return i >= 0 ? i : undefined;
          }, 'our PATCH');
          const patchAt = spruce.requestLog[patchIndex]!.at;
          await quiesce(world);
          echo = {
            spry: countSince(spry.requestLog, 0, (e) => e.at > patchAt),
            spruce: countSince(spruce.requestLog, patchIndex + 1),
          };
        }),
      ),
    );
    results.push(measurement(ECONOMY_SCENARIOS.echo, echo));

    results.push(
      measurement(
        ECONOMY_SCENARIOS.updateNothing,
        await counted(world, () => spry.staff.editPatient(SANDBOX_SPRY_ORG, patientId!, { alias: 'Nothing we map' })),
      ),
    );

    const burstAt = now();
    const burst = await counted(world, async () => {
      for (let i = 1; i <= 50; i++) spry.staff.editPatient(SANDBOX_SPRY_ORG, burstId!, { last_name: `Burst${i}` });
      await until(() => contactOf(world, burstId!)?.familyName === 'Burst50', 'the burst to land');
    });
    results.push(measurement(ECONOMY_SCENARIOS.burst, burst, await patientJobStory(world, burstId!, burstAt)));

    const contactId = contactOf(world, patientId!)!.id;
    results.push(
      measurement(
        ECONOMY_SCENARIOS.staffResave,
        await counted(world, () => spruce.staff.editContact(contactId, { familyName: contactOf(world, patientId!)!.familyName })),
      ),
    );

    const writeBackAt = now();
    const writeBack = await counted(world, async () => {
      spruce.staff.editContact(contactId, { phoneNumbers: [{ label: 'Mobile', value: '(206) 555-0177' }] });
      await until(() => spry.patient(SANDBOX_SPRY_ORG, patientId!)?.mobile === '+12065550177', 'the write-back');
    });
    const patchedAt = spry.requestLog.find((e) => e.route === SPRY.patch && e.at >= writeBackAt)?.at;
    results.push(
      measurement(
        ECONOMY_SCENARIOS.writeBack,
        writeBack,
        `Spry PATCH at +${patchedAt !== undefined ? patchedAt - writeBackAt : '?'} ms; ${await patientJobStory(world, patientId!, writeBackAt)}`,
      ),
    );

    results.push(
      measurement(
        ECONOMY_SCENARIOS.inboundMessage,
        await counted(world, async () => {
          const before = spry.communications(SANDBOX_SPRY_ORG, patientId!).length;
          spruce.staff.receiveSms({ from: '+12065550177', text: 'See you Tuesday' });
          await until(() => spry.communications(SANDBOX_SPRY_ORG, patientId!).length > before, 'the chart entry');
        }),
      ),
    );
    if (spruce.violations.length > 0) throw new Error(`the Spruce simulator saw ${spruce.violations.length} requests that break its OpenAPI`);
    return results;
  } finally {
    await world.close();
  }
}

const total = (counts: RouteCounts) => Object.values(counts).reduce((a, b) => a + b, 0);
const describe = (counts: RouteCounts) =>
  Object.keys(counts).length === 0
    ? '—'
    : Object.entries(counts)
        .map(([route, n]) => `${n}× ${route.replace(/^(\w+) \/(apis\/v1|v1)\//, '$1 ')}`)
        .join(', ');

export function economyReport(results: EconomyMeasurement[]): ScenarioReport {
  const flagged = results.filter((r) => Object.keys(r.above).length > 0 || Object.keys(r.below).length > 0);
  return {
    title: 'API economy',
    setup: [
      'Calls counted on the far side (the Spry and Spruce simulators\' request logs, by route template), from the change until the sync is quiet again ' +
        '(no webhook in flight, no job waiting or running, twice 150 ms apart). One fresh world in this process, warm as a running service is ' +
        '(OAuth token and the Spruce catalog of fields and tags fetched by an earlier sync); schedules (catch-up, reconcile) off so nothing else calls. ' +
        'Deterministic: the same counts on any machine; `test/e2e/api-economy.test.ts` fails when one changes.',
    ],
    tables: [
      {
        columns: ['scenario', 'Spry calls', 'Spruce calls', 'minimum Spry', 'minimum Spruce', 'verdict'],
        rows: results.map((r) => [
          r.name,
          `${total(r.measured.spry)}: ${describe(r.measured.spry)}`,
          `${total(r.measured.spruce)}: ${describe(r.measured.spruce)}`,
          total(r.minimum.spry),
          total(r.minimum.spruce),
          Object.keys(r.above).length > 0 ? `ABOVE: ${describe(r.above)}` : Object.keys(r.below).length > 0 ? `below?: ${describe(r.below)}` : 'minimal',
        ]),
      },
    ],
    notes: [
      ...results.map((r) => `**${r.name}** — minimum claimed: ${r.why}${r.detail ? ` Observed: ${r.detail}.` : ''}`),
      flagged.length === 0
        ? 'Every scenario is at its minimum (target: exactly the minimum).'
        : `Above or below the minimum: ${flagged.map((r) => r.name).join('; ')}.`,
    ],
  };
}

export async function runEconomy(options: EconomyOptions = {}): Promise<{ results: EconomyMeasurement[]; report: ScenarioReport }> {
  const results = await measureEconomy(options);
  return { results, report: economyReport(results) };
}
