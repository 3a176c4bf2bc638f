import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { spryInboundEvent } from '../ingest/spry-envelope.ts';
import { LEASE_LOST, WorkerPool } from '../queue/worker-pool.ts';
import type { SpruceContact } from '../spruce/types.ts';
import type { Job, JobAttempt, Store } from '../store/types.ts';
import { caseFixture, patientFixture } from './fixtures/spry-records.ts';
import { ORGANISATION_ID, syncHarness, TENANT_ID, type SyncHarness } from './fixtures/sync-harness.ts';
import { syncHandlers, type SyncNotice, type TaskHandler } from './handlers.ts';
import { syncPatient } from './sync-patient.ts';
import { wrapped } from './write-guard.ts';

const PATIENT = 1201;

let h: SyncHarness;
let notices: SyncNotice[];
let handlers: Record<string, TaskHandler>;

beforeEach(async () => {
  h = await syncHarness();
  h.spry.patients.set(PATIENT, patientFixture({ patient_id: PATIENT }));
  h.spry.cases.set(PATIENT, [caseFixture({ patient_id: PATIENT })]);
  notices = [];
  handlers = syncHandlers(new Map([[TENANT_ID, h.ctx]]), { onNotice: async (notice) => void notices.push(notice) });
});

afterEach(async () => {
  await h.close();
});

let spryEvents = 0;
/** A Spry webhook about the patient, stored as ingest stores it. */
async function receiveSpry(): Promise<void> {
  const envelope = {
    event_id: `spry-evt-${++spryEvents}`,
    event_type: 'patient.updated',
    api_version: '2026-06-11',
    timestamp: Math.floor(h.clock.now() / 1000),
    data: { organisation_id: ORGANISATION_ID, patient_id: PATIENT },
  };
  await h.store.insertEvent(spryInboundEvent(TENANT_ID, envelope, Buffer.from(JSON.stringify(envelope)), h.clock.now()));
}

async function claimOne(): Promise<Job> {
  const [job] = await h.store.claimJobs({ workerId: 'w1', now: h.clock.now(), leaseMs: 60_000, limit: 1 });
  if (!job) throw new Error('no job due');
  return job;
}

/** Claims the due job and runs its handler as the worker pool would, with the given lease signal. */
async function runNext(signal = new AbortController().signal): Promise<Job> {
  const job = await claimOne();
  await handlers[job.task]!(job, { signal });
  await h.store.completeJob(job, 'w1', h.clock.now());
  return job;
}

async function syncedContact(): Promise<SpruceContact> {
  const { contactId } = await syncPatient(h.ctx, PATIENT);
  return structuredClone(h.spruce.contacts.get(contactId!)!);
}

/** The patient's contact, after staff changed its email in Spruce and Spruce told us. */
async function staffEditsEmail(): Promise<SpruceContact> {
  const contact = await syncedContact();
  const edited = h.spruce.editContact(contact.id, (c) => {
    c.emailAddresses = [{ id: 'e1', label: 'Email', value: 'new@example.test' }];
  });
  await h.receiveSpruce('contact.updated', { ...edited });
  return contact;
}

describe('syncHandlers', () => {
  it('spry.patient: syncs the patient of the job and tells the fan-out what came of it', async () => {
    await receiveSpry();
    const job = await runNext();

    expect(job.task).toBe('spry.patient');
    const contactId = (await h.store.getLinkByPatient(TENANT_ID, PATIENT))!.contactId;
    expect(notices).toEqual([
      expect.objectContaining({ tenantId: TENANT_ID, kind: 'contact.created', key: `contact.created:${contactId}`, ids: { patientId: PATIENT, contactId } }),
    ]);

    // A run that changes nothing tells nothing.
    await receiveSpry();
    await runNext();
    expect(notices).toHaveLength(1);
  });

  it('spruce.contact: tells the fan-out of a write-back to Spry, naming fields only', async () => {
    const contact = await staffEditsEmail();

    const job = await runNext();

    expect(job.task).toBe('spruce.contact');
    expect(h.spry.patches).toEqual([{ patientId: PATIENT, patch: { email_address: 'new@example.test' } }]);
    expect(notices).toEqual([
      expect.objectContaining({ kind: 'patient.updated', ids: { patientId: PATIENT, contactId: contact.id }, detail: { changed: ['email_address'], cause: 'spruce_edit' } }),
    ]);
    expect(JSON.stringify(notices)).not.toContain('new@example.test');
  });

  it('spruce.item: records the activity and tells the fan-out', async () => {
    const contact = await syncedContact();
    h.spruce.conversations.set('conv_1', {
      id: 'conv_1',
      type: 'secure',
      externalParticipants: [{ contact: contact.id, displayName: 'Patient' }],
    } as never);
    await h.receiveSpruce('conversationItem.created', {
      id: 'item_1',
      conversationId: 'conv_1',
      direction: 'outbound',
      isInternalNote: false,
      createdAt: '2026-11-20T12:00:00Z',
      text: 'See you Tuesday.',
      author: { displayName: 'Staff' },
    });

    const job = await runNext();

    expect(job.task).toBe('spruce.item');
    expect(h.spry.communications).toHaveLength(1);
    const [recorded] = h.spry.communications;
    expect(notices).toEqual([
      expect.objectContaining({
        kind: 'chart.activity_recorded',
        ids: { patientId: PATIENT, communicationId: recorded!.communication_id, itemId: 'item_1' },
        detail: { kind: 'MESSAGE', direction: 'OUTBOUND' },
      }),
    ]);
  });

  describe('a run whose lease is lost', () => {
    beforeEach(async () => {
      // The organization's fields and tags exist already (the shared catalog is set up once per tenant).
      await h.ctx.catalog.get();
      h.spruce.calls.length = 0;
    });

    it('stops before its next write: the create landed, the integration link is never added', async () => {
      await receiveSpry();
      const lease = new AbortController();
      const createContact = h.spruce.createContact.bind(h.spruce);
      h.spruce.createContact = async (...args) => {
        const created = await createContact(...args);
        lease.abort(new Error('job lease lost'));
        return created;
      };
      const job = await claimOne();

      await expect(handlers[job.task]!(job, { signal: lease.signal })).rejects.toThrow('job lease lost');

      expect(h.spruce.writes).toEqual(['createContact']);
      expect(notices).toEqual([]);
    });

    it('writes nothing to Spry when the lease was lost before the write-back', async () => {
      await staffEditsEmail();
      const lease = new AbortController();
      lease.abort(new Error('job lease lost'));
      const job = await claimOne();

      await expect(handlers[job.task]!(job, { signal: lease.signal })).rejects.toThrow('job lease lost');

      expect(h.spry.writes).toEqual([]);
    });

    it('through the worker pool: a failed lease renewal aborts the run before it writes to Spruce', async () => {
      let leaseHeld = true;
      const store: Store = wrapped(h.store, (property) => (property === 'renewLease' ? async () => leaseHeld : undefined));
      // The run stalls reading the patient until the test lets it go on.
      let fetching!: () => void;
      const fetched = new Promise<void>((resolve) => (fetching = resolve));
      let release!: () => void;
      const released = new Promise<void>((resolve) => (release = resolve));
      const getPatient = h.spry.getPatient.bind(h.spry);
      h.spry.getPatient = async (id) => {
        fetching();
        await released;
        return getPatient(id);
      };
      const attempts: JobAttempt[] = [];
      const pool = new WorkerPool({
        store,
        clock: h.clock,
        workerId: 'w1',
        concurrency: 1,
        leaseMs: 30_000,
        renewEveryMs: 10_000,
        pollIntervalMs: 1000,
        handlers,
        onAttempt: (attempt) => attempts.push(attempt),
      });
      await receiveSpry();

      const idle = pool.runUntilIdle();
      await fetched;
      leaseHeld = false;
      await h.clock.advance(10_000);
      release();
      await idle;

      expect(attempts.map((a) => [a.outcome, a.errorCode])).toEqual([['retrying', LEASE_LOST]]);
      expect(h.spruce.writes).toEqual([]);
      expect(h.spruce.contacts.size).toBe(0);
    });
  });
});
