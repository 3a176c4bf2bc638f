// Spruce-looking identifiers, deterministic from the seed and monotonic, so that "sort by id
// ascending" (the documented order of structured search) is also creation order, and keyset
// pagination over ids never skips or repeats a record.
import type { Clock } from '../../clock.ts';
import { seededRandom } from '../faults.ts';

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

function encode(value: number, width: number): string {
  let out = '';
  let rest = Math.floor(value);
  for (let i = 0; i < width; i++) {
    out = CROCKFORD[rest % 32]! + out;
    rest = Math.floor(rest / 32);
  }
  return out;
}

export class IdFactory {
  private counter = 0;
  /** Sequence inside the ULID-like ids (after their time part). */
  private sequence = 0;
  private random: () => number;

  constructor(
    private readonly clock: Clock,
    private readonly seed: number,
  ) {
    this.random = seededRandom(seed ^ 0x5eed5);
    this.counter = this.startCounter();
  }

  /** A seeded starting point, so ids look like Spruce's rather than a run of zeros. */
  private startCounter(): number {
    return Math.floor(this.random() * 2 ** 40) + 2 ** 40;
  }

  /** Back to the first id (sandbox reset), so a reset simulator repeats the same ids. */
  reset(): void {
    this.random = seededRandom(this.seed ^ 0x5eed5);
    this.counter = this.startCounter();
    this.sequence = 0;
  }

  private randomChars(n: number): string {
    let out = '';
    for (let i = 0; i < n; i++) out += CROCKFORD[Math.floor(this.random() * 32)]!;
    return out;
  }

  /** Short ids as in the spec examples: `entity_0E5QDGJC03000`, `t_…`, `tag_…` (13 chars). */
  short(prefix: string): string {
    return `${prefix}_${encode(++this.counter, 9)}${this.randomChars(4)}`;
  }

  /** ULID-like ids as in the spec examples: `wde_01HWDG5ADNBGJ3XXXXXFP8P1GH` (26 chars). */
  ulid(prefix: string): string {
    return `${prefix}_${encode(this.clock.now(), 10)}${encode(++this.sequence, 8)}${this.randomChars(8)}`;
  }

  /** The `s-request-id` header value (26 chars, like the spec example). */
  requestId(): string {
    return `${encode(this.clock.now(), 10)}${encode(++this.sequence, 8)}${this.randomChars(8)}`;
  }

  /** Random url-safe text (signing secrets), from the seed. */
  secret(bytes = 32): string {
    const buf = Buffer.alloc(bytes);
    for (let i = 0; i < bytes; i++) buf[i] = Math.floor(this.random() * 256);
    return buf.toString('base64url');
  }
}
