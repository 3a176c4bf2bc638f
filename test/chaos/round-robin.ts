// What a load balancer does in front of N instances: one public webhook URL, each request sent
// to the next live instance in turn; an instance that refuses the connection or drops it is
// skipped and the request goes to the next (deliveries are deduped, so a resend is safe). When no
// instance answers the sender gets 502 and retries later, as it would from a real balancer.
import { Agent, createServer, request, type IncomingHttpHeaders, type Server } from 'node:http';

export interface RoundRobinStats {
  forwarded: number;
  /** Requests that went to another instance after one failed. */
  failedOver: number;
  /** Requests no instance answered (502). */
  unanswered: number;
}

export class RoundRobinProxy {
  readonly stats: RoundRobinStats = { forwarded: 0, failedOver: 0, unanswered: 0 };
  private readonly server: Server;
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 64 });
  private next = 0;
  url = '';

  /** `backends()` lists the ports of the instances believed up, asked per request. */
  constructor(
    private readonly backends: () => number[],
    private readonly timeoutMs = 8_000,
  ) {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        void this.forward(req.method ?? 'GET', req.url ?? '/', req.headers, Buffer.concat(chunks)).then((answer) => {
          res.writeHead(answer.status, answer.headers);
          res.end(answer.body);
        });
      });
    });
    // Like a real balancer (and like the service itself, src/server/app.ts) keep idle client
    // connections longer than a sender keeps them: with Node's default of 5 s, a sender that
    // picks an idle connection in the same instant the proxy times it out gets ECONNRESET, and a
    // burst lost a few deliveries to the sender's 15 s redelivery (the bimodal scale-out rounds).
    this.server.keepAliveTimeout = 65_000;
  }

  async listen(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', () => resolve()));
    const address = this.server.address();
    if (!address || typeof address !== 'object') throw new Error('no port');
    this.url = `http://127.0.0.1:${address.port}`;
    return this.url;
  }

  async close(): Promise<void> {
    this.agent.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async forward(method: string, path: string, headers: IncomingHttpHeaders, body: Buffer): Promise<Answer> {
    const ports = this.backends();
    for (let tried = 0; tried < ports.length; tried++) {
      const port = ports[this.next++ % ports.length]!;
      try {
        const answer = await this.send(port, method, path, headers, body);
        this.stats.forwarded++;
        if (tried > 0) this.stats.failedOver++;
        return answer;
      } catch {
        // That instance is down or died mid-request: the next one gets it.
      }
    }
    this.stats.unanswered++;
    return { status: 502, headers: { 'content-type': 'text/plain' }, body: Buffer.from('no instance answered') };
  }

  private send(port: number, method: string, path: string, headers: IncomingHttpHeaders, body: Buffer): Promise<Answer> {
    return new Promise((resolve, reject) => {
      const { host: _host, connection: _connection, ...passed } = headers;
      const outgoing = request(
        { host: '127.0.0.1', port, method, path, headers: { ...passed, 'content-length': String(body.length) }, agent: this.agent, timeout: this.timeoutMs },
        (incoming) => {
          const chunks: Buffer[] = [];
          incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
          incoming.on('end', () => {
            const { connection: _c, 'transfer-encoding': _t, ...kept } = incoming.headers;
            resolve({ status: incoming.statusCode ?? 502, headers: kept, body: Buffer.concat(chunks) });
          });
          incoming.on('error', reject);
        },
      );
      outgoing.on('timeout', () => outgoing.destroy(new Error('backend timeout')));
      outgoing.on('error', reject);
      outgoing.end(body);
    });
  }
}

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}
