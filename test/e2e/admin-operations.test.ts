// Backfill and reconcile started through the admin API of a running service on the sandbox: the
// request answers 202 at once, the run goes on in the background, its progress is followed in
// the tenant's health, bad options are refused, and a second run meanwhile is a 409.
/* eslint-disable @typescript-eslint/no-explicit-any -- JSON answers; the assertions check their shape */
import { afterEach, describe, expect, it } from 'vitest';
import { contactsOfPatient, eventually, SANDBOX_SPRY_ORG, startWorld, type World } from './support.ts';

const TOKEN = 'admin-operations-token-0123456789';

let world: World | undefined;

afterEach(async () => {
  await world?.close();
  world = undefined;
});

async function admin(path: string, init: { method?: string; body?: unknown } = {}): Promise<{ status: number; body: any }> {
  const response = await fetch(`${world!.service.url}/admin/api${path}`, {
    method: init.method ?? 'GET',
    headers: { authorization: `Bearer ${TOKEN}`, ...(init.body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  });
  return { status: response.status, body: await response.json() };
}

describe('operations started from the admin API', () => {
  it('runs a backfill in the background, reports its progress in the tenant health, then a reconcile that finds nothing', async () => {
    world = await startWorld({
      patients: 30,
      spruceContacts: 0,
      spruceRateLimitPerMinute: 0,
      service: { config: { admin: { token: TOKEN } }, tenant: { schedules: { catchUpOnStart: false, catchUpEveryMinutes: 0, reconcileEveryMinutes: 0 } } },
    });
    const tenantId = world.config.tenants[0]!.id;
    const ids = world.sandbox.spry.patientIds(SANDBOX_SPRY_ORG);
    expect(ids.every((id) => contactsOfPatient(world!, id).length === 0)).toBe(true);

    expect(await admin(`/tenants/${tenantId}/backfill`, { method: 'POST', body: { statuses: ['LOST'] } })).toMatchObject({
      status: 400,
      body: { error: 'bad_request', message: expect.stringContaining('statuses') },
    });
    expect((await admin(`/tenants/${tenantId}/backfill`, { method: 'POST', body: { dryRun: 'yes' } })).status).toBe(400);
    expect((await admin('/tenants/nobody/backfill', { method: 'POST', body: {} })).status).toBe(404);

    // One at a time per tenant: of two starts sent together, one runs and the other is refused.
    const answers = await Promise.all([0, 1].map(() => admin(`/tenants/${tenantId}/backfill`, { method: 'POST', body: {} })));
    const started = answers.find((a) => a.status === 202);
    expect(started).toMatchObject({ body: { tenantId, started: { operation: 'backfill', dryRun: false, progress: 'backfill.last' } } });
    expect(answers.find((a) => a !== started)).toMatchObject({ status: 409, body: { error: 'already_running' } });

    const done = await eventually(async () => {
      const { body } = await admin(`/tenants/${tenantId}`);
      return body.backfill?.status === 'completed' ? body.backfill : undefined;
    }, 60_000, 'the backfill to complete');
    expect(done).toMatchObject({ total: 30, done: 30 });
    for (const id of ids) expect(contactsOfPatient(world, id)).toHaveLength(1);

    expect(await admin(`/tenants/${tenantId}/reconcile`, { method: 'POST', body: { all: true } })).toMatchObject({
      status: 202,
      body: { started: { operation: 'reconcile', fix: false, all: true } },
    });
    const reconciled = await eventually(async () => {
      const { body } = await admin(`/tenants/${tenantId}`);
      return body.reconcile?.status === 'completed' ? body.reconcile : undefined;
    }, 60_000, 'the reconcile to complete');
    expect(reconciled).toMatchObject({ checked: 30 });
    // Every patient has its one linked contact: nothing to report beyond the contacts of the
    // sandbox's archived patients, which the default policy keeps and reconcile points out.
    expect(Object.entries(reconciled.counts).filter(([kind, n]) => n !== 0 && kind !== 'archived')).toEqual([]);
  });
});
