// Durability of the fan-out across a restart: deliveries live in the database, and an event the
// inbox acknowledged just before a crash (before the fan-out stored it) is offered again at start.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { systemClock } from '../../src/clock.ts';
import { parseConfig } from '../../src/config/load-config.ts';
import { createFanout, type Fanout } from '../../src/fanout/fanout.ts';
import { messageId } from '../../src/fanout/messages.ts';
import { createLogger } from '../../src/observe/logger.ts';
import { openStore } from '../../src/store/open-store.ts';
import type { NewInboundEvent, Store } from '../../src/store/types.ts';
import { startReceiver, verifyAll, type Receiver } from './fanout-support.ts';
import { eventually } from './support.ts';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function configFor(dbFile: string) {
  return parseConfig({
    database: { url: `sqlite:${dbFile}` },
    log: { level: 'silent' },
    fanout: { pollIntervalMs: 50, retrySchedule: ['100ms'], circuit: { openMs: 100, maxOpenMs: 200 } },
    tenants: [
      {
        id: 't1',
        spry: { baseUrl: 'https://spry.invalid', clientId: 'c', clientSecret: 's', organisationId: 74, webhookSecrets: ['x'], chartUrl: 'https://spry.invalid/p/{patientId}' },
        spruce: { baseUrl: 'https://spruce.invalid', accessId: 'a', secretKey: 'k', webhookSecrets: ['y'] },
        fanout: { allowLoopback: true },
      },
    ],
  });
}

function spryEvent(key: string, patientId: number): NewInboundEvent {
  const now = Date.now();
  return {
    tenantId: 't1',
    source: 'spry',
    eventKey: key,
    type: 'patient.updated',
    occurredAt: now,
    receivedAt: now,
    payload: Buffer.from(JSON.stringify({ event_id: key, event_type: 'patient.updated', data: { organisation_id: 74, patient_id: patientId } })),
    subject: { patientId },
    status: 'queued',
    job: { key: `spry-patient:74:${patientId}`, task: 'spry.patient', params: { patientId } },
  };
}

async function open(dbFile: string, main: Store): Promise<Fanout> {
  const fanout = await createFanout({ config: configFor(dbFile), mainStore: main, clock: systemClock, logger: createLogger({ level: 'silent' }), workerId: `w-${Math.random()}` });
  await fanout.start();
  return fanout;
}

it('delivers after a restart what was pending, and what the crash kept from the fan-out', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'spruce-sync-fanout-restart-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const dbFile = join(dir, 'sync.db');
  const main = await openStore(`sqlite:${dbFile}`);
  cleanups.push(() => main.close());
  const receiver: Receiver = await startReceiver(() => ({ status: 503 }));
  cleanups.push(() => receiver.close());

  const first = await open(dbFile, main);
  const { subscription, secret } = await first.admin.add('t1', { url: receiver.url, eventTypes: ['spry.*'] });
  // Stored and offered: pending while the receiver is down.
  const offered = spryEvent('e-offered', 1);
  await main.insertEvent(offered);
  first.onInboundStored(offered);
  await eventually(() => receiver.received.length > 0, 5_000, 'a failed attempt');
  // Acknowledged by the inbox, then the process died before the fan-out stored it.
  const lost = spryEvent('e-lost', 1);
  await main.insertEvent(lost);
  await first.close();

  receiver.behave(() => ({ status: 200 }));
  const second = await open(dbFile, main);
  cleanups.push(() => second.close());
  const want = [messageId('t1', 'spry', 'e-offered'), messageId('t1', 'spry', 'e-lost')];
  await eventually(() => want.every((id) => receiver.deliveredIds().has(id)), 10_000, 'both delivered after the restart');
  expect(receiver.firsts().map((r) => r.id)).toEqual(want);
  expect(verifyAll(receiver, [secret])).toBe(receiver.received.length);
  expect(await second.store.deliveryCounts(subscription.id)).toEqual({ pending: 0, delivered: 2, failed: 0 });
  // Offering the same inbox events again changes nothing.
  expect(await second.intake.recover(['t1'], Date.now() - 60_000)).toBe(2);
  expect(await second.store.deliveryCounts(subscription.id)).toEqual({ pending: 0, delivered: 2, failed: 0 });
});
