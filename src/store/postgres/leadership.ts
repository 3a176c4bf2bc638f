// Leadership on PostgreSQL: one session-level advisory lock per duty, held on a dedicated
// connection (never a pooled one, whose session would outlive our use of it). A lock lives
// exactly as long as its session: when the leader dies, the server ends the session and frees
// the lock, and the next follower to try (every `retryMs`) becomes the leader.
//
// All duties of an instance share that one connection: duties are named per tenant
// (`reconcile:acme-pt`), and a connection per duty would multiply connections by tenants ×
// instances, while a session that dies takes every duty's lock with it either way.
//
// The leader checks its session every `heartbeatMs`; an error or a timeout means it can no
// longer be sure it holds its locks, so it steps down at once (aborting running duties) and lets
// healthy followers try first. The session asks the server to probe its TCP peer every few
// seconds, so a leader whose host vanished without closing the socket loses its locks in ~15 s
// rather than after the OS default (hours). Between a silent loss and the step-down two instances
// may briefly both act: duties are idempotent, so that costs duplicate work, never wrong data.
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
  /** How often a follower tries to take the locks it lacks. Default 2 000 ms. */
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

interface Duty {
  leader: boolean;
  /** Aborted when this leadership term ends. */
  term?: AbortController;
  /** Settles after the first attempt to take the lock. */
  firstAttempt: Promise<void>;
  tried: () => void;
}

export class PostgresLeadership implements Leadership {
  private readonly duties = new Map<string, Duty>();
  private readonly clock: Clock;
  private readonly namespace: string;
  private client: pg.Client | undefined;
  private cancelTimer: CancelTimer = () => {};
  private ticking: Promise<void> | undefined;
  private again = false;
  private closed = false;
  /** After a lost session we let healthy followers try first. */
  private coolDownUntil = 0;

  constructor(private readonly options: PostgresLeadershipOptions) {
    this.clock = options.clock ?? systemClock;
    this.namespace = options.namespace ?? options.schema ?? 'public';
  }

  isLeader(duty: string): boolean {
    return this.duty(duty).leader;
  }

  async runIfLeader<T>(name: string, fn: (signal: AbortSignal) => Promise<T>): Promise<T | undefined> {
    const duty = this.duty(name);
    await duty.firstAttempt;
    const term = duty.term;
    if (!duty.leader || !term) return undefined;
    return fn(term.signal);
  }

  /** The duties this instance campaigns for, and whether it leads each. */
  status(): Record<string, boolean> {
    return Object.fromEntries([...this.duties].map(([name, d]) => [name, d.leader]));
  }

  async close(): Promise<void> {
    this.closed = true;
    this.cancelTimer();
    await this.ticking;
    this.stepDownAll();
    await this.disconnect();
    for (const duty of this.duties.values()) duty.tried();
  }

  private duty(name: string): Duty {
    let duty = this.duties.get(name);
    if (!duty) {
      let tried!: () => void;
      const firstAttempt = new Promise<void>((resolve) => (tried = resolve));
      duty = { leader: false, firstAttempt, tried };
      this.duties.set(name, duty);
      if (this.closed) tried();
      else this.tickNow();
    }
    return duty;
  }

  private tickNow(): void {
    if (this.ticking) {
      this.again = true;
      return;
    }
    this.cancelTimer();
    this.ticking = this.tick().finally(() => {
      this.ticking = undefined;
      if (this.closed) return;
      if (this.again) {
        this.again = false;
        this.tickNow();
      } else {
        const holdsAll = [...this.duties.values()].every((d) => d.leader);
        const wait = Math.max(holdsAll ? (this.options.heartbeatMs ?? 2_000) : (this.options.retryMs ?? 2_000), this.coolDownUntil - this.clock.now());
        this.cancelTimer = this.clock.setTimer(wait, () => this.tickNow());
      }
    });
  }

  /** Checks the session (heartbeat) and tries the locks this instance lacks, in one round trip. */
  private async tick(): Promise<void> {
    const wanted = [...this.duties].filter(([, d]) => !d.leader).map(([name]) => name);
    try {
      if (this.clock.now() < this.coolDownUntil) return;
      const client = this.client ?? (await this.connect());
      const { rows } = await client.query<{ duty: string; locked: boolean }>(
        `SELECT duty, pg_try_advisory_lock(hashtext($1), hashtext($2 || ':' || duty)) AS locked
         FROM unnest($3::text[]) AS duty`,
        [LOCK_SPACE, this.namespace, wanted],
      );
      for (const { duty, locked } of rows) if (locked && !this.closed) this.stepUp(duty);
    } catch {
      // Not sure we hold our locks any more: we do not. A fresh session tries again.
      this.lose();
    } finally {
      for (const name of wanted) this.duties.get(name)?.tried();
    }
  }

  private async connect(): Promise<pg.Client> {
    const client = new pg.Client({
      ...connectionConfig(this.options.url, { schema: this.options.schema }),
      query_timeout: this.options.queryTimeoutMs ?? 5_000,
    });
    // The server ended the session (the locks went with it) or the network dropped: step down
    // now, not at the next heartbeat. Listening also keeps 'error' from crashing the process.
    client.on('error', () => this.lose(client));
    client.on('end', () => this.lose(client));
    this.client = client;
    try {
      await client.connect();
      // Server-side probes of our socket: a vanished leader host frees its locks in ~15 s.
      await client.query('SET tcp_keepalives_idle = 5; SET tcp_keepalives_interval = 2; SET tcp_keepalives_count = 3');
    } catch (error) {
      this.lose(client);
      throw error;
    }
    return client;
  }

  /** The session that held (or tried for) the locks is gone or in doubt. */
  private lose(client = this.client): void {
    if (client !== this.client) return;
    // This host or its network may be the trouble, so a follower whose session is fine gets the
    // first go (followers try every retryMs).
    if ([...this.duties.values()].some((d) => d.leader)) {
      this.coolDownUntil = this.clock.now() + 2 * (this.options.retryMs ?? 2_000);
    }
    this.stepDownAll();
    void this.disconnect();
  }

  private stepUp(name: string): void {
    const duty = this.duties.get(name);
    if (!duty || duty.leader) return;
    duty.leader = true;
    duty.term = new AbortController();
    this.options.onChange?.(name, true);
  }

  private stepDownAll(): void {
    for (const [name, duty] of this.duties) {
      if (!duty.leader) continue;
      duty.leader = false;
      duty.term?.abort(new Error(`leadership of ${name} lost`));
      duty.term = undefined;
      this.options.onChange?.(name, false);
    }
  }

  /** Ending the session releases its locks; a dead socket must not keep us waiting. */
  private async disconnect(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    if (!client) return;
    await Promise.race([client.end().catch(() => {}), new Promise((resolve) => setTimeout(resolve, 1_000).unref())]);
  }
}
