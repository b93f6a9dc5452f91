/**
 * c/vparse.c (Bybit v5): the C parser gives, record for record, what the TypeScript normaliser
 * gives on the real capture; keys in any order and whitespace are read; replies, tickers and bad
 * messages are classified and counted; bot4_vfeed_frame applies book frames to the feed's C books.
 */
import { describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { alignedBuffer } from "../ffi/buffers.ts";
import { BookRule, BookSet } from "../ffi/book.ts";
import { ParseStatus } from "../ffi/parse.ts";
import { SpscRing } from "../ffi/ring.ts";
import { PARSE_DEFER, VenueFrameParser, VparseVenue, VparseWhat } from "../ffi/vparse.ts";
import { InstrumentTable, Venue } from "../src/domain/instruments.ts";
import { TICK_BYTES } from "../src/domain/tick.ts";
import { TickBuffer } from "../src/domain/tick-buffer.ts";
import { bybitUnified, normalizeBybitFrame } from "../src/feed/bybit/normalize.ts";
import { CryptofeedV3Reader } from "../src/feed/cryptofeed-v3.ts";

const FILE = new URL("../../shared/data/cryptofeed-v3/BYBIT.jsonl.gz", import.meta.url).pathname;
const hasData = existsSync(FILE);
if (!hasData) console.warn(`vparse.test: ${FILE} is absent (../shared/data is not beside the project); the capture test is skipped`);

const enc = new TextEncoder();
const out = alignedBuffer(4096 * TICK_BYTES);
const inb = alignedBuffer(1 << 20);
const inU8 = new Uint8Array(inb.buffer, inb.byteOffset, inb.bytes);

function parseOne(p: VenueFrameParser, text: string, recvNs = 0): { n: number; recs: Uint8Array } {
  const len = enc.encodeInto(text, inU8).written!;
  const n = p.parse(inb.ptr, len, recvNs, out.ptr, 4096);
  return { n, recs: new Uint8Array(out.buffer, out.byteOffset, Math.max(0, n) * TICK_BYTES).slice() };
}

function bybitParser(symbols: string[]): VenueFrameParser {
  const p = new VenueFrameParser(VparseVenue.bybit, Venue.bybit);
  symbols.forEach((s, i) => p.addSymbol(s, i));
  return p;
}

describe.skipIf(!hasData)("Bybit v5 C parser on the cryptofeed capture", () => {
  test("every orderbook and publicTrade frame: the same records as normalizeBybitFrame, byte for byte", () => {
    const frames: string[] = [];
    const syms = new Set<string>();
    for (const e of CryptofeedV3Reader.open(FILE).entries()) {
      if (e.kind !== "recv" || e.conn !== "BYBIT.ws.2") continue;
      const m = /"topic":"(orderbook\.\d+|publicTrade)\.([A-Z0-9]+)"/.exec(e.frame);
      if (!m) continue;
      frames.push(e.frame);
      syms.add(m[2]!);
    }
    expect(frames.length).toBeGreaterThan(1000);
    const symbols = [...syms].sort();
    const p = bybitParser(symbols);
    const table = new InstrumentTable();
    symbols.forEach((s) => table.id(Venue.bybit, bybitUnified(s, "linear")));
    const tb = new TickBuffer(4096);
    let records = 0;
    for (const f of frames) {
      tb.clear();
      const want = normalizeBybitFrame(JSON.parse(f), 0n, table, tb, { category: "linear" });
      const got = parseOne(p, f);
      expect(got.n).toBe(want);
      expect(got.recs).toEqual(tb.bytes().slice());
      records += want;
    }
    const k = p.counters();
    expect(k.frames).toBe(frames.length);
    expect(k.malformed + k.missing + k.unknownSymbol + k.unknownType).toBe(0);
    expect(k.levels + k.trades).toBe(records);
  });
});

describe("Bybit v5 C parser: forms and faults", () => {
  const snap = '{"topic":"orderbook.50.BTCUSDT","type":"snapshot","ts":1700000000001,"data":{"s":"BTCUSDT","b":[["100.5","1.25"],["100","2"]],"a":[["101","0.5"]],"u":7,"seq":99},"cts":1700000000000}';

  test("a snapshot: bids then asks, ASK/SNAPSHOT/LAST flags, seq = u, ts = cts; whitespace and `data` before `topic`/`type` read the same (levels stay in the order sent)", () => {
    const p = bybitParser(["BTCUSDT"]);
    const a = parseOne(p, snap, 5);
    expect(a.n).toBe(3);
    const f64 = new Float64Array(a.recs.buffer);
    const u8 = a.recs;
    expect([f64[2], f64[3], f64[8 + 2], f64[16 + 2]]).toEqual([100.5, 1.25, 100, 101]);
    expect(u8[63]).toBe(4); // bid, snapshot
    expect(u8[128 + 63]).toBe(2 | 4 | 8); // ask, snapshot, last
    expect(new BigUint64Array(a.recs.buffer)[6]).toBe(7n);
    expect(new BigUint64Array(a.recs.buffer)[0]).toBe(1700000000000n * 1000000n);
    const shuffled = '{ "data" : { "u" : 7 , "b":[["100.5","1.25"],[ "100" , "2" ]], "a" : [ [ "101" , "0.5" ] ], "s":"BTCUSDT" },\n "cts":1700000000000, "type":"snapshot", "ts":1700000000001, "topic":"orderbook.50.BTCUSDT" }';
    expect(parseOne(p, shuffled, 5).recs).toEqual(a.recs);
  });

  test("replies, errors, tickers, unknown topics and symbols, bad levels, non-JSON: classified and counted", () => {
    const p = bybitParser(["BTCUSDT"]);
    const cases: Array<[string, number]> = [
      ['{"success":true,"ret_msg":"","conn_id":"x","req_id":"","op":"subscribe"}', ParseStatus.control],
      ['{"req_id":"","op":"pong","args":["1"],"conn_id":"x"}', ParseStatus.control],
      ['{"success":false,"ret_msg":"Invalid symbol","conn_id":"x","op":"subscribe"}', ParseStatus.venueError],
      ['{"topic":"tickers.BTCUSDT","type":"delta","data":{"symbol":"BTCUSDT","bid1Price":"1"},"cs":1,"ts":1}', PARSE_DEFER],
      ['{"topic":"kline.1.BTCUSDT","data":[]}', ParseStatus.unknownType],
      ['{"topic":"orderbook.50.ETHUSDT","type":"delta","data":{"s":"ETHUSDT","b":[],"a":[],"u":3}}', ParseStatus.unknownSymbol],
      ['{"topic":"orderbook.50.BTCUSDT","type":"delta","data":{"s":"BTCUSDT","b":[["x","1"]],"a":[],"u":3}}', ParseStatus.missing],
      ['{"topic":"orderbook.50.BTCUSDT","type":"delta","data":{"s":"BTCUSDT","b":[["-1","1"]],"a":[],"u":3}}', ParseStatus.missing],
      ['{"topic":"orderbook.50.BTCUSDT","type":"delta","data":{"s":"BTCUSDT","b":[],"a":[]}}', ParseStatus.missing],
      ['{"topic":"publicTrade.BTCUSDT","type":"snapshot","data":[{"T":1,"s":"BTCUSDT","S":"Hold","v":"1","p":"2"}]}', ParseStatus.missing],
      ['{"topic":"orderbook.50.BTCUSDT","type":"delta","data":{"s":"BTCUSDT","b":[["1","1"]],"a":[],"u":3}', ParseStatus.malformed],
      ["not json", ParseStatus.malformed],
      ["[1,2]", ParseStatus.malformed],
      ['{"a":1} x', ParseStatus.malformed],
    ];
    for (const [text, status] of cases) expect([text, parseOne(p, text).n]).toEqual([text, status]);
    const k = p.counters();
    expect([k.control, k.venueErrors, k.deferred, k.unknownType, k.unknownSymbol, k.missing, k.malformed]).toEqual([2, 1, 1, 1, 1, 4, 4]);
    // the bad-level delta still names its (registered) instrument, so the feed can resync that book
    parseOne(p, cases[6]![0]);
    expect(p.instrument).toBe(0);
  });

  test("an empty delta keeps the u chain with one NOLEVEL record; trades: SELL when S is Sell, seq = the element's seq", () => {
    const p = bybitParser(["BTCUSDT"]);
    const e = parseOne(p, '{"topic":"orderbook.50.BTCUSDT","type":"delta","ts":1,"data":{"s":"BTCUSDT","b":[],"a":[],"u":8}}');
    expect(e.n).toBe(1);
    expect(e.recs[63]).toBe(16 | 8);
    const t = parseOne(p, '{"topic":"publicTrade.BTCUSDT","type":"snapshot","ts":1,"data":[{"T":5,"s":"BTCUSDT","S":"Sell","v":"0.5","p":"100.1","i":"u-u-i-d","seq":42},{"T":6,"s":"BTCUSDT","S":"Buy","v":"1","p":"100.2","BT":false}]}');
    expect(t.n).toBe(2);
    expect(p.what).toBe(VparseWhat.trades);
    const u64 = new BigUint64Array(t.recs.buffer);
    expect([t.recs[62], t.recs[63], u64[6], t.recs[64 + 63], u64[8 + 6]]).toEqual([1, 1, 42n, 8, 0n]);
  });

  test("bot4_vfeed_frame: book frames applied to the feed's C book in the same call; a gap asks for a resync; records reach the ring", () => {
    const books = new BookSet(1);
    const book = books.add(0, BookRule.seq, { levels: 64, pending: 16 });
    const ring = SpscRing.create(1024);
    try {
      const p = new VenueFrameParser(VparseVenue.bybit, Venue.bybit, { books, ring });
      p.addSymbol("BTCUSDT", 0);
      expect(p.text(snap, 1)).toBe(3);
      expect([p.what, p.resyncs, p.pushed, book.synced, book.bestBid, book.bestAsk]).toEqual([VparseWhat.snapshot, 0, 3, true, 100.5, 101]);
      const delta = (u: number, bid: string) => `{"topic":"orderbook.50.BTCUSDT","type":"delta","ts":2,"data":{"s":"BTCUSDT","b":[["${bid}","3"]],"a":[],"u":${u}}}`;
      expect(p.text(delta(8, "100.7"), 2)).toBe(1);
      expect([p.what, p.resyncs, book.bestBid, book.lastSeq]).toEqual([VparseWhat.delta, 0, 100.7, 8]);
      p.text(delta(8, "100.8"), 3); // duplicate: stale, skipped
      expect([book.bestBid, book.counters().stale]).toEqual([100.7, 1]);
      p.text(delta(10, "100.9"), 4); // u 9 lost
      expect([p.resyncs, book.synced, book.counters().gaps]).toEqual([1, false, 1]);
      expect(ring.size).toBe(3 + 1 + 1 + 1);
    } finally {
      ring.free();
    }
  });
});
