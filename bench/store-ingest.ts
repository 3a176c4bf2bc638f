// `npm run bench:store-ingest [-- --events 30000] [--concurrency 100] [--patients 1000] [--rounds 3]`:
// the SQLite store's share of an acknowledged webhook, in-process with no HTTP: CPU µs per event
// of `insertEvent` (sealing, the durable group commit with synchronous=FULL) and of filing it
// with its job (store/sqlite/staged-events.ts), at `--concurrency` inserts in flight, Spry-like
// events about one of `--patients` patients with a 100 ms coalescing window, an encryption key
// set. Everything is filed before the clock stops. Prints a table; writes nothing. Run it on a
// copy of an older commit to compare (docs/BENCHMARKS.md, "Ingest: a staged inbox").
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { openStore } from '../src/store/open-store.ts';
import type { NewInboundEvent } from '../src/store/types.ts';
import { scriptArgs } from './lib/args.ts';
import { describeLoad, describeMachine } from './lib/machine.ts';
import { markdownTable } from './lib/report.ts';

const { option } = scriptArgs();
const events = Number(option('--events') ?? 30_000);
const concurrency = Number(option('--concurrency') ?? 100);
const patients = Number(option('--patients') ?? 1_000);
const rounds = Number(option('--rounds') ?? 3);

function spryEvent(n: number): NewInboundEvent {
  const patientId = (n * 7919) % patients;
  const now = Date.now();
  const eventKey = `evt_${randomBytes(10).toString('hex')}`;
  return {
    tenantId: 'default',
    source: 'spry',
    eventKey,
    type: 'patient.updated',
    occurredAt: now,
    receivedAt: now,
    payload: Buffer.from(JSON.stringify({ event_id: eventKey, organisation_id: 1, patient_id: patientId, status: 'updated', timestamp: new Date(now).toISOString() })),
    subject: { patientId },
    status: 'queued',
    job: { key: `spry-patient:1:${patientId}`, task: 'spry.patient', params: { patientId, organisationId: 1 }, runAt: now + 100 },
  };
}

async function round(): Promise<{ cpuMicros: number; wallMicros: number }> {
  const dir = mkdtempSync(path.join(tmpdir(), 'spruce-sync-bench-store-ingest-'));
  const store = await openStore(`sqlite:${path.join(dir, 'sync.db')}`, { encryptionKey: randomBytes(32).toString('base64'), synchronous: 'FULL' });
  try {
    let next = 0;
    const cpu = process.cpuUsage();
    const started = performance.now();
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < events) await store.insertEvent(spryEvent(next++));
      }),
    );
    // Whatever is still staged is filed inside the measurement (on older commits: nothing to do).
    await (store as { settleInbox?: () => Promise<void> }).settleInbox?.();
    const used = process.cpuUsage(cpu);
    return { cpuMicros: (used.user + used.system) / events, wallMicros: ((performance.now() - started) * 1000) / events };
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

console.log(`[bench] ${describeMachine()}; ${describeLoad()}`);
const rows: number[][] = [];
for (let i = 1; i <= rounds; i++) {
  const r = await round();
  console.log(`[bench] round ${i}: ${r.cpuMicros.toFixed(1)} µs CPU per event, ${r.wallMicros.toFixed(1)} µs wall`);
  rows.push([i, Number(r.cpuMicros.toFixed(1)), Number(r.wallMicros.toFixed(1))]);
}
console.log(`\n${events} events per round, ${concurrency} in flight, ${patients} patients, synchronous=FULL; ${describeLoad()}\n`);
console.log(markdownTable({ columns: ['round', 'CPU µs per event (ack + filing)', 'wall µs per event'], rows }));
