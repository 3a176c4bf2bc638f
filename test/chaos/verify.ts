// What must hold after a chaos run, checked against the simulators (the outside world) and the
// shared store: the two systems agree, one contact per patient, every event the senders logged
// is in the inbox and settled, every message on the chart once, and no rate limit was exceeded.
// Problems name ids only, never names or contact details.
import { syncPolicySchema } from '../../src/config/schema.ts';
import { spruceEventKey } from '../../src/ingest/spruce-envelope.ts';
import { SANDBOX_SPRY_ORG, type Sandbox } from '../../src/sandbox/environment.ts';
import type { LoggedEvent } from '../../src/sandbox/spruce/index.ts';
import type { Store } from '../../src/store/types.ts';
import { normalisePhone } from '../../src/sync/contact-diff.ts';
import { desiredContact, spryExternalId } from '../../src/sync/desired-contact.ts';
import type { WorkloadCounts } from './workload.ts';

export interface Verdict {
  problems: string[];
  facts: Record<string, number | string>;
}

const policy = syncPolicySchema.parse({});

/**
 * The inbox key of an event the Spruce simulator sent: Spruce sends no event id, so the key is
 * the digest of the event as sent (the sandbox's `wev_` id lives only in its delivery log).
 */
export function spruceInboxKey(event: LoggedEvent): string {
  return spruceEventKey(JSON.parse(event.body) as Record<string, unknown>);
}

/** Patient ids whose Spruce contact is missing, doubled or differs from Spry (the fields we own). */
export function disagreements(sandbox: Sandbox, patientIds: number[]): number[] {
  const byLink = new Map<string, number>();
  for (const contact of sandbox.spruce.contacts()) {
    for (const link of contact.integrationLinks ?? []) byLink.set(link.externalId, (byLink.get(link.externalId) ?? 0) + 1);
  }
  const contacts = sandbox.spruce.contacts();
  return patientIds.filter((patientId) => {
    const externalId = spryExternalId(SANDBOX_SPRY_ORG, patientId);
    if (byLink.get(externalId) !== 1) return true;
    const contact = contacts.find((c) => (c.integrationLinks ?? []).some((l) => l.externalId === externalId))!;
    const patient = sandbox.spry.patient(SANDBOX_SPRY_ORG, patientId)!;
    const want = desiredContact({ patient, cases: [], nextAppointment: null }, { organisationId: SANDBOX_SPRY_ORG, chartUrl: '', policy });
    const phones = (list: { label?: string; value: string }[]) => list.map((p) => `${p.label ?? ''}=${normalisePhone(p.value)}`).join(',');
    const emails = (list: { label?: string; value: string }[]) => list.map((e) => `${e.label ?? ''}=${e.value.toLowerCase()}`).join(',');
    const field = (name: string) => (contact.organizationContactFields ?? []).find((f) => f.name === name)?.value ?? '';
    return (
      (contact.givenName ?? '') !== want.givenName ||
      (contact.middleName ?? '') !== want.middleName ||
      (contact.familyName ?? '') !== want.familyName ||
      (contact.dateOfBirth ?? '') !== want.dateOfBirth ||
      (contact.gender ?? 'unknown') !== want.gender ||
      phones(contact.phoneNumbers ?? []) !== phones(want.phoneNumbers) ||
      emails(contact.emailAddresses ?? []) !== emails(want.emailAddresses) ||
      field(policy.fieldNames.spryPatientId) !== want.fields[policy.fieldNames.spryPatientId] ||
      field(policy.fieldNames.spryStatus) !== want.fields[policy.fieldNames.spryStatus]
    );
  });
}

export async function verify(sandbox: Sandbox, store: Store, patientIds: number[], workload: WorkloadCounts): Promise<Verdict> {
  const problems: string[] = [];
  const facts: Verdict['facts'] = {};

  const drift = disagreements(sandbox, patientIds);
  if (drift.length > 0) problems.push(`${drift.length} patients disagree with Spruce (patient ids ${drift.slice(0, 10).join(', ')})`);
  const contacts = sandbox.spruce.contacts().length;
  facts.contacts = contacts;
  if (contacts !== patientIds.length) problems.push(`${contacts} Spruce contacts for ${patientIds.length} patients`);

  // Every event the senders logged is in the inbox, settled.
  const stored = await store.searchEvents({ limit: 1_000_000 });
  const keys = { spry: new Set<string>(), spruce: new Set<string>() };
  for (const event of stored) keys[event.source].add(event.eventKey);
  const sentSpry = sandbox.spry.events(SANDBOX_SPRY_ORG).map((e) => e.event_id);
  const sentSpruce = sandbox.spruce.events.map(spruceInboxKey);
  const missingSpry = sentSpry.filter((id) => !keys.spry.has(id));
  const missingSpruce = sentSpruce.filter((id) => !keys.spruce.has(id));
  facts.spryEvents = sentSpry.length;
  facts.spruceEvents = sentSpruce.length;
  if (missingSpry.length > 0) problems.push(`${missingSpry.length} Spry events never reached the inbox (e.g. ${missingSpry.slice(0, 3).join(', ')})`);
  if (missingSpruce.length > 0) problems.push(`${missingSpruce.length} Spruce events never reached the inbox (e.g. ${missingSpruce.slice(0, 3).join(', ')})`);
  const byStatus: Record<string, number> = {};
  for (const event of stored) byStatus[event.status] = (byStatus[event.status] ?? 0) + 1;
  for (const [status, count] of Object.entries(byStatus)) facts[`inbox.${status}`] = count;
  if (byStatus.queued) problems.push(`${byStatus.queued} events still queued`);
  const deadWithoutReason = stored.filter((e) => e.status === 'dead' && !e.reason).length;
  if (deadWithoutReason > 0) problems.push(`${deadWithoutReason} dead events without a reason`);
  const reasons = new Map<string, number>();
  for (const e of stored) if (e.status === 'dead') reasons.set(e.reason!.split(':')[0]!, (reasons.get(e.reason!.split(':')[0]!) ?? 0) + 1);
  if (reasons.size > 0) facts.deadReasons = [...reasons].map(([code, n]) => `${code}×${n}`).join(' ');

  // Every conversation item staff received is on the chart exactly once.
  let unlogged = 0;
  for (const { itemId, patientId } of workload.items) {
    const entries = sandbox.spry.communications(SANDBOX_SPRY_ORG, patientId).filter((c) => c.external_id === itemId);
    if (entries.length !== 1) unlogged++;
  }
  if (unlogged > 0) problems.push(`${unlogged} of ${workload.items.length} Spruce messages are not on the chart exactly once`);

  // The tenant's limits, as the simulators saw them: no request was refused for going over.
  const spruce429 = sandbox.spruce.requestLog.filter((r) => r.status === 429 || r.rateLimited).length;
  const spry429 = sandbox.spry.requestLog.filter((r) => r.status === 429 || r.code === 4029).length;
  facts.spruceRequests = sandbox.spruce.requestLog.length;
  facts.spryRequests = sandbox.spry.requestLog.length;
  facts.spruce429 = spruce429;
  facts.spry429 = spry429;
  facts.spruceMaxPerMinute = maxInWindow(sandbox.spruce.requestLog.map((r) => r.at), 60_000);
  facts.spryMaxPerSecond = maxInWindow(sandbox.spry.requestLog.map((r) => r.at), 1_000);
  if (spruce429 > 0) problems.push(`the Spruce simulator answered ${spruce429} requests with 429`);
  if (spry429 > 0) problems.push(`the Spry simulator answered ${spry429} requests with 429`);
  if (sandbox.spruce.violations.length > 0) problems.push(`${sandbox.spruce.violations.length} requests broke Spruce's OpenAPI`);
  return { problems, facts };
}

/** The most timestamps in any half-open window of `windowMs` (sliding). */
export function maxInWindow(times: number[], windowMs: number): number {
  const sorted = [...times].sort((a, b) => a - b);
  let best = 0;
  let start = 0;
  for (let end = 0; end < sorted.length; end++) {
    while (sorted[end]! - sorted[start]! >= windowMs) start++;
    best = Math.max(best, end - start + 1);
  }
  return best;
}
