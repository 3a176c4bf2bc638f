// `npm run bench:fanout [-- --events 2000] [-- --patients 200] [-- --database <url>] [-- --no-write]`
// Fan-out throughput to 10 endpoints: events offered to the fan-out (as the webhook route does
// after each inbox insert), each delivered to 10 loopback endpoints that answer 200 at once,
// signed, ordered per patient, through the store (SQLite by default, FULL durability). A second
// round makes one of the ten endpoints slow, to show that the other nine do not wait for it.
// Prints a table and appends it to docs/BENCHMARKS.md.
import { randomBytes } from 'node:crypto';
import { appendFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { systemClock } from '../src/clock.ts';
import { parseConfig } from '../src/config/load-config.ts';
import { createFanout } from '../src/fanout/fanout.ts';
import { createLogger } from '../src/observe/logger.ts';
import type { NewInboundEvent } from '../src/store/types.ts';
import { dropSchema, uniqueSchema } from '../test/support/postgres.ts';
import { openConfiguredStore } from '../src/config/database.ts';

const ENDPOINTS = 10;
const DOC = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../docs/BENCHMARKS.md');

function args() {
  const argv = process.argv.slice(2);
  const value = (name: string, fallback: string) => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 && argv[i + 1] ? argv[i + 1]! : fallback;
  };
  return {
    events: Number(value('events', '2000')),
    patients: Number(value('patients', '200')),
    slowMs: Number(value('slow-ms', '100')),
    database: value('database', ''),
    write: !argv.includes('--no-write'),
    command: `npm run bench:fanout${argv.length ? ` -- ${argv.join(' ')}` : ''}`,
  };
}

interface Endpoint {
  url: string;
  server: Server;
  received: Map<string, number>;
  delayMs: number;
  lastAt: number;
}

async function endpoint(): Promise<Endpoint> {
  const e: Endpoint = { url: '', server: createServer(), received: new Map(), delayMs: 0, lastAt: 0 };
  e.server.on('request', (request, response) => {
    request.resume();
    request.on('end', () => {
      const reply = () => {
        const id = String(request.headers['webhook-id']);
        if (!e.received.has(id)) e.received.set(id, performance.now());
        e.lastAt = performance.now();
        response.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
      };
      if (e.delayMs > 0) setTimeout(reply, e.delayMs);
      else reply();
    });
  });
  await new Promise<void>((resolve) => e.server.listen(0, '127.0.0.1', resolve));
  e.url = `http://127.0.0.1:${(e.server.address() as AddressInfo).port}/hook`;
  return e;
}

function event(i: number, patients: number, round: string): NewInboundEvent {
  const patientId = (i % patients) + 1;
  const now = Date.now();
  const body = { event_id: `${round}-${i}`, event_type: 'patient.updated', api_version: '2026-06-11', timestamp: Math.floor(now / 1000), data: { organisation_id: 74, patient_id: patientId } };
  return {
    tenantId: 'bench',
    source: 'spry',
    eventKey: body.event_id,
    type: 'patient.updated',
    occurredAt: now,
    receivedAt: now,
    payload: Buffer.from(JSON.stringify(body)),
    subject: { patientId },
    status: 'queued',
  };
}

const percentile = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
};

async function main() {
  const o = args();
  const dir = await mkdtemp(path.join(tmpdir(), 'spruce-sync-bench-fanout-'));
  const url = o.database || `sqlite:${path.join(dir, 'bench.db')}`;
  // PostgreSQL: a schema of our own, dropped at the end.
  const schema = url.startsWith('postgres') ? uniqueSchema('bench_fanout') : undefined;
  const config = parseConfig({
    database: { url, ...(schema ? { schema } : {}), encryptionKey: randomBytes(32).toString('base64') },
    log: { level: 'silent' },
    fanout: { pollIntervalMs: 200, ratePerSecond: 0, maxInFlight: 8, recoverMs: 0 },
    tenants: [
      {
        id: 'bench',
        spry: { baseUrl: 'https://spry.invalid', clientId: 'c', clientSecret: 's', organisationId: 74, webhookSecrets: ['x'], chartUrl: 'https://spry.invalid/p/{patientId}' },
        spruce: { baseUrl: 'https://spruce.invalid', accessId: 'a', secretKey: 'k', webhookSecrets: ['y'] },
        fanout: { allowLoopback: true },
      },
    ],
  });
  const main = await openConfiguredStore(config.database);
  const endpoints = await Promise.all(Array.from({ length: ENDPOINTS }, endpoint));
  const fanout = await createFanout({ config, mainStore: main, clock: systemClock, logger: createLogger({ level: 'silent' }), workerId: 'bench' });
  await fanout.start();
  for (const e of endpoints) await fanout.admin.add('bench', { url: e.url, eventTypes: ['spry.*'] });

  const rows: (string | number)[][] = [];
  const runId = Date.now().toString(36);
  for (const round of ['10 healthy', '9 healthy + 1 slow'] as const) {
    const slow = round !== '10 healthy';
    endpoints[ENDPOINTS - 1]!.delayMs = slow ? o.slowMs : 0;
    for (const e of endpoints) e.received.clear();
    const offeredAt = new Map<string, number>();
    const { messageId } = await import('../src/fanout/messages.ts');
    const started = performance.now();
    for (let i = 0; i < o.events; i++) {
      const e = event(i, o.patients, `${runId}-${slow ? 'b' : 'a'}`);
      offeredAt.set(messageId('bench', 'spry', e.eventKey), performance.now());
      fanout.onInboundStored(e);
      // The webhook route offers one event per request; let the loop breathe like a server does.
      if (i % 50 === 49) await new Promise((resolve) => setImmediate(resolve));
    }
    await fanout.intake.settle();
    const intakeMs = performance.now() - started;
    const healthy = slow ? endpoints.slice(0, ENDPOINTS - 1) : endpoints;
    const deadline = Date.now() + 600_000;
    while (healthy.some((e) => e.received.size < o.events) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    const healthyDoneMs = Math.max(...healthy.map((e) => e.lastAt)) - started;
    const deliveries = healthy.reduce((n, e) => n + e.received.size, 0);
    const latencies = healthy.flatMap((e) => [...e.received].map(([id, at]) => at - offeredAt.get(id)!));
    const slowReceived = slow ? endpoints[ENDPOINTS - 1]!.received.size : null;
    rows.push([
      round,
      o.events,
      deliveries,
      Math.round(intakeMs),
      Math.round((o.events / intakeMs) * 1000),
      Math.round(healthyDoneMs),
      Math.round((deliveries / healthyDoneMs) * 1000),
      Math.round(percentile(latencies, 50)),
      Math.round(percentile(latencies, 95)),
      Math.round(percentile(latencies, 99)),
      slowReceived === null ? '-' : `${slowReceived} of ${o.events}`,
    ]);
    console.log(`[bench:fanout] ${round}: ${deliveries} deliveries to healthy endpoints in ${Math.round(healthyDoneMs)} ms`);
    if (slow) {
      // Let the slow endpoint finish before closing, so its backlog is not cut off mid-request.
      endpoints[ENDPOINTS - 1]!.delayMs = 0;
      const until = Date.now() + 600_000;
      while (endpoints[ENDPOINTS - 1]!.received.size < o.events && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
  await fanout.close();
  if (schema) await dropSchema(url, schema);
  await main.close();
  await Promise.all(endpoints.map((e) => new Promise<void>((resolve) => e.server.close(() => resolve()))));
  await rm(dir, { recursive: true, force: true });

  const columns = ['round', 'events', 'deliveries (healthy)', 'intake ms', 'intake events/s', 'healthy done ms', 'deliveries/s', 'p50 ms', 'p95 ms', 'p99 ms', 'slow endpoint got'];
  const line = (cells: (string | number)[]) => `| ${cells.join(' | ')} |`;
  const cpu = cpus()[0]?.model.replace(/\s+/g, ' ').trim() ?? 'unknown cpu';
  const text = [
    `### Fan-out to ${ENDPOINTS} endpoints — ${new Date().toISOString().replace(/\.\d+Z$/, 'Z')}`,
    '',
    `Machine: ${cpu}, ${cpus().length} cores, ${Math.round((totalmem() / 1024 ** 3) * 10) / 10} GiB RAM, Node ${process.version}. ` +
      `Load average (1/5/15 min): ${loadavg().map((n) => n.toFixed(2)).join(' / ')}. Command: \`${o.command}\`.`,
    '',
    `${o.events} Spry events about ${o.patients} patients offered to the fan-out the way the webhook route offers them, each delivered to ` +
      `${ENDPOINTS} subscriptions on loopback endpoints (node:http, 200 at once), ordered per patient, up to 8 in flight per endpoint, ` +
      `no rate limit, signed (Standard Webhooks), store ${o.database ? 'as given' : 'SQLite, synchronous=FULL'}. Latency: offered → first receipt. ` +
      `Second round: one endpoint answers after ${o.slowMs} ms; the table counts the nine others.`,
    '',
    line(columns),
    `| ${columns.map((_, i) => (i === 0 || i === columns.length - 1 ? '---' : '---:')).join(' | ')} |`,
    ...rows.map(line),
    '',
    '- deliveries/s: to the healthy endpoints, from the first offer to the last receipt. Latency includes queueing: the ' +
      'whole burst is offered within the intake time, so later events wait behind earlier ones (one patient\'s events go one at a time).',
    `- The slow endpoint (${o.slowMs} ms per answer, at most 8 in flight) had its column's count when the nine others were done: ` +
      'they did not wait for it, and it finished its backlog afterwards.',
    '',
  ].join('\n');
  console.log(`\n${text}`);
  if (o.write) {
    let existing = '';
    try {
      existing = await readFile(DOC, 'utf8');
    } catch {
      await writeFile(DOC, '# Benchmarks\n\nResults of the benchmark commands, appended run by run.\n');
    }
    await appendFile(DOC, `${existing.endsWith('\n\n') ? '' : '\n'}${text}`);
  }
}

await main();
