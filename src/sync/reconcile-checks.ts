// What is wrong with one patient's contact, judged from what reconciliation read: the patient
// (Spry), our link row, the contacts carrying the patient's integration link (one batched
// search per page), the linked contact when it carries no link, and our write ledger. A pure
// function: the findings name ids and field names, never values.
import type { TenantConfig } from '../config/schema.ts';
import type { SpruceContact } from '../spruce/types.ts';
import type { SpryPatient } from '../spry/types.ts';
import type { ContactLink, LedgerEntry } from '../store/types.ts';
import { differences, snapshotOfContact, snapshotOfDesired, type OrgCatalog } from './contact-diff.ts';
import { desiredContact } from './desired-contact.ts';

export type FindingKind =
  /** An active or inactive patient without any contact. */
  | 'missing'
  /** Our link row names a contact Spruce no longer has. */
  | 'dangling_link'
  /** Our linked contact lost our integration link. */
  | 'link_missing'
  /** Several contacts carry the patient's integration link. */
  | 'duplicate_links'
  /** A contact carries the link but our store does not know it. */
  | 'untracked'
  /** Fields differ: in Spruce from what we last wrote, or from the Spry patient. */
  | 'drift'
  /** The patient is archived and has a contact (needing action when the contact should go or say so). */
  | 'archived';

export const FINDING_KINDS: readonly FindingKind[] = ['missing', 'dangling_link', 'link_missing', 'duplicate_links', 'untracked', 'drift', 'archived'];

export interface Finding {
  kind: FindingKind;
  patientId: number;
  /** The contact concerned (the one kept, for duplicates). */
  contactId?: string;
  /** Duplicates: the contacts whose integration link is to be removed. */
  extraContactIds?: string[];
  /** Drift: the names of the fields that differ. */
  fields?: string[];
  /** Whether a repair has something to do (an archived patient's contact may be exactly right). */
  actionable: boolean;
}

export interface PatientObservation {
  patient: SpryPatient;
  link: ContactLink | null;
  /** Contacts carrying the patient's integration link, lowest id first. */
  carriers: SpruceContact[];
  /** The linked contact read by id when no carrier is it: null = gone, undefined = not read. */
  linkedContact?: SpruceContact | null;
  ledger: LedgerEntry<'spruce'> | null;
  /** Staff deleted the contact and the tenant leaves it deleted. */
  leftDeleted: boolean;
}

/** Fields the Spry patient record alone decides (cases and appointments are not read here). */
function patientFieldKeys(config: TenantConfig): Set<string> {
  const names = config.sync.fieldNames;
  return new Set([
    'givenName',
    'middleName',
    'familyName',
    'dateOfBirth',
    'gender',
    'phoneNumbers',
    'emailAddresses',
    'tags',
    `field:${names.spryPatientId}`,
    `field:${names.spryStatus}`,
    `field:${names.address}`,
  ]);
}

export function checkPatient(config: TenantConfig, catalog: OrgCatalog, seen: PatientObservation): Finding[] {
  const { patient, link, carriers } = seen;
  const patientId = patient.patient_id;
  const findings: Finding[] = [];
  const linkedIsCarrier = link !== null && carriers.some((c) => c.id === link.contactId);
  let keeper: SpruceContact | undefined;

  if (link && !linkedIsCarrier) {
    if (seen.linkedContact === null) findings.push({ kind: 'dangling_link', patientId, contactId: link.contactId, actionable: true });
    else if (seen.linkedContact) {
      keeper = seen.linkedContact;
      findings.push({ kind: 'link_missing', patientId, contactId: keeper.id, actionable: true });
    }
  }
  if (!keeper) keeper = (linkedIsCarrier ? carriers.find((c) => c.id === link!.contactId) : undefined) ?? carriers[0];
  const extra = carriers.filter((c) => c.id !== keeper?.id).map((c) => c.id);
  if (keeper && extra.length > 0) findings.push({ kind: 'duplicate_links', patientId, contactId: keeper.id, extraContactIds: extra, actionable: true });
  if (keeper && (!link || (seen.linkedContact === null && keeper.id !== link.contactId))) {
    findings.push({ kind: 'untracked', patientId, contactId: keeper.id, actionable: true });
  }

  if (!keeper) {
    // Archived patients without a contact are fine: nothing asks for one.
    const dangling = findings.some((f) => f.kind === 'dangling_link');
    if (patient.status !== 'ARCHIVED' && !seen.leftDeleted && !dangling) findings.push({ kind: 'missing', patientId, actionable: true });
    return findings;
  }

  if (patient.status === 'ARCHIVED') {
    const statusField = (keeper.organizationContactFields ?? []).find((f) => f.name === config.sync.fieldNames.spryStatus)?.value;
    const actionable = config.sync.deleteArchivedContacts || statusField !== 'ARCHIVED';
    findings.push({ kind: 'archived', patientId, contactId: keeper.id, actionable });
    if (config.sync.deleteArchivedContacts) return findings;
  }

  const fields = driftedFields(config, catalog, patient, keeper, seen.ledger);
  if (fields.length > 0) findings.push({ kind: 'drift', patientId, contactId: keeper.id, fields, actionable: true });
  return findings;
}

/** Field names that differ between Spruce and what we last wrote, or between Spruce and Spry. */
export function driftedFields(config: TenantConfig, catalog: OrgCatalog, patient: SpryPatient, contact: SpruceContact, ledger: LedgerEntry<'spruce'> | null): string[] {
  const live = snapshotOfContact(contact);
  const drift = new Set<string>();
  const ourTags = [config.sync.tag];
  if (ledger) {
    // Changed in Spruce behind our back (an edit whose event never reached us).
    for (const key of differences(ledger.fields, live, ourTags)) drift.add(key);
  }
  const desired = desiredContact(
    { patient, cases: [], nextAppointment: null },
    { organisationId: config.spry.organisationId, chartUrl: config.spry.chartUrl, policy: config.sync },
  );
  const own = patientFieldKeys(config);
  for (const key of differences(snapshotOfDesired(desired, catalog, live.tags), live, ourTags)) if (own.has(key)) drift.add(key);
  return [...drift].sort();
}
