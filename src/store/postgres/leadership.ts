// Leadership on PostgreSQL: one session-level advisory lock per duty, each held on a dedicated
// connection (never a pooled one, whose session would outlive our use of it). The lock lives
// exactly as long as that session: when the leader dies, the server ends its session and frees
// the lock, and the next follower to try (every `retryMs`) becomes the leader.
//
// The leader checks its session every `heartbeatMs`; an error or a timeout means it can no
// longer be sure it holds the lock, so it steps down at once (aborting the running duty). The
// session asks the server to probe its TCP peer every few seconds, so a leader whose host
// vanished without closing the socket is dropped in ~15 s rather than after the OS default
// (hours). Between a silent loss and the step-down two instances may briefly both act: duties
// are idempotent, so that costs duplicate work, never wrong data.
import pg from 'pg';
import { systemClock, type CancelTimer, type Clock } from '../../clock.ts';
import type { Leadership } from '../leadership.ts';
import { connectionConfig } from './db.ts';

export interface PostgresLeadershipOptions {
  url: string;
  /** Our schema, if any; also the default namespace. */
  schema?: string;
  /** Instances lead together only within one namespace (default: the schema, else `public`). */
  namespace?: string;
  clock?: Clock;
  /** How often a follower tries to take the lock. Default 2 000 ms. */
  retryMs?: number;
  /** How often the leader checks its session. Default 2 000 ms. */
  heartbeatMs?: number;
  /** A check or lock attempt slower than this counts as a lost session. Default 5 000 ms. */
  queryTimeoutMs?: number;
  /** Told when this instance becomes or stops being the leader of a duty (logs, metrics). */
  onChange?: (duty: string, leader: boolean) => void;
}

/** Every lock of ours has this first key, so they never collide with other applications'. */
const LOCK_SPACE = 'spruce-sync:leader';

export class PostgresLeadership implements Leadership {
  private readonly campaigns = new Map<string, Campaign>();
  private closed = false;

  constructor(private readonly options: PostgresLeadershipOptions) {}

  isLeader(duty: string): boolean {
    return this.campaign(duty).leader;
  }

  async runIfLeader<T>(duty: string, fn: (signal: AbortSignal) => Promise<T>): Promise<T | undefined> {
    const campaign = this.campaign(duty);
    await campaign.firstAttempt;
    const term = campaign.term;
    if (!campaign.leader || !term) return undefined;
    return fn(term.signal);
  }

  /** Duties this instance campaigns for, and whether it leads each. */
  status(): Record<string, boolean> {
    return Object.fromEntries([...this.campaigns].map(([duty, c]) => [duty, c.leader]));
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.campaigns.values()].map((c) => c.stop()));
  }

  private campaign(duty: string): Campaign {
    let campaign = this.campaigns.get(duty);
    if (!campaign) {
      campaign = new Campaign(duty, this.options);
      this.campaigns.set(duty, campaign);
      if (this.closed) void campaign.stop();
      else campaign.start();
    }
    return campaign;
  }
}

/** One duty: its connection, whether we hold its lock, and the timer of the next check. */
class Campaign {
  leader = false;
  /** Aborted when this leadership term ends. */
  term: AbortController | undefined;
  readonly firstAttempt: Promise<void>;
  private resolveFirst!: () => void;
  private client: pg.Client | undefined;
  private cancelTimer: CancelTimer = () => {};
  private stopped = false;
  private busy: Promise<void> = Promise.resolve();
  /** After a lost session we let healthy followers try first. */
  private coolDownUntil = 0;
  private readonly clock: Clock;
  private readonly key: string;

  constructor(
    private readonly duty: string,
    private readonly options: PostgresLeadershipOptions,
  ) {
    this.clock = options.clock ?? systemClock;
    this.key = `${options.namespace ?? options.schema ?? 'public'}:${duty}`;
    this.firstAttempt = new Promise((resolve) => (this.resolveFirst = resolve));
  }

  start(): void {
    this.schedule(0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.cancelTimer();
    await this.busy;
    this.stepDown();
    await this.disconnect();
    this.resolveFirst();
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.cancelTimer = this.clock.setTimer(ms, () => {
      this.busy = this.tick();
    });
  }

  private async tick(): Promise<void> {
    const coolDown = this.coolDownUntil - this.clock.now();
    if (coolDown > 0) {
      this.schedule(coolDown);
      return;
    }
    try {
      const client = this.client ?? (await this.connect());
      if (this.leader) {
        await client.query('SELECT 1');
      } else {
        const { rows } = await client.query<{ locked: boolean }>(
          'SELECT pg_try_advisory_lock(hashtext($1), hashtext($2)) AS locked',
          [LOCK_SPACE, this.key],
        );
        if (rows[0]?.locked && !this.stopped) this.stepUp();
      }
    } catch {
      // Not sure we hold the lock any more: we do not. A fresh session tries again.
      this.lose();
    } finally {
      this.resolveFirst();
    }
    this.schedule(this.leader ? (this.options.heartbeatMs ?? 2_000) : (this.options.retryMs ?? 2_000));
  }

  private async connect(): Promise<pg.Client> {
    const client = new pg.Client({ ...connectionConfig(this.options.url, { schema: this.options.schema }), query_timeout: this.options.queryTimeoutMs ?? 5_000 });
    // The server ends the session (the lock goes with it) or the network drops: step down now,
    // not at the next heartbeat. Also keeps the 'error' event from crashing the process.
    client.on('error', () => this.lose(client));
    client.on('end', () => this.lose(client));
    this.client = client;
    try {
      await client.connect();
      // Server-side probes of our socket: a vanished leader host frees the lock in ~15 s.
      await client.query('SET tcp_keepalives_idle = 5; SET tcp_keepalives_interval = 2; SET tcp_keepalives_count = 3');
    } catch (error) {
      this.lose(client);
      throw error;
    }
    return client;
  }

  /** The session that held (or tried for) the lock is gone or in doubt. */
  private lose(client = this.client): void {
    if (client !== this.client) return;
    // Our session just died: this host or its network may be the trouble, so a follower whose
    // session is fine gets the first go (it tries every retryMs).
    if (this.leader) this.coolDownUntil = this.clock.now() + 2 * (this.options.retryMs ?? 2_000);
    this.stepDown();
    void this.disconnect();
  }

  private stepUp(): void {
    this.leader = true;
    this.term = new AbortController();
    this.options.onChange?.(this.duty, true);
  }

  private stepDown(): void {
    if (!this.leader) return;
    this.leader = false;
    this.term?.abort(new Error(`leadership of ${this.duty} lost`));
    this.term = undefined;
    this.options.onChange?.(this.duty, false);
  }

  /** Ending the session releases its locks; a dead socket must not keep us waiting. */
  private async disconnect(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    if (!client) return;
    await Promise.race([client.end().catch(() => {}), new Promise((resolve) => setTimeout(resolve, 1_000).unref())]);
  }
}
