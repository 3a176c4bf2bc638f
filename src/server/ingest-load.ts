// How many webhook deliveries are being handled right now, and whether that is a burst. While a
// burst is in, the workers claim no new jobs: a sender gives each delivery 5–10 s, and a sync's
// CPU (its API answers, its writes) in the same event loop is what made a burst of 1,000
// deliveries time out (docs/BENCHMARKS.md, "Bursts"). The inbox is durable, so the work waits in
// order and the pool claims it when the burst is acknowledged; jobs already running carry on.
// A burst that never ends (a slow database keeping many deliveries in hand) must not stop the
// sync: after `maxHoldMs` the workers claim again until the deliveries in hand drop back.

export interface IngestLoadOptions {
  /** More deliveries than this in hand at once is a burst. */
  burstAbove: number;
  /** The longest the workers are held back by one burst. */
  maxHoldMs: number;
  now: () => number;
  /** The burst is over (the workers may claim again). */
  onCalm?: () => void;
}

export class IngestLoad {
  private inHand = 0;
  /** When the deliveries in hand last rose above the threshold; undefined while below it. */
  private burstSince: number | undefined;

  constructor(private readonly options: IngestLoadOptions) {}

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
    if (this.inHand > this.options.burstAbove && this.burstSince === undefined) this.burstSince = this.options.now();
  }

  leave(): void {
    this.inHand = Math.max(0, this.inHand - 1);
    if (this.inHand > this.options.burstAbove || this.burstSince === undefined) return;
    const held = this.bursting;
    this.burstSince = undefined;
    if (held) this.options.onCalm?.();
  }
}
