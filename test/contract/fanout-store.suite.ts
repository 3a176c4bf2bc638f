// The fan-out store contract: what both adapters must do alike (fanout-store.contract.test.ts
// runs it on SQLite and PostgreSQL).
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { withId } from '../../src/fanout/messages.ts';
import type { FanoutStore, Message, NewMessage, Subscription } from '../../src/fanout/types.ts';
import type { EncryptionOptions } from '../../src/store/cipher.ts';

export interface FanoutHarness {
  store: FanoutStore;
  /** A second store on the same database (another instance); the harness's key unless told. */
  openAnother(keys?: EncryptionOptions): Promise<FanoutStore>;
  /** Rows of a raw query, to look at what is stored at rest. */
  raw(sql: string): Promise<Record<string, unknown>[]>;
  cleanup(): Promise<void>;
}

export type FanoutHarnessFactory = (options: { encryptionKey?: string }) => Promise<FanoutHarness>;

const KEY = Buffer.alloc(32, 7).toString('base64');
const PHI = 'Jane Secret-Patient';

let seq = 0;
export function subscription(extra: Partial<Subscription> = {}): Subscription {
  seq += 1;
  return {
    id: `sub_contract${String(seq).padStart(6, '0')}`,
    tenantId: 't1',
    url: 'https://hooks.example.com/in',
    description: null,
    eventTypes: ['spry.*', 'sync.*'],
    filter: { 'subject.patientId': { $exists: true } },
    version: '2026-07-01',
    allowPhi: false,
    retrySchedule: [1000, 5000],
    ratePerSecond: 5,
    maxInFlight: 2,
    ordered: true,
    status: 'active',
    statusReason: null,
    secrets: [{ secret: 'whsec_c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0IQ==', createdAt: 1, expiresAt: null }],
    health: { consecutiveFailures: 0, failingSince: null, lastSuccessAt: null, lastFailureAt: null, alertedAt: null },
    createdAt: 1_000,
    updatedAt: 1_000,
    ...extra,
  };
}

export function message(key: string, orderKey: string | null, extra: Partial<NewMessage> = {}): Message {
  return withId({
    tenantId: 't1',
    source: 'spry',
    type: 'spry.patient.updated',
    dedupeKey: key,
    occurredAt: 1_500,
    createdAt: 2_000,
    subject: { patientId: 1 },
    orderKey,
    phi: false,
    data: { event_id: key },
    ...extra,
  });
}

export function fanoutStoreContract(name: string, factory: FanoutHarnessFactory): void {
  describe(`fan-out store contract: ${name}`, () => {
    let h: FanoutHarness;
    let store: FanoutStore;
    let sub: Subscription;
    const worker = 'w1';

    beforeEach(async () => {
      h = await factory({ encryptionKey: KEY });
      store = h.store;
      sub = subscription();
      await store.insertSubscription(sub);
    });
    afterEach(async () => {
      await h.cleanup();
    });

    async function fan(...messages: Message[]) {
      return store.insertMessages(
        messages.map((m) => ({ message: m, deliveries: [{ subscriptionId: sub.id, version: sub.version }] })),
        3_000,
      );
    }
    const claim = (now = 3_000, limit = 10, ordered = true, workerId = worker, s = store) =>
      s.claimDeliveries({ subscriptionId: sub.id, workerId, now, leaseMs: 10_000, limit, ordered });
    const settle = (id: number, status: 'delivered' | 'pending' | 'failed', now = 3_100, extra: { retryStep?: number; nextAttemptAt?: number; workerId?: string } = {}) =>
      store.settleDelivery(
        {
          deliveryId: id,
          workerId: extra.workerId ?? worker,
          status,
          retryStep: extra.retryStep ?? 0,
          nextAttemptAt: extra.nextAttemptAt ?? now,
          attempt: {
            deliveryId: id,
            subscriptionId: sub.id,
            tenantId: 't1',
            messageId: 'msg_x',
            attemptedAt: now - 50,
            statusCode: status === 'delivered' ? 200 : 503,
            latencyMs: 50,
            outcome: status === 'delivered' ? 'delivered' : 'failed',
            errorCode: status === 'delivered' ? null : 'HTTP_503',
            responseSnippet: status === 'delivered' ? 'ok' : null,
            trigger: 'first',
          },
        },
        now,
      );

    it('migrates idempotently, tracking its steps in fanout_migrations', async () => {
      await store.migrate();
      await store.migrate();
      const rows = await h.raw('SELECT version, name FROM fanout_migrations ORDER BY version');
      expect(rows.map((r) => Number(r.version))).toEqual([1, 2]);
    });

    it('keeps subscriptions with their secrets sealed at rest; settings, health and status change separately', async () => {
      const loaded = await store.getSubscription(sub.id);
      expect(loaded).toEqual(sub);
      const [raw] = await h.raw(`SELECT secrets FROM fanout_subscriptions WHERE id = '${sub.id}'`);
      expect(Buffer.from(raw!.secrets as Uint8Array).toString('latin1')).not.toContain('whsec_');

      await store.updateSubscription({ ...sub, url: 'https://other.example.com/', eventTypes: ['*'], filter: null, allowPhi: true, ordered: false, updatedAt: 2_000 });
      await store.updateHealth(sub.id, { consecutiveFailures: 3, failingSince: 1_500, lastSuccessAt: 1_000, lastFailureAt: 1_900, alertedAt: null }, 2_100);
      expect(await store.setSubscriptionStatus(sub.id, 'disabled', 'endpoint_failing', 2_200)).toBe(true);
      const changed = (await store.getSubscription(sub.id))!;
      expect(changed).toMatchObject({ url: 'https://other.example.com/', eventTypes: ['*'], filter: null, allowPhi: true, ordered: false, status: 'disabled', statusReason: 'endpoint_failing', updatedAt: 2_200 });
      expect(changed.health).toEqual({ consecutiveFailures: 3, failingSince: 1_500, lastSuccessAt: 1_000, lastFailureAt: 1_900, alertedAt: null });

      const other = subscription({ tenantId: 't2' });
      await store.insertSubscription(other);
      expect((await store.listSubscriptions('t1')).map((s) => s.id)).toEqual([sub.id]);
      expect((await store.listSubscriptions()).map((s) => s.id).sort()).toEqual([sub.id, other.id].sort());
    });

    it('stores a message once, with its deliveries, and seals its data at rest', async () => {
      const phi = message('e-phi', 'patient:1', { source: 'spruce', type: 'spruce.contact.updated', phi: true, data: { name: PHI } });
      expect(await fan(phi, message('e-2', 'patient:1'))).toEqual([{ inserted: true }, { inserted: true }]);
      expect(await fan(phi)).toEqual([{ inserted: false }]);
      expect((await store.listDeliveries({ subscriptionId: sub.id, limit: 10 })).length).toBe(2);
      const rows = await h.raw('SELECT data FROM fanout_messages');
      for (const row of rows) expect(Buffer.from(row.data as Uint8Array).toString('latin1')).not.toContain(PHI);
      const [claimed] = await claim();
      expect(claimed!.message).toEqual(phi);
    });

    it('binds sealed data to its message: data copied onto another message does not open', async () => {
      await fan(message('e-1', 'patient:1', { phi: true, data: { name: PHI } }), message('e-2', 'patient:2'));
      await h.raw(`UPDATE fanout_messages SET data = (SELECT data FROM fanout_messages WHERE dedupe_key = 'e-1') WHERE dedupe_key = 'e-2'`);
      await expect(claim()).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
    });

    it('rekey re-seals subscription secrets and message data with the new key, and counts them', async () => {
      const newKey = 'cd'.repeat(32);
      await fan(message('e-1', 'patient:1', { phi: true, data: { name: PHI } }), message('e-2', 'patient:2'));
      const rekey = await h.openAnother({ encryptionKey: newKey, decryptionKeys: [KEY], acceptUnsealed: true });
      expect(await rekey.resealAll({ batchSize: 1 })).toEqual({
        'fanout_subscriptions.secrets': { resealed: 1, current: 0, changedMeanwhile: 0 },
        'fanout_messages.data': { resealed: 2, current: 0, changedMeanwhile: 0 },
      });
      const rotated = await h.openAnother({ encryptionKey: newKey });
      expect(await rotated.getSubscription(sub.id)).toEqual(sub);
      const claimed = await claim(3_000, 10, false, worker, rotated);
      expect(claimed.map((d) => d.message.data)).toEqual([{ name: PHI }, { event_id: 'e-2' }]);
      // The old key alone no longer reads them.
      await expect(store.getSubscription(sub.id)).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
    });

    it('claims only the oldest pending delivery of each order key, when ordered', async () => {
      await fan(message('a1', 'patient:1'), message('a2', 'patient:1'), message('b1', 'patient:2'), message('n1', null), message('b2', 'patient:2'));
      const first = await claim();
      expect(first.map((d) => d.message.dedupeKey)).toEqual(['a1', 'b1', 'n1']);
      expect(await claim()).toEqual([]);
      expect(await settle(first[0]!.id, 'delivered')).toBe(true);
      // a1 delivered: a2 is the head now; b1 still in flight holds b2.
      expect((await claim()).map((d) => d.message.dedupeKey)).toEqual(['a2']);
      // A retry scheduled later holds its key meanwhile.
      expect(await settle(first[1]!.id, 'pending', 3_100, { retryStep: 1, nextAttemptAt: 9_000 })).toBe(true);
      expect(await claim(3_200)).toEqual([]);
      expect((await claim(9_000)).map((d) => d.message.dedupeKey)).toEqual(['b1']);
    });

    it('claims everything due when unordered, up to the limit, oldest first', async () => {
      await fan(message('a1', 'patient:1'), message('a2', 'patient:1'), message('a3', 'patient:1'));
      expect((await claim(3_000, 2, false)).map((d) => d.message.dedupeKey)).toEqual(['a1', 'a2']);
      expect((await claim(3_000, 2, false)).map((d) => d.message.dedupeKey)).toEqual(['a3']);
    });

    it('claims nothing for a paused or disabled subscription; leases lapse', async () => {
      await fan(message('a1', 'patient:1'));
      await store.setSubscriptionStatus(sub.id, 'paused', 'operator', 3_000);
      expect(await claim()).toEqual([]);
      await store.setSubscriptionStatus(sub.id, 'active', null, 3_000);
      const [held] = await claim(3_000);
      expect(held).toBeDefined();
      expect(await claim(5_000, 10, true, 'w2')).toEqual([]);
      // The lease (10 s) ran out: another worker takes it; the first one's settlement no longer lands.
      const [taken] = await claim(13_001, 10, true, 'w2');
      expect(taken!.id).toBe(held!.id);
      expect(await settle(held!.id, 'delivered')).toBe(false);
      expect((await store.getDelivery(held!.id))!.status).toBe('pending');
      expect(await store.listAttempts(held!.id)).toHaveLength(1);
      expect(await settle(taken!.id, 'delivered', 13_100, { workerId: 'w2' })).toBe(true);
      expect(await store.getDelivery(held!.id)).toMatchObject({ status: 'delivered', attempts: 1, deliveredAt: 13_100, lastStatus: 200, firstAttemptAt: 13_050 });
    });

    it('replays one delivery, or the failed ones of a window; expedites a backlog', async () => {
      await fan(message('a1', 'patient:1'), message('b1', 'patient:2'), message('c1', 'patient:3'));
      const [a, b, c] = await claim();
      await settle(a!.id, 'delivered');
      await settle(b!.id, 'failed');
      await settle(c!.id, 'pending', 3_100, { retryStep: 2, nextAttemptAt: 60_000 });
      expect(await store.deliveryCounts(sub.id)).toEqual({ pending: 1, delivered: 1, failed: 1 });
      expect(await store.nextDueAt(sub.id)).toBe(60_000);

      expect(await store.replayFailed(sub.id, 0, 2_500, 4_000)).toBe(0);
      expect(await store.replayFailed(sub.id, 2_500, 3_500, 4_000)).toBe(1);
      expect(await store.getDelivery(b!.id)).toMatchObject({ status: 'pending', retryStep: 0, nextAttemptAt: 4_000 });
      expect(await store.replayDelivery(a!.id, 4_000)).toBe(true);
      expect(await store.getDelivery(a!.id)).toMatchObject({ status: 'pending', deliveredAt: null, nextAttemptAt: 4_000 });
      expect(await store.expedite(sub.id, 4_000)).toBe(1);
      expect(await store.nextDueAt(sub.id)).toBe(4_000);
      const inFlight = await claim(4_000);
      expect(inFlight).toHaveLength(3);
      expect(await store.replayDelivery(a!.id, 4_001)).toBe(false);
      expect(await store.replayDelivery(999_999, 4_001)).toBe(false);
    });

    it('lists deliveries newest first with filters and keyset paging, and attempts in order', async () => {
      await fan(message('a1', null), message('a2', null), message('a3', null));
      const all = await store.listDeliveries({ subscriptionId: sub.id, limit: 10 });
      expect(all.map((d) => d.id)).toEqual([...all.map((d) => d.id)].sort((x, y) => y - x));
      const page = await store.listDeliveries({ subscriptionId: sub.id, limit: 2 });
      const rest = await store.listDeliveries({ subscriptionId: sub.id, limit: 2, before: page[1]!.id });
      expect([...page, ...rest].map((d) => d.id)).toEqual(all.map((d) => d.id));
      const [first] = await claim(3_000, 1, false);
      await settle(first!.id, 'pending', 3_100, { retryStep: 1, nextAttemptAt: 3_100 });
      const [again] = await claim(3_200, 1, false);
      expect(again!.id).toBe(first!.id);
      await settle(first!.id, 'delivered', 3_300);
      expect((await store.listAttempts(first!.id)).map((a) => a.outcome)).toEqual(['failed', 'delivered']);
      expect(await store.listDeliveries({ subscriptionId: sub.id, status: 'delivered', limit: 10 })).toHaveLength(1);
      expect(await store.listDeliveries({ subscriptionId: sub.id, since: 3_001, limit: 10 })).toHaveLength(0);
    });

    it('prunes settled deliveries with their attempts, then messages nobody needs', async () => {
      await fan(message('a1', null), message('a2', null));
      const [a] = await claim(3_000, 1, false);
      await settle(a!.id, 'delivered', 3_100);
      expect(await store.prune(3_000)).toEqual({ deliveries: 0, messages: 0 });
      expect(await store.prune(10_000)).toEqual({ deliveries: 1, messages: 1 });
      expect(await store.listAttempts(a!.id)).toEqual([]);
      expect(await store.deliveryCounts(sub.id)).toEqual({ pending: 1, delivered: 0, failed: 0 });
    });

    it('deletes attempts past the retention age in batches, keeping younger ones and the deliveries', async () => {
      await fan(message('a1', null));
      for (const [claimAt, settleAt] of [[3_000, 3_100], [3_200, 3_300], [3_400, 3_500]] as const) {
        const [d] = await claim(claimAt, 1, false);
        await settle(d!.id, 'pending', settleAt, { nextAttemptAt: settleAt + 100 });
      }
      const [delivery] = await store.listDeliveries({ subscriptionId: sub.id, limit: 1 });
      expect((await store.listAttempts(delivery!.id)).map((a) => a.attemptedAt)).toEqual([3_050, 3_250, 3_450]);
      expect(await store.pruneAttempts({ olderThan: 3_050 })).toBe(0);
      expect(await store.pruneAttempts({ olderThan: 3_451, batchSize: 1 })).toBe(3);
      await settle((await claim(3_600, 1, false))[0]!.id, 'pending', 3_700, { nextAttemptAt: 3_800 });
      expect(await store.pruneAttempts({ olderThan: 3_600, batchSize: 2 })).toBe(0);
      expect((await store.listAttempts(delivery!.id)).map((a) => a.attemptedAt)).toEqual([3_650]);
      expect(await store.deliveryCounts(sub.id)).toEqual({ pending: 1, delivered: 0, failed: 0 });
    });

    it('removes a subscription with its deliveries', async () => {
      await fan(message('a1', null));
      expect(await store.deleteSubscription(sub.id)).toBe(true);
      expect(await store.getSubscription(sub.id)).toBeNull();
      expect(await store.listDeliveries({ subscriptionId: sub.id, limit: 10 })).toEqual([]);
      expect(await store.deleteSubscription(sub.id)).toBe(false);
    });

    it("purges a removed tenant's subscriptions, messages, deliveries and attempts, and nobody else's", async () => {
      // t1: two subscriptions (one paused), messages with deliveries, attempts; t2: the same shape.
      const paused = subscription({ status: 'paused', statusReason: 'operator' });
      await store.insertSubscription(paused);
      const other = subscription({ tenantId: 't2' });
      await store.insertSubscription(other);
      await store.insertMessages(
        [
          { message: message('p1', 'patient:1'), deliveries: [sub, paused].map((s) => ({ subscriptionId: s.id, version: s.version })) },
          { message: message('p2', null), deliveries: [{ subscriptionId: sub.id, version: sub.version }] },
          // A message nobody subscribed to still goes: its data may be PHI.
          { message: message('p3', null, { phi: true, data: { name: PHI } }), deliveries: [] },
          { message: message('q1', null, { tenantId: 't2' }), deliveries: [{ subscriptionId: other.id, version: other.version }] },
        ],
        3_000,
      );
      const [first] = await claim(3_000, 1, false);
      await settle(first!.id, 'pending', 3_100, { nextAttemptAt: 3_200 });
      const otherDelivery = (await store.claimDeliveries({ subscriptionId: other.id, workerId: worker, now: 3_000, leaseMs: 10_000, limit: 1, ordered: false }))[0]!;
      await store.settleDelivery(
        {
          deliveryId: otherDelivery.id,
          workerId: worker,
          status: 'delivered',
          retryStep: 0,
          nextAttemptAt: 3_100,
          attempt: { deliveryId: otherDelivery.id, subscriptionId: other.id, tenantId: 't2', messageId: otherDelivery.messageId, attemptedAt: 3_050, statusCode: 200, latencyMs: 5, outcome: 'delivered', errorCode: null, responseSnippet: 'ok', trigger: 'first' },
        },
        3_100,
      );

      expect(await store.purgeTenant('t1')).toEqual({ subscriptions: 2, messages: 3, deliveries: 3, attempts: 1 });
      expect(await store.listSubscriptions('t1')).toEqual([]);
      expect(await store.getDelivery(first!.id)).toBeNull();
      expect(await store.listAttempts(first!.id)).toEqual([]);
      const count = async (table: string, tenantId: string) => Number((await h.raw(`SELECT count(*) AS n FROM ${table} WHERE tenant_id = '${tenantId}'`))[0]!.n);
      for (const table of ['fanout_subscriptions', 'fanout_messages', 'fanout_deliveries', 'fanout_attempts']) expect(await count(table, 't1'), table).toBe(0);
      // Another tenant's rows are untouched; a second purge finds nothing.
      for (const table of ['fanout_subscriptions', 'fanout_messages', 'fanout_deliveries', 'fanout_attempts']) expect(await count(table, 't2'), table).toBe(1);
      expect(await store.listAttempts(otherDelivery.id)).toHaveLength(1);
      expect(await store.purgeTenant('t1')).toEqual({ subscriptions: 0, messages: 0, deliveries: 0, attempts: 0 });
    });

    it('never hands one delivery, or two of one key, to two instances claiming at once', async () => {
      const other = await h.openAnother();
      const messages = Array.from({ length: 40 }, (_, i) => message(`m${i}`, `patient:${i % 8}`));
      await fan(...messages);
      const claimed = new Map<number, string>();
      const inFlightKeys = new Set<string>();
      let rounds = 0;
      while (claimed.size < messages.length && rounds++ < 100) {
        const batches = await Promise.all([claim(3_000, 5, true, 'w1', store), claim(3_000, 5, true, 'w2', other)]);
        const got = batches.flatMap((batch, i) => batch.map((d) => ({ d, w: `w${i + 1}` })));
        for (const { d, w } of got) {
          expect(claimed.has(d.id), `delivery ${d.id} claimed twice`).toBe(false);
          expect(inFlightKeys.has(d.orderKey!), `two of ${d.orderKey} in flight`).toBe(false);
          claimed.set(d.id, w);
          inFlightKeys.add(d.orderKey!);
        }
        for (const { d, w } of got) {
          await (w === 'w1' ? store : other).settleDelivery(
            {
              deliveryId: d.id,
              workerId: w,
              status: 'delivered',
              retryStep: 0,
              nextAttemptAt: 3_000,
              attempt: { deliveryId: d.id, subscriptionId: sub.id, tenantId: 't1', messageId: d.messageId, attemptedAt: 3_000, statusCode: 200, latencyMs: 1, outcome: 'delivered', errorCode: null, responseSnippet: null, trigger: 'first' },
            },
            3_000,
          );
          inFlightKeys.delete(d.orderKey!);
        }
      }
      expect(claimed.size).toBe(messages.length);
      // Each key's deliveries went out oldest first.
      const delivered = await store.listDeliveries({ subscriptionId: sub.id, limit: 100 });
      for (let k = 0; k < 8; k++) {
        const ofKey = delivered.filter((d) => d.orderKey === `patient:${k}`).sort((x, y) => x.id - y.id);
        const times = ofKey.map((d) => d.deliveredAt!);
        expect(times).toEqual([...times].sort((x, y) => x - y));
      }
    });
  });
}
