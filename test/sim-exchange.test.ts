import { describe, expect, test } from "bun:test";
import { LatencyHistogram } from "../ffi/hist.ts";
import type { ExecReport, OrderRequest, Side, TimeInForce } from "../src/domain/order.ts";
import { SimExchange } from "../src/exec/sim/exchange.ts";
import { RealClock, SimGateway, VirtualClock } from "../src/exec/sim/gateway.ts";
import { Ladder } from "../src/exec/sim/ladder.ts";
import { BpsFeeModel, ConservativeQueue, ConstantLatency, EmpiricalLatency, type LatencyModel, ProbQueue, Rng } from "../src/exec/sim/models.ts";

const SYM = "BTC/USDT";
const SPEC = { symbol: SYM, tickSize: 0.1, lotSize: 0.001, minNotional: 5, base: "BTC", quote: "USDT" };
const MS = 1e6;

function ex(opts: { maker?: number; taker?: number; queue?: "cons" | "prob"; usdt?: number; btc?: number } = {}): SimExchange {
  const e = new SimExchange({
    venue: "sim",
    fees: new BpsFeeModel(opts.maker ?? 0, opts.taker ?? 0),
    queue: opts.queue === "prob" ? new ProbQueue(2) : new ConservativeQueue(),
    balances: { USDT: opts.usdt ?? 1e9, BTC: opts.btc ?? 1e6 },
  });
  e.listSymbol(SPEC);
  return e;
}

let n = 0;
function req(side: Side, amount: number, price?: number, tif: TimeInForce = "GTC", id?: string): OrderRequest {
  return { clientOrderId: id ?? `o${++n}`, venue: "sim", symbol: SYM, side, type: price === undefined ? "market" : "limit", amount, price, timeInForce: tif };
}

/** venue book: asks 100.0 x1, 100.1 x2, 100.2 x3; bids 99.9 x1, 99.8 x2, 99.7 x3 */
function seed(e: SimExchange): void {
  for (let i = 0; i < 3; i++) {
    e.onBookLevel(SYM, "sell", 100 + i / 10, i + 1, 0);
    e.onBookLevel(SYM, "buy", 99.9 - i / 10, i + 1, 0);
  }
}

const fillsOf = (rs: ExecReport[], id?: string) => rs.filter((r) => r.kind === "fill" && (id === undefined || r.clientOrderId === id));

describe("taking liquidity", () => {
  test("a marketable limit walks the levels best first and stops at its limit; remainder rests", () => {
    const e = ex();
    seed(e);
    const rs = e.place(req("buy", 4, 100.1, "GTC", "a"), 1 * MS);
    expect(rs.map((r) => r.kind)).toEqual(["ack", "fill", "fill"]);
    expect(fillsOf(rs).map((r) => [r.lastPrice, r.lastAmount, r.taker])).toEqual([[100, 1, true], [100.1, 2, true]]);
    expect(rs[2]!.filled).toBe(3);
    expect(rs[2]!.remaining).toBe(1);
    expect(e.order(SYM, "a")!.status).toBe("partially_filled");
    // liquidity taken is gone from the local book; the rest now rests at 100.1 as the best bid
    expect(e.levels(SYM, "sell")).toEqual([[100.2, 3]]);
    expect(e.openOrders(SYM).map((o) => [o.clientOrderId, o.price, o.amount - o.filled])).toEqual([["a", 100.1, 1]]);
  });

  test("market sell walks bids; what the book cannot give expires", () => {
    const e = ex();
    seed(e);
    const rs = e.place(req("sell", 7, undefined, "GTC", "m"), 0);
    expect(fillsOf(rs).map((r) => [r.lastPrice, r.lastAmount])).toEqual([[99.9, 1], [99.8, 2], [99.7, 3]]);
    expect(rs.at(-1)!.kind).toBe("expired");
    expect(rs.at(-1)!.filled).toBe(6);
    expect(e.levels(SYM, "buy")).toEqual([]);
  });

  test("IOC fills what it can now and expires the rest; never rests", () => {
    const e = ex();
    seed(e);
    const rs = e.place(req("buy", 2, 100.0, "IOC", "i"), 0);
    expect(rs.map((r) => r.kind)).toEqual(["ack", "fill", "expired"]);
    expect(rs[2]!.filled).toBe(1);
    expect(rs[2]!.remaining).toBe(1);
    expect(e.openOrders()).toEqual([]);
  });

  test("FOK fills whole or expires without any fill", () => {
    const e = ex();
    seed(e);
    const no = e.place(req("buy", 3.5, 100.1, "FOK", "f1"), 0);
    expect(no.map((r) => r.kind)).toEqual(["ack", "expired"]);
    expect(e.levels(SYM, "sell")[0]).toEqual([100, 1]);
    const yes = e.place(req("buy", 3, 100.1, "FOK", "f2"), 0);
    expect(yes.map((r) => r.kind)).toEqual(["ack", "fill", "fill"]);
    expect(yes.at(-1)!.remaining).toBe(0);
    expect(e.order(SYM, "f2")!.status).toBe("filled");
  });

  test("post-only is rejected if it would take (venue or our own order), rests otherwise", () => {
    const e = ex();
    seed(e);
    expect(e.place(req("buy", 1, 100.0, "PO"), 0)[0]!.reason).toMatch(/^-2010 .*immediately match/);
    expect(e.place(req("buy", 1, 99.95 + 0.05, "PO"), 0)[0]!.kind).toBe("rejected");
    expect(e.place(req("sell", 1, 100.5, "GTC", "s"), 0)[0]!.kind).toBe("ack");
    e.onBookLevel(SYM, "sell", 100, 0, 0);
    e.onBookLevel(SYM, "sell", 100.1, 0, 0);
    e.onBookLevel(SYM, "sell", 100.2, 0, 0);
    expect(e.place(req("buy", 1, 100.5, "PO"), 0)[0]!.kind).toBe("rejected"); // would take our own sell
    expect(e.place(req("buy", 1, 100.4, "PO", "p"), 0).map((r) => r.kind)).toEqual(["ack"]);
    expect(e.openOrders().map((o) => o.clientOrderId)).toEqual(["s", "p"]);
  });
});

describe("our orders against each other: price-time priority", () => {
  test("better price first, then earlier time; maker and taker both get fills", () => {
    const e = ex();
    e.place(req("sell", 1, 101, "GTC", "s1"), 1 * MS);
    e.place(req("sell", 1, 100.5, "GTC", "s2"), 2 * MS);
    e.place(req("sell", 1, 100.5, "GTC", "s3"), 3 * MS);
    e.place(req("sell", 1, 101, "GTC", "s4"), 4 * MS);
    const rs = e.place(req("buy", 2.5, 101, "GTC", "b"), 5 * MS);
    expect(fillsOf(rs).map((r) => [r.clientOrderId, r.lastPrice, r.lastAmount, r.taker])).toEqual([
      ["b", 100.5, 1, true], ["s2", 100.5, 1, false],
      ["b", 100.5, 1, true], ["s3", 100.5, 1, false],
      ["b", 101, 0.5, true], ["s1", 101, 0.5, false],
    ]);
    expect(e.openOrders().map((o) => [o.clientOrderId, o.filled])).toEqual([["s1", 0.5], ["s4", 0]]);
  });

  test("self-trade prevention: same strategy expires taker, maker or both instead of trading; other strategies trade", () => {
    const mk = (mode: "expire_taker" | "expire_maker" | "expire_both") => {
      const e = new SimExchange({ venue: "sim", selfTrade: mode, balances: { USDT: 1e6, BTC: 10 } });
      e.listSymbol(SPEC);
      e.place({ ...req("sell", 1, 100, "GTC", "other"), strategy: "B" }, 0);
      e.place({ ...req("sell", 1, 100, "GTC", "mine"), strategy: "A" }, 0);
      e.place({ ...req("sell", 1, 100.1, "GTC", "far"), strategy: "B" }, 0);
      return { e, rs: e.place({ ...req("buy", 3, 100.1, "GTC", "t"), strategy: "A" }, 0) };
    };
    let { e, rs } = mk("expire_maker");
    expect(rs.map((r) => [r.kind, r.clientOrderId, r.lastAmount])).toEqual([
      ["ack", "t", 0], ["fill", "t", 1], ["fill", "other", 1], ["expired", "mine", 0], ["fill", "t", 1], ["fill", "far", 1],
    ]);
    expect(rs[3]!.reason).toMatch(/EXPIRED_IN_MATCH/);
    expect(e.openOrders().map((o) => [o.clientOrderId, o.amount - o.filled])).toEqual([["t", 1]]);
    ({ e, rs } = mk("expire_taker"));
    expect(rs.map((r) => [r.kind, r.clientOrderId])).toEqual([["ack", "t"], ["fill", "t"], ["fill", "other"], ["expired", "t"]]);
    expect(e.openOrders().map((o) => o.clientOrderId)).toEqual(["mine", "far"]);
    expect(e.balances().USDT!.used).toBe(0);
    ({ e, rs } = mk("expire_both"));
    expect(rs.slice(3).map((r) => [r.kind, r.clientOrderId])).toEqual([["expired", "mine"], ["expired", "t"]]);
    expect(e.openOrders().map((o) => o.clientOrderId)).toEqual(["far"]);
    expect(e.balances().BTC).toEqual({ free: 9, used: 1 }); // one account: selling 1 to ourselves nets out; "far" holds 1
  });

  test("at one price, venue amount ahead of our resting order trades before it, the rest after", () => {
    const e = ex();
    e.onBookLevel(SYM, "sell", 100, 2, 0);
    e.place(req("sell", 1, 100, "GTC", "mine"), 0); // behind the venue's 2
    e.onBookLevel(SYM, "sell", 100, 5, 0); // 3 more join behind us
    expect(e.queueAhead("mine")).toBe(2);
    const rs = e.place(req("buy", 4, 100, "IOC", "t"), 0);
    expect(fillsOf(rs).map((r) => [r.clientOrderId, r.lastAmount])).toEqual([["t", 2], ["t", 1], ["mine", 1], ["t", 1]]);
    expect(e.levels(SYM, "sell")).toEqual([[100, 2]]);
  });
});

describe("resting orders and the queue", () => {
  test("conservative: only prints at my price reduce the queue ahead; I fill after it is consumed", () => {
    const e = ex();
    e.onBookLevel(SYM, "buy", 99, 5, 0);
    e.place(req("buy", 2, 99, "GTC", "q"), 0);
    expect(e.queueAhead("q")).toBe(5);
    const got: ExecReport[] = [];
    e.onReport((r) => got.push(r));
    e.onBookLevel(SYM, "buy", 99, 8, 1); // joins behind
    e.onBookLevel(SYM, "buy", 99, 6, 2); // a cancel: conservative assumes behind us
    expect(e.queueAhead("q")).toBe(5);
    e.onBookLevel(SYM, "buy", 99, 4, 3); // shrinks below our queue: capped
    expect(e.queueAhead("q")).toBe(4);
    e.onTrade(SYM, 99, 3, "sell", 4 * MS);
    expect(e.queueAhead("q")).toBe(1);
    expect(got).toEqual([]);
    e.onTrade(SYM, 99, 1.5, "buy", 5 * MS); // buyer-initiated print does not hit bids
    expect(got).toEqual([]);
    e.onTrade(SYM, 99, 1.5, "sell", 6 * MS);
    expect(got.map((r) => [r.kind, r.lastAmount, r.lastPrice, r.taker, r.venueTimeMs])).toEqual([["fill", 0.5, 99, false, 6]]);
    expect(e.queueAhead("q")).toBe(0);
    e.onTrade(SYM, 98.9, 0.01, "sell", 7 * MS); // trades through: the whole rest fills at our price
    expect(got.at(-1)!.lastAmount).toBe(1.5);
    expect(got.at(-1)!.lastPrice).toBe(99);
    expect(e.order(SYM, "q")!.status).toBe("filled");
  });

  test("probabilistic: a cancel moves me up in proportion to where I stand", () => {
    const e = ex({ queue: "prob" });
    e.onBookLevel(SYM, "buy", 99, 2, 0);
    e.place(req("buy", 1, 99, "GTC", "q"), 0); // front 2
    e.onBookLevel(SYM, "buy", 99, 10, 0); // back 8
    e.onBookLevel(SYM, "buy", 99, 9, 0); // decrease 1: p = 8^2/(8^2+2^2)
    expect(e.queueAhead("q")).toBeCloseTo(2 - 64 / 68, 12);
    const c = new ConservativeQueue();
    expect(c.levelChanged(2, 10, 9)).toBe(2);
  });

  test("several of our orders at one price share a print in time order", () => {
    const e = ex();
    e.onBookLevel(SYM, "sell", 101, 1, 0);
    e.place(req("sell", 1, 101, "GTC", "x"), 0); // front 1
    e.onBookLevel(SYM, "sell", 101, 2, 0);
    e.place(req("sell", 1, 101, "GTC", "y"), 0); // front 2
    const got: ExecReport[] = [];
    e.onReport((r) => got.push(r));
    // queue at 101: venue 1, x, venue 1, y. A print of 2.5 takes venue 1, x 1, then 0.5 of the venue amount between
    e.onTrade(SYM, 101, 2.5, "buy", 0);
    expect(got.map((r) => [r.clientOrderId, r.lastAmount])).toEqual([["x", 1]]);
    expect(e.queueAhead("y")).toBe(0.5);
    e.onTrade(SYM, 101, 0.4, "buy", 0);
    expect(got.length).toBe(1);
    e.onTrade(SYM, 101, 0.4, "buy", 0);
    expect(got.at(-1)).toMatchObject({ clientOrderId: "y" });
    expect(got.at(-1)!.lastAmount).toBe(0.3);
  });

  test("the venue's opposite side moving onto a resting order fills it as maker at its price", () => {
    const e = ex({ maker: -1, taker: 5 });
    e.place(req("buy", 2, 99, "GTC", "r"), 0);
    const got: ExecReport[] = [];
    e.onReport((r) => got.push(r));
    e.onBookLevel(SYM, "sell", 98.5, 0.5, 0);
    expect(got.map((r) => [r.lastPrice, r.lastAmount, r.taker])).toEqual([[99, 0.5, false]]);
    expect(got[0]!.fee).toBeCloseTo(-99 * 0.5 * 1e-4, 12);
    expect(e.levels(SYM, "sell")).toEqual([]);
  });
});

describe("fees and balances", () => {
  test("taker fee and maker rebate move the quote balance; reservations are released", () => {
    const e = ex({ maker: -2, taker: 10, usdt: 10_000, btc: 1 });
    e.onBookLevel(SYM, "sell", 100, 10, 0);
    const rs = e.place(req("buy", 3, 100, "GTC", "t"), 0);
    const f = fillsOf(rs)[0]!;
    expect(f.fee).toBeCloseTo(300 * 10e-4, 12);
    let b = e.balances();
    expect(b.USDT!.free).toBeCloseTo(10_000 - 300 - 0.3, 9);
    expect(b.USDT!.used).toBe(0);
    expect(b.BTC!.free).toBeCloseTo(4, 12);
    // a resting sell reserves base; a rebate is credited when it fills
    e.place(req("sell", 2, 102, "GTC", "m"), 0);
    b = e.balances();
    expect(b.BTC).toEqual({ free: 2, used: 2 });
    e.onTrade(SYM, 102.5, 0.1, "buy", 0);
    b = e.balances();
    expect(b.BTC!.used).toBe(0);
    expect(b.BTC!.free).toBeCloseTo(2, 12);
    expect(b.USDT!.free).toBeCloseTo(10_000 - 300.3 + 204 + 204 * 2e-4, 9);
  });

  test("insufficient balance is refused with -2010; a resting buy holds notional plus the worst fee rate", () => {
    const e = ex({ taker: 10, usdt: 1000, btc: 0 });
    expect(e.place(req("buy", 10, 100), 0)[0]!.reason).toBe("-2010 Account has insufficient balance for requested action.");
    expect(e.place(req("sell", 0.1, 100), 0)[0]!.kind).toBe("rejected");
    e.place(req("buy", 5, 100, "GTC", "h"), 0);
    expect(e.balances().USDT!.used).toBeCloseTo(500 * 1.001, 9);
    e.cancel(SYM, "h", 0);
    expect(e.balances().USDT).toEqual({ free: 1000, used: 0 });
  });

  test("filters: LOT_SIZE, PRICE_FILTER, MIN_NOTIONAL, unknown symbol", () => {
    const e = ex();
    expect(e.place(req("buy", 0.0015, 100), 0)[0]!.reason).toBe("-1013 Filter failure: LOT_SIZE");
    expect(e.place(req("buy", 1, 100.05), 0)[0]!.reason).toBe("-1013 Filter failure: PRICE_FILTER");
    expect(e.place(req("buy", 0.001, 100), 0)[0]!.reason).toBe("-1013 Filter failure: MIN_NOTIONAL");
    expect(e.place({ ...req("buy", 1, 100), symbol: "ETH/USDT" }, 0)[0]!.reason).toBe("-1121 Invalid symbol.");
    expect(e.counters.rejects).toBe(4);
  });
});

describe("ids and cancels", () => {
  test("a clientOrderId is refused while live and after it is finished; rejects do not burn it", () => {
    const e = ex();
    expect(e.place(req("buy", 0.0015, 100, "GTC", "d"), 0)[0]!.kind).toBe("rejected");
    expect(e.place(req("buy", 1, 90, "GTC", "d"), 0)[0]!.kind).toBe("ack");
    expect(e.place(req("buy", 1, 91, "GTC", "d"), 0)[0]!.reason).toBe("-2010 Duplicate order sent.");
    e.cancel(SYM, "d", 0);
    expect(e.place(req("buy", 1, 91, "GTC", "d"), 0)[0]!.reason).toBe("-2010 Duplicate order sent.");
    expect(e.openOrders()).toEqual([]);
  });

  test("cancel races: cancel of a filled, cancelled or unknown order is cancel_rejected -2011", () => {
    const e = ex();
    e.place(req("sell", 1, 101, "GTC", "c"), 0);
    e.onTrade(SYM, 101.5, 1, "buy", 0); // filled before the cancel arrives
    const r = e.cancel(SYM, "c", 0);
    expect(r.kind).toBe("cancel_rejected");
    expect(r.reason).toBe("-2011 Unknown order sent.");
    expect(r.filled).toBe(1);
    e.place(req("sell", 1, 101, "GTC", "c2"), 0);
    expect(e.cancel(SYM, "c2", 0).kind).toBe("cancelled");
    expect(e.cancel(SYM, "c2", 0).kind).toBe("cancel_rejected");
    expect(e.cancel(SYM, "nope", 0).kind).toBe("cancel_rejected");
    expect(e.cancel("ETH/USDT", "c2", 0).kind).toBe("cancel_rejected");
    expect(e.counters.cancelRejects).toBe(4);
    expect(e.allOrders(SYM).map((o) => [o.clientOrderId, o.status])).toEqual([["c", "filled"], ["c2", "cancelled"]]);
    expect(e.clientOrderIdOf(e.order(SYM, "c2")!.venueOrderId)).toBe("c2");
    expect(e.clientOrderIdOf("999")).toBeUndefined();
  });

  test("fills(symbol, sinceMs) lists fills by venue time", () => {
    const e = ex();
    seed(e);
    e.place(req("buy", 1, 100, "GTC"), 5 * MS);
    e.place(req("buy", 1, 100.1, "GTC"), 9 * MS);
    expect(e.fills(SYM, 0).length).toBe(2);
    expect(e.fills(SYM, 6).map((f) => f.venueTimeMs)).toEqual([9]);
  });

  test("bad market data is counted and changes nothing", () => {
    const e = ex();
    seed(e);
    e.onBookLevel(SYM, "sell", 100.05, 1, 0);
    e.onBookLevel(SYM, "sell", 100, NaN, 0);
    e.onBookLevel("X/Y", "sell", 100, 1, 0);
    e.onTrade(SYM, 100, -1, "buy", 0);
    expect(e.counters.badMarketData).toBe(4);
    expect(e.levels(SYM, "sell")).toEqual([[100, 1], [100.1, 2], [100.2, 3]]);
  });
});

describe("SimGateway: latency on a clock, deterministic for a seed", () => {
  function rig(latency: LatencyModel) {
    const clock = new VirtualClock(1_000 * MS);
    const e = ex({ maker: -1, taker: 4 });
    const gw = new SimGateway(e, clock, latency);
    const seen: Array<[number, string, string, number]> = [];
    gw.onReport((r) => seen.push([clock.now(), r.kind, r.clientOrderId, r.lastAmount]));
    return { clock, e, gw, seen };
  }

  test("an order arrives after its entry latency: liquidity gone by then is not taken", () => {
    for (const [entryMs, fills] of [[1, 1], [5, 0]] as const) {
      const { clock, gw, seen } = rig(new ConstantLatency(entryMs * MS, 2 * MS));
      const t0 = clock.now();
      gw.bookLevel(SYM, "sell", 100, 1, t0);
      gw.bookLevel(SYM, "sell", 100, 0, t0 + 3 * MS); // the ask is gone at +3 ms
      clock.advanceTo(t0);
      gw.submit(req("buy", 1, 100, "IOC", `l${entryMs}`));
      clock.drain();
      expect(seen.filter((s) => s[1] === "fill").length).toBe(fills);
      // the ack is seen at submit + entry + response
      expect(seen[0]![0] - t0).toBe((entryMs + 2) * MS);
    }
  });

  test("reports keep their order even when sampled latencies would reorder them; cancel race resolves at the venue", () => {
    // response samples alternate wildly; one ordered connection never lets a later report overtake
    const { clock, e, gw, seen } = rig(new EmpiricalLatency([1 * MS, 9 * MS], [1 * MS, 20 * MS, 2 * MS], new Rng(7)));
    const t0 = clock.now();
    gw.submit(req("sell", 1, 101, "GTC", "r1"));
    gw.submit(req("sell", 1, 102, "GTC", "r2"));
    gw.trade(SYM, 103, 1, "buy", t0 + 30 * MS); // trades through both
    clock.advanceTo(t0 + 29 * MS);
    gw.cancel(SYM, "r2"); // arrives after the print (entry >= 1 ms): too late
    clock.drain();
    const times = seen.map((s) => s[0]);
    expect([...times].sort((a, b) => a - b)).toEqual(times);
    expect(seen.map((s) => [s[1], s[2]])).toEqual([["ack", "r1"], ["ack", "r2"], ["fill", "r1"], ["fill", "r2"], ["cancel_rejected", "r2"]]);
    expect(e.openOrders()).toEqual([]);
  });

  function scenario(seed: number): string {
    const { clock, gw, seen } = rig(new EmpiricalLatency([0.2, 0.5, 1.5, 4].map((x) => x * MS), [0.1, 0.3, 2].map((x) => x * MS), new Rng(seed), [0.05 * MS, 0.4 * MS]));
    const r = new Rng(seed ^ 0x5eed);
    let t = clock.now();
    const observed: number[] = [];
    for (let i = 0; i < 300; i++) {
      t += Math.floor(r.next() * 2 * MS);
      const px = 100 + Math.floor(r.next() * 20) / 10;
      if (r.next() < 0.4) gw.bookLevel(SYM, r.next() < 0.5 ? "buy" : "sell", px, Math.floor(r.next() * 5000) / 1000, t, () => observed.push(clock.now()));
      else if (r.next() < 0.6) gw.trade(SYM, px, 0.001 + Math.floor(r.next() * 2000) / 1000, r.next() < 0.5 ? "buy" : "sell", t);
      else {
        clock.advanceTo(t);
        const tif = (["GTC", "IOC", "FOK", "PO"] as const)[Math.floor(r.next() * 4)]!;
        gw.submit(req(r.next() < 0.5 ? "buy" : "sell", 0.1 + Math.floor(r.next() * 20) / 10, px, tif, `s${seed}-${i}`));
        if (r.next() < 0.3) gw.cancel(SYM, `s${seed}-${i - 3}`);
      }
    }
    clock.drain();
    return JSON.stringify([seen, observed]);
  }

  test("same seed, same reports at the same times; another seed differs", () => {
    const a = scenario(42), b = scenario(42), c = scenario(43);
    expect(a).toBe(b);
    expect(a).not.toBe(c);
    const parsed = JSON.parse(a)[0] as Array<[number, string]>;
    expect(parsed.filter((s) => s[1] === "fill").length).toBeGreaterThan(10);
  });

  test("paper trading on a RealClock: reports come after the modelled latency of real time", async () => {
    const clock = new RealClock();
    const e = ex();
    e.onBookLevel(SYM, "sell", 100, 1, clock.now());
    const gw = new SimGateway(e, clock, new ConstantLatency(5 * MS, 5 * MS));
    const seen: Array<[number, string]> = [];
    const t0 = clock.now();
    gw.onReport((r) => seen.push([clock.now() - t0, r.kind]));
    gw.submit(req("buy", 1, 100, "IOC", "paper"));
    expect(seen).toEqual([]);
    await Bun.sleep(40);
    expect(seen.map((s) => s[1])).toEqual(["ack", "fill"]);
    expect(seen[0]![0]).toBeGreaterThanOrEqual(9 * MS); // 10 ms modelled; timers may fire up to 1 ms early
    expect(e.fills(SYM, 0)[0]!.venueTimeMs).toBeGreaterThanOrEqual(Math.floor((t0 + 4 * MS) / MS));
    await gw.close();
    expect(() => gw.submit(req("buy", 1, 100, "IOC"))).toThrow(/closed/);
  });

  test("latency sampled from a measured LatencyHistogram follows its distribution, reproducibly for a seed", () => {
    const h = LatencyHistogram.create();
    try {
      const r = new Rng(5);
      // a measured-looking round trip: mostly ~300 us, a tail near 3 ms
      for (let i = 0; i < 20000; i++) h.record(r.next() < 0.95 ? 250_000 + r.next() * 100_000 : 2_500_000 + r.next() * 1_000_000);
      const samples = EmpiricalLatency.quantileSamples((q) => h.percentile(q), 2000);
      const draw = (seed: number) => {
        const m = new EmpiricalLatency(samples, samples, new Rng(seed));
        return Float64Array.from({ length: 20000 }, () => m.entry());
      };
      const a = draw(9);
      expect(Array.from(draw(9))).toEqual(Array.from(a));
      expect(Array.from(draw(10))).not.toEqual(Array.from(a));
      const sorted = Float64Array.from(a).sort();
      const tail = a.filter((x) => x > 2_000_000).length / a.length;
      expect(tail).toBeGreaterThan(0.04);
      expect(tail).toBeLessThan(0.06);
      // within the histogram's bucket resolution of the recorded median
      expect(Math.abs(sorted[10000]! - h.percentile(0.5)) / h.percentile(0.5)).toBeLessThan(0.05);
    } finally {
      h.destroy();
    }
  });

  test("virtual clock runs events in (time, scheduling) order and never goes back", () => {
    const c = new VirtualClock(0);
    const out: string[] = [];
    const ts = [5, 1, 3, 1, 9, 0, 3, 7, 2, 2];
    ts.forEach((t, i) => c.at(t, () => out.push(`${c.now()}:${i}`)));
    c.advanceTo(3);
    expect(out).toEqual(["0:5", "1:1", "1:3", "2:8", "2:9", "3:2", "3:6"]);
    expect(() => c.advanceTo(2)).toThrow();
    c.drain();
    expect(out.slice(7)).toEqual(["5:0", "7:7", "9:4"]);
  });
});

describe("Ladder (venue book side)", () => {

  test("random sets equal a Map reference, best first, for both sides", () => {
    let x = 99;
    const rnd = () => ((x = (Math.imul(x, 48271) + 11) >>> 0) / 4294967296);
    for (const bid of [true, false]) {
      const l = new Ladder(bid), ref = new Map<number, number>();
      for (let i = 0; i < 5000; i++) {
        const t = 1000 + Math.floor(rnd() * 200), a = rnd() < 0.3 ? 0 : Math.floor(rnd() * 50) / 10;
        l.set(t, a);
        if (a > 0) ref.set(t, a);
        else ref.delete(t);
        if (i % 97 === 0) {
          const want = [...ref.entries()].sort((p, q) => (bid ? q[0] - p[0] : p[0] - q[0]));
          expect(Array.from({ length: l.size }, (_, k) => [l.ticks(k), l.amount(k)])).toEqual(want);
          expect(l.get(1050)).toBe(ref.get(1050) ?? 0);
        }
      }
    }
  });

  test("a deep book (thousands of levels, blocks splitting and emptying) equals a Map reference", () => {
    let x = 7;
    const rnd = () => ((x = (Math.imul(x, 48271) + 11) >>> 0) / 4294967296);
    for (const bid of [true, false]) {
      const l = new Ladder(bid), ref = new Map<number, number>();
      const check = () => {
        const want = [...ref.entries()].sort((p, q) => (bid ? q[0] - p[0] : p[0] - q[0]));
        expect(l.size).toBe(want.length);
        for (let k = 0; k < want.length; k++) {
          if (l.ticks(k) !== want[k]![0] || l.amount(k) !== want[k]![1]) expect([k, l.ticks(k), l.amount(k)]).toEqual([k, ...want[k]!]);
        }
      };
      // fill 4,000 levels in random order, then churn: changes spread over the whole depth and
      // concentrated near the touch, removals that empty whole runs, then drain to nothing
      for (let i = 0; i < 4000; i++) {
        const t = 10_000 + Math.floor(rnd() * 8000), a = 1 + Math.floor(rnd() * 90) / 10;
        expect(l.put(t, a)).toBe(ref.get(t) ?? 0);
        ref.set(t, a);
      }
      check();
      for (let i = 0; i < 40_000; i++) {
        const near = rnd() < 0.5;
        const t = near ? (bid ? 18_000 - Math.floor(rnd() * 50) : 10_000 + Math.floor(rnd() * 50)) : 10_000 + Math.floor(rnd() * 8000);
        const a = rnd() < 0.45 ? 0 : Math.floor(rnd() * 50) / 10;
        expect(l.put(t, a)).toBe(ref.get(t) ?? 0);
        if (a > 0) ref.set(t, a);
        else ref.delete(t);
        if (i % 4999 === 0) check();
        if (i % 1009 === 0) {
          const q = 10_000 + Math.floor(rnd() * 8000);
          expect(l.get(q)).toBe(ref.get(q) ?? 0);
        }
      }
      check();
      for (let t = 10_000; t < 18_000; t += 3) {
        l.set(t, 0);
        ref.delete(t);
      }
      check();
      for (const t of [...ref.keys()]) {
        l.set(t, 0);
        ref.delete(t);
      }
      expect(l.size).toBe(0);
      expect(l.get(12_345)).toBe(0);
      l.set(12_345, 2.5);
      expect([l.size, l.ticks(0), l.amount(0)]).toEqual([1, 12_345, 2.5]);
    }
  });
});

describe("invariants under random order flow and market data", () => {
  test("balances equal the fills, holds equal open orders, our book never crosses itself or the venue's", () => {
    for (const seed of [1, 2, 3]) {
      const r = new Rng(seed);
      const e = new SimExchange({ venue: "sim", fees: new BpsFeeModel(-1, 5), queue: seed === 2 ? new ProbQueue(1.5) : new ConservativeQueue(), balances: { USDT: 1e6, BTC: 100 } });
      e.listSymbol(SPEC);
      const reports: ExecReport[] = [];
      e.onReport((x) => reports.push(x));
      const px = () => Math.round((99 + r.next() * 2) * 10) / 10;
      const amt = () => Math.round((0.001 + r.next() * 3) * 1000) / 1000;
      const ids: string[] = [];
      for (let i = 0; i < 4000; i++) {
        const u = r.next(), t = i * MS;
        if (u < 0.35) {
          // venue levels stay uncrossed among themselves: bids below 100, asks from 100
          const bid = r.next() < 0.5, p = bid ? Math.round((99 + r.next()) * 10) / 10 - 0.1 : Math.round((100 + r.next()) * 10) / 10;
          e.onBookLevel(SYM, bid ? "buy" : "sell", Number(p.toFixed(1)), r.next() < 0.3 ? 0 : amt(), t);
        } else if (u < 0.55) e.onTrade(SYM, px(), amt(), r.next() < 0.5 ? "buy" : "sell", t);
        else if (u < 0.9) {
          const tif = (["GTC", "GTC", "IOC", "FOK", "PO"] as const)[Math.floor(r.next() * 5)]!;
          const id = `i${seed}-${i}`;
          ids.push(id);
          reports.push(...e.place(req(r.next() < 0.5 ? "buy" : "sell", amt(), r.next() < 0.1 ? undefined : px(), r.next() < 0.1 ? "IOC" : tif, id), t));
        } else if (ids.length) reports.push(e.cancel(SYM, ids[Math.floor(r.next() * ids.length)]!, t));

        if (i % 50 === 0 || i === 3999) {
          let base = 100, quote = 1e6;
          for (const f of reports) {
            if (f.kind !== "fill") continue;
            const s = f.side === "buy" ? 1 : -1;
            base += s * f.lastAmount;
            quote -= s * f.lastPrice * f.lastAmount + f.fee;
          }
          const b = e.balances();
          expect(b.BTC!.free + b.BTC!.used).toBeCloseTo(base, 6);
          expect(b.USDT!.free + b.USDT!.used).toBeCloseTo(quote, 4);
          const open = e.openOrders(SYM);
          const heldBtc = open.filter((o) => o.side === "sell").reduce((a, o) => a + o.amount - o.filled, 0);
          const heldUsdt = open.filter((o) => o.side === "buy").reduce((a, o) => a + (o.amount - o.filled) * o.price * (1 + 5e-4), 0);
          expect(b.BTC!.used).toBeCloseTo(heldBtc, 6);
          expect(b.USDT!.used).toBeCloseTo(heldUsdt, 4);
          expect(b.BTC!.free).toBeGreaterThan(-1e-9);
          expect(b.USDT!.free).toBeGreaterThan(-1e-6);
          const myBid = Math.max(...open.filter((o) => o.side === "buy").map((o) => o.price));
          const myAsk = Math.min(...open.filter((o) => o.side === "sell").map((o) => o.price));
          expect(myBid).toBeLessThan(myAsk);
          if (Number.isFinite(myBid) && e.best(SYM, "sell") > 0) expect(myBid).toBeLessThan(e.best(SYM, "sell"));
          if (Number.isFinite(myAsk) && e.best(SYM, "buy") > 0) expect(myAsk).toBeGreaterThan(e.best(SYM, "buy"));
          for (const o of open) {
            expect(o.filled).toBeLessThan(o.amount);
            expect(e.queueAhead(o.clientOrderId)!).toBeGreaterThanOrEqual(0);
          }
        }
      }
      // every order's fills add up to what its last report says, and never exceed its amount
      const byId = new Map<string, number>();
      for (const f of reports) if (f.kind === "fill") byId.set(f.clientOrderId, (byId.get(f.clientOrderId) ?? 0) + f.lastAmount);
      for (const [id, q] of byId) {
        const o = e.order(SYM, id)!;
        expect(q).toBeCloseTo(o.filled, 9);
        expect(o.filled).toBeLessThanOrEqual(o.amount);
      }
      expect(reports.filter((x) => x.kind === "fill").length).toBeGreaterThan(200);
    }
  });
});

describe("margin account (account: \"margin\")", () => {
  function mex(usdt: number, leverage = 2): SimExchange {
    const e = new SimExchange({ venue: "sim", fees: new BpsFeeModel(0, 10), account: "margin", leverage, balances: { USDT: usdt } });
    e.listSymbol(SPEC);
    seed(e);
    return e;
  }
  const ro = (r: OrderRequest): OrderRequest => ({ ...r, reduceOnly: true });

  test("default stays a cash account: a sell needs the base asset", () => {
    const e = ex({ btc: 0 });
    seed(e);
    const rs = e.place(req("sell", 1), 0);
    expect(rs[0]!.kind).toBe("rejected");
    expect(rs[0]!.reason).toContain("-2010");
    expect(e.account).toBe("cash");
    expect(() => e.position(SYM)).toThrow(/cash account/);
    expect(() => new SimExchange({ venue: "x", leverage: 3 })).toThrow(/margin accounts only/);
    expect(() => new SimExchange({ venue: "x", account: "margin", leverage: 0.5 })).toThrow(/leverage/);
  });

  test("goes short without base; fees and realised PnL settle in quote; entry price averages", () => {
    const e = mex(10_000);
    const s = e.place(req("sell", 2), 0);
    expect(fillsOf(s).map((f) => [f.lastPrice, f.lastAmount])).toEqual([[99.9, 1], [99.8, 1]]);
    let p = e.position(SYM);
    expect(p.amount).toBeCloseTo(-2, 12);
    expect(p.entryPrice).toBeCloseTo(99.85, 9);
    const fee1 = (99.9 + 99.8) * 0.001;
    expect(e.balances().USDT!.free).toBeCloseTo(10_000 - fee1, 9);
    expect(e.balances().BTC?.free ?? 0).toBe(0);
    // buy 1 back at 100.0: realises (100 - 99.85) x 1 on a short = -0.15
    e.place(req("buy", 1), 0);
    p = e.position(SYM);
    expect(p.amount).toBeCloseTo(-1, 12);
    expect(p.entryPrice).toBeCloseTo(99.85, 9);
    expect(p.realised).toBeCloseTo(-0.15, 9);
    expect(e.balances().USDT!.free).toBeCloseTo(10_000 - fee1 - 0.15 - 100 * 0.001, 9);
    expect(e.balances().USDT!.used).toBe(0);
  });

  test("initial margin (notional / leverage + worst fee) held per open order, released on cancel; too little is refused", () => {
    const e = mex(1000, 2);
    const r = req("buy", 10, 90);
    e.place(r, 0);
    expect(e.balances().USDT!.used).toBeCloseTo(10 * 90 * (0.5 + 0.001), 9);
    e.cancel(SYM, r.clientOrderId, 0);
    expect(e.balances().USDT!.used).toBe(0);
    const big = e.place(req("sell", 30, 120), 0);
    expect(big[0]!.kind).toBe("rejected");
    expect(big[0]!.reason).toContain("insufficient balance");
  });

  test("reduceOnly: refused when it would not reduce (-2022); a resting one expires when the position closes without it", () => {
    const e = mex(10_000);
    e.place(req("sell", 1), 0);
    expect(e.position(SYM).amount).toBeCloseTo(-1, 12);
    const same = e.place(ro(req("sell", 0.5, 101)), 0);
    expect(same[0]!.reason).toContain("-2022");
    const tooBig = e.place(ro(req("buy", 1.5, 99)), 0);
    expect(tooBig[0]!.reason).toContain("-2022");
    const rest = ro(req("buy", 1, 99));
    expect(e.place(rest, 0)[0]!.kind).toBe("ack");
    // its fee only is held: reducing frees margin instead of using it
    expect(e.balances().USDT!.used).toBeCloseTo(99 * 0.001, 9);
    // a second reduce-only buy would pass flat together with the first: refused
    expect(e.place(ro(req("buy", 0.5, 98)), 0)[0]!.reason).toContain("-2022");
    const rs = e.place(req("buy", 1), 0);
    expect(e.position(SYM).amount).toBe(0);
    expect(Number.isNaN(e.position(SYM).entryPrice)).toBe(true);
    const expired = rs.find((r) => r.clientOrderId === rest.clientOrderId);
    expect(expired?.kind).toBe("expired");
    expect(expired?.reason).toContain("reduce-only");
    expect(e.balances().USDT!.used).toBe(0);
    // two resting sells against a long of 1: the plain one (earlier) fills first on a print, the
    // reduce-only one then has no position to reduce: no fill, expired
    e.place(req("buy", 1), 0);
    const plain = req("sell", 1, 101), rOnly = ro(req("sell", 1, 101));
    e.place(plain, 0);
    expect(e.place(rOnly, 0)[0]!.kind).toBe("ack");
    const seen: ExecReport[] = [];
    e.onReport((r) => seen.push(r));
    e.onTrade(SYM, 101, 5, "buy", 0);
    expect(fillsOf(seen, plain.clientOrderId).length).toBe(1);
    expect(fillsOf(seen, rOnly.clientOrderId).length).toBe(0);
    expect(seen.find((r) => r.clientOrderId === rOnly.clientOrderId)?.kind).toBe("expired");
    expect(e.position(SYM).amount).toBe(0);
    // and a reduce-only close fills down to flat, not past it
    e.place(req("buy", 1), 0);
    const close = e.place(ro(req("sell", 1)), 0);
    expect(fillsOf(close).reduce((a, f) => a + f.lastAmount, 0)).toBeCloseTo(1, 12);
    expect(e.position(SYM).amount).toBe(0);
  });
});
