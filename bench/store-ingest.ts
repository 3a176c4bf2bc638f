// `npm run bench:store-ingest [-- --events 30000] [--concurrency 100] [--patients 1000] [--rounds 3]
// [--prefill 0] [--without-index events_by_type,...]`:
// the SQLite store's share of an acknowledged webhook, in-process with no HTTP: CPU µs per event
// of `insertEvent` (sealing, the durable group commit with synchronous=FULL) and of filing it
// with its job (store/sqlite/staged-events.ts), at `--concurrency` inserts in flight, Spry-like
// events about one of `--patients` patients with a 100 ms coalescing window, an encryption key
// set. Everything is filed before the clock stops. Also the bytes the process wrote per event
// (Linux's /proc/self/io: WAL frames, checkpoints), which is what each index costs. `--prefill`
// files that many events first (unmeasured), to see the cost at a larger table; `--without-index`
// drops indexes of the bench's own throwaway file first, to see what each one costs. Prints a
// table; writes nothing. Run it on a copy of an older commit to compare (docs/BENCHMARKS.md,
// "Ingest: a staged inbox", "Ingest: what each index costs").
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { readFileSync } from 'node:fs';
import { openStore } from '../src/store/open-store.ts';
import Database from 'better-sqlite3';
import type { NewInboundEvent } from '../src/store/types.ts';
import { scriptArgs } from './lib/args.ts';
import { describeLoad, describeMachine } from './lib/machine.ts';
import { markdownTable } from './lib/report.ts';

const { option } = scriptArgs();
const events = Number(option('--events') ?? 30_000);
const concurrency = Number(option('--concurrency') ?? 100);
const patients = Number(option('--patients') ?? 1_000);
const rounds = Number(option('--rounds') ?? 3);
const prefill = Number(option('--prefill') ?? 0);
const withoutIndexes = (option('--without-index') ?? '').split(',').filter(Boolean);
for (const name of withoutIndexes) if (!/^[a-z_]+$/.test(name)) throw new Error(`--without-index wants index names like events_by_type, not ${name}`);

/** Bytes this process has written (write() and friends), or null where /proc/self/io is not. */
function bytesWritten(): number | null {
  try {
    return Number(/^wchar: (\d+)$/m.exec(readFileSync('/proc/self/io', 'utf8'))![1]);
  } catch {
    return null;
  }
}

/** Inserts events `from`..`to` - 1, `concurrency` in flight. */
async function insertAll(store: { insertEvent: (e: NewInboundEvent) => Promise<unknown> }, from: number, to: number): Promise<void> {
  let next = from;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < to) await store.insertEvent(spryEvent(next++));
    }),
  );
}

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

async function round(): Promise<{ cpuMicros: number; wallMicros: number; bytesPerEvent: number | null }> {
  const dir = mkdtempSync(path.join(tmpdir(), 'spruce-sync-bench-store-ingest-'));
  const file = path.join(dir, 'sync.db');
  const store = await openStore(`sqlite:${file}`, { encryptionKey: randomBytes(32).toString('base64'), synchronous: 'FULL' });
  try {
    if (withoutIndexes.length > 0) {
      // On a second connection, while the store is idle; the store's statements are prepared again.
      const db = new Database(file);
      for (const name of withoutIndexes) db.exec(`DROP INDEX ${name}`);
      db.close();
    }
    const settle = () => (store as { settleInbox?: () => Promise<void> }).settleInbox?.();
    await insertAll(store, -prefill, 0);
    await settle();
    const written = bytesWritten();
    const cpu = process.cpuUsage();
    const started = performance.now();
    await insertAll(store, 0, events);
    // Whatever is still staged is filed inside the measurement (on older commits: nothing to do).
    await settle();
    const used = process.cpuUsage(cpu);
    const after = bytesWritten();
    return {
      cpuMicros: (used.user + used.system) / events,
      wallMicros: ((performance.now() - started) * 1000) / events,
      bytesPerEvent: written === null || after === null ? null : (after - written) / events,
    };
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

console.log(`[bench] ${describeMachine()}; ${describeLoad()}`);
const rows: (number | string)[][] = [];
for (let i = 1; i <= rounds; i++) {
  const r = await round();
  const kib = r.bytesPerEvent === null ? 'n/a' : (r.bytesPerEvent / 1024).toFixed(1);
  console.log(`[bench] round ${i}: ${r.cpuMicros.toFixed(1)} µs CPU per event, ${r.wallMicros.toFixed(1)} µs wall, ${kib} KiB written per event`);
  rows.push([i, Number(r.cpuMicros.toFixed(1)), Number(r.wallMicros.toFixed(1)), kib]);
}
const shape = [`${events} events per round`, prefill ? `after ${prefill} filed` : '', `${concurrency} in flight`, `${patients} patients`, withoutIndexes.length ? `without ${withoutIndexes.join(', ')}` : ''];
console.log(`\n${shape.filter(Boolean).join(', ')}, synchronous=FULL; ${describeLoad()}\n`);
console.log(markdownTable({ columns: ['round', 'CPU µs per event (ack + filing)', 'wall µs per event', 'KiB written per event'], rows }));
