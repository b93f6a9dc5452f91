import { describe, expect, test } from "bun:test";
import { OrderTable } from "../src/engine/order-table.ts";

describe("OrderTable", () => {
  test("ids are <prefix><seq> and find() maps them back to their slot", () => {
    const t = new OrderTable(3, "pf7-", 8);
    const a = t.open(0, 0, 1.5, 100);
    const b = t.open(2, 1, 0.25, 101);
    expect(t.id(a)).toBe("pf7-1");
    expect(t.id(b)).toBe("pf7-2");
    expect(t.find("pf7-1")).toBe(a);
    expect(t.find("pf7-2")).toBe(b);
    expect([t.inst[b], t.side[b], t.amount[b], t.price[b], t.filled[b], t.terminal[b]]).toEqual([2, 1, 0.25, 101, 0, 0]);
    expect(t.liveN[0]).toBe(1);
    expect(t.liveN[2]).toBe(1);
    expect(t.liveCount()).toBe(2);
  });

  test("ids it never gave out are not found: other prefixes, unissued seqs, leading zeros, junk", () => {
    const t = new OrderTable(1, "pf7-", 8);
    t.open(0, 0, 1, 1);
    for (const id of ["pf8-1", "pf7-", "pf7-2", "pf7-01", "pf7-1x", "pf7--1", "x", "", "pf7-1.0", "pf7-99999999999999999999"]) expect(t.find(id)).toBe(-1);
  });

  test("finish() takes an order off its instrument's live list, once; it stays findable", () => {
    const t = new OrderTable(2, "p", 16);
    const s = [t.open(1, 0, 1, 10), t.open(1, 1, 2, 11), t.open(1, 0, 3, 9), t.open(0, 1, 4, 12)];
    t.finish(s[0]!);
    t.finish(s[0]!);
    expect(t.liveN[1]).toBe(2);
    expect(t.liveSlots(1).sort()).toEqual([s[1]!, s[2]!].sort());
    expect(t.liveSlots().length).toBe(3);
    expect(t.find("p1")).toBe(s[0]!);
    expect(t.terminal[s[0]!]).toBe(1);
    t.finish(s[2]!);
    t.finish(s[1]!);
    expect(t.liveN[1]).toBe(0);
    expect(t.liveSlots(1)).toEqual([]);
    expect(t.liveSlots(0)).toEqual([s[3]!]);
  });

  test("a finished order is forgotten when its slot is reused `capacity` orders later", () => {
    const t = new OrderTable(1, "q", 4);
    const first = t.open(0, 0, 1, 1);
    t.finish(first);
    for (let i = 0; i < 3; i++) t.finish(t.open(0, 0, 1, 1));
    expect(t.find("q1")).toBe(first);
    t.open(0, 0, 1, 1); // seq 5 takes seq 1's slot
    expect(t.find("q1")).toBe(-1);
    expect(t.find("q5")).toBe(first);
    expect(t.capacity).toBe(4);
    expect(t.grown).toBe(0);
  });

  test("live orders are never forgotten: the table doubles when the next slot is still live", () => {
    const t = new OrderTable(3, "g-", 4);
    const want = new Map<string, { inst: number; amount: number }>();
    for (let i = 0; i < 37; i++) {
      const inst = i % 3;
      const s = t.open(inst, i & 1, i + 0.5, 100 + i);
      want.set(t.id(s), { inst, amount: i + 0.5 });
      // finish every third one, so live and finished slots mix across doublings
      if (i % 3 === 2) {
        t.finish(s);
        want.delete(t.id(s));
      }
    }
    expect(t.grown).toBeGreaterThan(0);
    expect(t.capacity).toBeGreaterThanOrEqual(32);
    for (const [id, w] of want) {
      const s = t.find(id);
      expect(s).toBeGreaterThanOrEqual(0);
      expect(t.inst[s]).toBe(w.inst);
      expect(t.amount[s]).toBe(w.amount);
      expect(t.terminal[s]).toBe(0);
    }
    expect(t.liveCount()).toBe(want.size);
    const live = t.liveSlots().map((s) => t.id(s)).sort();
    expect(live).toEqual([...want.keys()].sort());
    // ending them all through the moved positions leaves every list empty
    for (const s of t.liveSlots()) t.finish(s);
    expect(t.liveCount()).toBe(0);
    expect(Array.from(t.liveN)).toEqual([0, 0, 0]);
  });

  test("a capacity that is not a power of two is refused", () => {
    expect(() => new OrderTable(1, "x", 6)).toThrow(/power of two/);
  });
});

test("ids over thousands of orders are exactly `${prefix}${seq}` (the digits are built from cached pieces)", () => {
  const t = new OrderTable(1, "b4x-", 1024);
  for (let seq = 1; seq <= 25_000; seq++) {
    const s = t.open(0, 0, 1, 1);
    if (t.id(s) !== `b4x-${seq}`) throw new Error(`seq ${seq}: ${t.id(s)}`);
    if (t.find(`b4x-${seq}`) !== s) throw new Error(`seq ${seq} not found`);
    t.finish(s);
  }
  expect(t.find("b4x-25000")).toBeGreaterThanOrEqual(0);
  expect(t.find("b4x-1000")).toBe(-1); // its slot was reused
});

describe("TradingCore over the order table", () => {
  test("cancelAll cancels each live order once even when a synchronous answer makes the table grow mid-way", async () => {
    const { TradingCore } = await import("../src/engine/trading.ts");
    const { VirtualClock } = await import("../src/exec/sim/gateway.ts");
    type Report = import("../src/domain/order.ts").ExecReport;
    const cancels: string[] = [];
    let handler: (r: Report) => void = () => {};
    const report = (kind: Report["kind"], id: string): Report => ({ kind, venue: "v", symbol: "BTC/USDT", clientOrderId: id, side: "buy", lastAmount: 0, lastPrice: 0, filled: 0, remaining: 0.001, fee: 0, venueTimeMs: 0 });
    // a venue that acks every order and answers every cancel at once, inside the call
    const gw = {
      onReport(h: (r: Report) => void) { handler = h; },
      submit(req: { clientOrderId: string }) { handler(report("ack", req.clientOrderId)); },
      cancel(_s: string, id: string) { cancels.push(id); handler(report("cancelled", id)); },
      async openOrders() { return []; },
      async fills() { return []; },
      async close() {},
    };
    let core!: InstanceType<typeof TradingCore>;
    let replacements = 0;
    // the strategy replaces the first cancelled order: with 4096 orders live that submit needs a
    // slot still held by a live order, so the table doubles while cancelAll is under way
    // (the first new order takes the slot the cancel just freed, the second one finds its slot live)
    const strategy = { name: "replacer", onOrder(ev: { kind: string }) { if (ev.kind === "cancelled" && replacements === 0) { replacements++; expect(core.submit(0, 0, 0.001, 99)).not.toBe(""); expect(core.submit(0, 0, 0.001, 99)).not.toBe(""); } } };
    core = new TradingCore({ instruments: [{ id: 0, venue: "v", symbol: "BTC/USDT", tickSize: 0.01, lotSize: 0.001 }], strategy, clock: new VirtualClock(0), gateways: new Map([["v", gw as never]]), risk: { collarBps: 500, staleMs: 0 }, idPrefix: "t-" });
    core.market.refPrice[0] = 100;
    core.market.usable[0] = 1;
    core.market.updatedNs[0] = 0;
    const ids: string[] = [];
    for (let k = 0; k < 4096; k++) {
      const id = core.submit(0, 0, 0.001, 99);
      if (id === "") throw new Error(`order ${k} refused: ${core.rejectText(core.lastReject)}`);
      ids.push(id);
    }
    expect(core.openOrders(0)).toBe(4096);
    expect(core.cancelAll()).toBe(4096);
    expect(replacements).toBe(1);
    expect(cancels.sort()).toEqual([...ids].sort());
    // only the replacements are left, still known by their ids
    expect(core.openOrders(0)).toBe(2);
    expect(core.cancel("t-4097")).toBe(true);
    expect(core.cancel("t-4098")).toBe(true);
    expect(core.openOrders(0)).toBe(0);
  });
});
