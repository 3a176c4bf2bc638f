// The delivery engine: one lane per subscription (lane.ts), kept in step with the stored
// subscriptions, woken when deliveries are created and on a poll interval (for work other
// processes created: the CLI's test events and replays, another instance's intake).
import type { CancelTimer } from '../clock.ts';
import { Lane, type LaneDeps } from './lane.ts';
import type { Subscription } from './types.ts';

export type DispatcherDeps = LaneDeps & { pollIntervalMs: number };

export class Dispatcher {
  private readonly lanes = new Map<string, Lane>();
  private poll: CancelTimer | null = null;
  private running = false;

  constructor(private readonly deps: DispatcherDeps) {}

  /** Brings the lanes in line with the subscriptions: new ones get a lane, removed ones lose theirs. */
  sync(subscriptions: readonly Subscription[]): void {
    const seen = new Set<string>();
    for (const subscription of subscriptions) {
      seen.add(subscription.id);
      const lane = this.lanes.get(subscription.id);
      if (lane) lane.update(subscription);
      else if (this.running) this.addLane(subscription);
    }
    for (const [id, lane] of this.lanes) {
      if (!seen.has(id)) {
        this.lanes.delete(id);
        void lane.stop();
      }
    }
  }

  /** Work may be due for these subscriptions (all when none given). */
  notify(subscriptionIds?: readonly string[]): void {
    if (!subscriptionIds) {
      for (const lane of this.lanes.values()) lane.pump();
      return;
    }
    for (const id of subscriptionIds) this.lanes.get(id)?.pump();
  }

  start(subscriptions: readonly Subscription[]): void {
    if (this.running) return;
    this.running = true;
    for (const subscription of subscriptions) this.addLane(subscription);
    const tick = () => {
      this.notify();
      if (this.running) this.poll = this.deps.clock.setTimer(this.deps.pollIntervalMs, tick);
    };
    this.poll = this.deps.clock.setTimer(this.deps.pollIntervalMs, tick);
    this.notify();
  }

  /** Stops claiming and waits for the requests in flight to settle. */
  async stop(): Promise<void> {
    this.running = false;
    this.poll?.();
    this.poll = null;
    const lanes = [...this.lanes.values()];
    this.lanes.clear();
    await Promise.all(lanes.map((lane) => lane.stop()));
  }

  /** True while some lane has a request in flight or is claiming. */
  get busy(): boolean {
    return [...this.lanes.values()].some((lane) => lane.busy);
  }

  /** The breaker state of a subscription's endpoint (operator views). */
  circuitState(subscriptionId: string): string | null {
    return this.lanes.get(subscriptionId)?.circuitState ?? null;
  }

  private addLane(subscription: Subscription): void {
    const lane = new Lane(subscription, this.deps);
    this.lanes.set(subscription.id, lane);
    lane.pump();
  }
}
