// How many webhook deliveries are being handled right now, and whether that is a burst. While a
// burst is in, the workers claim no new jobs: a sender gives each delivery 5–10 s, and a sync's
// CPU (its API answers, its writes) in the same event loop is what made a burst of 1,000
// deliveries time out (docs/BENCHMARKS.md, "Bursts"). The inbox is durable, so the work waits in
// order and the pool claims it when the burst is acknowledged; jobs already running carry on.

export interface IngestLoadOptions {
  /** More deliveries than this in hand at once is a burst. */
  burstAbove: number;
  /** The burst is over (the workers may claim again). */
  onCalm?: () => void;
}

export class IngestLoad {
  private inHand = 0;

  constructor(private readonly options: IngestLoadOptions) {}

  /** Deliveries being handled now. */
  get current(): number {
    return this.inHand;
  }

  get bursting(): boolean {
    return this.inHand > this.options.burstAbove;
  }

  enter(): void {
    this.inHand++;
  }

  leave(): void {
    const was = this.bursting;
    this.inHand = Math.max(0, this.inHand - 1);
    if (was && !this.bursting) this.options.onCalm?.();
  }
}
