// The reference the ingest benchmark compares with: Fastify 5 with its defaults and one route
// shaped like the Spry webhook route that parses the JSON body and answers 200 at once —
// no signature check, no store. `node bin/run-ts.js bench/lib/bare-server.ts <port>`.
import Fastify from 'fastify';

const port = Number(process.argv[2] ?? 0);
const app = Fastify({ logger: false });
app.post<{ Params: { tenantId: string } }>('/webhooks/spry/:tenantId', async () => ({ received: true, duplicate: false, status: 'queued' }));
const url = await app.listen({ host: '127.0.0.1', port });
console.log(`bare fastify listening on ${url}`);
const stop = () => void app.close().then(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
