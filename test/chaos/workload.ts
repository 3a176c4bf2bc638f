// The changes clinic staff make during a chaos run, on both sides, drawn from a seeded random
// source so a failing run can be repeated. Every value is synthetic (no PHI).
import { SANDBOX_SPRY_ORG, type Sandbox } from '../../src/sandbox/environment.ts';

/** mulberry32: small, fast, good enough to pick patients and moments. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface WorkloadCounts {
  spry: number;
  spruce: number;
  /** Spruce conversation items we created: each must land on the chart once. */
  items: { itemId: string; patientId: number }[];
}

export class Workload {
  readonly counts: WorkloadCounts = { spry: 0, spruce: 0, items: [] };
  private serial = 0;

  constructor(
    private readonly sandbox: Sandbox,
    private readonly random: () => number,
  ) {}

  private pick<T>(items: T[]): T {
    return items[Math.floor(this.random() * items.length)]!;
  }

  /** A Spry edit of a field that syncs to Spruce (names), or now and then one that does not (alias). */
  spryEdit(patientId: number): void {
    const n = ++this.serial;
    const roll = this.random();
    const edit = roll < 0.6 ? { first_name: `Chaos${n}` } : roll < 0.9 ? { last_name: `Run${n}` } : { alias: `alias${n}` };
    this.sandbox.spry.staff.editPatient(SANDBOX_SPRY_ORG, patientId, edit);
    this.counts.spry++;
  }

  randomSpryEdit(patientIds: number[]): void {
    this.spryEdit(this.pick(patientIds));
  }

  /**
   * A Spruce change by staff on a contact we synced: a new mobile or email (written back to
   * Spry) or a secure message from the patient (recorded on the chart). False when no contact
   * is synced yet.
   */
  spruceChange(): boolean {
    const linked = this.sandbox.spruce.contacts().filter((c) => (c.integrationLinks ?? []).some((l) => l.externalId.startsWith(`spry:${SANDBOX_SPRY_ORG}:`)));
    if (linked.length === 0) return false;
    const contact = this.pick(linked);
    const n = ++this.serial;
    const roll = this.random();
    if (roll < 0.5) {
      const value = `(206) 555-${String(1000 + (n % 9000)).padStart(4, '0')}`;
      const phones = (contact.phoneNumbers ?? []).map((p) => ({ label: p.label ?? '', value: p.value }));
      const mobile = phones.findIndex((p) => p.label === 'Mobile');
      if (mobile >= 0) phones[mobile] = { label: 'Mobile', value };
      else phones.unshift({ label: 'Mobile', value });
      this.sandbox.spruce.staff.editContact(contact.id, { phoneNumbers: phones });
    } else if (roll < 0.7) {
      this.sandbox.spruce.staff.editContact(contact.id, { emailAddresses: [{ label: 'Email', value: `chaos${n}@example.com` }] });
    } else {
      const { item } = this.sandbox.spruce.staff.receiveSecureMessage({ contactId: contact.id, text: `Chaos message ${n}` });
      const link = contact.integrationLinks!.find((l) => l.externalId.startsWith(`spry:${SANDBOX_SPRY_ORG}:`))!;
      this.counts.items.push({ itemId: item.id, patientId: Number(link.externalId.split(':')[2]) });
    }
    this.counts.spruce++;
    return true;
  }
}
