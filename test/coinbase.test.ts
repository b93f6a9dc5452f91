/**
 * Coinbase Advanced Trade level2: snapshot then updates (new_quantity replaces, "0" removes), the
 * connection-wide sequence_num (a gap clears every book on the connection and asks for their
 * resubscribe; duplicates and reordered frames are skipped), malformed events, crossed books and
 * error frames; then the real capture in ../shared/data replayed with 0 gaps, never crossed, and
 * both final books equal to an independent plain-Map rebuild; damaged copies of it are caught.
 */
import { describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { ASK, BID } from "../src/book/l2book.ts";
import { verifyCoinbaseCapture } from "../src/book/verify-coinbase.ts";
import { CoinbaseBookSync } from "../src/feed/coinbase/book.ts";
import { CryptofeedV3Reader } from "../src/feed/cryptofeed-v3.ts";
import { readCaptureText } from "../src/feed/recording.ts";
import { coinbaseUnified, isoToNs, normalizeCoinbaseFrame } from "../src/feed/coinbase/normalize.ts";
import { InstrumentTable, Venue } from "../src/domain/instruments.ts";
import { T, TICK_BYTES, TICK_F64, TickFlag, TickKind } from "../src/domain/tick.ts";
import { TickBuffer } from "../src/domain/tick-buffer.ts";

const DATA = fileURLToPath(new URL("../../shared/data/", import.meta.url));
const CB = join(DATA, "cryptofeed-v3", "COINBASE.jsonl.gz");
const haveData = existsSync(CB);
if (!haveData) console.warn(`[coinbase.test] ${CB} is absent: the real-data tests are skipped`);

type Upd = [side: "bid" | "offer", price: number, qty: number];
const l2 = (seq: number, type: "snapshot" | "update", product: string, ups: Upd[]) => ({
  channel: "l2_data",
  timestamp: "2026-08-09T21:05:48.483587501Z",
  sequence_num: seq,
  events: [{ type, product_id: product, updates: ups.map(([side, p, q]) => ({ side, event_time: "2026-08-09T21:05:48.170326Z", price_level: String(p), new_quantity: String(q) })) }],
});
const hb = (seq: number) => ({ channel: "heartbeats", timestamp: "2026-08-09T21:05:48Z", sequence_num: seq, events: [{ current_time: "x", heartbeat_counter: seq }] });

describe("CoinbaseBookSync", () => {
  test("snapshot then updates: new_quantity replaces, 0 removes; other channels counted", () => {
    const s = new CoinbaseBookSync();
    expect(s.onMessage(l2(0, "update", "BTC-USD", [["bid", 10, 1]]))).toBe("book"); // before its snapshot: dropped
    expect(s.product("BTC-USD").discarded).toBe(1);
    expect(s.onMessage(l2(1, "snapshot", "BTC-USD", [["bid", 10, 1], ["bid", 9, 2], ["offer", 11, 1], ["offer", 12, 3]]))).toBe("book");
    expect(s.onMessage(hb(2))).toBe("other");
    expect(s.onMessage(l2(3, "update", "BTC-USD", [["bid", 10, 0], ["bid", 9, 5], ["offer", 10.5, 1]]))).toBe("book");
    const b = s.product("BTC-USD").book;
    expect(b.synced).toBe(true);
    expect(b.levels(BID)).toEqual([[9, 5]]);
    expect(b.levels(ASK)).toEqual([[10.5, 1], [11, 1], [12, 3]]);
    expect(b.lastSeq).toBe(3);
    for (const [i, channel] of ["subscriptions", "market_trades", "ticker", "candles", "status"].entries()) expect(s.onMessage({ channel, sequence_num: 4 + i, events: [] })).toBe("other");
    expect(s.counters).toMatchObject({ snapshots: 1, diffs: 2, applied: 1, discarded: 1, heartbeats: 1, subscriptions: 1, marketTrades: 1, tickers: 1, candles: 1, otherChannels: 1, gaps: 0 });
  });

  test("a sequence_num gap clears EVERY book on the connection and asks for all of them; snapshots recover", () => {
    const s = new CoinbaseBookSync();
    s.onMessage(l2(10, "snapshot", "BTC-USD", [["bid", 10, 1], ["offer", 11, 1]]));
    s.onMessage(l2(11, "snapshot", "ETH-USD", [["bid", 1, 1], ["offer", 2, 1]]));
    s.onMessage(l2(12, "update", "BTC-USD", [["bid", 10, 2]]));
    // 13 is lost (it was a heartbeat, but we cannot know that)
    expect(s.onMessage(l2(14, "update", "ETH-USD", [["bid", 1, 5]]))).toBe("gap");
    for (const p of ["BTC-USD", "ETH-USD"]) {
      expect(s.product(p).book.synced).toBe(false);
      expect(s.product(p).book.depth(BID)).toBe(0);
    }
    expect(s.lastProblem).toBe("sequence_num gap on the connection: expected 13, got 14 (1 lost)");
    expect(s.takeResubscribe().sort()).toEqual(["BTC-USD", "ETH-USD"]);
    expect(s.product("ETH-USD").discarded).toBe(1); // the update that revealed the gap is not applied
    expect(s.onMessage(l2(15, "update", "BTC-USD", [["bid", 10, 3]]))).toBe("book");
    expect(s.product("BTC-USD").discarded).toBe(1);
    s.onMessage(l2(16, "snapshot", "BTC-USD", [["bid", 10, 7], ["offer", 11, 1]]));
    expect(s.product("BTC-USD").book.synced).toBe(true);
    expect(s.product("ETH-USD").book.synced).toBe(false);
    s.onMessage(l2(17, "snapshot", "ETH-USD", [["bid", 1, 9], ["offer", 2, 1]]));
    expect(s.product("ETH-USD").book.top()).toEqual({ bid: 1, bidSize: 9, ask: 2, askSize: 1 });
    expect(s.counters).toMatchObject({ gaps: 1, resyncs: 2, snapshots: 4 });
  });

  test("duplicate and reordered sequence_num frames are skipped", () => {
    const s = new CoinbaseBookSync();
    s.onMessage(l2(0, "snapshot", "BTC-USD", [["bid", 10, 1], ["offer", 11, 1]]));
    s.onMessage(l2(1, "update", "BTC-USD", [["bid", 10, 2]]));
    expect(s.onMessage(l2(1, "update", "BTC-USD", [["bid", 10, 99]]))).toBe("stale");
    expect(s.onMessage(l2(0, "update", "BTC-USD", [["bid", 10, 98]]))).toBe("stale");
    expect(s.product("BTC-USD").book.size(BID, 0)).toBe(2);
    expect(s.product("BTC-USD").book.synced).toBe(true);
    // a swapped pair: 3 before 2 — 3 reveals a gap, 2 is then old
    expect(s.onMessage(l2(3, "update", "BTC-USD", []))).toBe("gap");
    expect(s.onMessage(l2(2, "update", "BTC-USD", []))).toBe("stale");
    expect(s.counters).toMatchObject({ stale: 3, gaps: 1 });
  });

  test("malformed frames and events, crossed books, error frames: counted, never a wrong book", () => {
    const s = new CoinbaseBookSync();
    s.onMessage(l2(0, "snapshot", "BTC-USD", [["bid", 10, 1], ["offer", 11, 1]]));
    // the good first update must not be applied when a later one is bad
    const badSide = l2(1, "update", "BTC-USD", [["bid", 10, 5]]);
    (badSide.events[0]!.updates as Array<Record<string, string>>).push({ side: "ask", price_level: "11", new_quantity: "1", event_time: "" });
    expect(s.onMessage(badSide)).toBe("malformed");
    expect(s.product("BTC-USD").book.synced).toBe(false);
    expect(s.product("BTC-USD").lastProblem).toMatch(/update 1 has side "ask"/);
    s.onMessage(l2(2, "snapshot", "BTC-USD", [["bid", 10, 1], ["offer", 11, 1]]));
    expect(s.onMessage(l2(3, "update", "BTC-USD", [["bid", Number.NaN, 1]]))).toBe("malformed");
    s.onMessage(l2(4, "snapshot", "BTC-USD", [["bid", 10, 1], ["offer", 11, 1]]));
    expect(s.onMessage(l2(5, "update", "BTC-USD", [["bid", 11.5, 1]]))).toBe("book");
    expect(s.product("BTC-USD").book.synced).toBe(false);
    expect(s.product("BTC-USD").crossed).toBe(1);
    expect(s.onMessage({ type: "error", message: "failure to subscribe" })).toBe("error");
    expect(s.errorMessages).toEqual(["failure to subscribe"]);
    expect(s.onMessage({ channel: "l2_data", events: [] })).toBe("malformed"); // no sequence_num
    expect(s.onMessage("hello")).toBe("malformed");
    expect(s.onMessage({ sequence_num: 6, events: [] })).toBe("malformed"); // no channel
    expect(s.onMessage({ channel: "l2_data", sequence_num: 7, events: [{ type: "refresh", product_id: "BTC-USD", updates: [] }] })).toBe("malformed");
    expect(s.counters).toMatchObject({ errors: 1, crossed: 1, gaps: 0 });
    expect(s.counters.malformed).toBe(6);
  });
});

// ---- real data -------------------------------------------------------------------------------

function frames(): Array<{ line: number; f: Record<string, unknown> }> {
  const r = CryptofeedV3Reader.open(CB);
  const out: Array<{ line: number; f: Record<string, unknown> }> = [];
  for (const e of r.entries()) if (e.kind === "recv") out.push({ line: e.line, f: JSON.parse(e.frame) });
  return out;
}

/** Independent rebuild: Maps per product, snapshot resets, quantity 0 deletes. */
function rebuild(fs: Array<{ f: Record<string, unknown> }>): Map<string, { bids: Map<number, number>; asks: Map<number, number> }> {
  const books = new Map<string, { bids: Map<number, number>; asks: Map<number, number> }>();
  for (const { f } of fs) {
    if (f.channel !== "l2_data") continue;
    for (const e of f.events as Array<{ type: string; product_id: string; updates: Array<{ side: string; price_level: string; new_quantity: string }> }>) {
      if (e.type === "snapshot") books.set(e.product_id, { bids: new Map(), asks: new Map() });
      const b = books.get(e.product_id)!;
      for (const u of e.updates) {
        const m = u.side === "bid" ? b.bids : b.asks;
        if (Number(u.new_quantity) === 0) m.delete(Number(u.price_level));
        else m.set(Number(u.price_level), Number(u.new_quantity));
      }
    }
  }
  return books;
}
const sorted = (m: Map<number, number>, desc: boolean) => [...m.entries()].sort((x, y) => (desc ? y[0] - x[0] : x[0] - y[0]));

describe.skipIf(!haveData)("real capture", () => {
  test("COINBASE.jsonl.gz: sequence_num gap-free, never crossed, final books equal to the independent rebuild", () => {
    const fs = frames();
    const s = new CoinbaseBookSync();
    let checked = 0;
    for (const { f } of fs) {
      const res = s.onMessage(f);
      expect(res === "book" || res === "other").toBe(true);
      if (f.channel === "l2_data") {
        for (const p of s.products.values()) if (p.book.synced) expect(p.book.crossed).toBe(false);
        checked++;
      }
    }
    expect(checked).toBe(775);
    expect(s.counters).toMatchObject({ gaps: 0, stale: 0, crossed: 0, malformed: 0, snapshots: 2, applied: 773, heartbeats: 25, marketTrades: 59, tickers: 160 });
    const ref = rebuild(fs);
    expect([...ref.keys()].sort()).toEqual(["BTC-USD", "ETH-USD"]);
    for (const [pid, r] of ref) {
      const b = s.product(pid).book;
      expect(b.synced).toBe(true);
      expect(b.levels(BID)).toEqual(sorted(r.bids, true));
      expect(b.levels(ASK)).toEqual(sorted(r.asks, false));
      expect((b.bestAsk - b.bestBid) / b.bestBid).toBeLessThan(0.001);
    }
    expect(s.product("BTC-USD").book.bestBid).toBeGreaterThan(60_000);
    expect(s.product("ETH-USD").book.bestBid).toBeGreaterThan(1_500);
  });

  test("verifyCoinbaseCapture: clean; no exact ticker check is claimed; pinned ticker tops mostly agree", () => {
    const r = verifyCoinbaseCapture([CB]);
    expect(r).toMatchObject({ lines: 1038, malformed: 0, sequenceGaps: 0, resyncs: 0, crossed: 0, errors: 0, stale: 0, bookUpdates: 773, topChecks: 0 });
    expect(r.channels).toEqual({ l2: 775, heartbeats: 25, subscriptions: 5, marketTrades: 59, tickers: 160, candles: 6, other: 0 });
    expect(r.instruments.every((i) => i.synced)).toBe(true);
    const t = r.tickerAgreement;
    expect(t.tickers).toBe(160);
    expect(t.pinned + t.moved + t.outside).toBe(160);
    // BTC-USD agrees everywhere its top is pinned; ETH-USD shows a few tops that moved inside a batch
    const btc = r.instruments.find((i) => i.symbol === "BTC-USD")!.tickerAgreement;
    expect(btc.pinnedAgree).toBe(btc.pinned);
    expect(t.pinnedAgree / t.pinned).toBeGreaterThan(0.95);
  });

  test("damaged copies: a dropped l2 update, a duplicated frame, bad JSON and an error frame", () => {
    const lines = readCaptureText(CB).split("\n");
    const l2lines = lines.map((l, i) => [l, i] as const).filter(([l]) => l.includes('\\"channel\\":\\"l2_data\\"') && l.includes('\\"type\\":\\"update\\"')).map(([, i]) => i);
    const dir = mkdtempSync(join(tmpdir(), "coinbase-"));
    const write = (name: string, ls: string[]) => {
      const p = join(dir, name);
      writeFileSync(p, ls.join("\n"));
      return p;
    };
    const k = l2lines[200]!;
    const dropped = verifyCoinbaseCapture([write("drop.jsonl", lines.filter((_, i) => i !== k))]);
    expect(dropped.sequenceGaps).toBe(1);
    expect(dropped.resyncs).toBe(2); // both books on the connection
    for (const i of dropped.instruments) {
      expect(i.synced).toBe(false);
      expect(i.gaps).toBe(1);
      expect(i.lastProblem).toMatch(/sequence_num gap on the connection/);
    }

    const dup = verifyCoinbaseCapture([write("dup.jsonl", [...lines.slice(0, k + 1), lines[k]!, ...lines.slice(k + 1)])]);
    expect(dup).toMatchObject({ sequenceGaps: 0, stale: 1 });
    expect(dup.instruments.every((i) => i.synced)).toBe(true);

    const junk = lines.slice();
    junk.splice(30, 0, "nonsense", JSON.stringify({ t: "recv", conn: "COINBASE.ws.2", ts: 1786309548.9, data: '{"type":"error","message":"rate limit exceeded"}' }), JSON.stringify({ t: "recv", conn: "COINBASE.ws.2", ts: 1786309548.9, data: "{cut" }));
    const j = verifyCoinbaseCapture([write("junk.jsonl", junk)]);
    expect(j.malformed).toBe(2);
    expect(j.malformedAt).toEqual([`${join(dir, "junk.jsonl")}:31: invalid JSON`, `${join(dir, "junk.jsonl")}:33: recv frame is not valid JSON`]);
    expect(j.errors).toBe(1);
    expect(j.errorMessages).toEqual(["COINBASE.ws.2: rate limit exceeded"]);
    expect(j.sequenceGaps).toBe(0);
    expect(j.instruments.every((i) => i.synced)).toBe(true);
  });
});

// ---- normalisation to tick records ----------------------------------------------------------

function rec(out: TickBuffer, i: number) {
  const f = i * TICK_F64, b = i * TICK_BYTES;
  return {
    kind: out.u8[b + T.KIND_U8]!,
    flags: out.u8[b + T.FLAGS_U8]!,
    venue: out.u16[i * (TICK_BYTES / 2) + T.VENUE_U16]!,
    instrument: out.u32[i * (TICK_BYTES / 4) + T.INSTRUMENT_U32]!,
    tsExchangeNs: out.u64[f]!,
    tsRecvNs: out.u64[f + 1]!,
    price: out.f64[f + T.PRICE_F64]!,
    size: out.f64[f + T.SIZE_F64]!,
    price2: out.f64[f + T.PRICE2_F64]!,
    size2: out.f64[f + T.SIZE2_F64]!,
    seq: out.u64[f + 6]!,
  };
}

describe("normalizeCoinbaseFrame", () => {
  test("ISO times to exact ns; product ids to unified symbols", () => {
    expect(isoToNs("2026-08-09T21:05:48.483587501Z")).toBe(1786309548483587501n);
    expect(isoToNs("2026-08-09T21:05:42.514318Z")).toBe(1786309542514318000n);
    expect(isoToNs("2026-08-09T21:05:42Z")).toBe(1786309542000000000n);
    expect(isoToNs("2026-08-09 21:05:48")).toBeNull();
    expect(coinbaseUnified("BTC-USD")).toBe("BTC/USD");
  });

  test("trades (maker side flipped to the aggressor), ticker quotes, l2 levels; bad messages append nothing", () => {
    const ins = new InstrumentTable();
    const out = new TickBuffer(2);
    const recv = 5n;
    expect(normalizeCoinbaseFrame({ channel: "market_trades", timestamp: "2026-08-09T21:05:48.251397169Z", sequence_num: 9, events: [
      { type: "snapshot", trades: [{ product_id: "BTC-USD", trade_id: "1", price: "1", size: "1", time: "2026-08-09T21:05:42.514318Z", side: "SELL" }] },
      { type: "update", trades: [
        { product_id: "BTC-USD", trade_id: "1068572091", price: "65083.67", size: "0.01034361", time: "2026-08-09T21:05:48.167634Z", side: "SELL" },
        { product_id: "BTC-USD", trade_id: "1068572092", price: "65083.66", size: "0.5", time: "2026-08-09T21:05:48.167635Z", side: "BUY" },
      ] },
    ] }, recv, ins, out)).toBe(2); // the snapshot's past trades are not re-emitted
    expect(rec(out, 0)).toMatchObject({ kind: TickKind.trade, flags: 0, venue: Venue.coinbase, price: 65083.67, size: 0.01034361, seq: 1068572091n, tsExchangeNs: 1786309548167634000n, tsRecvNs: 5n });
    expect(rec(out, 1)).toMatchObject({ flags: TickFlag.sell | TickFlag.last, price: 65083.66 });
    out.clear();
    expect(normalizeCoinbaseFrame({ channel: "ticker", timestamp: "2026-08-09T21:05:48.229198328Z", sequence_num: 6, events: [{ type: "snapshot", tickers: [{ type: "ticker", product_id: "ETH-USD", price: "1919.41", best_bid: "1919.44", best_ask: "1919.49", best_bid_quantity: "0.02858092", best_ask_quantity: "0.07814824" }] }] }, recv, ins, out)).toBe(1);
    expect(rec(out, 0)).toMatchObject({ kind: TickKind.quote, flags: TickFlag.last, price: 1919.44, size: 0.02858092, price2: 1919.49, size2: 0.07814824, seq: 6n, tsExchangeNs: 1786309548229198328n });
    out.clear();
    const l2f = l2(14, "update", "BTC-USD", [["bid", 10, 1], ["offer", 11, 0]]);
    expect(normalizeCoinbaseFrame(l2f, recv, ins, out)).toBe(2);
    expect(rec(out, 0)).toMatchObject({ kind: TickKind.level, flags: 0, price: 10, size: 1, seq: 14n, tsExchangeNs: 1786309548170326000n });
    expect(rec(out, 1)).toMatchObject({ flags: TickFlag.ask | TickFlag.last, price: 11, size: 0 });
    out.clear();
    expect(normalizeCoinbaseFrame(l2(15, "snapshot", "ETH-USD", []), recv, ins, out)).toBe(1);
    expect(rec(out, 0)).toMatchObject({ flags: TickFlag.snapshot | TickFlag.last | TickFlag.nolevel, price: 0, size: 0, seq: 15n });
    out.clear();
    expect(normalizeCoinbaseFrame(l2(16, "update", "BTC-USD", [["bid", 10, 1], ["bid", -1, 1]]), recv, ins, out)).toBe(0);
    expect(normalizeCoinbaseFrame({ ...l2(17, "update", "BTC-USD", [["bid", 10, 1]]), sequence_num: undefined }, recv, ins, out)).toBe(0);
    expect(normalizeCoinbaseFrame({ type: "error", message: "x" }, recv, ins, out)).toBe(0);
    expect(normalizeCoinbaseFrame(hb(18), recv, ins, out)).toBe(0);
    expect(out.count).toBe(0);
    expect(ins.symbols).toEqual(["BTC/USD", "ETH/USD"]);
  });

  test.skipIf(!haveData)("the whole capture: counts match the frames, sell flags agree with the book, LEVEL records rebuild both books", () => {
    const ins = new InstrumentTable();
    const out = new TickBuffer();
    const fs = frames();
    let trades = 0, makerBuys = 0, tickers = 0, levels = 0, l2msgs = 0;
    for (const { f } of fs) {
      const events = (f.events ?? []) as Array<Record<string, unknown>>;
      if (f.channel === "market_trades") for (const e of events) if (e.type === "update") for (const t of e.trades as Array<{ side: string }>) (trades++, t.side === "BUY" && makerBuys++);
      if (f.channel === "ticker") for (const e of events) tickers += (e.tickers as unknown[]).length;
      if (f.channel === "l2_data") (l2msgs++, events.forEach((e) => (levels += (e.updates as unknown[]).length)));
      normalizeCoinbaseFrame(f, 1n, ins, out);
    }
    const kinds = [0, 0, 0, 0, 0];
    let sells = 0, levelLasts = 0;
    for (let i = 0; i < out.count; i++) {
      const x = rec(out, i);
      kinds[x.kind]!++;
      if (x.kind === TickKind.trade && x.flags & TickFlag.sell) sells++;
      if (x.kind === TickKind.level && x.flags & TickFlag.last) levelLasts++;
    }
    expect(kinds[TickKind.trade]).toBe(trades);
    expect(trades).toBe(79);
    expect(sells).toBe(makerBuys);
    expect(kinds[TickKind.quote]).toBe(tickers);
    expect(kinds[TickKind.level]).toBe(levels);
    expect(levelLasts).toBe(l2msgs);
    // aggressor side against the book: an aggressive sell prints at or below the best bid
    const s = new CoinbaseBookSync();
    const tIns = new InstrumentTable();
    let atBid = 0, atAsk = 0, agree = 0;
    for (const { f } of fs) {
      if (f.channel === "market_trades") {
        const tmp = new TickBuffer(4);
        normalizeCoinbaseFrame(f, 1n, tIns, tmp);
        for (let i = 0; i < tmp.count; i++) {
          const x = rec(tmp, i);
          const pid = tIns.symbols[x.instrument]!.replace("/", "-");
          const b = s.product(pid).book;
          if (!b.synced) continue;
          if (x.price <= b.bestBid) (atBid++, x.flags & TickFlag.sell && agree++);
          else if (x.price >= b.bestAsk) (atAsk++, !(x.flags & TickFlag.sell) && agree++);
        }
      }
      s.onMessage(f);
    }
    expect(atBid + atAsk).toBeGreaterThan(60);
    expect(agree).toBe(atBid + atAsk);
    // rebuild from LEVEL records only
    const books = new Map<number, { bids: Map<number, number>; asks: Map<number, number> }>();
    let messageStart = true;
    for (let i = 0; i < out.count; i++) {
      const x = rec(out, i);
      const starts = messageStart;
      messageStart = (x.flags & TickFlag.last) !== 0;
      if (x.kind !== TickKind.level) continue;
      if (starts && x.flags & TickFlag.snapshot) books.set(x.instrument, { bids: new Map(), asks: new Map() });
      const b = books.get(x.instrument)!;
      const m = x.flags & TickFlag.ask ? b.asks : b.bids;
      if (x.size === 0) m.delete(x.price);
      else m.set(x.price, x.size);
    }
    for (const [pid, r] of rebuild(fs)) {
      const b = books.get(ins.symbols.indexOf(coinbaseUnified(pid)))!;
      expect(sorted(b.bids, true)).toEqual(sorted(r.bids, true));
      expect(sorted(b.asks, false)).toEqual(sorted(r.asks, false));
    }
  });
});
