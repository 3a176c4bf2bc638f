// How many webhook deliveries are being handled right now, and whether that is a burst. While a
// burst is in, the workers claim no new jobs: a sender gives each delivery 5–10 s, and a sync's
// CPU (its API answers, its writes) in the same event loop is what made a burst of 1,000
// deliveries time out (docs/BENCHMARKS.md, "Bursts"). The inbox is durable, so the work waits in
// order and the pool claims it when the burst is acknowledged; jobs already running carry on.
// A burst that never ends (a slow database keeping many deliveries in hand) must not stop the
// sync: after `maxHoldMs` the workers claim again until the deliveries in hand drop back.
//
// A burst is also what has not reached us yet: Node 20's libuv accepts one connection per turn
// of the event loop (libuv PR #3696), so while the workers make each turn long (tens of ms of
// API answers and writes), a burst of new connections waits in the kernel's accept queue and is
// let in at a few dozen a second: the last of 1,000 simultaneous deliveries answered 5–8 s after
// it was sent, though each took milliseconds once in (docs/BENCHMARKS.md, "Bursts while the
// workers sync"). A connection accepted in each of several turns in a row means more are queued
// (the listening socket is polled level-triggered: a turn without an accept found the queue
// empty), so that holds the workers too, until a turn accepts none.

export interface IngestLoadOptions {
  /** More deliveries than this in hand at once is a burst. */
  burstAbove: number;
  /** The longest the workers are held back by one burst. */
  maxHoldMs: number;
  now: () => number;
  /** The burst is over (the workers may claim again). */
  onCalm?: () => void;
  /** Connections accepted in this many turns of the event loop in a row mean a queue (default 4). */
  queuedAfterTurns?: number;
  /** Runs `fn` at the end of this turn of the event loop (default setImmediate; tests step it). */
  atTurnEnd?: (fn: () => void) => void;
}

export class IngestLoad {
  private inHand = 0;
  /** Connections are waiting in the accept queue (accepted in `queuedAfterTurns` turns in a row). */
  private queued = false;
  /** When the load last became a burst; undefined while it is not one. */
  private burstSince: number | undefined;
  /** Turns in a row that accepted a connection, counted only while connections come in. */
  private acceptTurns = 0;
  private acceptedThisTurn = false;
  private watchingTurns = false;
  private readonly queuedAfterTurns: number;
  private readonly atTurnEnd: (fn: () => void) => void;

  constructor(private readonly options: IngestLoadOptions) {
    this.queuedAfterTurns = options.queuedAfterTurns ?? 4;
    this.atTurnEnd = options.atTurnEnd ?? setImmediate;
  }

  /** Deliveries being handled now. */
  get current(): number {
    return this.inHand;
  }

  /** Whether new claims should wait now. */
  get bursting(): boolean {
    return this.burstSince !== undefined && this.options.now() - this.burstSince < this.options.maxHoldMs;
  }

  enter(): void {
    this.inHand++;
    this.update();
  }

  leave(): void {
    this.inHand = Math.max(0, this.inHand - 1);
    this.update();
  }

  /** The server accepted a connection (its 'connection' event). */
  connected(): void {
    this.acceptedThisTurn = true;
    if (this.watchingTurns) return;
    this.watchingTurns = true;
    this.atTurnEnd(this.turnEnded);
  }

  private readonly turnEnded = (): void => {
    if (this.acceptedThisTurn) {
      this.acceptedThisTurn = false;
      this.acceptTurns++;
      if (!this.queued && this.acceptTurns >= this.queuedAfterTurns) {
        this.queued = true;
        this.update();
      }
      this.atTurnEnd(this.turnEnded);
      return;
    }
    this.acceptTurns = 0;
    this.watchingTurns = false;
    if (this.queued) {
      this.queued = false;
      this.update();
    }
  };

  /** A burst begins when the load presses and ends (saying so once, if it held) when it stops. */
  private update(): void {
    if (this.inHand > this.options.burstAbove || this.queued) {
      this.burstSince ??= this.options.now();
      return;
    }
    if (this.burstSince === undefined) return;
    const held = this.bursting;
    this.burstSince = undefined;
    if (held) this.options.onCalm?.();
  }
}
