import { describe, expect, test } from "bun:test";
import type { ExecReport, OrderRequest, VenueOrder } from "../src/domain/order.ts";
import { ClientIdGenerator, CLIENT_ID, BINANCE_CLIENT_ID, isVenueLegalId } from "../src/exec/client-id.ts";
import { OrderTracker, Outcome, type TrackedOrder } from "../src/exec/orders.ts";
import { PositionBook } from "../src/exec/positions.ts";
import { marketView } from "../src/risk/pretrade.ts";

const req = (id: string, o: Partial<OrderRequest> = {}): OrderRequest => ({ clientOrderId: id, venue: "sim", symbol: "BTC/USDT", side: "buy", type: "limit", amount: 2, price: 100, timeInForce: "GTC", ...o });
const rep = (id: string, kind: ExecReport["kind"], o: Partial<ExecReport> = {}): ExecReport => ({ kind, venue: "sim", symbol: "BTC/USDT", clientOrderId: id, side: "buy", lastAmount: 0, lastPrice: 0, filled: 0, remaining: 2, fee: 0, venueTimeMs: 0, ...o });
const fill = (id: string, last: number, cum: number, tradeId?: string, price = 100) => rep(id, "fill", { lastAmount: last, lastPrice: price, filled: cum, remaining: 2 - cum, fee: 0.01, tradeId });

function setup() {
  const logs: string[] = [];
  const own = marketView(2);
  const t = new OrderTracker({ instruments: 2, own, ackTimeoutNs: 1000, cancelTimeoutNs: 1000, log: (m) => logs.push(m) });
  return { t, own, logs };
}

describe("client order ids", () => {
  test("venue-legal, unique within and across sessions, seeded ones reproducible", () => {
    const a = new ClientIdGenerator({ seed: 7, startMs: 1_700_000_000_000 });
    const b = new ClientIdGenerator({ seed: 7, startMs: 1_700_000_000_000 });
    const c = new ClientIdGenerator({ seed: 8, startMs: 1_700_000_000_000 });
    const ids = new Set<string>();
    for (let i = 0; i < 20000; i++) {
      const id = a.next();
      expect(b.next()).toBe(id);
      expect(isVenueLegalId(id)).toBe(true);
      ids.add(id);
      ids.add(c.next());
    }
    expect(ids.size).toBe(40000);
    expect(a.owns(a.next())).toBe(true);
    expect(a.owns(c.next())).toBe(false);
    const live = new Set(Array.from({ length: 50 }, () => new ClientIdGenerator().session));
    expect(live.size).toBeGreaterThan(45); // random 20 bits per session (same ms start)
    expect(BINANCE_CLIENT_ID.test("a".repeat(37))).toBe(false);
    expect(CLIENT_ID.test(new ClientIdGenerator({ tag: "x" }).next())).toBe(true);
    expect(() => new ClientIdGenerator({ tag: "Bad-Tag" })).toThrow();
  });
});

describe("OrderTracker state machine", () => {
  test("pending_new -> open -> partially_filled -> filled, fills booked once", () => {
    const { t, own } = setup();
    expect(t.submit(req("a1"), 0, 0, 0)).toBe(Outcome.APPLIED);
    expect(t.get("a1")!.status).toBe("pending_new");
    expect(own.openBuy[0]).toBe(2);
    expect(own.ownBestBid[0]).toBe(100);
    expect(t.apply(rep("a1", "ack", { venueOrderId: "v1" }), 1)).toBe(Outcome.APPLIED);
    expect(t.get("a1")!.status).toBe("open");
    expect(t.get("a1")!.venueOrderId).toBe("v1");
    expect(t.apply(fill("a1", 0.5, 0.5, "t1"), 2)).toBe(Outcome.FILL);
    expect(t.lastFillAmount).toBe(0.5);
    expect(t.get("a1")!.status).toBe("partially_filled");
    expect(own.openBuy[0]).toBe(1.5);
    expect(t.apply(fill("a1", 1.5, 2, "t2", 101), 3)).toBe(Outcome.FILL);
    const o = t.get("a1")!;
    expect(o.status).toBe("filled");
    expect(o.avgFillPrice).toBeCloseTo((0.5 * 100 + 1.5 * 101) / 2, 12);
    expect(own.openBuy[0]).toBe(0);
    expect(Number.isNaN(own.ownBestBid[0]!)).toBe(true);
    expect(t.liveCount).toBe(0);
  });

  test("cancel: pending_cancel -> cancelled; cancel_rejected returns to the previous state", () => {
    const { t } = setup();
    t.submit(req("c1"), 0, 0, 0);
    t.apply(rep("c1", "ack"), 1);
    t.apply(fill("c1", 0.5, 0.5, "t1"), 2);
    expect(t.requestCancel("c1", 3)).toBe(Outcome.APPLIED);
    expect(t.get("c1")!.status).toBe("pending_cancel");
    expect(t.requestCancel("c1", 4)).toBe(Outcome.REFUSED); // one cancel at a time
    expect(t.apply(rep("c1", "cancel_rejected", { reason: "-2011 Unknown order sent." }), 5)).toBe(Outcome.APPLIED);
    expect(t.get("c1")!.status).toBe("partially_filled");
    expect(t.get("c1")!.unknown).toBe(true);
    const rec: TrackedOrder[] = [];
    expect(t.toReconcile(rec)).toBe(1);
    expect(rec[0]!.id).toBe("c1");
    expect(t.requestCancel("c1", 6)).toBe(Outcome.APPLIED);
    expect(t.apply(rep("c1", "cancelled", { filled: 0.5 }), 7)).toBe(Outcome.APPLIED);
    expect(t.get("c1")!.status).toBe("cancelled");
    expect(t.apply(rep("c1", "cancelled", { filled: 0.5 }), 8)).toBe(Outcome.DUPLICATE);
    expect(t.requestCancel("c1", 9)).toBe(Outcome.REFUSED);
    expect(t.requestCancel("nope", 9)).toBe(Outcome.REFUSED);
    expect(t.counters.cancelRejects).toBe(1);
  });

  test("rejected from pending_new; reject or ack after the end is illegal; expired IOC", () => {
    const { t } = setup();
    t.submit(req("r1"), 0, 0, 0);
    expect(t.apply(rep("r1", "rejected", { reason: "-2010 insufficient balance" }), 1)).toBe(Outcome.APPLIED);
    expect(t.get("r1")!.status).toBe("rejected");
    expect(t.counters.venueRejects).toBe(1);
    expect(t.apply(rep("r1", "ack"), 2)).toBe(Outcome.ILLEGAL);
    expect(t.apply(rep("r1", "cancelled"), 2)).toBe(Outcome.ILLEGAL);
    t.submit(req("r2"), 0, 0, 0);
    t.apply(rep("r2", "ack"), 1);
    expect(t.apply(rep("r2", "rejected"), 2)).toBe(Outcome.ILLEGAL);
    expect(t.get("r2")!.status).toBe("open");
    expect(t.counters.illegal).toBe(3);
    t.submit(req("e1", { timeInForce: "IOC" }), 0, 0, 0);
    t.apply(rep("e1", "ack"), 1);
    t.apply(fill("e1", 1, 1, "x"), 1);
    expect(t.apply(rep("e1", "expired", { filled: 1 }), 2)).toBe(Outcome.APPLIED);
    expect(t.get("e1")!.status).toBe("expired");
    // a venue-initiated cancel (not asked) is applied and counted
    t.submit(req("u1"), 0, 0, 0);
    t.apply(rep("u1", "ack"), 1);
    expect(t.apply(rep("u1", "cancelled"), 2)).toBe(Outcome.APPLIED);
    expect(t.counters.unsolicitedCancels).toBe(1);
  });

  test("cancel before the ack; reject of a pending_new that had a cancel outstanding", () => {
    const { t } = setup();
    t.submit(req("p1"), 0, 0, 0);
    expect(t.requestCancel("p1", 1)).toBe(Outcome.APPLIED);
    expect(t.apply(rep("p1", "ack"), 2)).toBe(Outcome.APPLIED); // ack arrives after we sent the cancel
    expect(t.get("p1")!.status).toBe("pending_cancel");
    expect(t.apply(rep("p1", "cancel_rejected"), 3)).toBe(Outcome.APPLIED);
    expect(t.get("p1")!.status).toBe("open");
    t.submit(req("p2"), 0, 0, 0);
    t.requestCancel("p2", 1);
    expect(t.apply(rep("p2", "rejected"), 2)).toBe(Outcome.APPLIED);
    expect(t.get("p2")!.status).toBe("rejected");
  });

  test("retried submission reuses its id: RETRY while pending, REFUSED after the venue answered", () => {
    const { t } = setup();
    expect(t.submit(req("s1"), 0, 0, 0)).toBe(Outcome.APPLIED);
    expect(t.submit(req("s1"), 0, 0, 5)).toBe(Outcome.RETRY);
    expect(t.counters.submitted).toBe(1);
    t.apply(rep("s1", "ack"), 6);
    expect(t.submit(req("s1"), 0, 0, 7)).toBe(Outcome.REFUSED);
    expect(t.submit(req("bad id!"), 0, 0, 0)).toBe(Outcome.REFUSED);
    expect(t.submit(req("s2", { price: -1 }), 0, 0, 0)).toBe(Outcome.REFUSED);
    expect(t.submit(req("s3"), 5, 0, 0)).toBe(Outcome.REFUSED);
    expect(t.counters.refused).toBe(4);
  });
});

describe("OrderTracker bad and disordered reports", () => {
  test("duplicate fill (same trade id) ignored; fill before ack; ack after fill is late", () => {
    const { t } = setup();
    t.submit(req("d1"), 0, 0, 0);
    expect(t.apply(fill("d1", 1, 1, "t1"), 1)).toBe(Outcome.FILL); // before any ack
    expect(t.get("d1")!.status).toBe("partially_filled");
    expect(t.apply(fill("d1", 1, 1, "t1"), 2)).toBe(Outcome.DUPLICATE);
    expect(t.lastFillAmount).toBe(0);
    expect(t.apply(rep("d1", "ack"), 3)).toBe(Outcome.LATE);
    expect(t.get("d1")!.status).toBe("partially_filled");
    expect(t.get("d1")!.filled).toBe(1);
    expect(t.counters.duplicates).toBe(1);
    expect(t.counters.late).toBe(1);
  });

  test("out-of-order fills: cumulative is the truth, nothing counted twice", () => {
    const { t } = setup();
    const pos = new PositionBook(2);
    const book = () => {
      if (t.lastFillAmount > 0) pos.apply(0, 0, t.lastFillAmount, t.lastFillPrice, t.lastFillFee);
    };
    t.submit(req("o1"), 0, 0, 0);
    t.apply(rep("o1", "ack"), 1);
    // fills t1 (0.5 -> 0.5), t2 (0.5 -> 1.0), t3 (1.0 -> 2.0) arrive as t2, t3, t1
    expect(t.apply(fill("o1", 0.5, 1.0, "t2"), 2)).toBe(Outcome.FILL);
    book();
    expect(t.lastFillAmount).toBe(1.0); // gap: t1 missing, made up by t2's cumulative
    expect(t.counters.gaps).toBe(1);
    expect(t.apply(fill("o1", 1.0, 2.0, "t3"), 3)).toBe(Outcome.FILL);
    book();
    expect(t.apply(fill("o1", 0.5, 0.5, "t1"), 4)).toBe(Outcome.LATE);
    book();
    expect(pos.amount[0]).toBe(2);
    expect(t.get("o1")!.status).toBe("filled");
    // cancel after fill: late, status stays filled
    expect(t.apply(rep("o1", "cancelled", { filled: 2 }), 5)).toBe(Outcome.LATE);
    expect(t.get("o1")!.status).toBe("filled");
  });

  test("fill for a cancelled order (venue raced our cancel) is applied and counted", () => {
    const { t } = setup();
    t.submit(req("f1"), 0, 0, 0);
    t.apply(rep("f1", "ack"), 1);
    t.requestCancel("f1", 2);
    t.apply(rep("f1", "cancelled", { filled: 0 }), 3);
    expect(t.apply(fill("f1", 0.7, 0.7, "t9"), 4)).toBe(Outcome.FILL_AFTER_END);
    expect(t.lastFillAmount).toBeCloseTo(0.7, 12);
    expect(t.get("f1")!.status).toBe("cancelled");
    expect(t.get("f1")!.filled).toBeCloseTo(0.7, 12);
    expect(t.counters.fillsAfterEnd).toBe(1);
    // a cancel report that says more filled than we saw leaves the difference to fetch
    t.submit(req("f2"), 0, 0, 0);
    t.apply(rep("f2", "ack"), 1);
    t.apply(rep("f2", "cancelled", { filled: 1.2 }), 2);
    expect(t.get("f2")!.missingFill).toBeCloseTo(1.2, 12);
    const rec: TrackedOrder[] = [];
    expect(t.toReconcile(rec)).toBe(1);
    expect(t.apply(fill("f2", 1.2, 1.2, "z"), 3)).toBe(Outcome.FILL_AFTER_END);
    expect(t.get("f2")!.missingFill).toBe(0);
  });

  test("unknown order ids kept for reconciliation; malformed reports refused; overfill refused", () => {
    const { t, logs } = setup();
    expect(t.apply(fill("ghost", 1, 1, "g"), 1)).toBe(Outcome.UNKNOWN_ORDER);
    expect(t.unknownReports.map((r) => r.clientOrderId)).toEqual(["ghost"]);
    expect(t.counters.unknownOrders).toBe(1);
    t.submit(req("m1"), 0, 0, 0);
    expect(t.apply(fill("m1", NaN, 1, "a"), 1)).toBe(Outcome.BAD_REPORT);
    expect(t.apply(fill("m1", 1, 0.5, "b"), 1)).toBe(Outcome.BAD_REPORT); // cumulative below this fill
    expect(t.apply(fill("m1", 3, 3, "c"), 1)).toBe(Outcome.BAD_REPORT); // more than the order
    expect(t.apply({ ...rep("m1", "ack"), kind: "weird" as never }, 1)).toBe(Outcome.BAD_REPORT);
    expect(t.get("m1")!.filled).toBe(0);
    expect(t.counters.badReports).toBe(4);
    expect(logs.some((l) => l.includes("unknown order"))).toBe(true);
  });

  test("timeouts: pending_new and pending_cancel become unknown, never assumed; reconcile settles", () => {
    const { t } = setup();
    t.submit(req("n1"), 0, 0, 0);
    t.submit(req("n2"), 0, 0, 0);
    t.submit(req("n3"), 1, 0, 0);
    t.apply(rep("n3", "ack"), 10);
    t.requestCancel("n3", 10);
    const out: TrackedOrder[] = [];
    expect(t.overdue(500, out)).toBe(0);
    expect(t.overdue(1011, out)).toBe(3);
    expect(t.counters.timeouts).toBe(3);
    expect(t.get("n1")!.status).toBe("pending_new");
    expect(t.get("n1")!.unknown).toBe(true);
    out.length = 0;
    t.overdue(2000, out);
    expect(t.counters.timeouts).toBe(3); // counted once
    // venue never had n1; n2 rests with 0.5 filled; n3 was cancelled
    expect(t.reconcile("n1", undefined, 2001)).toBe(Outcome.APPLIED);
    expect(t.get("n1")!.status).toBe("expired");
    const v = (id: string, status: VenueOrder["status"], filled: number): VenueOrder => ({ clientOrderId: id, venueOrderId: "v" + id, symbol: "BTC/USDT", side: "buy", type: "limit", price: 100, amount: 2, filled, status, timeMs: 0 });
    t.reconcile("n2", v("n2", "partially_filled", 0.5), 2001);
    expect(t.get("n2")!.status).toBe("partially_filled");
    expect(t.get("n2")!.missingFill).toBe(0.5);
    expect(t.apply(fill("n2", 0.5, 0.5, "q"), 2002)).toBe(Outcome.FILL);
    t.reconcile("n3", v("n3", "cancelled", 0), 2001);
    expect(t.get("n3")!.status).toBe("cancelled");
    expect(t.liveCount).toBe(1);
    expect(t.prune(1e9, 1000)).toBe(2);
    expect(t.apply(rep("n3", "cancelled"), 1e9)).toBe(Outcome.UNKNOWN_ORDER);
  });

  test("cancel-replace links the new id to the old; the old one's late fills still book", () => {
    const { t, own } = setup();
    t.submit(req("x1"), 0, 0, 0);
    t.apply(rep("x1", "ack"), 1);
    expect(t.replace("x1", req("x1"), 0, 0, 2)).toBe(Outcome.REFUSED); // needs a new id
    expect(t.replace("x1", req("x2", { side: "sell" }), 0, 0, 2)).toBe(Outcome.REFUSED);
    expect(t.replace("x1", req("x2", { price: 101 }), 0, 0, 2)).toBe(Outcome.APPLIED);
    expect(t.get("x1")!.status).toBe("pending_cancel");
    expect(t.get("x1")!.replacedBy).toBe("x2");
    expect(t.get("x2")!.replaces).toBe("x1");
    expect(own.ownBestBid[0]).toBe(101);
    expect(own.openBuy[0]).toBe(4);
    expect(t.apply(fill("x1", 1, 1, "r"), 3)).toBe(Outcome.FILL);
    t.apply(rep("x1", "cancelled", { filled: 1 }), 4);
    expect(t.get("x1")!.status).toBe("cancelled");
    expect(own.openBuy[0]).toBe(2);
    expect(t.replace("x1", req("x3"), 0, 0, 5)).toBe(Outcome.REFUSED);
  });

  test("own best bid/ask: only resting limit orders; IOC counts for open amount only", () => {
    const { t, own } = setup();
    t.submit(req("b1", { price: 99 }), 0, 0, 0);
    t.submit(req("b2", { price: 99.5 }), 0, 0, 0);
    t.submit(req("s1", { side: "sell", price: 101 }), 0, 0, 0);
    t.submit(req("s2", { side: "sell", price: 100.5, timeInForce: "IOC" }), 0, 0, 0);
    expect(own.ownBestBid[0]).toBe(99.5);
    expect(own.ownBestAsk[0]).toBe(101);
    expect(own.openSell[0]).toBe(4);
    t.apply(rep("b2", "rejected"), 1);
    expect(own.ownBestBid[0]).toBe(99);
  });

  test("clock skew: a venue time far from ours is counted and logged, and changes nothing", () => {
    const logs: string[] = [];
    const t = new OrderTracker({ instruments: 1, clockSkewMs: 500, log: (m) => logs.push(m) });
    const now = 1_700_000_000_000 * 1e6;
    t.submit(req("k1"), 0, 0, now);
    expect(t.apply(rep("k1", "ack", { venueTimeMs: 1_700_000_000_400 }), now)).toBe(Outcome.APPLIED);
    expect(t.counters.clockSkew).toBe(0);
    // the venue's clock runs 2 s behind: its fill still books by cumulative
    expect(t.apply({ ...fill("k1", 1, 1, "s1"), venueTimeMs: 1_699_999_998_000 }, now + 1e6)).toBe(Outcome.FILL);
    expect(t.counters.clockSkew).toBe(1);
    expect(t.maxSkewMs).toBeCloseTo(2001, 6);
    expect(t.get("k1")!.status).toBe("partially_filled");
    expect(logs.some((l) => l.includes("clock"))).toBe(true);
  });

  test("property: any order, duplication or loss of a venue's reports books exactly what the venue filled, once", () => {
    let seed = 99;
    const rnd = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 4294967296);
    for (let run = 0; run < 300; run++) {
      const { t } = setup();
      const id = `p${run}`;
      t.submit(req(id, { amount: 10 }), 0, 0, 0);
      // the venue's true history: ack, fills with cumulative amounts, maybe a cancel at the end
      const truth: ExecReport[] = [rep(id, "ack")];
      let cum = 0;
      const nf = 1 + Math.floor(rnd() * 6);
      for (let f = 0; f < nf && cum < 10; f++) {
        const a = Math.min(10 - cum, Math.round((0.5 + rnd() * 3) * 1000) / 1000);
        cum = Math.round((cum + a) * 1000) / 1000;
        truth.push({ ...rep(id, "fill"), lastAmount: a, lastPrice: 100 + f, filled: cum, remaining: 10 - cum, fee: 0.01, tradeId: `t${f}` });
      }
      const cancelled = cum < 10;
      if (cancelled) truth.push(rep(id, "cancelled", { filled: cum }));
      // delivered: shuffled, some duplicated, the last fill always delivered at least once, others may be lost
      const sent: ExecReport[] = [];
      const lastFill = truth.filter((r) => r.kind === "fill").at(-1)!;
      for (const r of truth) {
        if (r !== lastFill && r.kind === "fill" && rnd() < 0.2) continue;
        sent.push(r);
        if (rnd() < 0.3) sent.push({ ...r });
      }
      for (let i = sent.length - 1; i > 0; i--) {
        const j = Math.floor(rnd() * (i + 1));
        [sent[i], sent[j]] = [sent[j]!, sent[i]!];
      }
      let booked = 0;
      for (const r of sent) {
        t.apply(r, 1);
        booked += t.lastFillAmount;
      }
      const o = t.get(id)!;
      expect([run, booked]).toEqual([run, expect.closeTo(cum, 9)]);
      expect(o.filled).toBeCloseTo(cum, 9);
      expect(o.status).toBe(cancelled ? "cancelled" : "filled");
      expect(t.liveCount).toBe(0);
    }
  });
});
