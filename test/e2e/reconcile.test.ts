// Reconciliation against the sandbox with the service running: each kind of drift is seeded
// while webhooks are lost (deliveries dropped), found and reported (CLI, nothing changed),
// repaired with fix (links at once, content by queued patient syncs), and found no more.
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runBackfill } from '../../src/sync/backfill.ts';
import { spryExternalId } from '../../src/sync/desired-contact.ts';
import { runReconcile, type ReconcileSummary } from '../../src/sync/reconcile.ts';
import { linkedContacts, spruceApi } from './backfill-support.ts';
import { agreesWithSpry, countRequests, quiesce, SANDBOX_SPRY_ORG, startWorld, type World } from './support.ts';

let world: World | undefined;

afterAll(async () => {
  await world?.close();
});

function runCli(args: string[]): Promise<{ code: number | null; output: string }> {
  const child = spawn(process.execPath, ['bin/spruce-sync.js', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, output })));
}

describe('reconcile', () => {
  it('finds each seeded kind of drift, reports it without changing anything, and repairs it with fix', async () => {
    world = await startWorld({
      patients: 25,
      spruceRateLimitPerMinute: 0,
      // Nothing else may heal the drift: catch-up and scheduled reconcile are off here.
      service: { tenant: { schedules: { catchUpEveryMinutes: 0, reconcileEveryMinutes: 0 } } },
    });
    const { sandbox, service } = world;
    const tenantId = world.config.tenants[0]!.id;
    const ctx = service.contexts.get(tenantId)!;
    expect((await runBackfill(ctx)).counts.created).toBe(25);
    await quiesce(world);

    const ids = sandbox.spry.patientIds(SANDBOX_SPRY_ORG);
    const contactOf = (patientId: number) => linkedContacts(sandbox).get(patientId)![0]!;
    const [deleted, spruceEdited, spryEdited, duplicated, archived, unlinked, untracked] = ids;
    const spruce = spruceApi(sandbox);

    // Every webhook of the next changes is lost.
    sandbox.spry.faults.setDeliveryFaults({ dropRate: 1 });
    sandbox.spruce.faults.setDeliveryFaults({ dropRate: 1 });
    sandbox.spruce.staff.deleteContact(contactOf(deleted!).id);
    const added = sandbox.spry.staff.registerPatient(SANDBOX_SPRY_ORG, { first_name: 'Quinn', last_name: 'Missing', date_of_birth: '1980-02-02' });
    sandbox.spruce.staff.editContact(contactOf(spruceEdited!).id, { familyName: 'EditedInSpruce' });
    sandbox.spry.staff.editPatient(SANDBOX_SPRY_ORG, spryEdited!, { last_name: 'RenamedInSpry' });
    const original = contactOf(duplicated!).id;
    const copy = await spruce.createContact({ category: 'patient', givenName: 'Copy', familyName: 'Twice' });
    await spruce.createIntegrationLink(copy.id, { type: 'custom', externalId: spryExternalId(SANDBOX_SPRY_ORG, duplicated!), url: 'https://example.test/copy' });
    sandbox.spry.staff.archivePatient(SANDBOX_SPRY_ORG, archived!);
    const lostLinkContact = contactOf(unlinked!).id;
    await spruce.deleteIntegrationLink(lostLinkContact, 'custom', spryExternalId(SANDBOX_SPRY_ORG, unlinked!));
    const untrackedContact = contactOf(untracked!).id;
    await service.store.deleteLinkByContact(tenantId, untrackedContact);
    await spruce.close();
    await sandbox.spry.settle();
    await sandbox.spruce.settle();
    sandbox.spry.faults.clear();
    sandbox.spruce.faults.clear();
    await quiesce(world);

    // Report only, from the command line: nothing is changed.
    const writesBefore = countRequests(sandbox.spruce.requestLog, /^(POST \/v1\/contacts(?!\/search)|PATCH|DELETE)/);
    const configFile = path.join(path.dirname(world.config.database.url.slice('sqlite:'.length)), 'config.json');
    await writeFile(configFile, JSON.stringify(world.config));
    const cli = await runCli(['reconcile', '--config', configFile, '--tenant', tenantId, '--all', '--json']);
    expect(cli.code, cli.output).toBe(0);
    const report = JSON.parse(cli.output.slice(cli.output.indexOf('{'))) as ReconcileSummary;
    expect(report).toMatchObject({ status: 'completed', fix: false, total: 26, checked: 26 });
    const patientsOf = (kind: keyof ReconcileSummary['found']) => report.found[kind].map((f) => f.patientId).sort((a, b) => a - b);
    expect(patientsOf('dangling_link')).toEqual([deleted]);
    expect(patientsOf('missing')).toEqual([added.patient_id]);
    expect(patientsOf('duplicate_links')).toEqual([duplicated]);
    expect(report.found.duplicate_links[0]).toMatchObject({ contactId: original, extraContactIds: [copy.id] });
    // Archived patients of the seed data have contacts too (with the right status: nothing to do).
    const archivedIds = sandbox.spry.patients(SANDBOX_SPRY_ORG).filter((p) => p.status === 'ARCHIVED').map((p) => p.patient_id);
    expect(patientsOf('archived')).toEqual(archivedIds.sort((a, b) => a - b));
    expect(patientsOf('link_missing')).toEqual([unlinked]);
    expect(report.found.link_missing[0]!.contactId).toBe(lostLinkContact);
    expect(patientsOf('untracked')).toEqual([untracked]);
    expect(patientsOf('drift')).toEqual([spruceEdited, spryEdited, archived].sort((a, b) => a! - b!));
    expect(report.found.drift.find((f) => f.patientId === spruceEdited)!.fields).toEqual(['familyName']);
    expect(report.found.drift.find((f) => f.patientId === spryEdited)!.fields).toEqual(['familyName']);
    expect(report.found.drift.find((f) => f.patientId === archived)!.fields).toEqual(['field:Spry Status']);
    expect(countRequests(sandbox.spruce.requestLog, /^(POST \/v1\/contacts(?!\/search)|PATCH|DELETE)/)).toBe(writesBefore);
    // The summary the dashboard reads holds ids, codes and field names only.
    const stored = (await service.store.getState(tenantId, 'reconcile.last'))!;
    expect(stored).not.toContain('EditedInSpruce');
    expect(stored).not.toContain('RenamedInSpry');

    // Repair: links at once, content through the workers.
    const fixed = await runReconcile(ctx, { all: true, fix: true });
    expect(fixed.repairs).toEqual({ queued: 6, linksDropped: 1, integrationLinksRemoved: 1, integrationLinksAdded: 1 });
    service.pool.notify();
    await quiesce(world);

    const allIds = [...ids, added.patient_id];
    expect(agreesWithSpry(world, allIds)).toBe(true);
    expect(contactOf(duplicated!).id).toBe(original);
    expect(contactOf(unlinked!).id).toBe(lostLinkContact);
    expect((await service.store.getLinkByPatient(tenantId, untracked!))?.contactId).toBe(untrackedContact);
    const status = (id: number) => contactOf(id).organizationContactFields.find((f) => f.name === 'Spry Status')?.value;
    expect(status(archived!)).toBe('ARCHIVED');

    const clean = await runReconcile(ctx, { all: true });
    expect(Object.values(clean.counts).reduce((a, b) => a + b, 0) - clean.counts.archived).toBe(0);
    expect(clean.counts.archived).toBe(archivedIds.length);

    // Watermark mode: only what changed since the last run is read.
    sandbox.spry.faults.setDeliveryFaults({ dropRate: 1 });
    sandbox.spry.staff.editPatient(SANDBOX_SPRY_ORG, ids[10]!, { first_name: 'Later' });
    await sandbox.spry.settle();
    sandbox.spry.faults.clear();
    const recent = await runReconcile(ctx, { fix: true });
    expect(recent.since).toBeDefined();
    expect(recent.checked).toBeLessThan(5);
    expect(recent.found.drift.map((f) => f.patientId)).toEqual([ids[10]]);
    service.pool.notify();
    await quiesce(world);
    expect(agreesWithSpry(world, allIds)).toBe(true);
    expect(sandbox.spruce.violations).toEqual([]);
  });
});
