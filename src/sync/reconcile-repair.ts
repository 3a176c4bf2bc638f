// Putting right what reconciliation found for one patient. Link-level faults are fixed here
// (a link row to a vanished contact dropped, extra integration links removed from the other
// contacts, a lost integration link put back); everything about the contact's content is left
// to the patient's normal sync, which is queued, so there is one way contacts get written.
import { spryExternalId } from './desired-contact.ts';
import { audit } from './audit.ts';
import { createGenerationKey, leaveDeletedKey, queuePatientSync } from './inbound-contact.ts';
import { snapshotOfContact } from './contact-diff.ts';
import type { Finding, PatientObservation } from './reconcile-checks.ts';
import type { TenantContext } from './tenant-context.ts';

export interface RepairTally {
  /** Patient syncs queued for the workers. */
  queued: number;
  /** Link rows dropped because their contact is gone. */
  linksDropped: number;
  /** Integration links removed from duplicate contacts. */
  integrationLinksRemoved: number;
  /** Integration links put back on our linked contact. */
  integrationLinksAdded: number;
}

export const NO_REPAIRS: RepairTally = { queued: 0, linksDropped: 0, integrationLinksRemoved: 0, integrationLinksAdded: 0 };

export async function repairPatient(
  ctx: TenantContext,
  seen: PatientObservation,
  findings: Finding[],
  tally: RepairTally,
  runId: string,
): Promise<void> {
  const tenantId = ctx.config.id;
  const patientId = seen.patient.patient_id;
  const externalId = spryExternalId(ctx.config.spry.organisationId, patientId);
  const detail = (kind: string) => ({ patientId, kind, source: 'reconcile' });
  let sync = false;

  for (const finding of findings.filter((f) => f.actionable)) {
    switch (finding.kind) {
      case 'dangling_link': {
        await ctx.store.deleteLinkByContact(tenantId, finding.contactId!);
        // The next create must not reuse the key of the create that made the vanished contact.
        await ctx.store.incrementCounter(tenantId, createGenerationKey(patientId));
        tally.linksDropped += 1;
        await audit(ctx, 'spruce', 'link', finding.contactId!, 'unlink', undefined, { ...detail(finding.kind), reason: 'contact_not_found' });
        const adoptable = findings.some((f) => f.kind === 'untracked');
        if (ctx.config.inbound.onContactDeleted === 'leave' && !adoptable) {
          await ctx.store.setFlag(tenantId, leaveDeletedKey(patientId));
        } else {
          sync = true;
        }
        break;
      }
      case 'link_missing': {
        const url = ctx.config.spry.chartUrl.replaceAll('{patientId}', String(patientId));
        await ctx.spruce.createIntegrationLink(
          finding.contactId!,
          { type: 'custom', externalId, url },
          { idempotencyKey: `spruce-sync:reconcile-link:${externalId}:${finding.contactId}:${runId}` },
        );
        tally.integrationLinksAdded += 1;
        await audit(ctx, 'spruce', 'contact', finding.contactId!, 'link', undefined, detail(finding.kind));
        break;
      }
      case 'duplicate_links':
        for (const extra of finding.extraContactIds ?? []) {
          await ctx.spruce.deleteIntegrationLink(extra, 'custom', externalId);
          tally.integrationLinksRemoved += 1;
          await audit(ctx, 'spruce', 'contact', extra, 'unlink', undefined, { ...detail(finding.kind), keptContactId: finding.contactId });
        }
        break;
      case 'drift': {
        // What Spruce holds now becomes "what we know", so the sync patches every differing field.
        const contact = [...seen.carriers, seen.linkedContact].find((c) => c?.id === finding.contactId);
        if (contact) {
          await ctx.store.putLedger({
            tenantId,
            system: 'spruce',
            recordId: contact.id,
            fields: snapshotOfContact(contact),
            hash: '',
            writtenAt: seen.ledger?.writtenAt ?? ctx.clock.now(),
          });
        }
        sync = true;
        break;
      }
      case 'missing':
      case 'untracked':
      case 'archived':
        sync = true;
        break;
    }
  }
  if (sync) {
    await queuePatientSync(ctx, patientId);
    tally.queued += 1;
  }
}
