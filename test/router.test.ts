import { describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { BookRule, CBook } from "../ffi/book.ts";
import type { Side } from "../src/domain/order.ts";
import { type RefVenue, routeReference } from "../src/route/reference.ts";
import { binanceRest, bybitOb500, krakenRest, rebase, tardisSnapshot } from "../src/route/snapshots.ts";
import { ConsolidatedBook, RouteResult, SmartOrderRouter } from "../src/route/router.ts";

type Ladder = Array<[number, number]>;
interface V {
  name: string;
  bids: Ladder;
  asks: Ladder;
  fee?: number;
  up?: boolean;
  inSync?: boolean;
  lat?: number;
}

function build(vs: V[], depth = 50): ConsolidatedBook {
  const b = new ConsolidatedBook({ venues: vs.map((v) => v.name), depth });
  vs.forEach((v, i) => {
    b.setLevels(i, "buy", v.bids.map((l) => l[0]), v.bids.map((l) => l[1]));
    b.setLevels(i, "sell", v.asks.map((l) => l[0]), v.asks.map((l) => l[1]));
    b.setVenue(i, { takerFeeBps: v.fee ?? 0, up: v.up ?? true, inSync: v.inSync ?? true, latencyNs: v.lat ?? 0 });
  });
  return b;
}

function children(r: RouteResult): Array<[number, number, number]> {
  const out: Array<[number, number, number]> = [];
  for (let k = 0; k < r.count; k++) out.push([r.venue[k]!, Number(r.amount[k]!.toFixed(9)), r.limitPrice[k]!]);
  return out;
}

describe("constructed books", () => {
  test("price after taker fees decides: a better raw price loses to a cheaper venue all-in", () => {
    const b = build([
      { name: "A", bids: [[99, 5]], asks: [[100.0, 5]], fee: 10 }, // 100.10 all-in
      { name: "B", bids: [[99, 5]], asks: [[100.05, 5]], fee: 2 }, // 100.07 all-in
    ]);
    const r = new RouteResult(2), sor = new SmartOrderRouter(b);
    sor.route("buy", 1, r);
    expect(children(r)).toEqual([[1, 1, 100.05]]);
    b.setVenue(1, { takerFeeBps: 6 }); // 100.11 all-in: A now
    sor.route("buy", 1, r);
    expect(children(r)).toEqual([[0, 1, 100]]);
  });

  test("a large order is split by depth, levels taken in all-in order across venues; limit is the worst level taken", () => {
    const b = build([
      { name: "A", bids: [[99.9, 1], [99.8, 2], [99.5, 10]], asks: [[100.1, 1], [100.2, 2]] },
      { name: "B", bids: [[99.85, 1.5], [99.7, 3]], asks: [[100, 0.5], [100.3, 9]] },
      { name: "C", bids: [[99.9, 0.5]], asks: [[100.15, 4]] },
    ]);
    const r = new RouteResult(3), sor = new SmartOrderRouter(b);
    sor.route("sell", 4, r);
    // 99.9 A1 (A before C at a tie: lower index), 99.9 C0.5, 99.85 B1.5, 99.8 A1 of 2
    expect(children(r)).toEqual([[0, 2, 99.8], [2, 0.5, 99.9], [1, 1.5, 99.85]]);
    expect(r.filled).toBe(4);
    expect(r.notional).toBeCloseTo(99.9 + 0.5 * 99.9 + 1.5 * 99.85 + 99.8, 9);
    sor.route("buy", 100, r, 100.2); // limit: nothing above 100.2
    expect(children(r)).toEqual([[1, 0.5, 100], [0, 3, 100.2], [2, 4, 100.15]]);
    expect(r.filled).toBe(7.5);
  });

  test("a venue that is down, out of sync, too slow or stale is skipped; latency penalty moves the choice", () => {
    const vs: V[] = [
      { name: "A", bids: [[99, 1]], asks: [[100, 1]], lat: 5e6 },
      { name: "B", bids: [[99, 1]], asks: [[100.02, 1]], lat: 1e6 },
      { name: "C", bids: [[99, 1]], asks: [[100.04, 1]], lat: 0.2e6 },
    ];
    const r = new RouteResult(3);
    let b = build(vs);
    expect(new SmartOrderRouter(b).route("buy", 1, r)).toBe(1);
    expect(r.venue[0]).toBe(0);
    // 1 bp per ms: A 100 x 1.0005 = 100.05, B 100.02 x 1.0001 = 100.030, C 100.04 x 1.00002 = 100.042
    new SmartOrderRouter(b, { latencyPenaltyBpsPerMs: 1 }).route("buy", 1, r);
    expect(r.venue[0]).toBe(1);
    new SmartOrderRouter(b, { maxLatencyNs: 0.5e6 }).route("buy", 1, r);
    expect(children(r)).toEqual([[2, 1, 100.04]]);
    b = build([{ ...vs[0]!, up: false }, { ...vs[1]!, inSync: false }, vs[2]!]);
    const sor = new SmartOrderRouter(b);
    sor.route("buy", 3, r);
    expect(children(r)).toEqual([[2, 1, 100.04]]);
    expect(sor.counters.skippedVenues).toBe(2);
    // stale: venue refreshed at 0, decision at 10 s with a 1 s limit
    b.setLevels(0, "sell", [100], [1], 9.5e9);
    b.setVenue(0, { up: true, inSync: true });
    new SmartOrderRouter(b, { maxStalenessNs: 1e9 }).route("buy", 3, r, Infinity, 10e9);
    expect(children(r).map((c) => c[0])).toEqual([0]);
    expect(b.best("sell")).toBe(100);
  });

  test("an invalid level ends its ladder, is counted and never routed to", () => {
    const b = build([
      { name: "A", bids: [], asks: [[100, 1], [100.1, 1], [100.2, 1]] },
      { name: "B", bids: [], asks: [[100.05, 1], [101, 5]] },
    ]);
    b.asks[2] = 100; // A level 1 repeats level 0's price: not strictly worse, the ladder ends there
    b.asks[2 * 50 * 1 + 1] = NaN; // B level 0 amount NaN
    const r = new RouteResult(2), sor = new SmartOrderRouter(b);
    sor.route("buy", 5, r);
    expect(children(r)).toEqual([[0, 1, 100]]);
    expect(sor.counters.badLevels).toBe(2);
    expect(() => b.setLevels(0, "sell", [100, 99], [1, 1])).toThrow(/best first/);
    expect(() => b.setLevels(0, "sell", [100], [0])).toThrow(/not a valid level/);
  });

  test("agrees with an exhaustive search over lot allocations on random small books", () => {
    let s = 12345;
    const rnd = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 4294967296);
    for (let trial = 0; trial < 60; trial++) {
      const vs: V[] = [];
      for (let v = 0; v < 3; v++) {
        const asks: Ladder = [], bids: Ladder = [];
        let pa = 100 + Math.floor(rnd() * 10) / 100, pb = 99.95 - Math.floor(rnd() * 10) / 100;
        const L = 1 + Math.floor(rnd() * 4);
        for (let i = 0; i < L; i++) {
          asks.push([Number(pa.toFixed(2)), 1 + Math.floor(rnd() * 4)]);
          bids.push([Number(pb.toFixed(2)), 1 + Math.floor(rnd() * 4)]);
          pa += 0.01 + Math.floor(rnd() * 5) / 100;
          pb -= 0.01 + Math.floor(rnd() * 5) / 100;
        }
        vs.push({ name: `v${v}`, asks, bids, fee: Math.floor(rnd() * 8), lat: Math.floor(rnd() * 3e6) });
      }
      const side: Side = rnd() < 0.5 ? "buy" : "sell";
      const want = 1 + Math.floor(rnd() * 14);
      const pen = rnd() < 0.5 ? 0 : 0.5;
      // all-in cost of taking x lots on venue v (buy: cost, sell: minus proceeds), Infinity past its depth
      const cost = (v: V, x: number) => {
        let c = 0, left = x;
        const f = 1 + ((side === "buy" ? 1 : -1) * ((v.fee ?? 0) + (pen * (v.lat ?? 0)) / 1e6)) / 1e4;
        for (const [p, a] of side === "buy" ? v.asks : v.bids) {
          const t = Math.min(a, left);
          c += t * p * f;
          left -= t;
        }
        return left > 0 ? Infinity : side === "buy" ? c : -c;
      };
      const depth = vs.map((v) => (side === "buy" ? v.asks : v.bids).reduce((a, l) => a + l[1], 0));
      const fill = Math.min(want, depth.reduce((a, b) => a + b, 0));
      let bestCost = Infinity;
      for (let x0 = 0; x0 <= Math.min(fill, depth[0]!); x0++) {
        for (let x1 = 0; x1 <= Math.min(fill - x0, depth[1]!); x1++) {
          const x2 = fill - x0 - x1;
          if (x2 > depth[2]!) continue;
          bestCost = Math.min(bestCost, cost(vs[0]!, x0) + cost(vs[1]!, x1) + cost(vs[2]!, x2));
        }
      }
      const r = new RouteResult(3);
      new SmartOrderRouter(build(vs), { latencyPenaltyBpsPerMs: pen }).route(side, want, r);
      expect(r.filled).toBe(fill);
      expect(side === "buy" ? r.score : -r.score).toBeCloseTo(bestCost, 8);
      let sum = 0;
      for (let k = 0; k < r.count; k++) sum += r.amount[k]!;
      expect(sum).toBeCloseTo(fill, 12);
    }
  });
});

describe("fed from C books", () => {
  test("fillFromCBook writes the C book's levels into the preallocated views with no copy on our side", () => {
    const cb = new CBook(0, BookRule.none, { levels: 64, pending: 0 });
    for (let i = 0; i < 30; i++) {
      cb.set(0, 100 - i * 0.5, 1 + i);
      cb.set(1, 101 + i * 0.5, 2 + i);
    }
    const b = new ConsolidatedBook({ venues: ["x", "c"], depth: 20 });
    const view = b.view(1, 1);
    b.fillFromCBook(1, cb, 123);
    expect(b.askCount[1]).toBe(20);
    expect(b.bidCount[1]).toBe(20);
    expect(Array.from(view.subarray(0, 6))).toEqual([101, 2, 101.5, 3, 102, 4]);
    expect(b.bids[40]).toBe(100); // venue 1 starts at 1 * depth * 2
    expect(b.bids[40 + 39]).toBe(20);
    expect(b.bids.subarray(0, 40).every((x) => x === 0)).toBe(true); // venue 0 untouched
    expect(b.inSync[1]).toBe(cb.synced ? 1 : 0);
    expect(b.updatedNs[1]).toBe(123);
  });
});

// ------------------------------------------------------------------------------------------------
// Real snapshots from ../shared/data: five venues' BTC books, checked against the object-based
// reference (a global sort of all levels) for many sizes, both sides, with fees and penalties.

const DATA = resolve(import.meta.dir, "../../shared/data");
const FILES = {
  spot: `${DATA}/hftbacktest/binance-spot/btcusdt_20240808.gz`,
  usdm: `${DATA}/hftbacktest/binance-usdm/btcusdt_20240808.gz`,
  bybit: `${DATA}/nautilus_trader/bybit/2024-12-01_XRPUSDT_ob500.jsonl.gz`,
  kraken: `${DATA}/nautilus_trader/kraken/http_order_book.json`,
  tardis: `${DATA}/nautilus_trader/tardis/binance-futures_book_snapshot_25_BTCUSDT.csv`,
};
const missing = Object.values(FILES).filter((f) => !existsSync(f));
if (missing.length) console.warn(`router real-snapshot tests skipped: absent ${missing.join(", ")}`);

describe.skipIf(missing.length > 0)("real snapshots (../shared/data)", () => {
  test("five-venue consolidated BTC book: split equals the reference for many sizes, both sides", () => {
    // Binance spot and USD-M are the same minute and used as recorded; the others (other days, Bybit's XRP) are rebased onto spot's mid
    const spot = binanceRest(FILES.spot, "binance-spot");
    const mid = (spot.bids[0]![0] + spot.asks[0]![0]) / 2;
    const snaps = [spot, binanceRest(FILES.usdm, "binance-usdm"), rebase(bybitOb500(FILES.bybit), mid), rebase(krakenRest(FILES.kraken), mid), rebase(tardisSnapshot(FILES.tardis, "tardis-binance-futures"), mid)];
    const DEPTH = 100;
    const fees = [10, 5, 5.5, 26, 4], lats = [0.4e6, 0.3e6, 1.2e6, 2.5e6, 0.8e6];
    const vs: V[] = snaps.map((s, i) => ({ name: s.name, bids: s.bids.slice(0, DEPTH), asks: s.asks.slice(0, DEPTH), fee: fees[i], lat: lats[i] }));
    const b = build(vs, DEPTH);
    const ref: RefVenue[] = vs.map((v) => ({
      name: v.name, takerFeeBps: v.fee!, up: true, inSync: true, latencyNs: v.lat!,
      bids: v.bids.map(([price, amount]) => ({ price, amount })), asks: v.asks.map(([price, amount]) => ({ price, amount })),
    }));
    const r = new RouteResult(5);
    let multi = 0;
    for (const pen of [0, 0.7]) {
      const sor = new SmartOrderRouter(b, { latencyPenaltyBpsPerMs: pen });
      for (const side of ["buy", "sell"] as const) {
        for (const amount of [0.001, 0.05, 0.3, 1, 2.5, 7, 20, 60, 150, 1e6]) {
          sor.route(side, amount, r);
          const want = routeReference(ref, side, amount, { latencyPenaltyBpsPerMs: pen });
          expect(r.filled).toBeCloseTo(want.filled, 9);
          expect(r.score).toBeCloseTo(want.score, 6);
          expect(r.fees).toBeCloseTo(want.fees, 6);
          const got = new Map(children(r).map(([v, a, p]) => [v, [a, p]]));
          expect(got.size).toBe(want.children.length);
          for (const c of want.children) {
            expect(got.get(c.venue)![0]).toBeCloseTo(c.amount, 9);
            expect(got.get(c.venue)![1]).toBe(c.limitPrice);
          }
          if (r.count > 1) multi++;
        }
      }
    }
    expect(multi).toBeGreaterThan(10); // the books really were split, not routed whole to one venue
    // a venue out of sync takes nothing, whatever its prices
    b.setVenue(1, { inSync: false });
    new SmartOrderRouter(b).route("buy", 150, r);
    for (let k = 0; k < r.count; k++) expect(r.venue[k]).not.toBe(1);
  });
});

describe("venue filters: lot size, tick size, min notional", () => {
  const filt = (b: ConsolidatedBook, v: number, lotSize: number, minNotional = 0, tickSize = 0) => b.setVenue(v, { lotSize, minNotional, tickSize });

  test("children rounded down to each venue's lot; the cut goes to the venue whose next level is cheapest", () => {
    const b = build([
      { name: "A", bids: [[99, 1]], asks: [[100, 0.555], [100.5, 10]] },
      { name: "B", bids: [[99, 1]], asks: [[100.1, 3.7], [100.2, 5]] },
    ]);
    filt(b, 0, 0.01);
    filt(b, 1, 1);
    const r = new RouteResult(2), sor = new SmartOrderRouter(b);
    sor.route("buy", 5, r);
    // merge: A 0.555, B 3.7 + 0.745; lots: A 0.55, B 4 (0.45 cut); A's next level (100) is the cheaper: A 1.00
    expect(children(r)).toEqual([[0, 1, 100.5], [1, 4, 100.2]]);
    expect(r.filled).toBeCloseTo(5, 12);
    expect(r.lotRemainder).toBe(0);
    expect(r.notional).toBeCloseTo(0.555 * 100 + 0.445 * 100.5 + 3.7 * 100.1 + 0.3 * 100.2, 9);
  });

  test("a child below its venue's min notional is dropped and its amount moved; what no venue can take is reported", () => {
    const b = build([
      { name: "A", bids: [[99, 1]], asks: [[100, 5]] },
      { name: "C", bids: [[99, 1]], asks: [[99.9, 0.2]] },
    ]);
    filt(b, 0, 0.01);
    filt(b, 1, 0.1, 50);
    const r = new RouteResult(2), sor = new SmartOrderRouter(b);
    sor.route("buy", 1, r);
    expect(children(r)).toEqual([[0, 1, 100]]);
    expect(r.dropped).toBe(1);
    expect(r.lotRemainder).toBe(0);
    // only a 1-lot venue: 2.5 routes 2, 0.5 left over
    const one = build([{ name: "B", bids: [[99, 10]], asks: [[100, 10]] }]);
    filt(one, 0, 1);
    const r1 = new RouteResult(1);
    new SmartOrderRouter(one).route("sell", 2.5, r1);
    expect(children(r1)).toEqual([[0, 2, 99]]);
    expect(r1.filled).toBe(2);
    expect(r1.lotRemainder).toBeCloseTo(0.5, 12);
    // below one lot everywhere: nothing routed, all reported
    new SmartOrderRouter(one).route("buy", 0.4, r1);
    expect(r1.count).toBe(0);
    expect(r1.dropped).toBe(1);
    expect(r1.lotRemainder).toBeCloseTo(0.4, 12);
  });

  test("limit price on the venue's tick, away from the market, still covering the last level taken", () => {
    const b = build([{ name: "A", bids: [[99.123, 1], [98.987, 1]], asks: [[100.123, 1], [100.987, 1]] }]);
    filt(b, 0, 0, 0, 0.05);
    const r = new RouteResult(1), sor = new SmartOrderRouter(b);
    sor.route("buy", 1.5, r);
    expect(r.limitPrice[0]).toBeCloseTo(101, 9);
    sor.route("sell", 1.5, r);
    expect(r.limitPrice[0]).toBeCloseTo(98.95, 9);
    expect(() => b.setVenue(0, { lotSize: -1 })).toThrow(/lotSize/);
    expect(() => b.setVenue(0, { minNotional: NaN })).toThrow(/minNotional/);
  });

  test("random books and filters: whole lots, min notional met, depth and limit respected, nothing lost", () => {
    let seed = 4242;
    const rnd = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 4294967296);
    const LOTS = [0, 0.001, 0.01, 0.1, 1];
    for (let trial = 0; trial < 400; trial++) {
      const n = 1 + Math.floor(rnd() * 5);
      const vs: V[] = [];
      for (let v = 0; v < n; v++) {
        const lad = (sgn: number): Ladder => {
          const out: Ladder = [];
          let p = 100 + sgn * (0.01 + rnd() * 0.2);
          for (let i = 0; i < 1 + Math.floor(rnd() * 6); i++) {
            out.push([Number(p.toFixed(2)), Number((0.001 + rnd() * 3).toFixed(4))]);
            p += sgn * (0.01 + Math.floor(rnd() * 10) * 0.01);
          }
          return out;
        };
        vs.push({ name: `V${v}`, bids: lad(-1), asks: lad(1), fee: rnd() * 10 });
      }
      const b = build(vs);
      const plain = build(vs);
      const lots: number[] = [], mins: number[] = [];
      for (let v = 0; v < n; v++) {
        lots.push(LOTS[Math.floor(rnd() * LOTS.length)]!);
        mins.push(rnd() < 0.5 ? 0 : Math.floor(rnd() * 200));
        filt(b, v, lots[v]!, mins[v]!);
      }
      const side: Side = rnd() < 0.5 ? "buy" : "sell";
      const amount = 0.01 + rnd() * 8;
      const r = new RouteResult(n), r0 = new RouteResult(n);
      new SmartOrderRouter(b).route(side, amount, r);
      new SmartOrderRouter(plain).route(side, amount, r0);
      let sum = 0;
      for (let k = 0; k < r.count; k++) {
        const v = r.venue[k]!, a = r.amount[k]!, lot = lots[v]!;
        expect(a).toBeGreaterThan(0);
        if (lot > 0) expect(Math.abs(a / lot - Math.round(a / lot))).toBeLessThan(1e-6);
        const lad = side === "buy" ? vs[v]!.asks : vs[v]!.bids;
        const depth = lad.reduce((s, l) => s + l[1], 0);
        expect(a).toBeLessThanOrEqual(depth * (1 + 1e-9));
        // notional from the ladder's top, and the limit covers the last level touched
        let left = a, nt = 0, last = 0;
        for (const [p, q] of lad) {
          if (left <= a * 1e-9) break;
          const t = Math.min(q, left);
          nt += t * p;
          left -= t;
          last = p;
        }
        expect(nt).toBeGreaterThanOrEqual(mins[v]! * (1 - 1e-9));
        expect(r.limitPrice[k]).toBeCloseTo(last, 9);
        sum += a;
      }
      expect(r.filled).toBeCloseTo(sum, 9);
      // everything the unfiltered route placed is either placed here or reported
      expect(r.filled + r.lotRemainder).toBeCloseTo(r0.filled, 9);
    }
  });
});
