// What one step of the demo caused, read from the far side: the simulators' request logs (what
// reached Spruce and Spry) and our inbox and audit trail (which webhooks were real changes and
// which merely echoed our own writes). Ids, counts and field names only: no PHI.
import type { SandboxWithService } from '../sandbox/environment.ts';
import type { AuditEntry, InboundEvent } from '../store/types.ts';

/** Where the logs stood when a step began. */
export interface StepMark {
  at: number;
  eventId: number;
  spruceRequests: number;
  spryRequests: number;
}

export interface StepActivity {
  spruce: { created: number; updated: number; updatedFields: string[] };
  spry: { patched: number; patchedFields: string[]; patchedPatients: number[]; chartEntries: number };
  /** Spruce conversation items that belong to no linked patient (left in Spruce). */
  unmatched: number;
  events: EventTally;
}

export interface EventTally {
  received: number;
  fromSpry: number;
  fromSpruce: number;
  /** Webhooks that announced a change someone made. */
  real: number;
  /** Webhooks that only announced our own write (dropped, or fetched with nothing to do). */
  echoes: number;
  /** Acknowledged with nothing to do (e.g. conversation.created). */
  ignored: number;
  waiting: number;
  dead: number;
}

const SPRUCE_CREATE = 'POST /v1/contacts';
const SPRUCE_UPDATE = 'PATCH /v1/contacts/{contactId}';
const SPRY_PATCH = 'PATCH /apis/v1/patient/:id';

export async function markStep(world: SandboxWithService): Promise<StepMark> {
  const [newest] = await world.service.store.searchEvents({ limit: 1 });
  return {
    at: world.sandbox.clock.now(),
    eventId: newest?.id ?? 0,
    spruceRequests: world.sandbox.spruce.requestLog.length,
    spryRequests: world.sandbox.spry.requestLog.length,
  };
}

export async function stepActivity(world: SandboxWithService, mark: StepMark): Promise<StepActivity> {
  const { store } = world.service;
  const ok = (status: number) => status >= 200 && status < 300;
  const spruceCalls = world.sandbox.spruce.requestLog.slice(mark.spruceRequests).filter((r) => ok(r.status));
  const spryCalls = world.sandbox.spry.requestLog.slice(mark.spryRequests).filter((r) => ok(r.status));
  const audit = await store.searchAudit({ since: mark.at, limit: 100_000 });
  const events = (await store.searchEvents({ limit: 100_000 })).filter((e) => e.id > mark.eventId);
  const of = (system: AuditEntry['system'], recordType: string, action: string) =>
    audit.filter((a) => a.system === system && a.recordType === recordType && a.action === action);
  const spryWrites = of('spry', 'patient', 'update');
  return {
    spruce: {
      created: spruceCalls.filter((r) => r.route === SPRUCE_CREATE).length,
      updated: spruceCalls.filter((r) => r.route === SPRUCE_UPDATE).length,
      updatedFields: fieldsOf(of('spruce', 'contact', 'update')),
    },
    spry: {
      patched: spryCalls.filter((r) => r.route === SPRY_PATCH).length,
      patchedFields: fieldsOf(spryWrites),
      patchedPatients: [...new Set(spryWrites.map((a) => Number(a.recordId)))],
      chartEntries: of('spry', 'communication', 'create').length,
    },
    unmatched: of('spruce', 'conversationItem', 'unmatched').length,
    events: tally(events, audit),
  };
}

/**
 * Sorts webhooks into real changes and echoes. A Spruce event is an echo when the sync dropped
 * it as one (audit `echo`); a Spry patient event is one when it followed our write-back to that
 * patient (Spry announces every change, ours included).
 */
export function tally(events: InboundEvent[], audit: AuditEntry[]): EventTally {
  const spryWrites = audit.filter((a) => a.system === 'spry' && a.recordType === 'patient' && a.action === 'update');
  const echoIds = new Set(audit.filter((a) => a.action === 'echo' && a.eventId != null).map((a) => a.eventId!));
  const isOurSpryWrite = (e: InboundEvent) =>
    e.source === 'spry' &&
    e.type === 'patient.updated' &&
    // Spry announces our PATCH before we record it, but always after the Spruce event that caused it.
    spryWrites.some((w) => Number(w.recordId) === Number(e.subject.patientId) && e.id > (w.eventId ?? 0));
  const echoes = events.filter((e) => echoIds.has(e.id) || isOurSpryWrite(e)).length;
  const count = (status: InboundEvent['status']) => events.filter((e) => e.status === status).length;
  return {
    received: events.length,
    fromSpry: events.filter((e) => e.source === 'spry').length,
    fromSpruce: events.filter((e) => e.source === 'spruce').length,
    real: events.length - echoes - count('ignored'),
    echoes,
    ignored: count('ignored'),
    waiting: count('queued'),
    dead: count('dead'),
  };
}

function fieldsOf(entries: AuditEntry[]): string[] {
  const names = entries.flatMap((a) => (Array.isArray(a.detail?.fields) ? (a.detail.fields as unknown[]).map(String) : []));
  return [...new Set(names.map((n) => n.replace(/^field:/, '')))].sort();
}

export function describeEvents(t: EventTally): string {
  const parts = [`${t.real} real ${t.real === 1 ? 'change' : 'changes'}`, `${t.echoes} ${t.echoes === 1 ? 'echo' : 'echoes'} of our own writes`];
  if (t.ignored) parts.push(`${t.ignored} with nothing to do`);
  return `${t.received} webhooks (${t.fromSpry} from Spry, ${t.fromSpruce} from Spruce): ${parts.join(', ')}`;
}

export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}
