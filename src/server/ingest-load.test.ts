import { describe, expect, it } from 'vitest';
import net from 'node:net';
import { IngestLoad } from './ingest-load.ts';

describe('IngestLoad', () => {
  it('is a burst only above its threshold, and says once when the burst is over', () => {
    let calm = 0;
    const load = new IngestLoad({ burstAbove: 2, maxHoldMs: 5_000, now: () => 0, onCalm: () => calm++ });
    load.enter();
    load.enter();
    expect(load.bursting).toBe(false);
    load.enter();
    expect(load.bursting).toBe(true);
    load.leave();
    expect(load.bursting).toBe(false);
    expect(calm).toBe(1);
    load.leave();
    load.leave();
    load.leave(); // one too many (a bug elsewhere) never goes below zero
    expect(load.current).toBe(0);
    expect(calm).toBe(1);
  });

  it('holds the workers back for at most maxHoldMs of one burst, however long it lasts', () => {
    let now = 0;
    const load = new IngestLoad({ burstAbove: 1, maxHoldMs: 5_000, now: () => now });
    load.enter();
    load.enter();
    expect(load.bursting).toBe(true);
    now = 4_999;
    expect(load.bursting).toBe(true);
    now = 5_000;
    expect(load.bursting).toBe(false);
    // Deliveries keep coming and going above the threshold: still the same burst, no new hold.
    load.enter();
    load.leave();
    expect(load.bursting).toBe(false);
    // Back below the threshold, a new burst holds again.
    load.leave();
    load.enter();
    now = 6_000;
    load.enter();
    expect(load.bursting).toBe(true);
  });
});

describe('IngestLoad: connections waiting to be accepted', () => {
  /** The load with its turns stepped by hand: `endTurn()` is the end of one turn of the event loop. */
  function stepped(options: { queuedAfterTurns?: number; maxHoldMs?: number; now?: () => number } = {}) {
    let pending: (() => void)[] = [];
    let calm = 0;
    const load = new IngestLoad({
      burstAbove: 16,
      maxHoldMs: options.maxHoldMs ?? 5_000,
      now: options.now ?? (() => 0),
      onCalm: () => calm++,
      queuedAfterTurns: options.queuedAfterTurns ?? 3,
      atTurnEnd: (fn) => pending.push(fn),
    });
    const endTurn = () => {
      const due = pending;
      pending = [];
      for (const fn of due) fn();
    };
    return { load, endTurn, calms: () => calm, watching: () => pending.length };
  }

  it('is a burst once connections were accepted in enough turns in a row, until a turn accepts none', () => {
    const { load, endTurn, calms, watching } = stepped({ queuedAfterTurns: 3 });
    for (let turn = 1; turn <= 2; turn++) {
      load.connected();
      endTurn();
      expect(load.bursting).toBe(false);
    }
    load.connected();
    load.connected(); // two in one turn count as one turn
    endTurn();
    expect(load.bursting).toBe(true);
    load.connected();
    endTurn();
    expect(load.bursting).toBe(true);
    expect(calms()).toBe(0);
    endTurn(); // a turn without a connection: the queue was empty
    expect(load.bursting).toBe(false);
    expect(calms()).toBe(1);
    expect(watching()).toBe(0); // no turn is watched while no connection comes
  });

  it('does not count turns apart: a connection now and then is no queue', () => {
    const { load, endTurn, calms } = stepped({ queuedAfterTurns: 2 });
    for (let i = 0; i < 5; i++) {
      load.connected();
      endTurn();
      endTurn();
    }
    expect(load.bursting).toBe(false);
    expect(calms()).toBe(0);
  });

  it('holds the workers for at most maxHoldMs of a queue that never empties', () => {
    let now = 0;
    const { load, endTurn } = stepped({ queuedAfterTurns: 1, maxHoldMs: 2_000, now: () => now });
    load.connected();
    endTurn();
    expect(load.bursting).toBe(true);
    now = 2_000;
    load.connected();
    endTurn();
    expect(load.bursting).toBe(false);
  });

  it('stays one burst while deliveries in hand or a queue press, and ends when neither does', () => {
    const { load, endTurn, calms } = stepped({ queuedAfterTurns: 1 });
    load.connected();
    endTurn();
    for (let i = 0; i < 17; i++) load.enter();
    endTurn(); // the queue is empty, but 17 are in hand
    expect(load.bursting).toBe(true);
    expect(calms()).toBe(0);
    load.leave();
    expect(load.bursting).toBe(false);
    expect(calms()).toBe(1);
  });

  it('on a real server, a queue of connections stops the busy turns until every connection is in', async () => {
    // The workers' turns, 5 ms of CPU each, which run only while the load does not hold them.
    let busyTurns = 0;
    let accepted = 0;
    let sawBurst = false;
    let calm = 0;
    const load = new IngestLoad({ burstAbove: 16, maxHoldMs: 60_000, now: () => performance.now(), onCalm: () => calm++ });
    const server = net.createServer((socket) => {
      accepted++;
      socket.destroy();
    });
    server.on('connection', () => {
      load.connected();
      sawBurst ||= load.bursting;
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', 512, resolve));
    const { port } = server.address() as net.AddressInfo;
    const connections = 60;
    let stop = false;
    const work = () => {
      if (stop) return;
      if (!load.bursting) {
        busyTurns++;
        const until = performance.now() + 5;
        while (performance.now() < until);
      }
      setImmediate(work);
    };
    setImmediate(work);
    const clients = Array.from({ length: connections }, () => net.connect(port, '127.0.0.1').on('error', () => {}));
    const turnsBefore = busyTurns;
    while (accepted < connections) await new Promise((resolve) => setImmediate(resolve));
    const busyWhileQueued = busyTurns - turnsBefore;
    stop = true;
    for (const client of clients) client.destroy();
    await new Promise((resolve) => server.close(resolve));
    sawBurst ||= load.bursting;
    // Node accepts one connection a turn: without the hold, each of the 60 waited for a busy turn.
    expect(sawBurst).toBe(true);
    expect(busyWhileQueued).toBeLessThan(connections / 3);
    // Nothing queued any more: the workers are let go, once.
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setImmediate(resolve));
    expect(load.bursting).toBe(false);
    expect(calm).toBe(1);
  });
});
