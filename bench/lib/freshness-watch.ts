// Freshness as the benchmarks measure it: from a staff edit in the Spry simulator (a last name
// carrying a sequence number) to the moment the Spruce simulator applied a contact carrying that
// value (the time of its `contact.updated` event), both on the sandbox clock. A later edit of the
// same contact that reaches Spruce first, in the same PATCH (coalesced), supersedes the earlier:
// its latency is not counted.
import type { SpruceSimulator } from '../../src/sandbox/spruce/index.ts';

interface Pending {
  seq: number;
  at: number;
}

export class FreshnessWatch {
  readonly latencies: number[] = [];
  superseded = 0;
  private readonly pending = new Map<string, Pending[]>();
  private eventIndex: number;
  private readonly timer: ReturnType<typeof setInterval>;
  private readonly pattern: RegExp;

  /** Watches the simulator's event log from now on; `prefix` + seq is the edited last name. */
  constructor(
    private readonly spruce: SpruceSimulator,
    prefix: string,
    private readonly skipOrg?: string,
  ) {
    this.pattern = new RegExp(`^${prefix}(\\d+)$`);
    this.eventIndex = spruce.events.length;
    this.timer = setInterval(() => this.scan(), 5);
  }

  /** The edit `seq` of the contact was made at `at` (sandbox clock). */
  edited(contactId: string, seq: number, at: number): void {
    const list = this.pending.get(contactId) ?? [];
    list.push({ seq, at });
    this.pending.set(contactId, list);
  }

  /** Edits not seen in Spruce yet. */
  waiting(): number {
    return [...this.pending.values()].reduce((n, list) => n + list.length, 0);
  }

  /** Stops watching after one last look. */
  stop(): void {
    clearInterval(this.timer);
    this.scan();
  }

  private scan(): void {
    const events = this.spruce.events;
    for (; this.eventIndex < events.length; this.eventIndex++) {
      const event = events[this.eventIndex]!;
      if (event.type !== 'contact.updated' || (this.skipOrg !== undefined && event.orgId === this.skipOrg)) continue;
      const object = (JSON.parse(event.body) as { data: { object: { id: string; familyName?: string } } }).data.object;
      const match = this.pattern.exec(object.familyName ?? '');
      const waiting = this.pending.get(object.id);
      if (!match || !waiting) continue;
      const applied = Number(match[1]);
      for (const p of waiting.filter((p) => p.seq <= applied)) {
        if (p.seq === applied) this.latencies.push(event.at - p.at);
        else this.superseded += 1;
      }
      this.pending.set(object.id, waiting.filter((p) => p.seq > applied));
    }
  }
}
