/**
 * c/vparse.c (Bybit v5, Coinbase, OKX, Kraken v2): the C parser gives, record for record, what the TypeScript normaliser
 * gives on the real capture; keys in any order and whitespace are read; replies, tickers and bad
 * messages are classified and counted; bot4_vfeed_frame applies book frames to the feed's C books.
 */
import { describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { alignedBuffer } from "../ffi/buffers.ts";
import { BookRule, BookSet } from "../ffi/book.ts";
import { ParseStatus } from "../ffi/parse.ts";
import { SpscRing } from "../ffi/ring.ts";
import { PARSE_DEFER, PARSE_STALE, VenueFrameParser, VparseVenue, VparseWhat } from "../ffi/vparse.ts";
import { InstrumentTable, Venue } from "../src/domain/instruments.ts";
import { TICK_BYTES } from "../src/domain/tick.ts";
import { TickBuffer } from "../src/domain/tick-buffer.ts";
import { bybitUnified, normalizeBybitFrame } from "../src/feed/bybit/normalize.ts";
import { coinbaseUnified, normalizeCoinbaseFrame } from "../src/feed/coinbase/normalize.ts";
import { K } from "../ffi/lib.ts";
import { crc32 } from "../src/book/crc32.ts";
import { ASK, BID, L2Book } from "../src/book/l2book.ts";
import { OkxBookSync } from "../src/feed/okx/book.ts";
import { normalizeOkxFrame, okxUnified } from "../src/feed/okx/normalize.ts";
import { generateOkxTape, OkxVenueBook } from "../src/sim/venues/okx.ts";
import { CryptofeedV3Reader } from "../src/feed/cryptofeed-v3.ts";
import { KrakenV2BookSync, type KrakenV2Level } from "../src/feed/kraken/book.ts";
import { normalizeKrakenFrame } from "../src/feed/kraken/normalize.ts";
import { KRAKEN_DEFAULT_CAPTURE, KRAKEN_SIM_DEPTHS, loadKrakenTape } from "../src/sim/venues/kraken.ts";
import { T, TickFlag, TickKind } from "../src/domain/tick.ts";
import { KrakenFlag } from "../ffi/vparse.ts";
import { now } from "../ffi/clock.ts";

const FILE = new URL("../../shared/data/cryptofeed-v3/BYBIT.jsonl.gz", import.meta.url).pathname;
const hasData = existsSync(FILE);
const CB_FILE = new URL("../../shared/data/cryptofeed-v3/COINBASE.jsonl.gz", import.meta.url).pathname;
const hasCb = existsSync(CB_FILE);
if (!hasData) console.warn(`vparse.test: ${FILE} is absent (../shared/data is not beside the project); the capture test is skipped`);

const enc = new TextEncoder();
const OUT_CAP = 1 << 17;
const out = alignedBuffer(OUT_CAP * TICK_BYTES);
const inb = alignedBuffer(1 << 23); // a Coinbase snapshot frame is ~5 MB
const inU8 = new Uint8Array(inb.buffer, inb.byteOffset, inb.bytes);

function parseOne(p: VenueFrameParser, text: string, recvNs = 0, cap = 4096): { n: number; recs: Uint8Array } {
  const len = enc.encodeInto(text, inU8).written!;
  const n = p.parse(inb.ptr, len, recvNs, out.ptr, Math.min(cap, OUT_CAP));
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

function coinbaseParser(products: string[], o: ConstructorParameters<typeof VenueFrameParser>[2] = {}): VenueFrameParser {
  const p = new VenueFrameParser(VparseVenue.coinbase, Venue.coinbase, o);
  products.forEach((s, i) => p.addSymbol(s, i));
  return p;
}

describe.skipIf(!hasCb)("Coinbase C parser on the cryptofeed capture", () => {
  test("every frame: the same records as normalizeCoinbaseFrame, byte for byte; sequence_num one unbroken chain", () => {
    const frames: string[] = [];
    const prods = new Set<string>();
    for (const e of CryptofeedV3Reader.open(CB_FILE).entries()) {
      if (e.kind !== "recv") continue;
      frames.push(e.frame);
      for (const m of e.frame.matchAll(/"product_id":"([A-Z0-9]+-[A-Z0-9]+)"/g)) prods.add(m[1]!);
    }
    expect(frames.length).toBeGreaterThan(1000);
    const products = [...prods].sort();
    const p = coinbaseParser(products);
    const table = new InstrumentTable();
    products.forEach((s) => table.id(Venue.coinbase, coinbaseUnified(s)));
    const tb = new TickBuffer(1 << 16);
    let records = 0, l2 = 0, trades = 0, conns = 0, deferred = 0;
    for (const f of frames) {
      tb.clear();
      const want = normalizeCoinbaseFrame(JSON.parse(f), 0n, table, tb);
      const got = parseOne(p, f, 0, OUT_CAP);
      if (f.includes('"channel":"l2_data"')) l2++;
      if (f.includes('"channel":"market_trades"')) trades++;
      if (got.n === PARSE_STALE) {
        // the capture may hold more than one connection: each starts its own chain
        conns++;
        continue;
      }
      if (got.n === PARSE_DEFER) {
        // tickers are the cold path's (normalizeCoinbaseFrame)
        expect(f.startsWith('{"channel":"ticker"')).toBe(true);
        deferred++;
        continue;
      }
      expect([f.slice(0, 60), Math.max(got.n, 0)]).toEqual([f.slice(0, 60), want]);
      expect(got.recs).toEqual(tb.bytes().slice());
      records += want;
    }
    expect(l2).toBeGreaterThan(100);
    expect(trades).toBeGreaterThan(10);
    expect(conns).toBe(0);
    expect([p.seqGaps, p.seqStale]).toEqual([0, 0]);
    const k = p.counters();
    expect(k.malformed + k.missing + k.unknownSymbol).toBe(0);
    expect(k.deferred).toBe(deferred);
    expect(k.trades).toBeGreaterThan(0);
    expect(k.levels + k.trades).toBeLessThanOrEqual(records); // NOLEVEL records are not levels
  });
});

describe("Coinbase C parser: forms, faults and the connection's sequence_num", () => {
  const l2 = (seq: number, type: string, updates: string, product = "BTC-USD") =>
    `{"channel":"l2_data","client_id":"","timestamp":"2023-02-09T20:32:50.714964855Z","sequence_num":${seq},"events":[{"type":"${type}","product_id":"${product}","updates":[${updates}]}]}`;
  const up = (side: string, px: string, q: string, t = "2023-02-09T20:32:50.714964Z") => `{"side":"${side}","event_time":"${t}","price_level":"${px}","new_quantity":"${q}"}`;
  const snapshot = (seq: number) => l2(seq, "snapshot", [up("bid", "100.5", "1"), up("bid", "100", "2"), up("offer", "101", "0.5")].join(","));
  const beat = (seq: number) => `{"channel":"heartbeats","client_id":"","timestamp":"2023-02-09T20:32:51Z","sequence_num":${seq},"events":[{"current_time":"x","heartbeat_counter":3}]}`;

  test("l2 levels: side, SNAPSHOT/LAST, exact ns from ISO times, seq = sequence_num; keys in any order; an empty event is one NOLEVEL record", () => {
    const p = coinbaseParser(["BTC-USD"]);
    const a = parseOne(p, snapshot(3), 9);
    expect(a.n).toBe(3);
    const f64 = new Float64Array(a.recs.buffer), u64 = new BigUint64Array(a.recs.buffer);
    expect([f64[2], f64[3], f64[8 + 2], f64[16 + 2], f64[16 + 3]]).toEqual([100.5, 1, 100, 101, 0.5]);
    expect([a.recs[63], a.recs[64 + 63], a.recs[128 + 63]]).toEqual([4, 4, 2 | 4 | 8]);
    expect([u64[0], u64[1], u64[6]]).toEqual([1675974770714964000n, 9n, 3n]);
    expect(p.what).toBe(VparseWhat.snapshot);
    const shuffled = `{ "events" : [ { "updates" : [ ${up("bid", "100.5", "1")}, ${up("bid", "100", "2")} , ${up("offer", "101", "0.5")} ], "product_id":"BTC-USD", "type":"snapshot" } ], "sequence_num": 4, "timestamp":"2023-02-09T20:32:50.714964855Z", "channel":"l2_data" }`;
    const b = parseOne(p, shuffled, 9);
    const bu64 = new BigUint64Array(b.recs.buffer);
    expect(b.n).toBe(3);
    bu64[6] = bu64[14] = bu64[22] = 3n;
    expect(b.recs).toEqual(a.recs);
    const e = parseOne(p, l2(5, "update", ""));
    expect(e.n).toBe(1);
    expect([e.recs[63], new BigUint64Array(e.recs.buffer)[0]]).toEqual([16 | 8, 1675974770714964855n]);
    // time forms: no fraction, 1 and 9 digits
    const t = (s: string) => new BigUint64Array(parseOne(p, l2(6 + s.length, "update", up("bid", "1", "1", s))).recs.buffer)[0];
    expect([t("1970-01-01T00:00:00Z"), t("2000-03-01T00:00:01.5Z"), t("2024-02-29T23:59:59.123456789Z")]).toEqual([0n, 951868801500000000n, 1709251199123456789n]);
  });

  test("trades: update events only, SELL when the maker side is BUY, seq = numeric trade_id; replies, errors, tickers, faults classified", () => {
    const p = coinbaseParser(["BTC-USD", "ETH-USD"]);
    const tr = (seq: number, type: string) =>
      `{"channel":"market_trades","client_id":"","timestamp":"2023-02-09T20:19:35.39625135Z","sequence_num":${seq},"events":[{"type":"${type}","trades":[{"trade_id":"12345","product_id":"ETH-USD","price":"1260.01","size":"0.3","side":"BUY","time":"2019-08-14T20:42:27.265Z"},{"trade_id":"ab-c","product_id":"BTC-USD","price":"2","size":"1","side":"SELL","time":"2019-08-14T20:42:27.266Z"}]}]}`;
    const t = parseOne(p, tr(1, "update"));
    expect(t.n).toBe(2);
    const u64 = new BigUint64Array(t.recs.buffer);
    expect([t.recs[62], t.recs[63], u64[6], new Uint32Array(t.recs.buffer)[14], t.recs[64 + 63], u64[8 + 6], u64[8]]).toEqual([1, 1, 12345n, 1, 8, 0n, 1565815347266000000n]);
    expect(parseOne(p, tr(2, "snapshot")).n).toBe(0);
    const cases: Array<[string, number]> = [
      [beat(3), ParseStatus.control],
      ['{"channel":"subscriptions","client_id":"","timestamp":"2023-02-09T20:32:51Z","sequence_num":4,"events":[{"subscriptions":{"level2":["BTC-USD"]}}]}', ParseStatus.control],
      ['{"type":"error","message":"Failed to subscribe"}', ParseStatus.venueError],
      ['{"channel":"ticker","client_id":"","timestamp":"2023-02-09T20:32:51Z","sequence_num":5,"events":[{"type":"snapshot","tickers":[]}]}', PARSE_DEFER],
      ['{"channel":"candles","sequence_num":6,"events":[]}', ParseStatus.unknownType],
      [l2(7, "update", up("bid", "1", "1"), "DOGE-USD"), ParseStatus.unknownSymbol],
      [l2(8, "update", up("bid", "x", "1")), ParseStatus.missing],
      [l2(9, "update", up("ask", "1", "1")), ParseStatus.missing],
      [l2(10, "update", up("bid", "1", "1", "2023-02-09 20:32:50Z")), ParseStatus.missing],
      [l2(11, "upd", up("bid", "1", "1")), ParseStatus.missing],
      ['{"channel":"l2_data","events":[{"type":"update","product_id":"BTC-USD","updates":[]}]}', ParseStatus.missing],
      [l2(12, "update", up("bid", "1", "1")).slice(0, -1), ParseStatus.malformed],
      ["not json", ParseStatus.malformed],
    ];
    for (const [text, status] of cases) expect([text, parseOne(p, text).n]).toEqual([text, status]);
    const k = p.counters();
    expect([k.control, k.venueErrors, k.deferred, k.unknownType, k.unknownSymbol, k.missing, k.malformed]).toEqual([2, 1, 1, 1, 1, 5, 2]);
    expect([p.seqLast, p.seqGaps, p.seqStale]).toEqual([11, 0, 0]);
    parseOne(p, cases[6]![0]); // stale now, but the numbers read first
    expect(p.status).toBe(PARSE_STALE);
  });

  test("bot4_vfeed_frame: a sequence_num gap fails every book and tells the ring; stale frames skipped; updates of a book waiting for its snapshot never reach the ring", () => {
    const books = new BookSet(2);
    const btc = books.add(0, BookRule.none, { levels: 64, pending: 16 });
    const eth = books.add(1, BookRule.none, { levels: 64, pending: 16 });
    const ring = SpscRing.create(1024);
    const out = alignedBuffer(64 * TICK_BYTES);
    const kinds = (): number[] => {
      const n = ring.pop(out.ptr, 64);
      const u8 = new Uint8Array(out.buffer, out.byteOffset, n * TICK_BYTES);
      return Array.from({ length: n }, (_, i) => u8[i * TICK_BYTES + 62]!);
    };
    try {
      const p = coinbaseParser(["BTC-USD", "ETH-USD"], { books, ring });
      p.reset();
      expect([btc.synced, eth.synced]).toEqual([false, false]);
      expect(p.text(l2(0, "update", up("bid", "99", "1")), 1)).toBe(1); // before any snapshot: held back
      expect([p.pushed, btc.synced]).toEqual([0, false]);
      expect(p.text(snapshot(1), 2)).toBe(3);
      expect([p.what, p.pushed, btc.synced, btc.bestBid, btc.bestAsk]).toEqual([VparseWhat.snapshot, 3, true, 100.5, 101]);
      expect(p.text(l2(2, "update", up("bid", "100.7", "3")), 3)).toBe(1);
      expect([p.pushed, btc.bestBid]).toEqual([1, 100.7]);
      expect(p.text(l2(2, "update", up("bid", "100.8", "3")), 4)).toBe(PARSE_STALE);
      expect([btc.bestBid, p.seqStale]).toEqual([100.7, 1]);
      expect(p.text(beat(3), 5)).toBe(ParseStatus.control);
      expect(p.what).toBe(VparseWhat.heartbeat);
      expect(kinds()).toEqual([3, 3, 3, 3]);
      // 4 lost: every book of the connection fails, one STATUS record each; the update is held back
      expect(p.text(l2(5, "update", up("bid", "100.9", "3")), 6)).toBe(1);
      expect([p.gap, p.seqGaps, p.resyncs, btc.synced, eth.synced, btc.problem?.what, btc.counters().gaps]).toEqual([true, 1, 2, false, false, btc.problem?.what, 1]);
      expect(btc.problem?.what).toMatch(/gap/i);
      expect(kinds()).toEqual([4, 4]);
      // a crossed snapshot: refused, a STATUS record instead of its levels
      expect(p.text(l2(6, "snapshot", [up("bid", "102", "1"), up("offer", "101", "1")].join(",")), 7)).toBe(2);
      expect([btc.synced, p.resyncs, kinds()]).toEqual([false, 1, [4]]);
      expect(p.text(snapshot(7), 8)).toBe(3);
      expect([btc.synced, kinds()]).toEqual([true, [3, 3, 3]]);
      // an unreadable event of a known product fails that book only
      expect(p.text(l2(8, "update", up("bid", "-1", "1")), 9)).toBe(ParseStatus.missing);
      expect([p.resyncs, btc.synced, p.instrument, kinds()]).toEqual([1, false, 0, [4]]);
      // a frame that does not parse consumes no number: the next one shows the gap
      expect(p.text(snapshot(9).slice(0, 50), 10)).toBe(ParseStatus.malformed);
      expect(p.text(beat(10), 11)).toBe(ParseStatus.control);
      expect([p.gap, p.seqGaps]).toEqual([true, 2]);
      // a new connection starts a new chain
      p.reset();
      expect(p.text(beat(0), 12)).toBe(ParseStatus.control);
      expect([p.gap, p.seqLast]).toEqual([false, 0]);
    } finally {
      ring.free();
    }
  });
});

describe("OKX v5 C parser and book procedure (the simulator's tape, built from OKX's documentation)", () => {
  const gen = generateOkxTape({ pushes: 3000 });
  const ids = gen.instruments.map((x) => x.instId);
  const snapshots = gen.instruments.map((x, i) => {
    const vb = new OkxVenueBook(x.instId);
    vb.load(gen.startBooks[i]!);
    return vb.snapshotFrame();
  });
  const frames = [...snapshots, ...gen.text];
  const okxFeed = (ring?: SpscRing) => {
    const books = new BookSet(ids.length);
    ids.forEach((_, i) => books.add(i, BookRule.none, { levels: 1024, pending: 16 }));
    const p = new VenueFrameParser(VparseVenue.okx, Venue.okx, { books, ring, okxBooks: true });
    ids.forEach((id, i) => p.addSymbol(id, i));
    p.reset();
    return { p, books };
  };

  test("the documentation's checksum example; bot4_crc32 is zlib's CRC-32", () => {
    // okx.com/docs-v5 "Checksum": bids [3366.1:7], asks [3366.8:9, 3368:8, 3372:8]
    const text = enc.encode("3366.1:7:3366.8:9:3368:8:3372:8");
    inU8.set(text);
    expect(K.bot4_crc32(inb.ptr, text.length) >>> 0).toBe(crc32(text));
    const { p, books } = okxFeed();
    const want = crc32(text) | 0;
    const snap = `{"arg":{"channel":"books","instId":"${ids[0]}"},"action":"snapshot","data":[{"asks":[["3366.8","9","0","1"],["3368","8","0","1"],["3372","8","0","1"]],"bids":[["3366.1","7","0","1"]],"ts":"1","checksum":${want},"prevSeqId":-1,"seqId":10}]}`;
    expect(p.text(snap, 1)).toBe(4);
    expect([books.get(0)!.synced, p.okxCounters(0).checksumsChecked, p.okxCounters(0).checksumMismatches]).toEqual([true, 1, 0]);
    // the same book with the venue's checksum off by one: refused, failed, counted
    p.text(snap.replace(`"checksum":${want}`, `"checksum":${want + 1}`), 2);
    expect([books.get(0)!.synced, books.get(0)!.problem?.what, p.okxCounters(0).checksumMismatches, p.resyncs]).toEqual([false, "checksum mismatch", 1, 1]);
  });

  test("every frame: the same records as normalizeOkxFrame, byte for byte; the books follow every checksum; final books equal the generator's", () => {
    const { p, books } = okxFeed();
    const table = new InstrumentTable();
    ids.forEach((id) => table.id(Venue.okx, okxUnified(id)));
    const tb = new TickBuffer(4096);
    const q = new VenueFrameParser(VparseVenue.okx, Venue.okx);
    ids.forEach((id, i) => q.addSymbol(id, i));
    let records = 0;
    for (const f of frames) {
      tb.clear();
      const want = normalizeOkxFrame(JSON.parse(f), 0n, table, tb);
      const got = parseOne(q, f);
      expect([f.slice(0, 60), got.n]).toEqual([f.slice(0, 60), want]);
      expect(got.recs).toEqual(tb.bytes().slice());
      records += want;
      expect(p.text(f, 1)).toBe(want);
      expect(p.resyncs).toBe(0);
    }
    expect(records).toBeGreaterThan(5000);
    const ref = gen.instruments.map((x) => new OkxBookSync(new L2Book("okx", x.instId)));
    for (const f of frames) {
      const m = JSON.parse(f);
      if (m.arg.channel === "books") ref[ids.indexOf(m.arg.instId)]!.onMessage(m);
    }
    // the same pushes spread out (whitespace, bids before asks) take the general reader, not the one-pass
    // form: the same outcomes, books and checksums
    const { p: g, books: gb } = okxFeed();
    for (const f of frames) {
      const m = JSON.parse(f);
      if (m.arg.channel === "books") m.data = m.data.map((d: Record<string, unknown>) => ({ bids: d.bids, ts: d.ts, asks: d.asks, seqId: d.seqId, checksum: d.checksum, prevSeqId: d.prevSeqId }));
      tb.clear();
      const want = normalizeOkxFrame(JSON.parse(f), 0n, table, tb);
      expect(g.text(JSON.stringify(m, null, 1), 1)).toBe(want);
      expect(g.resyncs).toBe(0);
    }
    ids.forEach((_, i) => {
      expect(g.okxCounters(i)).toEqual(p.okxCounters(i));
      expect(gb.get(i)!.levels(BID)).toEqual(books.get(i)!.levels(BID));
      expect(gb.get(i)!.levels(ASK)).toEqual(books.get(i)!.levels(ASK));
      expect(g.okxChecksum(i)).toBe(p.okxChecksum(i));
    });
    ids.forEach((_, i) => {
      const k = p.okxCounters(i), r = ref[i]!.counters;
      expect([k.checksumsChecked, k.checksumMismatches, k.heartbeats, k.resets]).toEqual([r.checksumsChecked, 0, r.heartbeats, r.resets]);
      expect(k.checksumsChecked).toBeGreaterThan(500);
      const b = books.get(i)!;
      expect(b.synced).toBe(true);
      expect(b.levels(BID)).toEqual(ref[i]!.book.levels(BID));
      expect(b.levels(ASK)).toEqual(ref[i]!.book.levels(ASK));
      expect(b.lastSeq).toBe(ref[i]!.book.lastSeq);
    });
  });

  test("a lost update is a gap; a changed size a checksum mismatch; either fails the book, puts a STATUS record in the ring, withholds updates until the snapshot", () => {
    const ring = SpscRing.create(1 << 16);
    const out = alignedBuffer(4096 * TICK_BYTES);
    try {
      const { p, books } = okxFeed(ring);
      const book0 = books.get(0)!;
      const upd = frames.map((f, i) => (i >= 2 && f.includes('"action":"update"') && f.includes(`"instId":"${ids[0]}"`) ? i : -1)).filter((i) => i >= 0);
      for (let i = 0; i < upd[10]!; i++) p.text(frames[i]!, 1);
      p.text(frames[upd[11]!]!, 2); // upd[10] lost
      expect([p.resyncs, book0.synced, book0.problem?.what, book0.counters().gaps]).toEqual([1, false, "gap", 1]);
      expect(p.pushed).toBe(1);
      p.text(frames[upd[12]!]!, 3);
      expect([p.pushed, p.okxCounters(0).withheld]).toEqual([0, 1]);
      while (ring.pop(out.ptr, 4096) > 0) {}
      // a size changed in flight: the checksum catches it
      const { p: p2, books: b2 } = okxFeed(ring);
      for (let i = 0; i < upd[10]!; i++) p2.text(frames[i]!, 1);
      const f = frames[upd[10]!]!;
      const m = JSON.parse(f);
      const lv = m.data[0].bids[0] ?? m.data[0].asks[0];
      lv[1] = lv[1] === "7" ? "8" : "7";
      expect(p2.text(JSON.stringify(m), 2)).toBeGreaterThan(0);
      expect([p2.resyncs, b2.get(0)!.synced, b2.get(0)!.problem?.what, p2.okxCounters(0).checksumMismatches, p2.pushed]).toEqual([1, false, "checksum mismatch", 1, 1]);
      const n = ring.pop(out.ptr, 4096);
      expect(new Uint8Array(out.buffer, out.byteOffset + (n - 1) * TICK_BYTES, TICK_BYTES)[62]).toBe(4); // STATUS
      // a fresh snapshot recovers
      const vb = new OkxVenueBook(ids[0]!);
      vb.load(gen.startBooks[0]!);
      expect(p2.text(vb.snapshotFrame(), 3)).toBeGreaterThan(0);
      expect(b2.get(0)!.synced).toBe(true);
    } finally {
      ring.free();
    }
  });

  test("no-change messages, the reset after maintenance, events, pongs, unknown channels and bad levels: classified and counted", () => {
    const { p, books } = okxFeed();
    const id = ids[0]!;
    const snap = `{"arg":{"channel":"books","instId":"${id}"},"action":"snapshot","data":[{"asks":[["101","1","0","1"]],"bids":[["100","2","0","1"]],"ts":"5","checksum":0,"prevSeqId":-1,"seqId":10}]}`;
    const upd = (prev: number, seq: number, bids: string) => `{"arg":{"channel":"books","instId":"${id}"},"action":"update","data":[{"asks":[],"bids":[${bids}],"ts":"6","checksum":0,"prevSeqId":${prev},"seqId":${seq}}]}`;
    expect(p.text(snap, 1)).toBe(2);
    expect(p.text(upd(10, 10, ""), 2)).toBe(0); // no change
    expect(p.text(upd(10, 3, '["100.5","1","0","1"]'), 3)).toBe(1); // reset: seqId < prevSeqId
    expect(p.text(upd(3, 4, '["100.6","1","0","1"]'), 4)).toBe(1);
    const k = p.okxCounters(0);
    expect([k.heartbeats, k.resets, k.checksumZero, books.get(0)!.lastSeq, books.get(0)!.bestBid, books.get(0)!.synced]).toEqual([1, 1, 4, 4, 100.6, true]);
    const cases: Array<[string, number]> = [
      ['{"event":"subscribe","arg":{"channel":"books","instId":"BTC-USDT"},"connId":"a"}', ParseStatus.control],
      ['{"event":"error","code":"60018","msg":"bad","connId":"a"}', ParseStatus.venueError],
      ["pong", ParseStatus.malformed],
      [`{"arg":{"channel":"tickers","instId":"${id}"},"data":[{}]}`, ParseStatus.unknownType],
      [`{"arg":{"channel":"books","instId":"NOPE-USDT"},"action":"update","data":[{"asks":[],"bids":[],"ts":"1","seqId":1,"prevSeqId":0}]}`, ParseStatus.unknownSymbol],
      [`{"arg":{"channel":"trades","instId":"${id}"},"data":[{"instId":"${id}","tradeId":"x","px":"1","sz":"1","side":"buy","ts":"1"}]}`, ParseStatus.missing],
      [upd(4, 5, '["abc","1","0","1"]'), ParseStatus.missing],
    ];
    for (const [text, status] of cases) expect([text, p.text(text, 5)]).toEqual([text, status]);
    // the unreadable book push failed that book
    expect([books.get(0)!.synced, books.get(0)!.problem?.what]).toEqual([false, "bad level"]);
    const t = parseOne(p, `{"data":[{"instId":"${id}","tradeId":"77","px":"100.1","sz":"0.5","side":"sell","ts":"1700000000123"}],"arg":{"instId":"${id}","channel":"trades"}}`);
    expect(t.n).toBe(1);
    expect([t.recs[62], t.recs[63], new BigUint64Array(t.recs.buffer)[6], new BigUint64Array(t.recs.buffer)[0]]).toEqual([1, 1 | 8, 77n, 1700000000123000000n]);
  });
});

// ---- Kraken spot v2 ---------------------------------------------------------------------------

const hasKraken = existsSync(KRAKEN_DEFAULT_CAPTURE);

/** A Kraken parser with books at `depth` for `symbols` (instruments 0..), optionally with a ring. */
function krakenFeed(symbols: Array<{ symbol: string; pp: number; qp: number }>, depth: number, ring?: SpscRing): VenueFrameParser {
  const p = new VenueFrameParser(VparseVenue.kraken, Venue.kraken, { ring, krakenBooks: { books: symbols.length, depth } });
  symbols.forEach((s, i) => {
    p.addSymbol(s.symbol, i);
    p.krakenPair(i, s.pp, s.qp);
  });
  p.reset();
  return p;
}

/** A snapshot message of a TypeScript reference book's top `depth`, with its checksum. */
function krakenSnapshot(sync: KrakenV2BookSync, depth: number, ts = "2021-04-17T16:48:52.000000Z"): string {
  const side = (s: number) => sync.book.levels(s, depth).map(([price, qty]) => ({ price, qty }));
  return JSON.stringify({ channel: "book", type: "snapshot", data: [{ symbol: sync.book.symbol, bids: side(BID), asks: side(ASK), checksum: sync.checksum(), timestamp: ts }] });
}

const recAt = (recs: Uint8Array, i: number) => {
  const dv = new DataView(recs.buffer, recs.byteOffset + i * TICK_BYTES, TICK_BYTES);
  return { kind: dv.getUint8(T.KIND_U8), flags: dv.getUint8(T.FLAGS_U8), inst: dv.getUint32(T.INSTRUMENT_U32 * 4, true), price: dv.getFloat64(T.PRICE_F64 * 8, true), size: dv.getFloat64(T.SIZE_F64 * 8, true), seq: dv.getBigUint64(T.SEQ_U32 * 4, true), ts: dv.getBigUint64(T.TS_EXCHANGE_U32 * 4, true) };
};

describe.skipIf(!hasKraken)("Kraken v2 C parser and book procedure (the simulator's tape, derived from KRAKEN.ws.50.0.gz)", () => {
  const tape = hasKraken ? loadKrakenTape() : undefined!;
  const syms = hasKraken ? tape.instruments.map((x) => ({ symbol: x.symbol, pp: x.pricePrecision, qp: x.qtyPrecision })) : [];

  for (const depth of [1000, 10]) {
    test(`depth ${depth}: the ring holds the normaliser's records of every frame, byte for byte; every checksum checked and equal to KrakenV2BookSync's; final books equal`, () => {
      const k = KRAKEN_SIM_DEPTHS.indexOf(depth as (typeof KRAKEN_SIM_DEPTHS)[number]);
      const ring = SpscRing.create(1 << 17);
      const pop = alignedBuffer((1 << 16) * TICK_BYTES);
      try {
        const p = krakenFeed(syms, depth, ring);
        // the reference: TypeScript books at the same depth, fed the same messages
        const ref = tape.instruments.map((x) => new KrakenV2BookSync(new L2Book("kraken", x.symbol), depth, x.pricePrecision, x.qtyPrecision));
        const venue = tape.instruments.map((x) => new KrakenV2BookSync(new L2Book("kraken", x.symbol), 1000, x.pricePrecision, x.qtyPrecision));
        tape.instruments.forEach((x, i) => venue[i]!.onData("snapshot", { symbol: x.symbol, ...tape.startBooks[i]! }));
        const frames = [...venue.map((v) => krakenSnapshot(v, depth))];
        for (let i = 0; i < tape.count; i++) {
          const t = tape.bookText[i] ? tape.bookText[i]![k]! : tape.tradeText[i]!;
          if (t) frames.push(t);
        }
        const table = new InstrumentTable();
        syms.forEach((s) => table.id(Venue.kraken, s.symbol));
        const tb = new TickBuffer(1 << 16);
        let checks = 0, records = 0;
        for (const f of frames) {
          const m = JSON.parse(f);
          tb.clear();
          const want = normalizeKrakenFrame(m, 0n, table, tb);
          expect(p.text(f, 0)).toBe(want);
          expect([p.resyncs, p.pushed]).toEqual([0, want]);
          const n = ring.pop(pop.ptr, 1 << 16);
          expect(n).toBe(want);
          expect(new Uint8Array(pop.buffer, pop.byteOffset, n * TICK_BYTES)).toEqual(tb.bytes());
          records += n;
          if (m.channel === "book") {
            const i = syms.findIndex((s) => s.symbol === m.data[0].symbol);
            expect(ref[i]!.onMessage(m)).toBe(m.type === "snapshot" ? "snapshot" : "applied");
            expect(p.krakenChecksum(i)).toBe(ref[i]!.checksum());
            checks++;
          }
        }
        expect(records).toBeGreaterThan(depth === 1000 ? 10_000 : 2000);
        let checked = 0;
        syms.forEach((_, i) => {
          const c = p.krakenCounters(i);
          expect([c.checksumMismatches, c.crossed, c.malformed, c.skipped, c.resyncs]).toEqual([0, 0, 0, 0, 0]);
          checked += c.checksumsChecked;
          expect(p.krakenState(i).state).toBe(2);
          expect(p.krakenLevels(i, BID)).toEqual(ref[i]!.book.levels(BID));
          expect(p.krakenLevels(i, ASK)).toEqual(ref[i]!.book.levels(ASK));
          expect(p.krakenDepthOf(i, BID)).toBeLessThanOrEqual(depth);
        });
        expect(checked).toBe(checks);
        expect(checked).toBeGreaterThan(depth === 1000 ? 4000 : 900);
        if (depth === 10) {
          // the same messages spread out (whitespace, another key order) take the general reader, not the
          // one-pass form: the same records, outcomes and books
          const q = krakenFeed(syms, depth, ring);
          const spread = (f: string) => {
            const m = JSON.parse(f);
            if (m.channel === "book") m.data = m.data.map((d: Record<string, unknown>) => ({ timestamp: d.timestamp, checksum: d.checksum, asks: d.asks, bids: d.bids, symbol: d.symbol }));
            return JSON.stringify(m, null, 1);
          };
          for (const f of frames) {
            const m = JSON.parse(f);
            tb.clear();
            const want = normalizeKrakenFrame(m, 0n, table, tb);
            expect(q.text(spread(f), 0)).toBe(want);
            const n = ring.pop(pop.ptr, 1 << 16);
            expect(new Uint8Array(pop.buffer, pop.byteOffset, n * TICK_BYTES)).toEqual(tb.bytes());
          }
          syms.forEach((_, i) => {
            expect(q.krakenCounters(i)).toEqual(p.krakenCounters(i));
            expect(q.krakenLevels(i, BID)).toEqual(p.krakenLevels(i, BID));
            expect(q.krakenLevels(i, ASK)).toEqual(p.krakenLevels(i, ASK));
          });
        }
      } finally {
        ring.free();
      }
    });
  }
});

describe("Kraken v2 C parser: forms, faults and the book procedure", () => {
  const S = [
    { symbol: "BTC/USD", pp: 2, qp: 8 },
    { symbol: "ETH/USD", pp: 2, qp: 8 },
  ];
  const refBook = (i: number, depth = 10) => new KrakenV2BookSync(new L2Book("kraken", S[i]!.symbol), depth, S[i]!.pp, S[i]!.qp);
  const lv = (xs: Array<[number, number]>): KrakenV2Level[] => xs.map(([price, qty]) => ({ price, qty }));
  const bids0 = lv([[100, 1], [99.9, 2], [99.8, 0.5], [99.7, 3], [99.6, 1], [99.5, 1], [99.4, 1], [99.3, 1], [99.2, 1], [99.1, 1]]);
  const asks0 = lv([[100.1, 1], [100.2, 2], [100.3, 0.5], [100.4, 3], [100.5, 1], [100.6, 1], [100.7, 1], [100.8, 1], [100.9, 1], [101, 1]]);
  /** an update element's text with the checksum the reference book has after it */
  const update = (ref: KrakenV2BookSync, bids: KrakenV2Level[], asks: KrakenV2Level[], bad = 0) => {
    const d = { symbol: ref.book.symbol, bids, asks };
    ref.onData("update", d);
    return { ...d, checksum: ref.checksum() + bad, timestamp: "2024-01-02T03:04:05.123456Z" };
  };
  const msg = (type: string, data: unknown[]) => JSON.stringify({ channel: "book", type, data });

  test("bot4_crc32 (carry-less multiplication where the CPU has it, else tables) is zlib's CRC-32 at every length", () => {
    let seed = 7;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 16) & 0xff;
    for (let n = 0; n <= 700; n++) {
      const b = Uint8Array.from({ length: n }, rnd);
      inU8.set(b);
      expect([n, K.bot4_crc32(inb.ptr, n) >>> 0]).toEqual([n, crc32(b)]);
    }
  });

  test("a number's checksum digits: its text, the fraction padded to the precision, '.' and leading zeros removed", () => {
    const digits = (s: string, prec: number) => {
      const b = enc.encode(s);
      const o = new Uint8Array(64);
      const n = K.bot4_kraken_digits(b, b.length, prec, o);
      return n < 0 ? null : new TextDecoder().decode(o.subarray(0, n));
    };
    // book-checksum-v2 guide: 45285.2 -> 452852; 0.00100000 -> 100000
    expect(digits("45285.2", 1)).toBe("452852");
    expect(digits("0.00100000", 8)).toBe("100000");
    expect(digits("0.001", 8)).toBe("100000"); // the same value sent without trailing zeros
    expect(digits("354.8", 8)).toBe("35480000000");
    expect(digits("7", 2)).toBe("700");
    expect(digits("0", 8)).toBe("");
    expect(digits("1e-5", 8)).toBeNull();
    expect(digits("1.2.3", 8)).toBeNull();
    // against the reference formatting of every level of a book
    for (const [x, p] of [[0.000229, 9], [56218.3, 5], [1.5, 8], [12, 0]] as const) {
      expect(digits(String(x), p)).toBe(x.toFixed(p).replace(".", "").replace(/^0+/, ""));
    }
  });

  test("snapshot, updates, truncation to the depth: the C book follows KrakenV2BookSync level for level and checksum for checksum", () => {
    const p = krakenFeed(S, 10);
    const ref = refBook(0);
    ref.onData("snapshot", { symbol: "BTC/USD", bids: bids0, asks: asks0 });
    expect(p.text(krakenSnapshot(ref, 10), 1)).toBe(20);
    expect(p.krakenState(0).state).toBe(2);
    // a better bid pushes the 10th out (no deletion is sent for it); then the best is deleted: 9 levels, the dropped one stays out
    expect(p.text(msg("update", [update(ref, lv([[100.05, 1]]), [])]), 2)).toBe(1);
    expect(p.text(msg("update", [update(ref, lv([[100.05, 0]]), [])]), 3)).toBe(1);
    expect(p.krakenDepthOf(0, BID)).toBe(9);
    expect(p.krakenLevels(0, BID)).toEqual(ref.book.levels(BID));
    expect(p.krakenChecksum(0)).toBe(ref.checksum());
    // several levels of a side in one message, applied in order (the same price twice: the last wins)
    expect(p.text(msg("update", [update(ref, lv([[99.95, 1], [99.95, 2.5], [99.1, 4]]), lv([[100.1, 0], [100.15, 0.25]]))]), 4)).toBe(5);
    expect(p.krakenLevels(0, BID)).toEqual(ref.book.levels(BID));
    expect(p.krakenLevels(0, ASK)).toEqual(ref.book.levels(ASK));
    const c = p.krakenCounters(0);
    expect([c.snapshots, c.applied, c.checksumsChecked, c.checksumMismatches, c.truncated]).toEqual([1, 3, 4, 0, ref.counters.truncated]);
    expect(c.truncated).toBeGreaterThan(0);
  });

  test("keys in any order, whitespace, data before channel, asks before bids: the normaliser's records", () => {
    const p = krakenFeed(S, 10);
    const ref = refBook(0);
    ref.onData("snapshot", { symbol: "BTC/USD", bids: bids0, asks: asks0 });
    const cs = ref.checksum();
    const text = `{ "data" : [ { "checksum" : ${cs}, "asks" : [ { "qty" : 1 , "price" : 100.1 } ${asks0.slice(1).map((l) => `,{"price":${l.price},"qty":${l.qty}}`).join("")} ], "timestamp":"2024-01-02T03:04:05Z", "bids":${JSON.stringify(bids0)}, "symbol" : "BTC/USD" } ], "type":"snapshot", "channel" : "book" }`;
    const table = new InstrumentTable();
    S.forEach((s) => table.id(Venue.kraken, s.symbol));
    const tb = new TickBuffer(64);
    expect(normalizeKrakenFrame(JSON.parse(text), 0n, table, tb)).toBe(20);
    const got = parseOne(p, text);
    expect(got.n).toBe(20);
    expect(got.recs).toEqual(tb.bytes());
    expect(p.text(text, 0)).toBe(20);
    expect([p.krakenState(0).state, p.krakenCounters(0).checksumsChecked]).toEqual([2, 1]);
    expect(recAt(got.recs, 0)).toMatchObject({ kind: TickKind.level, flags: TickFlag.snapshot, price: 100, size: 1, ts: 1704164645000000000n });
    expect(recAt(got.recs, 19)).toMatchObject({ flags: TickFlag.snapshot | TickFlag.ask | TickFlag.last, price: 101 });
  });

  test("a checksum mismatch, a crossed book, an unreadable level: the book fails, a STATUS record replaces its records, updates are withheld until a snapshot", () => {
    const ring = SpscRing.create(1 << 12);
    const pop = alignedBuffer(1024 * TICK_BYTES);
    const popAll = () => {
      const n = ring.pop(pop.ptr, 1024);
      return Array.from({ length: n }, (_, i) => recAt(new Uint8Array(pop.buffer, pop.byteOffset, n * TICK_BYTES), i));
    };
    try {
      const p = krakenFeed(S, 10, ring);
      const ref = refBook(0), ref1 = refBook(1);
      ref.onData("snapshot", { symbol: "BTC/USD", bids: bids0, asks: asks0 });
      ref1.onData("snapshot", { symbol: "ETH/USD", bids: bids0, asks: asks0 });
      p.text(krakenSnapshot(ref, 10), 1);
      p.text(krakenSnapshot(ref1, 10).replace("BTC/USD", "ETH/USD"), 1);
      expect(p.krakenTakeFlags(0)).toBe(KrakenFlag.snapped);
      expect(p.krakenTakeFlags(1)).toBe(KrakenFlag.snapped);
      popAll();
      // one frame, two pairs: BTC/USD's checksum is off by one, ETH/USD's is right
      const bad = update(ref, lv([[99.95, 1]]), []);
      const good = update(ref1, [], lv([[100.15, 2]]));
      expect(p.text(msg("update", [{ ...bad, checksum: bad.checksum + 1 }, good]), 2)).toBe(2);
      expect([p.resyncs, p.pushed]).toEqual([1, 2]);
      const recs = popAll();
      expect(recs.map((r) => [r.kind, r.inst, r.flags])).toEqual([[TickKind.status, 0, TickFlag.last], [TickKind.level, 1, TickFlag.ask | TickFlag.last]]);
      expect(p.krakenState(0)).toMatchObject({ state: 0, problem: 8, lastVenue: bad.checksum + 1, lastBook: bad.checksum });
      expect(p.krakenTakeFlags(0)).toBe(KrakenFlag.resync);
      expect([p.krakenCounters(0).checksumMismatches, p.krakenDepthOf(0, BID), p.krakenState(1).state]).toEqual([1, 0, 2]);
      // withheld until the snapshot
      expect(p.text(msg("update", [update(ref, lv([[99.96, 1]]), [])]), 3)).toBe(1);
      expect([p.pushed, p.krakenCounters(0).skipped]).toEqual([0, 1]);
      expect(p.text(krakenSnapshot(ref, 10), 4)).toBe(20);
      expect([p.krakenState(0).state, p.pushed, p.krakenTakeFlags(0)]).toEqual([2, 20, KrakenFlag.snapped]);
      popAll();
      // crossed: a bid at the best ask (the checksum the venue would send is irrelevant)
      expect(p.text(msg("update", [{ symbol: "BTC/USD", bids: lv([[100.1, 1]]), asks: [], checksum: 1 }]), 5)).toBe(1);
      expect([p.krakenState(0).problem, p.krakenCounters(0).crossed, p.pushed, popAll()[0]!.kind]).toEqual([2, 1, 1, TickKind.status]);
      // an unreadable level (a quoted price; a negative qty) fails a synced book and is counted
      p.text(krakenSnapshot(ref, 10), 6);
      popAll();
      for (const badLevel of ['{"price":"100.05","qty":1}', '{"price":100.05,"qty":-1}', '{"price":100.05}']) {
        const t = `{"channel":"book","type":"update","data":[{"symbol":"BTC/USD","bids":[${badLevel}],"asks":[],"checksum":1}]}`;
        expect([badLevel, p.text(t, 7), p.krakenState(0).problem]).toEqual([badLevel, 1, 5]);
        p.text(krakenSnapshot(ref, 10), 8);
      }
      expect(p.krakenCounters(0).malformed).toBe(3);
      // an unknown pair's element is counted and dropped; the rest of the frame stands
      const g2 = update(ref1, lv([[99.99, 1]]), []);
      expect(p.text(msg("update", [{ symbol: "XRP/USD", bids: lv([[1, 1]]), asks: [], checksum: 5 }, g2]), 9)).toBe(2);
      expect([p.krakenUnknown, p.pushed, p.krakenState(1).state]).toEqual([1, 1, 2]);
      // a lost connection: every book waits for its snapshot
      p.reset();
      expect([p.krakenState(0).state, p.krakenState(1).state, p.krakenDepthOf(1, ASK)]).toEqual([0, 0, 0]);
    } finally {
      ring.free();
    }
  });

  test("trades, heartbeats, status, replies, other channels and junk: classified", () => {
    const p = krakenFeed(S, 10);
    const trade = `{"channel":"trade","type":"update","data":[{"symbol":"ETH/USD","side":"sell","price":2500.5,"qty":0.25,"ord_type":"market","trade_id":123456,"timestamp":"2024-01-02T03:04:05.5Z"},{"symbol":"ETH/USD","side":"buy","price":2500.6,"qty":1e-5,"ord_type":"limit","trade_id":123457,"timestamp":"2024-01-02T03:04:05.6Z"}]}`;
    const t = parseOne(p, trade);
    expect(t.n).toBe(2);
    expect(recAt(t.recs, 0)).toMatchObject({ kind: TickKind.trade, flags: TickFlag.sell, inst: 1, price: 2500.5, size: 0.25, seq: 123456n, ts: 1704164645500000000n });
    expect(recAt(t.recs, 1)).toMatchObject({ flags: TickFlag.last, size: 1e-5, seq: 123457n });
    const table = new InstrumentTable();
    S.forEach((s) => table.id(Venue.kraken, s.symbol));
    const tb = new TickBuffer(8);
    normalizeKrakenFrame(JSON.parse(trade), 0n, table, tb);
    expect(t.recs).toEqual(tb.bytes());
    // textNow: the C step stamps the records with the bot4 clock itself
    const ring = SpscRing.create(64);
    try {
      const q = krakenFeed(S, 10, ring);
      const t0 = now();
      expect(q.textNow(trade)).toBe(2);
      const t1 = now();
      const popped = alignedBuffer(64 * TICK_BYTES);
      expect(ring.pop(popped.ptr, 64)).toBe(2);
      const recv = Number(new DataView(popped.buffer, popped.byteOffset).getBigUint64(T.TS_RECV_U32 * 4, true));
      expect(recv).toBeGreaterThanOrEqual(Math.floor(t0));
      expect(recv).toBeLessThanOrEqual(Math.ceil(t1));
    } finally {
      ring.free();
    }
    const cases: Array<[string, number, number]> = [
      ['{"channel":"heartbeat"}', ParseStatus.control, VparseWhat.heartbeat],
      ['{"channel":"status","type":"update","data":[{"api_version":"v2","system":"online"}]}', ParseStatus.control, VparseWhat.status],
      ['{"method":"pong","time_in":"x","time_out":"y"}', ParseStatus.control, VparseWhat.reply],
      ['{"method":"subscribe","result":{"channel":"book","symbol":"BTC/USD"},"success":true}', ParseStatus.control, VparseWhat.reply],
      ['{"error":"Currency pair not supported X/Y","method":"subscribe","success":false,"symbol":"X/Y"}', ParseStatus.venueError, VparseWhat.reply],
      ['{"channel":"ticker","type":"update","data":[{}]}', ParseStatus.unknownType, VparseWhat.none],
      ['{"foo":1}', ParseStatus.unknownType, VparseWhat.none],
      ['{"channel":"book","type":"update"}', ParseStatus.missing, VparseWhat.delta],
      ['{"channel":"book","type":"other","data":[]}', ParseStatus.missing, VparseWhat.delta],
      ['{"channel":"trade","type":"update","data":[{"symbol":"NOPE/USD","side":"buy","price":1,"qty":1,"trade_id":1,"timestamp":"2024-01-02T03:04:05Z"}]}', ParseStatus.unknownSymbol, VparseWhat.trades],
      ['{"channel":"trade","type":"update","data":[{"symbol":"ETH/USD","side":"up","price":1,"qty":1,"trade_id":1,"timestamp":"2024-01-02T03:04:05Z"}]}', ParseStatus.missing, VparseWhat.trades],
      ["{oops", ParseStatus.malformed, VparseWhat.none],
      ["[1,2]", ParseStatus.malformed, VparseWhat.none],
      ['{"channel":"book","type":"update","data":[{"symbol":"BTC/USD","bids":[{"price":1,"qty":1}],"asks":[]}', ParseStatus.malformed, VparseWhat.none],
    ];
    for (const [text, status, what] of cases) {
      expect([text, p.text(text, 1), p.what]).toEqual([text, status, what]);
      expect(p.pushed).toBe(0);
    }
  });
});
