/**
 * The C book (c/book.c) and its sequence procedures: the same book as the TypeScript reference
 * (L2Book + BinanceDepthSync) on real captures, the venue's bookTicker agreeing with it at the
 * same update id, random operations against a plain sorted reference, and every fault path
 * (gap, crossed, stale snapshot, pending overflow, split batches) refusing to trade on a bad book.
 */
import { describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { type AlignedBuffer, alignedBuffer } from "../ffi/buffers.ts";
import { K } from "../ffi/lib.ts";
import { BookRule, BookSet, BookState, CBook } from "../ffi/book.ts";
import { BinanceParser } from "../ffi/parse.ts";
import { L2Book } from "../src/book/l2book.ts";
import { BinanceDepthSync } from "../src/feed/binance/depth.ts";
import { readCaptureText } from "../src/feed/recording.ts";
import { TickBuffer } from "../src/domain/tick-buffer.ts";
import { TICK_BYTES, TickFlag, TickKind } from "../src/domain/tick.ts";

const DATA = new URL("../../shared/data/", import.meta.url).pathname;
const hasData = existsSync(DATA);
if (!hasData) console.warn(`cbook.test: ${DATA} is absent; real-capture cases are skipped`);

const enc = new TextEncoder();
const CAP = 16384;
const out = alignedBuffer(CAP * TICK_BYTES);
const inBuf = alignedBuffer(1 << 20);
const inBytes = new Uint8Array(inBuf.buffer, inBuf.byteOffset, 1 << 20);

/** Records of one diff message: levels [side, price, size][] with U/u/pu. */
function diff(tb: TickBuffer, inst: number, U: number, u: number, pu: number, levels: Array<[number, number, number]>, snapshot = false): void {
  const list = levels.length ? levels : [[0, 0, 0] as [number, number, number]];
  list.forEach(([side, price, size], i) => {
    tb.push({
      kind: TickKind.level,
      flags: (side ? TickFlag.ask : 0) | (snapshot ? TickFlag.snapshot : 0) | (i === list.length - 1 ? TickFlag.last : 0) | (levels.length ? 0 : TickFlag.nolevel),
      venue: 2,
      instrument: inst,
      tsExchangeNs: 0,
      tsRecvNs: 0,
      price,
      size,
      price2: snapshot ? 0 : U,
      size2: snapshot ? 0 : pu,
      seq: u,
    });
  });
}

function applyAll(set: BookSet, tb: TickBuffer): number {
  const mem = alignedBuffer(Math.max(1, tb.count) * TICK_BYTES);
  new Uint8Array(mem.buffer, mem.byteOffset, tb.count * TICK_BYTES).set(tb.bytes());
  const r = set.apply(mem.ptr, 0xffffffff, 0, tb.count);
  tb.clear();
  return r;
}

describe("ladder", () => {
  test("random sets and deletes equal a sorted reference at every depth, with splits and merges (property)", () => {
    let seed = 99;
    const rnd = () => ((seed = (seed * 1664525 + 1013904223) >>> 0) / 2 ** 32);
    const b = new CBook(0, BookRule.none, { levels: 100_000, pending: 0 });
    const ref = [new Map<number, number>(), new Map<number, number>()];
    for (let i = 0; i < 60_000; i++) {
      const side = rnd() < 0.5 ? 0 : 1;
      const price = side ? 1000 + Math.floor(rnd() * 3000) / 10 : 1000 - Math.floor(rnd() * 3000) / 10 - 0.1;
      const size = rnd() < 0.35 ? 0 : Math.round(rnd() * 1000) / 100 + 0.01;
      b.set(side, price, size);
      if (size > 0) ref[side]!.set(price, size);
      else ref[side]!.delete(price);
      if (i % 5000 === 4999) {
        for (const s of [0, 1]) {
          const want = [...ref[s]!.entries()].sort((x, y) => (s ? x[0] - y[0] : y[0] - x[0]));
          expect(b.depth(s)).toBe(want.length);
          expect(b.levels(s)).toEqual(want);
        }
      }
    }
    expect(b.bestBid).toBe(Math.max(...ref[0]!.keys()));
    expect(b.bestAsk).toBe(Math.min(...ref[1]!.keys()));
  });
  test("grid window: after a snapshot, random updates while the market drifts far away equal a sorted reference; an off-unit price turns the grid off without losing a level", () => {
    let seed = 7;
    const rnd = () => ((seed = (seed * 1664525 + 1013904223) >>> 0) / 2 ** 32);
    const set = new BookSet(1);
    const b = set.add(0, BookRule.none, { levels: 200_000, pending: 0 });
    const ref = [new Map<number, number>(), new Map<number, number>()];
    const tb = new TickBuffer();
    const snap: Array<[number, number, number]> = [];
    for (let i = 0; i < 300; i++) snap.push([0, Number((999.9 - i / 10).toFixed(1)), 1 + i], [1, Number((1000 + i / 10).toFixed(1)), 1 + i]);
    diff(tb, 0, 0, 1, 0, snap, true);
    applyAll(set, tb);
    for (const [side, p, q] of snap) ref[side]!.set(p, q);
    expect(b.priceDigits).toBe(1);
    const check = () => {
      for (const s of [0, 1]) {
        const want = [...ref[s]!.entries()].sort((x, y) => (s ? x[0] - y[0] : y[0] - x[0]));
        expect(b.depth(s)).toBe(want.length);
        expect(b.levels(s)).toEqual(want);
      }
      expect(b.bestBid).toBe(Math.max(...ref[0]!.keys()));
      expect(b.bestAsk).toBe(Math.min(...ref[1]!.keys()));
    };
    // the mid walks from 1000 to ~13000 and back: far outside the first window (65536 units of 0.1)
    let mid = 1000;
    for (let step = 0; step < 400; step++) {
      mid += step < 200 ? 60 : -59;
      const levels: Array<[number, number, number]> = [];
      for (let k = 0; k < 40; k++) {
        const side = rnd() < 0.5 ? 0 : 1;
        const off = Math.floor(rnd() * 400) / 10 + 0.1;
        const price = Number((side ? mid + off : mid - off).toFixed(1));
        const size = rnd() < 0.3 ? 0 : Math.round(rnd() * 100) + 1;
        levels.push([side, price, size]);
      }
      // keep the book uncrossed: clear the other side's levels that the new mid passed
      for (const [p] of ref[0]!) if (p >= mid) levels.push([0, p, 0]);
      for (const [p] of ref[1]!) if (p <= mid) levels.push([1, p, 0]);
      diff(tb, 0, 0, step + 2, 0, levels);
      applyAll(set, tb);
      for (const [side, p, q] of levels) {
        if (q > 0) ref[side]!.set(p, q);
        else ref[side]!.delete(p);
      }
      if (step % 50 === 49) check();
    }
    expect(b.counters().recenters).toBeGreaterThan(2);
    check();
    // a price finer than the unit the snapshot showed: the grid goes, every level stays
    diff(tb, 0, 0, 999, 0, [[0, 10.05, 3]]);
    applyAll(set, tb);
    ref[0]!.set(10.05, 3);
    expect(b.priceDigits).toBe(-2);
    check();
  });

  test("a book initialised over reused memory holds only the levels it is given (the grid windows start empty)", () => {
    const set = new BookSet(1);
    const b = set.add(0, BookRule.none, { levels: 1000, pending: 0 });
    // what a reused block might hold: every byte set, so every grid slot reads as a size
    const { mem } = b as unknown as { mem: AlignedBuffer };
    new Uint8Array(mem.buffer, mem.byteOffset, mem.bytes).fill(0x3f);
    expect(K.bot4_book_init(b.ptr, 1000, 0, BookRule.none, 0)).toBe(0);
    const tb = new TickBuffer();
    diff(tb, 0, 0, 1, 0, [[0, 100.5, 2], [0, 100.4, 3], [1, 100.6, 4], [1, 100.8, 5]], true);
    applyAll(set, tb);
    expect(b.priceDigits).toBe(1);
    expect(b.levels(0)).toEqual([[100.5, 2], [100.4, 3]]);
    expect(b.levels(1)).toEqual([[100.6, 4], [100.8, 5]]);
    diff(tb, 0, 0, 2, 0, [[0, 100.3, 1], [1, 100.6, 0]]);
    applyAll(set, tb);
    expect(b.levels(0)).toEqual([[100.5, 2], [100.4, 3], [100.3, 1]]);
    expect(b.levels(1)).toEqual([[100.8, 5]]);
    expect(b.synced).toBe(true);
  });

  test("a full side drops its worst level for a better one and refuses a worse one (counted)", () => {
    const b = new CBook(0, BookRule.none, { levels: 3, pending: 0 });
    for (const p of [10, 9, 8]) b.set(0, p, 1);
    b.set(0, 7, 1); // worse than all: refused
    expect(b.levels(0)).toEqual([[10, 1], [9, 1], [8, 1]]);
    b.set(0, 9.5, 2); // better: 8 goes
    expect(b.levels(0)).toEqual([[10, 1], [9.5, 2], [9, 1]]);
    b.set(0, 9, 3); // update of a held level is not a truncation
    expect(b.counters().truncated).toBe(2);
    expect(b.levels(0)).toEqual([[10, 1], [9.5, 2], [9, 3]]);
  });
});

describe("Binance sequence procedure", () => {
  const snapshotAt = (tb: TickBuffer, L: number, bid = 100, ask = 101) => diff(tb, 0, 0, L, 0, [[0, bid, 1], [0, bid - 1, 2], [1, ask, 1], [1, ask + 1, 2]], true);

  test("futures: diffs buffered before the snapshot bridge it (pu chain), then a gap clears the book and asks for a resync", () => {
    const set = new BookSet(1);
    const b = set.add(0, BookRule.binanceFutures);
    const tb = new TickBuffer();
    diff(tb, 0, 90, 95, 89, [[0, 99.5, 1]]); // stale once the snapshot (L=100) is in
    diff(tb, 0, 96, 102, 95, [[0, 100, 5]]); // straddles L=100: U <= L <= u
    expect(applyAll(set, tb)).toBe(0);
    expect(b.state).toBe(BookState.needSnapshot);
    expect(b.synced).toBe(false);
    snapshotAt(tb, 100);
    applyAll(set, tb);
    expect(b.synced).toBe(true);
    expect(b.levels(0)).toEqual([[100, 5], [99, 2]]);
    expect(b.counters()).toMatchObject({ stale: 1, buffered: 2, applied: 1, snapshots: 1, gaps: 0 });
    diff(tb, 0, 103, 104, 102, [[1, 101, 0]]);
    applyAll(set, tb);
    expect(b.bestAsk).toBe(102);
    diff(tb, 0, 106, 107, 105, [[0, 100.5, 1]]); // pu 105 != 104: gap
    expect(applyAll(set, tb)).toBe(1);
    expect(b.synced).toBe(false);
    expect(b.depth(0) + b.depth(1)).toBe(0);
    expect(b.problem).toEqual({ what: "gap", at: 107 });
    expect(b.counters()).toMatchObject({ gaps: 1, resyncRequests: 1, buffered: 3 });
    // a snapshot that the buffered diff bridges brings the book back
    diff(tb, 0, 0, 106, 0, [[0, 100, 1], [1, 101, 1]], true);
    applyAll(set, tb);
    expect(b.synced).toBe(true);
    expect(b.bestBid).toBe(100.5);
    expect(b.lastSeq).toBe(107);
  });

  test("spot: U == previous u + 1; a snapshot older than the first buffered diff is rejected and another is asked for", () => {
    const set = new BookSet(1);
    const b = set.add(0, BookRule.binanceSpot);
    const tb = new TickBuffer();
    diff(tb, 0, 200, 210, -1, [[0, 100, 3]]);
    snapshotAt(tb, 150); // 150 + 1 < U = 200: the snapshot cannot be bridged
    expect(applyAll(set, tb)).toBe(1);
    expect(b.synced).toBe(false);
    expect(b.counters()).toMatchObject({ snapshotsRejected: 1, resyncRequests: 1 });
    expect(b.problem?.what).toBe("snapshot too old");
    snapshotAt(tb, 205);
    diff(tb, 0, 211, 215, -1, [[1, 101, 0]]);
    applyAll(set, tb);
    expect(b.synced).toBe(true);
    expect(b.bestBid).toBe(100);
    expect(b.levels(0)[0]).toEqual([100, 3]);
    expect(b.bestAsk).toBe(102);
    diff(tb, 0, 211, 215, -1, [[0, 50, 1]]); // duplicate of an applied diff: stale, skipped
    applyAll(set, tb);
    expect(b.synced).toBe(true);
    expect(b.counters().stale).toBe(1);
    expect(b.depth(0)).toBe(2);
  });

  test("futures: a snapshot taken exactly between two diffs is bridged by the diff whose pu is its id", () => {
    const set = new BookSet(1);
    const b = set.add(0, BookRule.binanceFutures);
    const tb = new TickBuffer();
    snapshotAt(tb, 100);
    diff(tb, 0, 105, 110, 100, [[0, 100.5, 1]]); // U > L, but pu == L: continues the snapshot
    applyAll(set, tb);
    expect(b.synced).toBe(true);
    expect(b.bestBid).toBe(100.5);
    const c = set.add(0, BookRule.binanceFutures); // fresh book: a diff after a gap is still refused
    snapshotAt(tb, 100);
    diff(tb, 0, 105, 110, 101, [[0, 100.5, 1]]);
    applyAll(set, tb);
    expect(c.synced).toBe(false);
    expect(c.problem?.what).toBe("snapshot too old");
  });

  test("a diff that crosses the book desyncs it; an empty diff keeps the chain; pending overflow is counted", () => {
    const set = new BookSet(1);
    const b = set.add(0, BookRule.binanceFutures, { pending: 4 });
    const tb = new TickBuffer();
    snapshotAt(tb, 10);
    diff(tb, 0, 10, 11, 9, []);
    diff(tb, 0, 12, 12, 11, [[0, 101.5, 1]]); // bid above the best ask
    expect(applyAll(set, tb)).toBe(1);
    expect(b.counters()).toMatchObject({ crossed: 1, applied: 2 });
    expect(b.synced).toBe(false);
    for (let u = 13; u < 20; u++) diff(tb, 0, u, u, u - 1, [[0, 99, u]]);
    applyAll(set, tb);
    expect(b.counters().pendDropped).toBe(4);
    expect(b.problem?.what).toBe("crossed"); // the cause stays named; the overflow is counted apart
  });

  test("a STATUS record (the feed lost the stream) clears a synced book and makes it wait for a snapshot", () => {
    const set = new BookSet(1);
    const b = set.add(0, BookRule.binanceFutures);
    const tb = new TickBuffer();
    snapshotAt(tb, 10);
    diff(tb, 0, 10, 11, 9, [[0, 100.5, 1]]);
    applyAll(set, tb);
    expect(b.synced).toBe(true);
    tb.push({ kind: TickKind.status, flags: TickFlag.last, venue: 2, instrument: 0, tsExchangeNs: 0, tsRecvNs: 0, price: 1, size: 0, seq: 0 });
    expect(applyAll(set, tb)).toBe(1);
    expect(b.synced).toBe(false);
    expect(b.depth(0) + b.depth(1)).toBe(0);
    expect(b.bestBid).toBeNaN();
    expect(b.problem?.what).toBe("stream interrupted");
    expect(b.counters().interruptions).toBe(1);
    diff(tb, 0, 14, 15, 13, [[0, 100.6, 1]]);
    snapshotAt(tb, 14);
    applyAll(set, tb);
    expect(b.synced).toBe(true);
    expect(b.bestBid).toBe(100.6);
  });

  test("a synced book with no update for longer than allowed goes stale: cleared, unusable, resync asked; a fresh one does not", () => {
    const set = new BookSet(2);
    const old = set.add(0, BookRule.binanceFutures), fresh = set.add(1, BookRule.binanceFutures);
    const tb = new TickBuffer();
    for (const inst of [0, 1]) {
      diff(tb, inst, 0, 10, 0, [[0, 100, 1], [1, 101, 1]], true);
      diff(tb, inst, 10, 11, 9, [[0, 100.5, 1]]);
    }
    const mem = alignedBuffer(tb.count * TICK_BYTES);
    const u32 = new Uint32Array(tb.u8.buffer, 0, tb.count * 16);
    for (let i = 0; i < tb.count; i++) u32[i * 16 + 2] = u32[i * 16 + 56 / 4] === 0 ? 1_000 : 5_000_000; // ts_recv_ns lo word
    new Uint8Array(mem.buffer, mem.byteOffset, tb.count * TICK_BYTES).set(tb.bytes());
    set.apply(mem.ptr, 0xffffffff, 0, tb.count);
    expect(old.lastRecvNs).toBe(1_000);
    expect(fresh.lastRecvNs).toBe(5_000_000);
    expect(set.checkStale(6_000_000, 2_000_000)).toBe(1);
    expect(old.synced).toBe(false);
    expect(old.problem?.what).toBe("stale");
    expect(old.counters()).toMatchObject({ staleBooks: 1, resyncRequests: 1 });
    expect(fresh.synced).toBe(true);
    expect(set.checkStale(6_000_000, 2_000_000)).toBe(0); // an unusable book is not stale again
  });

  test("a message split across batches is judged once, on its first record", () => {
    const whole = new BookSet(1), split = new BookSet(1);
    const a = whole.add(0, BookRule.binanceFutures), c = split.add(0, BookRule.binanceFutures);
    const tb = new TickBuffer();
    snapshotAt(tb, 10);
    diff(tb, 0, 10, 12, 9, [[0, 100.2, 1], [0, 100.1, 1], [1, 100.9, 4]]);
    diff(tb, 0, 13, 14, 12, [[0, 100.2, 0], [1, 100.8, 1]]);
    const mem = alignedBuffer(tb.count * TICK_BYTES);
    new Uint8Array(mem.buffer, mem.byteOffset, tb.count * TICK_BYTES).set(tb.bytes());
    whole.apply(mem.ptr, 0xffffffff, 0, tb.count);
    for (let i = 0; i < tb.count; i++) split.apply(mem.ptr, 0xffffffff, i, 1);
    expect(c.levels(0)).toEqual(a.levels(0));
    expect(c.levels(1)).toEqual(a.levels(1));
    expect(c.counters()).toEqual(a.counters());
    expect(a.bestAsk).toBe(100.8);
  });
});

describe.skipIf(!hasData)("real captures: C parser + C book", () => {
  const cases: Array<[string[], number]> = [
    [["hftbacktest/binance-usdm/btcusdt_20240808.gz"], BookRule.binanceFutures],
    [["hftbacktest/binance-spot/btcusdt_20240808.gz", "hftbacktest/binance-spot/btcusdt_20240809.gz"], BookRule.binanceSpot],
    [["hftbacktest/binance-coinm/ethusd_perp_20240808.gz", "hftbacktest/binance-coinm/ethusd_perp_20240809.gz"], BookRule.binanceFutures],
  ];
  for (const [files, rule] of cases) {
    test(`${files.join(" + ")}: same top 20 levels as the TypeScript book after every diff; bookTicker agrees at the same update id`, () => {
      const p = new BinanceParser(2);
      const set = new BookSet(1);
      const cb = set.add(0, rule);
      const ref = new L2Book("ref", "ref");
      const sync = new BinanceDepthSync(ref, rule === BookRule.binanceSpot ? "spot" : "futures");
      const topAt = new Map<number, [number, number]>();
      const tickers: Array<[number, number, number]> = [];
      let symbol = "", compared = 0;
      for (const file of files) {
        for (const line of readCaptureText(DATA + file).split("\n")) {
          const sp = line.indexOf(" ");
          if (sp < 0) continue;
          const body = line.slice(sp + 1);
          const m = JSON.parse(body);
          const d = m.data ?? m;
          if (!symbol && typeof d.s === "string") p.addSymbol((symbol = d.s), 0);
          const isDepth = d.e === "depthUpdate" || m.lastUpdateId !== undefined;
          if (!isDepth) {
            if (m.stream?.endsWith("@bookTicker")) tickers.push([d.u, Number(d.b), Number(d.a)]);
            continue;
          }
          const w = enc.encodeInto(body, inBytes).written!;
          const n = p.parse(inBuf.ptr, w, 1, out.ptr, CAP, 0);
          expect(n).toBeGreaterThan(0);
          set.apply(out.ptr, 0xffffffff, 0, n);
          if (m.lastUpdateId !== undefined) sync.onSnapshot(m);
          else sync.onDiff(d);
          expect(cb.synced).toBe(ref.synced);
          if (cb.synced) {
            compared++;
            topAt.set(cb.lastSeq, [cb.bestBid, cb.bestAsk]);
            if (compared % 50 === 0 || compared < 50) {
              for (const s of [0, 1]) {
                const mine = cb.levels(s, 20), theirs = ref.levels(s, 20);
                if (JSON.stringify(mine) !== JSON.stringify(theirs)) throw new Error(`books differ after update ${cb.lastSeq} side ${s}`);
              }
            } else if (cb.bestBid !== ref.bestBid || cb.bestAsk !== ref.bestAsk) {
              throw new Error(`tops differ after update ${cb.lastSeq}`);
            }
          }
        }
      }
      let checks = 0;
      for (const [u, bid, ask] of tickers) {
        const t = topAt.get(u);
        if (!t) continue;
        checks++;
        expect(t).toEqual([bid, ask]);
      }
      const c = cb.counters();
      expect(c.gaps + c.crossed + c.badLevels).toBe(0);
      expect(compared).toBeGreaterThan(1000);
      expect(checks).toBeGreaterThan(10);
    });
  }
});
