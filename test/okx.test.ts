/**
 * OKX `books` (there is no OKX capture here: every case is built from OKX's v5 documentation).
 * Expected checksums are computed in this file the most literal way the docs describe — sort the
 * reference book, take 25 levels a side, interleave "bidPx:bidSz:askPx:askSz:…", skip the missing
 * levels of the shorter side, CRC32 as a signed 32-bit integer — independently of OkxBookSync's
 * streaming CRC. Cases: the two documented check strings, a long random session against a
 * reference book, the no-change heartbeat, a sequence reset, a gap, a checksum mismatch, a crossed
 * book, a one-sided book, the deprecated zero checksum, malformed pushes, and normalisation to ticks.
 */
import { describe, expect, test } from "bun:test";
import { crc32 as zlibCrc32 } from "node:zlib";
import { ASK, BID, L2Book } from "../src/book/l2book.ts";
import { InstrumentTable, Venue } from "../src/domain/instruments.ts";
import { T, TICK_BYTES, TICK_F64, TickFlag, TickKind, readU64 } from "../src/domain/tick.ts";
import { TickBuffer } from "../src/domain/tick-buffer.ts";
import { OkxBooks, OkxBookSync, type OkxLevel } from "../src/feed/okx/book.ts";
import { normalizeOkxFrame, okxUnified } from "../src/feed/okx/normalize.ts";

/** A plain reference book: price text → size text per side, sorted on every use. */
class RefBook {
  bids = new Map<number, [string, string]>();
  asks = new Map<number, [string, string]>();
  apply(side: "bids" | "asks", lv: OkxLevel[]) {
    for (const [p, s] of lv) {
      if (Number(s) === 0) this[side].delete(Number(p));
      else this[side].set(Number(p), [p, s]);
    }
  }
  sorted(side: "bids" | "asks"): Array<[string, string]> {
    return [...this[side].entries()].sort((a, b) => (side === "bids" ? b[0] - a[0] : a[0] - b[0])).map((e) => e[1]);
  }
  /** OKX's rule, literally: 25 a side, bid:ask interleaved, the shorter side's gaps skipped */
  checksum(): number {
    const b = this.sorted("bids").slice(0, 25), a = this.sorted("asks").slice(0, 25);
    const parts: string[] = [];
    for (let i = 0; i < 25; i++) {
      if (b[i]) parts.push(`${b[i]![0]}:${b[i]![1]}`);
      if (a[i]) parts.push(`${a[i]![0]}:${a[i]![1]}`);
    }
    return zlibCrc32(parts.join(":")) | 0;
  }
}

const INST = "BTC-USDT";
const push = (action: "snapshot" | "update", d: Record<string, unknown>) => ({ arg: { channel: "books", instId: INST }, action, data: [{ ts: "1597026383085", ...d }] });
const lv = (p: string, s: string): OkxLevel => [p, s, "0", "1"];

describe("OKX checksum: the documented check strings", () => {
  test('more than 25 levels: bid and ask alternate → "3366.1:7:3366.8:9:3366:6:3368:8"', () => {
    const sync = new OkxBookSync(new L2Book("okx", INST));
    const bids = [["3366.1", "7", "0", "3"], ["3366", "6", "3", "4"]] as OkxLevel[];
    const asks = [["3366.8", "9", "10", "3"], ["3368", "8", "3", "4"]] as OkxLevel[];
    const cs = zlibCrc32("3366.1:7:3366.8:9:3366:6:3368:8") | 0;
    expect(sync.onMessage(push("snapshot", { asks, bids, checksum: cs, prevSeqId: -1, seqId: 10 }))).toBe("snapshot");
    expect(sync.checksum()).toBe(cs);
    expect(sync.counters.checksumsChecked).toBe(1);
  });

  test('fewer levels on one side: the missing ones are skipped → "3366.1:7:3366.8:9:3368:8:3372:8"', () => {
    const sync = new OkxBookSync(new L2Book("okx", INST));
    const bids = [["3366.1", "7", "0", "3"]] as OkxLevel[];
    const asks = [["3366.8", "9", "10", "3"], ["3368", "8", "3", "4"], ["3372", "8", "3", "4"]] as OkxLevel[];
    const cs = zlibCrc32("3366.1:7:3366.8:9:3368:8:3372:8") | 0;
    expect(sync.onMessage(push("snapshot", { asks, bids, checksum: cs, prevSeqId: -1, seqId: 10 }))).toBe("snapshot");
    expect(sync.counters.checksumMismatches).toBe(0);
    // a book with only asks
    const one = new OkxBookSync(new L2Book("okx", INST));
    expect(one.onMessage(push("snapshot", { asks, bids: [], checksum: zlibCrc32("3366.8:9:3368:8:3372:8") | 0, prevSeqId: -1, seqId: 1 }))).toBe("snapshot");
  });
});

describe("OKX books session against a reference book", () => {
  test("2,000 random updates over 60+ levels: every literal checksum agrees; strings kept as received", () => {
    let seed = 11;
    const rnd = () => (seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32;
    const ref = new RefBook();
    const sync = new OkxBookSync(new L2Book("okx", INST));
    // prices in 0.1 steps around 30000; sizes with varying decimals ("0.5", "12", "0.00012300" as sent)
    const price = (ticks: number) => (ticks / 10).toFixed(1);
    const size = () => [String(Math.ceil(rnd() * 40)), (rnd() * 3).toFixed(4), (rnd() / 100).toFixed(8)][Math.floor(rnd() * 3)]!;
    const bids: OkxLevel[] = Array.from({ length: 60 }, (_, i) => lv(price(300000 - 1 - i * 2), size()));
    const asks: OkxLevel[] = Array.from({ length: 70 }, (_, i) => lv(price(300000 + 1 + i * 2), size()));
    ref.apply("bids", bids);
    ref.apply("asks", asks);
    let seq = 1000;
    expect(sync.onMessage(push("snapshot", { asks, bids, checksum: ref.checksum(), prevSeqId: -1, seqId: seq }))).toBe("snapshot");
    for (let n = 0; n < 2000; n++) {
      const ub: OkxLevel[] = [], ua: OkxLevel[] = [];
      const k = 1 + Math.floor(rnd() * 6);
      for (let j = 0; j < k; j++) {
        const bid = rnd() < 0.5;
        const best = bid ? Math.round(Number(ref.sorted("asks")[0]?.[0] ?? 30100) * 10) - 1 : Math.round(Number(ref.sorted("bids")[0]?.[0] ?? 29900) * 10) + 1;
        const t = bid ? best - Math.floor(rnd() * 80) : best + Math.floor(rnd() * 80); // never crossing
        (bid ? ub : ua).push(lv(price(t), rnd() < 0.3 ? "0" : size()));
      }
      ref.apply("bids", ub);
      ref.apply("asks", ua);
      const prev = seq;
      seq += 1 + Math.floor(rnd() * 3);
      const r = sync.onMessage(push("update", { asks: ua, bids: ub, checksum: ref.checksum(), prevSeqId: prev, seqId: seq }));
      expect(r).toBe("applied");
    }
    expect(sync.counters.checksumsChecked).toBe(2001);
    expect(sync.counters.checksumMismatches).toBe(0);
    expect(sync.book.synced).toBe(true);
    expect(sync.book.lastSeq).toBe(seq);
    const top = ref.sorted("asks")[0]!;
    expect(sync.levelStrings(ASK, 0)).toEqual(top);
    expect(sync.book.levels(BID).length).toBe(ref.bids.size);
  });
});

describe("OKX sequencing (the documented example: snapshot 10, update 10→15, no-change 15→15, reset 15→3, update 3→5)", () => {
  const ref = new RefBook();
  const bids = [lv("3366.1", "7"), lv("3366", "6"), lv("3365.5", "0.25")];
  const asks = [lv("3366.8", "9"), lv("3368", "8")];

  test("the whole documented chain is accepted", () => {
    ref.apply("bids", bids);
    ref.apply("asks", asks);
    const sync = new OkxBookSync(new L2Book("okx", INST));
    expect(sync.onMessage(push("snapshot", { asks, bids, checksum: ref.checksum(), prevSeqId: -1, seqId: 10 }))).toBe("snapshot");
    ref.apply("asks", [lv("3366.8", "0"), lv("3367", "2")]);
    expect(sync.onMessage(push("update", { asks: [lv("3366.8", "0"), lv("3367", "2")], bids: [], checksum: ref.checksum(), prevSeqId: 10, seqId: 15 }))).toBe("applied");
    expect(sync.onMessage(push("update", { asks: [], bids: [], checksum: ref.checksum(), prevSeqId: 15, seqId: 15 }))).toBe("heartbeat");
    ref.apply("bids", [lv("3366", "6.5")]);
    expect(sync.onMessage(push("update", { asks: [], bids: [lv("3366", "6.5")], checksum: ref.checksum(), prevSeqId: 15, seqId: 3 }))).toBe("applied");
    ref.apply("bids", [lv("3366.2", "1")]);
    expect(sync.onMessage(push("update", { asks: [], bids: [lv("3366.2", "1")], checksum: ref.checksum(), prevSeqId: 3, seqId: 5 }))).toBe("applied");
    expect(sync.counters).toMatchObject({ snapshots: 1, applied: 3, heartbeats: 1, resets: 1, gaps: 0, checksumsChecked: 5, checksumMismatches: 0 });
    expect(sync.book.lastSeq).toBe(5);
    expect(sync.book.bestBid).toBe(3366.2);
    expect(sync.book.bestAsk).toBe(3367);
    expect(sync.book.synced).toBe(true);
  });

  test("a gap: unusable, counted, resync asked; updates skipped; the new snapshot recovers", () => {
    const sync = new OkxBookSync(new L2Book("okx", INST));
    const r0 = new RefBook();
    r0.apply("bids", bids);
    r0.apply("asks", asks);
    sync.onMessage(push("snapshot", { asks, bids, checksum: r0.checksum(), prevSeqId: -1, seqId: 10 }));
    expect(sync.onMessage(push("update", { asks: [lv("3368", "1")], bids: [], checksum: 1, prevSeqId: 12, seqId: 15 }))).toBe("gap");
    expect(sync.book.synced).toBe(false);
    expect(sync.book.depth(BID)).toBe(0);
    expect(sync.resyncRequested).toBe(true);
    expect(sync.lastProblem).toContain("previous seqId 10, this update prevSeqId 12");
    expect(sync.onMessage(push("update", { asks: [], bids: [], checksum: 1, prevSeqId: 15, seqId: 16 }))).toBe("skipped");
    // a no-change message whose prevSeqId is not the last seqId is a gap too
    sync.onMessage(push("snapshot", { asks, bids, checksum: r0.checksum(), prevSeqId: -1, seqId: 20 }));
    expect(sync.onMessage(push("update", { asks: [], bids: [], checksum: r0.checksum(), prevSeqId: 21, seqId: 21 }))).toBe("gap");
    sync.resyncSent();
    expect(sync.onMessage(push("snapshot", { asks, bids, checksum: r0.checksum(), prevSeqId: -1, seqId: 30 }))).toBe("snapshot");
    expect(sync.book.synced).toBe(true);
    expect(sync.counters).toMatchObject({ gaps: 2, resyncs: 2, skipped: 1, snapshots: 3 });
  });

  test("a checksum mismatch (one wrong size), a crossed book, a mismatching no-change message", () => {
    const sync = new OkxBookSync(new L2Book("okx", INST));
    const r = new RefBook();
    r.apply("bids", bids);
    r.apply("asks", asks);
    sync.onMessage(push("snapshot", { asks, bids, checksum: r.checksum(), prevSeqId: -1, seqId: 10 }));
    // the venue changed 3366 to 6.5, we were sent 6.6 (one corrupted level)
    const want = new RefBook();
    want.apply("bids", bids);
    want.apply("asks", asks);
    want.apply("bids", [lv("3366", "6.5")]);
    expect(sync.onMessage(push("update", { asks: [], bids: [lv("3366", "6.6")], checksum: want.checksum(), prevSeqId: 10, seqId: 11 }))).toBe("mismatch");
    expect(sync.book.synced).toBe(false);
    expect(sync.resyncRequested).toBe(true);
    expect(sync.lastProblem).toContain("checksum mismatch");
    sync.onMessage(push("snapshot", { asks, bids, checksum: r.checksum(), prevSeqId: -1, seqId: 20 }));
    expect(sync.onMessage(push("update", { asks: [], bids: [lv("3367", "1")], checksum: 0, prevSeqId: 20, seqId: 21 }))).toBe("crossed");
    expect(sync.book.synced).toBe(false);
    sync.onMessage(push("snapshot", { asks, bids, checksum: r.checksum(), prevSeqId: -1, seqId: 30 }));
    expect(sync.onMessage(push("update", { asks: [], bids: [], checksum: r.checksum() ^ 1, prevSeqId: 30, seqId: 30 }))).toBe("mismatch");
    expect(sync.counters).toMatchObject({ checksumMismatches: 2, crossed: 1, resyncs: 3 });
  });

  test("checksum 0 (deprecated field) is not checked; malformed pushes are counted and never leave a wrong book", () => {
    const sync = new OkxBookSync(new L2Book("okx", INST));
    expect(sync.onMessage(push("snapshot", { asks, bids, checksum: 0, prevSeqId: -1, seqId: 10 }))).toBe("snapshot");
    expect(sync.counters.checksumZero).toBe(1);
    expect(sync.onMessage(push("update", { asks: [lv("3368", "3")], bids: [], checksum: 0, prevSeqId: 10, seqId: 11 }))).toBe("applied");
    expect(sync.counters.checksumsChecked).toBe(0);
    expect(sync.onMessage({ arg: { channel: "books", instId: INST }, action: "partial", data: [] })).toBe("malformed");
    expect(sync.book.synced).toBe(true); // nothing applied
    expect(sync.onMessage(push("update", { asks: [["x", "1"]], bids: [], checksum: 5, prevSeqId: 11, seqId: 12 }))).toBe("malformed");
    expect(sync.book.synced).toBe(false);
    sync.onMessage(push("snapshot", { asks, bids, checksum: 0, prevSeqId: -1, seqId: 10 }));
    expect(sync.onMessage(push("update", { asks: [], bids: [], checksum: 5, seqId: 12 }))).toBe("malformed"); // no prevSeqId
    expect(sync.onMessage(push("snapshot", { asks, bids: "none", seqId: 1 }))).toBe("malformed");
    expect(sync.onMessage(push("snapshot", { asks, bids, checksum: 2 ** 40, prevSeqId: -1, seqId: 1 }))).toBe("malformed");
    expect(sync.counters.malformed).toBe(5);
    expect(sync.book.synced).toBe(false);
  });

  test("OkxBooks routes by instId and ignores other channels and events", () => {
    const books = new OkxBooks();
    expect(books.onMessage({ event: "subscribe", arg: { channel: "books", instId: INST } })).toBeNull();
    expect(books.onMessage({ arg: { channel: "trades", instId: INST }, data: [] })).toBeNull();
    const r0 = new RefBook();
    r0.apply("bids", bids);
    r0.apply("asks", asks);
    expect(books.onMessage(push("snapshot", { asks, bids, checksum: r0.checksum(), prevSeqId: -1, seqId: 10 }))!.result).toBe("snapshot");
    expect(books.byInst.get(INST)!.book.synced).toBe(true);
  });
});

describe("normalizeOkxFrame", () => {
  const at = (buf: TickBuffer, i: number) => ({
    kind: buf.u8[i * TICK_BYTES + T.KIND_U8],
    flags: buf.u8[i * TICK_BYTES + T.FLAGS_U8],
    price: buf.f64[i * TICK_F64 + T.PRICE_F64],
    size: buf.f64[i * TICK_F64 + T.SIZE_F64],
    seq: readU64(buf.u32, i * (TICK_BYTES / 4) + T.SEQ_U32),
    exch: buf.u64[i * TICK_F64],
    recv: buf.u64[i * TICK_F64 + 1],
    inst: buf.u32[i * (TICK_BYTES / 4) + T.INSTRUMENT_U32],
    venue: buf.u16[i * (TICK_BYTES / 2) + T.VENUE_U16],
  });

  test("trades: one TRADE per fill, sell flag when the taker sold, LAST on the final record", () => {
    const buf = new TickBuffer(4);
    const inst = new InstrumentTable();
    const frame = { arg: { channel: "trades", instId: "BTC-USDT" }, data: [
      { instId: "BTC-USDT", tradeId: "130639474", px: "42219.9", sz: "0.12060306", side: "buy", ts: "1630048897897", count: "3" },
      { instId: "BTC-USDT", tradeId: "130639475", px: "42219.8", sz: "0.5", side: "sell", ts: "1630048897898", count: "1" },
    ] };
    expect(normalizeOkxFrame(frame, 123n, inst, buf)).toBe(2);
    const a = at(buf, 0), b = at(buf, 1);
    expect(a).toMatchObject({ kind: TickKind.trade, flags: 0, price: 42219.9, size: 0.12060306, seq: 130639474, exch: 1630048897897000000n, recv: 123n, venue: Venue.okx });
    expect(b).toMatchObject({ kind: TickKind.trade, flags: TickFlag.sell | TickFlag.last, price: 42219.8, seq: 130639475 });
    expect(inst.symbols).toEqual(["BTC/USDT"]);
  });

  test("books: LEVEL records, ask/snapshot flags, seq = seqId, LAST on the final record; unknown frames append nothing", () => {
    const buf = new TickBuffer(2);
    const inst = new InstrumentTable();
    const snap = { arg: { channel: "books", instId: "BTC-USDT-SWAP" }, action: "snapshot", data: [{ asks: [lv("3366.8", "9"), lv("3368", "8")], bids: [lv("3366.1", "7")], ts: "1597026383085", checksum: 1, prevSeqId: -1, seqId: 123456 }] };
    expect(normalizeOkxFrame(snap, 5n, inst, buf)).toBe(3);
    const recs = [0, 1, 2].map((i) => at(buf, i));
    expect(recs.map((r) => [r.flags, r.price, r.size])).toEqual([
      [TickFlag.snapshot, 3366.1, 7],
      [TickFlag.snapshot | TickFlag.ask, 3366.8, 9],
      [TickFlag.snapshot | TickFlag.ask | TickFlag.last, 3368, 8],
    ]);
    expect(recs.every((r) => r.kind === TickKind.level && r.seq === 123456 && r.exch === 1597026383085000000n)).toBe(true);
    expect(inst.symbols).toEqual(["BTC/USDT:USDT"]);
    const upd = { arg: { channel: "books", instId: "BTC-USDT-SWAP" }, action: "update", data: [{ asks: [lv("3368", "0")], bids: [], ts: "1597026383086", checksum: 1, prevSeqId: 123456, seqId: 123457 }] };
    expect(normalizeOkxFrame(upd, 6n, inst, buf)).toBe(1);
    expect(at(buf, 3)).toMatchObject({ flags: TickFlag.ask | TickFlag.last, price: 3368, size: 0, seq: 123457 });
    // the no-change message, other channels, events, junk: nothing
    expect(normalizeOkxFrame({ ...upd, data: [{ asks: [], bids: [], prevSeqId: 123457, seqId: 123457, checksum: 1, ts: "1" }] }, 7n, inst, buf)).toBe(0);
    expect(normalizeOkxFrame({ event: "subscribe", arg: { channel: "books" } }, 7n, inst, buf)).toBe(0);
    expect(normalizeOkxFrame({ arg: { channel: "tickers", instId: "BTC-USDT" }, data: [{}] }, 7n, inst, buf)).toBe(0);
    expect(normalizeOkxFrame("pong", 7n, inst, buf)).toBe(0);
    expect(normalizeOkxFrame(null, 7n, inst, buf)).toBe(0);
    expect(normalizeOkxFrame({ arg: { channel: "trades", instId: "X-Y" }, data: [{ px: "abc", sz: "1", side: "buy", ts: "1", tradeId: "1" }] }, 7n, inst, buf)).toBe(0);
    expect(buf.count).toBe(4);
  });

  test("instrument ids map to ccxt's unified symbols", () => {
    expect(okxUnified("BTC-USDT")).toBe("BTC/USDT");
    expect(okxUnified("BTC-USDT-SWAP")).toBe("BTC/USDT:USDT");
    expect(okxUnified("BTC-USD-SWAP")).toBe("BTC/USD:BTC");
    expect(okxUnified("BTC-USD-240628")).toBe("BTC/USD:BTC-240628");
    expect(okxUnified("ETH-USDT-240628")).toBe("ETH/USDT:USDT-240628");
    expect(okxUnified("BTC-USD-240628-60000-C")).toBe("BTC-USD-240628-60000-C");
  });
});
