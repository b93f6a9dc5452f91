/**
 * The native JSON venue handlers against ccxt, per venue message, on the same frames in the same
 * run. The market-data issue asks each native handler to be "a C parser over the received bytes,
 * or an equally fast method — measure it", and >= 10x ccxt. Bybit runs on the C path (c/vparse.c:
 * the frame's bytes parsed into tick records and applied to the feed's C book in one FFI call),
 * and so do Coinbase (the same call also checks the connection's sequence_num), OKX (the seqId
 * chain and the CRC-32 checksum over each level's received text, in C) and Kraken v2 (truncation to
 * the depth and the CRC32 checksum over the top 10 levels' received digits, in C). This is that
 * measurement.
 *
 * Per venue:
 *  - ours: the frame text handed to the feed exactly as its websocket would hand it (the feed
 *    class itself, on an in-process transport: the text encoded into the feed's buffer, one FFI
 *    call that parses it, keeps the feed's C book by the venue's sequence / checksum rules and
 *    pushes the records into the SPSC ring with the bot4 clock's receive stamp); the ring is
 *    drained every 64 frames, as a consumer would;
 *  - ccxt: `ccxt.pro.<venue>` receiving the same text through its own WsClient.onMessage
 *    (its JSON.parse, then handleMessage → handleOrderBook / handleTrades), markets set by hand,
 *    no socket; every request ccxt might make throws. At the end its order book's top levels must
 *    equal ours, so ccxt did process the frames;
 *  - JSON.parse alone per frame, for reference, and ns per book level where frames carry levels.
 * The three run interleaved (each of REPS runs: every handler once from a fresh state, the order
 * rotated, a full collection before each), so a load that comes and goes on the shared box
 * weighs on all of them alike and none pays for another's garbage; figures are medians over the
 * runs.
 *
 * Frames: Bybit v5 linear orderbook.200 + publicTrade and Coinbase Advanced Trade l2_data +
 * market_trades from the cryptofeed v3 captures, Kraken v1 book-1000 and trades from cryptofeed raw logs,
 * OKX books + trades from the simulator's generated tape (no OKX capture exists). Notes:
 *  - Coinbase numbers every message of a connection with one sequence_num; keeping only the l2
 *    and trade frames renumbers them consecutively (as if the connection carried only those
 *    channels), otherwise our sync would see gaps and resync;
 *  - ccxt 4.5's Kraken handler speaks only WebSocket v2, and so does KrakenFeed: both get the v1
 *    captures rendered as the equivalent v2 messages (same pairs, levels, order and checksums; the
 *    numbers with every digit the v1 text carries; trades from the same session's trade log,
 *    merged in receive order).
 * A venue whose data file is absent is skipped with a message; VENUES=kraken,okx runs only those.
 */
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { BookRule, BookSet } from "../ffi/book.ts";
import { alignedBuffer } from "../ffi/buffers.ts";
import { now } from "../ffi/clock.ts";
import { VenueFrameParser, VparseVenue } from "../ffi/vparse.ts";
import { SpscRing } from "../ffi/ring.ts";
import { ASK, BID, type L2Book } from "../src/book/l2book.ts";
import { Venue } from "../src/domain/instruments.ts";
import { BybitFeed } from "../src/feed/bybit/feed.ts";
import { bybitUnified } from "../src/feed/bybit/normalize.ts";
import { CoinbaseFeed } from "../src/feed/coinbase/feed.ts";
import { coinbaseUnified } from "../src/feed/coinbase/normalize.ts";
import { CryptofeedLogReader } from "../src/feed/cryptofeed-log.ts";
import { CryptofeedV3Reader } from "../src/feed/cryptofeed-v3.ts";
import { KrakenBooks } from "../src/feed/kraken/book.ts";
import { KrakenFeed } from "../src/feed/kraken/feed.ts";
import { krakenSpotUnified } from "../src/feed/kraken/normalize.ts";
import { OkxFeed } from "../src/feed/okx/feed.ts";
import { okxUnified } from "../src/feed/okx/normalize.ts";
import { type TextTransportFactory, type TextTransportHandlers } from "../src/feed/ws-session.ts";
import { generateOkxTape, OkxVenueBook } from "../src/sim/venues/okx.ts";
import { done, figure, percentiles, section } from "./harness.ts";

const DATA = resolve(import.meta.dir, "../../shared/data");
const BYBIT_FILE = `${DATA}/cryptofeed-v3/BYBIT.jsonl.gz`;
const COINBASE_FILE = `${DATA}/cryptofeed-v3/COINBASE.jsonl.gz`;
const KRAKEN_FILE = `${DATA}/cryptofeed/KRAKEN.ws.50.0.gz`;
const KRAKEN_TRADES_FILE = `${DATA}/cryptofeed/KRAKEN.ws.48.0.gz`;
const REPS = 7;
/** levels compared between our book and ccxt's at the end of a replay */
const TOP = 10;
const DRAIN_EVERY = 64;

// ---------------------------------------------------------------------------------------------
// Plumbing shared by the venues

const ring = SpscRing.create(1 << 17);
/** The consumer's side: hand everything that arrived back to the producer. */
const drain = (): void => ring.release(ring.available(1 << 17));

/** An in-process transport: the feed's session opens it, the bench delivers the frames. */
function loopback(): { factory: TextTransportFactory; handlers: () => TextTransportHandlers } {
  let h: TextTransportHandlers | null = null;
  return {
    factory: (_url, handlers) => {
      h = handlers;
      return { send: () => true, close: () => {} };
    },
    handlers: () => {
      if (!h) throw new Error("the feed did not open its transport");
      return h;
    },
  };
}

/** Feed options that keep the session's watchdog, pings and reconnects out of the way. */
const quiet = { clock: now, ring, stallMs: 1e9, pingMs: 29_000, pongTimeoutMs: 29_000, resyncTimeoutMs: 1e9 };

/** What a frame is, for the figures: a book snapshot, a book update, or trades. */
const CLASSES = ["snapshot", "update", "trade"] as const;
const SNAPSHOT = 0, UPDATE = 1, TRADE = 2;

/** A venue's frames, with each frame's class and the book levels each class carries. */
interface Tape {
  frames: string[];
  cls: Uint8Array;
  levels: Float64Array;
}

function tape(frames: string[], classify: (f: string) => { cls: number; levels: number }): Tape {
  const cls = new Uint8Array(frames.length), levels = new Float64Array(3);
  frames.forEach((f, k) => {
    const c = classify(f);
    cls[k] = c.cls;
    levels[c.cls]! += c.levels;
  });
  return { frames, cls, levels };
}

/**
 * One pass of a fresh handler over the tape: ns per frame of each class and of all frames (index
 * 3). Each frame is timed on its own (two performance.now() calls, tens of ns, the same for every
 * handler) so snapshots, which weigh hundreds of updates, are reported apart. The ring is drained
 * every 64 frames, outside the timed calls: the consumer's work, not the handler's.
 */
function pass(t: Tape, handle: (text: string) => void): Float64Array {
  const count = new Float64Array(3);
  for (let k = 0; k < t.cls.length; k++) count[t.cls[k]!]!++;
  const frames = t.frames, cls = t.cls;
  const acc = new Float64Array(3);
  for (let k = 0; k < frames.length; k++) {
    const t0 = performance.now();
    handle(frames[k]!);
    acc[cls[k]!]! += performance.now() - t0;
    if (k % DRAIN_EVERY === DRAIN_EVERY - 1) drain();
  }
  drain();
  const out = new Float64Array(4);
  for (let c = 0; c < 3; c++) out[c] = count[c]! > 0 ? (acc[c]! * 1e6) / count[c]! : NaN;
  out[3] = ((acc[0]! + acc[1]! + acc[2]!) * 1e6) / frames.length;
  return out;
}

/**
 * Several handlers on the same tape with their runs interleaved (run r: every handler once, the
 * order rotated each run), so that a load that comes and goes on the shared box weighs on all of
 * them alike; medians per handler and class.
 */
function timeTogether(t: Tape, begins: Array<() => (text: string) => void>, reps = REPS): Float64Array[] {
  const runs = begins.map(() => [0, 1, 2, 3].map(() => new Float64Array(reps)));
  for (let r = 0; r < reps; r++) {
    for (let j = 0; j < begins.length; j++) {
      const h = (j + r) % begins.length;
      Bun.gc(true); // each run starts on a collected heap: no handler pays for the garbage of the one before
      const res = pass(t, begins[h]!());
      for (let c = 0; c < 4; c++) runs[h]![c]![r] = res[c]!;
    }
  }
  return runs.map((rs) => Float64Array.from(rs, (x) => percentiles(x).p50));
}

/**
 * ns per frame of the C step alone (parse + the feed's C books, no ring) over frames already
 * encoded in C-readable memory, one FFI call for the whole tape; median of REPS runs, each on
 * fresh books. Shows what the per-frame text encoding and FFI call of the feed add.
 */
function cOnly(frames: string[], symbols: string[], kind: number, venue: number, levels: number, rule: number = BookRule.seq, maxRecords?: number, okxBooks = false): number {
  const enc = new TextEncoder();
  const bytes = frames.map((f) => enc.encode(f));
  const total = bytes.reduce((a, b) => a + b.length, 0);
  const mem = alignedBuffer(total), offs = alignedBuffer((frames.length + 1) * 4), recv = alignedBuffer(frames.length * 8);
  const u8 = new Uint8Array(mem.buffer, mem.byteOffset, total), o32 = new Uint32Array(offs.buffer, offs.byteOffset, frames.length + 1);
  let at = 0;
  bytes.forEach((b, k) => {
    o32[k] = at;
    u8.set(b, at);
    at += b.length;
  });
  o32[frames.length] = at;
  const runs = new Float64Array(REPS);
  for (let r = 0; r < REPS; r++) {
    const books = new BookSet(symbols.length);
    symbols.forEach((_, i) => books.add(i, rule, { levels, pending: 16 }));
    const p = new VenueFrameParser(kind, venue, { books, maxRecords, okxBooks });
    symbols.forEach((s, i) => p.addSymbol(s, i));
    p.reset();
    const t0 = performance.now();
    p.frames(mem.ptr, offs.ptr, frames.length, recv.ptr);
    runs[r] = ((performance.now() - t0) * 1e6) / frames.length;
    const k = p.counters();
    const mismatches = okxBooks ? symbols.reduce((a, _, i) => a + p.okxCounters(i).checksumMismatches, 0) : 0;
    if (k.malformed + k.missing + k.unknownSymbol + k.tooMany + p.seqGaps + mismatches + books.all().reduce((g, b) => g + b.counters().gaps + b.counters().crossed, 0) > 0) throw new Error(`C-only replay not clean: ${JSON.stringify(k)}`);
  }
  return percentiles(runs).p50;
}

/** cOnly for Kraken: the feed's C books are Kraken's own (krakenBooks), not BookSet's. */
function cOnlyKraken(frames: string[], symbols: Array<{ symbol: string; pricePrecision: number; qtyPrecision: number }>, depth: number): number {
  const enc = new TextEncoder();
  const bytes = frames.map((f) => enc.encode(f));
  const total = bytes.reduce((a, b) => a + b.length, 0);
  const mem = alignedBuffer(total), offs = alignedBuffer((frames.length + 1) * 4), recv = alignedBuffer(frames.length * 8);
  const u8 = new Uint8Array(mem.buffer, mem.byteOffset, total), o32 = new Uint32Array(offs.buffer, offs.byteOffset, frames.length + 1);
  let at = 0;
  bytes.forEach((b, k) => {
    o32[k] = at;
    u8.set(b, at);
    at += b.length;
  });
  o32[frames.length] = at;
  const runs = new Float64Array(REPS);
  for (let r = 0; r < REPS; r++) {
    const p = new VenueFrameParser(VparseVenue.kraken, Venue.kraken, { krakenBooks: { books: symbols.length, depth } });
    symbols.forEach((s, i) => {
      p.addSymbol(s.symbol, i);
      p.krakenPair(i, s.pricePrecision, s.qtyPrecision);
    });
    p.reset();
    const t0 = performance.now();
    p.frames(mem.ptr, offs.ptr, frames.length, recv.ptr);
    runs[r] = ((performance.now() - t0) * 1e6) / frames.length;
    const k = p.counters();
    const bad = symbols.reduce((a, _, i) => {
      const c = p.krakenCounters(i);
      return a + c.checksumMismatches + c.crossed + c.malformed + c.skipped;
    }, 0);
    if (k.malformed + k.missing + k.unknownSymbol + k.tooMany + bad > 0) throw new Error(`Kraken C-only replay not clean: ${JSON.stringify(k)}`);
  }
  return percentiles(runs).p50;
}

let sink = 0;
const jsonParse = () => (text: string) => {
  sink += JSON.parse(text) === null ? 1 : 0;
};
/** The feed on a fresh connection (h.onOpen starts new books), handed each frame as text (Bun's WebSocket transport). */
const feedFrames = (lb: { handlers: () => TextTransportHandlers }) => () => {
  const h = lb.handlers();
  h.onOpen();
  return (text: string) => h.onText(text);
};

/**
 * The same feed handed each frame as its default transport does (wsClientTransport): the frame's
 * UTF-8 bytes in a receive buffer C reads in place, no string. The tape's frames are laid out
 * once in C-readable memory; a pass hands them over in tape order (`pass` walks the tape in
 * order, so the k-th call is frame k).
 */
const feedBytes = (lb: { handlers: () => TextTransportHandlers }, t: Tape) => {
  const enc = new TextEncoder();
  const parts = t.frames.map((f) => enc.encode(f));
  const total = parts.reduce((a, b) => a + b.length, 0);
  const mem = alignedBuffer(Math.max(1, total));
  const u8 = new Uint8Array(mem.buffer, mem.byteOffset, total);
  const offs = new Uint32Array(parts.length + 1);
  parts.forEach((b, k) => {
    u8.set(b, offs[k]!);
    offs[k + 1] = offs[k]! + b.length;
  });
  const base = mem.ptr;
  return () => {
    const h = lb.handlers();
    h.onOpen();
    const bytes = h.onBytes;
    if (!bytes) throw new Error("venues bench: the feed's session takes no bytes");
    let k = 0;
    return (_text: string) => {
      const a = offs[k]!, b = offs[k + 1]!;
      k++;
      bytes(u8, a, b, base + a);
      void mem;
    };
  };
};

// ccxt is used untyped on purpose: its handlers are driven the way its own client drives them
type Any = any;
const ccxt = (await import("ccxt")).default as Any;

interface MarketSpec {
  id: string;
  symbol: string;
  type: "spot" | "swap";
  contractSize?: number;
}

interface OfflineCcxt {
  ex: Any;
  client: Any;
  rejects: unknown[];
}

/**
 * A ccxt.pro exchange that can only process frames: markets set by hand, every request throws,
 * and one WsClient (never connected) whose onMessage is ccxt's own frame entry point. Errors its
 * handlers raise are caught by onMessage and passed to client.reject: those are kept and fail the
 * bench, so a frame ccxt could not process never counts as fast.
 */
function offlineCcxt(id: string, url: string, specs: MarketSpec[], options: Record<string, unknown> = {}): OfflineCcxt {
  const ex = new ccxt.pro[id]({ options });
  const refuse = (what: string) => () => {
    throw new Error(`venues bench: ccxt ${id} tried ${what} (the bench is offline)`);
  };
  ex.fetch = refuse("an HTTP request");
  ex.loadMarkets = refuse("to load markets");
  ex.fetchMarkets = refuse("to fetch markets");
  const markets: Record<string, unknown> = {}, byId: Record<string, unknown[]> = {};
  for (const s of specs) {
    const [baseQuote, settle] = s.symbol.split(":");
    const [base, quote] = baseQuote!.split("/");
    const m = {
      id: s.id, symbol: s.symbol, base, quote, settle, baseId: base, quoteId: quote, settleId: settle, type: s.type,
      spot: s.type === "spot", margin: false, swap: s.type === "swap", future: false, option: false, contract: s.type !== "spot",
      linear: s.type === "swap" ? true : undefined, inverse: s.type === "swap" ? false : undefined,
      contractSize: s.contractSize, active: true, precision: { amount: 1e-8, price: 1e-8 }, limits: {}, info: {},
    };
    markets[s.symbol] = m;
    (byId[s.id] ??= []).push(m);
  }
  ex.markets = markets;
  ex.markets_by_id = byId;
  ex.symbols = Object.keys(markets);
  const client = ex.client(url);
  const rejects: unknown[] = [];
  client.reject = (e: unknown) => {
    rejects.push(e);
  };
  return { ex, client, rejects };
}

/** ccxt from an empty state each run, each frame through its WsClient.onMessage; fails on any reject. */
function timeCcxt(t: Tape, make: () => OfflineCcxt, reps = REPS): { ns: Float64Array; last: OfflineCcxt } {
  const { theirs, last } = measure(t, [], make, reps);
  return { ns: theirs, last };
}

/**
 * JSON.parse alone, our feed and ccxt (a fresh one each run, each frame through its
 * WsClient.onMessage) on the same tape, runs interleaved; fails on any frame ccxt rejected.
 */
function measure(t: Tape, ours: Array<() => (text: string) => void>, make: () => OfflineCcxt, reps = REPS): { json: Float64Array; ours: Float64Array; theirs: Float64Array; text: Float64Array | null; last: OfflineCcxt } {
  let last = make();
  const ccxtRun = () => {
    last = make();
    const client = last.client;
    return (text: string) => client.onMessage({ data: text });
  };
  // ours[0]: the feed as it runs live; ours[1] (optional): its text path, timed in the same runs
  const r = timeTogether(t, ours.length ? [jsonParse, ours[0]!, ccxtRun, ...ours.slice(1, 2)] : [ccxtRun], reps);
  if (last.rejects.length > 0) throw new Error(`ccxt rejected ${last.rejects.length} frames, first: ${String(last.rejects[0])}`);
  return ours.length ? { json: r[0]!, ours: r[1]!, theirs: r[2]!, text: r[3] ?? null, last } : { json: r[0]!, ours: r[0]!, theirs: r[0]!, text: null, last };
}

/** What sameTop reads of our books: the TypeScript L2Book or the feeds' C books (CBook). */
interface TopBook {
  depth(side: number): number;
  price(side: number, level: number): number;
  size(side: number, level: number): number;
}

/** Our book and ccxt's agree on the top levels (price and size) of both sides. */
function sameTop(venue: string, ours: TopBook, theirs: Any, symbol = (ours as L2Book).symbol): void {
  if (!theirs) throw new Error(`${venue}: ccxt kept no order book for ${symbol}`);
  for (const [side, levels] of [[BID, theirs.bids], [ASK, theirs.asks]] as const) {
    const n = Math.min(TOP, ours.depth(side));
    if (n === 0) throw new Error(`${venue} ${symbol}: our book is empty`);
    for (let i = 0; i < n; i++) {
      const lv = levels[i];
      if (!lv || lv[0] !== ours.price(side, i) || lv[1] !== ours.size(side, i)) {
        throw new Error(`${venue} ${symbol}: ${side === BID ? "bid" : "ask"} level ${i} differs: ours ${ours.price(side, i)} x ${ours.size(side, i)}, ccxt ${lv?.[0]} x ${lv?.[1]}`);
      }
    }
  }
}

/** Per class present: JSON.parse, ours, ccxt, the ratio, ns per level; then all frames together. */
function report(venue: string, t: Tape, json: Float64Array, ours: Float64Array, theirs: Float64Array, oursNote: string, ccxtNote: string, text: Float64Array | null = null): void {
  const count = [0, 0, 0];
  for (const c of t.cls) count[c]!++;
  for (let c = 0; c < 3; c++) {
    if (count[c] === 0) continue;
    const name = `${venue}_${CLASSES[c]}`;
    figure(`${name}_json_parse_ns`, json[c]!, "ns/frame", `${count[c]} frames; JSON.parse alone`);
    figure(`${name}_ours_ns`, ours[c]!, "ns/frame");
    figure(`${name}_ccxt_ns`, theirs[c]!, "ns/frame");
    figure(`${name}_ours_vs_ccxt_x`, theirs[c]! / ours[c]!, "x", "goal >= 10");
    if (c !== TRADE && t.levels[c]! > 0) {
      const per = t.levels[c]! / count[c]!;
      figure(`${name}_ours_per_level_ns`, ours[c]! / per, "ns/level", `${per.toFixed(1)} levels a frame; ccxt ${(theirs[c]! / per).toFixed(0)} ns/level`);
    }
  }
  figure(`${venue}_all_json_parse_ns`, json[3]!, "ns/frame", "every frame, snapshots included");
  figure(`${venue}_all_ours_ns`, ours[3]!, "ns/frame", oursNote);
  figure(`${venue}_all_ccxt_ns`, theirs[3]!, "ns/frame", ccxtNote);
  figure(`${venue}_all_ours_vs_ccxt_x`, theirs[3]! / ours[3]!, "x", "goal >= 10");
  if (text) {
    for (let c = 0; c < 3; c++) if (count[c]! > 0) figure(`${venue}_${CLASSES[c]}_text_path_ns`, text[c]!, "ns/frame", `the same feed handed text (Bun's WebSocket transport: encodeInto, then the same FFI call); ${(theirs[c]! / text[c]!).toFixed(1)}x ccxt`);
    figure(`${venue}_all_text_path_ns`, text[3]!, "ns/frame", `${(theirs[3]! / text[3]!).toFixed(1)}x ccxt; the byte path (above) is ${(text[3]! / ours[3]!).toFixed(2)}x faster`);
  }
}

/** VENUES=kraken,okx runs only those venues (all by default) */
const ONLY = process.env.VENUES ? new Set(process.env.VENUES.toLowerCase().split(",")) : null;
const skip = (venue: string, file: string) => {
  if (ONLY && !ONLY.has(venue.toLowerCase())) return true;
  if (existsSync(file)) return false;
  console.error(`skipping ${venue}: ${file} is absent`);
  return true;
};

// ---------------------------------------------------------------------------------------------
// Bybit v5, linear connection: orderbook.200 and publicTrade

if (!skip("Bybit", BYBIT_FILE)) {
  let linear = "";
  const frames: string[] = [];
  for (const e of CryptofeedV3Reader.open(BYBIT_FILE).entries()) {
    if (e.kind === "connect" && e.target.includes("/v5/public/linear")) linear = e.conn;
    if (e.kind !== "recv" || e.conn !== linear) continue;
    if (e.frame.startsWith('{"topic":"orderbook.') || e.frame.startsWith('{"topic":"publicTrade.')) frames.push(e.frame);
  }
  const t = tape(frames, (f) => {
    const m = JSON.parse(f);
    if ((m.topic as string).startsWith("publicTrade.")) return { cls: TRADE, levels: 0 };
    return { cls: m.type === "snapshot" ? SNAPSHOT : UPDATE, levels: m.data.b.length + m.data.a.length };
  });
  const symbols = [...new Set(frames.map((f) => (JSON.parse(f).topic as string).split(".").pop()!))];
  section(`Bybit v5 linear (cryptofeed v3 capture): ${frames.length} frames, ${symbols.join(" ")}`);

  const lb = loopback();
  const url = "wss://stream.bybit.com/v5/public/linear";
  const feed = new BybitFeed({ ...quiet, wsUrl: url, transport: lb.factory, depth: 200, symbols: symbols.map((symbol, instrument) => ({ symbol, instrument })), channels: ["orderbook", "publicTrade"] });
  feed.start();
  const specs = symbols.map((s) => ({ id: s, symbol: bybitUnified(s, "linear"), type: "swap" as const, contractSize: 1 }));
  const { json, ours, theirs, text, last } = measure(t, [feedBytes(lb, t), feedFrames(lb)], () => offlineCcxt("bybit", url, specs));
  const c = feed.counters;
  if (c.gaps || c.crossed || c.bookMalformed || c.malformed || c.ringDrops || c.unknownSymbols || c.stale || c.discarded) throw new Error(`Bybit feed did not replay clean: ${JSON.stringify(c)}`);
  symbols.forEach((s, i) => sameTop("Bybit", feed.sync(i)!.book, last.ex.orderbooks[bybitUnified(s, "linear")], s));
  if (!last.ex.trades[bybitUnified(symbols[0]!, "linear")]?.length) throw new Error("Bybit: ccxt kept no trades");
  feed.stop();
  report("bybit", t, json, ours, theirs, "BybitFeed: frame bytes as WsClient delivers them -> one FFI call: C parse + the feed's C book + ring", "ccxt.pro.bybit: WsClient.onMessage -> handleOrderBook / handleTrades", text);
  // where our time goes: the same C work on bytes already in memory, all frames in one call
  const c2 = cOnly(frames, symbols, VparseVenue.bybit, Venue.bybit, 2 * 200 + 64);
  figure("bybit_all_c_only_ns", c2, "ns/frame", "bot4_vfeed_frames on pre-encoded bytes: C parse + C book, no text, no per-frame FFI call");
  figure("bybit_all_c_only_vs_ccxt_x", theirs[3]! / c2, "x");
}

// ---------------------------------------------------------------------------------------------
// Coinbase Advanced Trade: l2_data and market_trades

if (!skip("Coinbase", COINBASE_FILE)) {
  const frames: string[] = [];
  let seq = 0;
  for (const e of CryptofeedV3Reader.open(COINBASE_FILE).entries()) {
    if (e.kind !== "recv") continue;
    if (!e.frame.startsWith('{"channel":"l2_data"') && !e.frame.startsWith('{"channel":"market_trades"')) continue;
    if (!/"sequence_num":\d+/.test(e.frame)) throw new Error(`Coinbase frame without a sequence_num: ${e.frame.slice(0, 80)}`);
    frames.push(e.frame.replace(/"sequence_num":\d+/, `"sequence_num":${seq++}`));
  }
  type Event = { type?: string; product_id?: string; updates?: unknown[]; trades?: Array<{ product_id: string }> };
  const t = tape(frames, (f) => {
    const m = JSON.parse(f) as { channel: string; events: Event[] };
    if (m.channel === "market_trades") return { cls: TRADE, levels: 0 };
    return { cls: m.events.some((e) => e.type === "snapshot") ? SNAPSHOT : UPDATE, levels: m.events.reduce((a, e) => a + (e.updates?.length ?? 0), 0) };
  });
  const products = [...new Set(frames.flatMap((f) => (JSON.parse(f).events as Event[]).flatMap((e) => (e.product_id ? [e.product_id] : (e.trades ?? []).map((x) => x.product_id)))))];
  section(`Coinbase Advanced Trade (cryptofeed v3 capture, sequence_num renumbered): ${frames.length} frames, ${products.join(" ")}`);

  const lb = loopback();
  const feed = new CoinbaseFeed({ ...quiet, transport: lb.factory, symbols: products.map((symbol, instrument) => ({ symbol, instrument })), channels: ["level2", "market_trades"] });
  feed.start();
  const specs = products.map((p) => ({ id: p, symbol: coinbaseUnified(p), type: "spot" as const }));
  const { json, ours, theirs, text, last } = measure(t, [feedBytes(lb, t), feedFrames(lb)], () => offlineCcxt("coinbase", "wss://advanced-trade-ws.coinbase.com", specs));
  const c = feed.counters;
  if (c.gaps || c.stale || c.malformed || c.ringDrops || c.unknownSymbols || feed.sync.counters.crossed || feed.sync.counters.discarded) throw new Error(`Coinbase feed did not replay clean: ${JSON.stringify(c)}`);
  for (const p of products) sameTop("Coinbase", feed.sync.products.get(p)!.book, last.ex.orderbooks[coinbaseUnified(p)]);
  if (!last.ex.trades[coinbaseUnified(products[0]!)]?.length) throw new Error("Coinbase: ccxt kept no trades");
  feed.stop();
  report("coinbase", t, json, ours, theirs, "CoinbaseFeed: frame bytes as WsClient delivers them -> one FFI call: C parse + sequence_num + the feed's C books + ring", "ccxt.pro.coinbase: WsClient.onMessage -> handleOrderBook / handleTrade", text);
  const c2 = cOnly(frames, products, VparseVenue.coinbase, Venue.coinbase, 65536, BookRule.none, 1 << 17);
  figure("coinbase_all_c_only_ns", c2, "ns/frame", "bot4_vfeed_frames on pre-encoded bytes: C parse + sequence_num + C books, no text, no per-frame FFI call");
  figure("coinbase_all_c_only_vs_ccxt_x", theirs[3]! / c2, "x");
}

// ---------------------------------------------------------------------------------------------
// Kraken spot v2: the v1 captures (book-1000 with checksums, trades) rendered as the v2 messages

if (!skip("Kraken", KRAKEN_FILE)) {
  type V1Level = [string, string, string, string?];
  /** decimals of a v1 number string: the pair's precision, which the v2 checksum pads to */
  const decimals = (x: string) => (x.includes(".") ? x.length - x.indexOf(".") - 1 : 0);
  const precision = new Map<string, { price: number; qty: number }>();
  /** v2 puts a checksum on snapshots too (v1 does not): the rendering takes it from a v1 book */
  const renderBooks = new KrakenBooks();
  const rows: Array<{ ns: bigint; text: string; cls: number; levels: number }> = [];
  const iso = (sec: string) => new Date(Number(sec) * 1000).toISOString().replace("Z", `${sec.split(".")[1]?.padEnd(6, "0").slice(3, 6) ?? "000"}Z`);
  for (const e of CryptofeedLogReader.open(KRAKEN_FILE).entries()) {
    if (e.kind !== "recv" || !e.text.startsWith("[") || !e.text.includes('"book-')) continue;
    const m = JSON.parse(e.text) as unknown[];
    const rendered = renderBooks.onFrame(m);
    const pair = m[m.length - 1] as string;
    const bodies = m.slice(1, m.length - 2) as Array<Record<string, V1Level[] | string>>;
    const snap = "as" in bodies[0]! || "bs" in bodies[0]!;
    const asks: V1Level[] = [], bids: V1Level[] = [];
    let checksum: string | undefined = snap && rendered?.result === "snapshot" ? String(rendered.sync.checksum()) : undefined;
    for (const b of bodies) {
      for (const [k, v] of Object.entries(b)) {
        if (k === "c") checksum = v as string;
        else (k[0] === "a" ? asks : bids).push(...(v as V1Level[]));
      }
    }
    const p = precision.get(pair) ?? { price: 0, qty: 0 };
    let tsMax = "0";
    for (const l of [...asks, ...bids]) {
      p.price = Math.max(p.price, decimals(l[0]));
      p.qty = Math.max(p.qty, decimals(l[1]));
      if (Number(l[2]) > Number(tsMax)) tsMax = l[2];
    }
    precision.set(pair, p);
    // the same book event as v2 sends it: prices and quantities as JSON numbers with every digit (the v1 text, unquoted)
    const lv = (ls: V1Level[]) => `[${ls.map((l) => `{"price":${l[0]},"qty":${l[1]}}`).join(",")}]`;
    const cs = checksum === undefined ? "" : `,"checksum":${checksum}`;
    const text = `{"channel":"book","type":"${snap ? "snapshot" : "update"}","data":[{"symbol":"${krakenSpotUnified(pair)}","bids":${lv(bids)},"asks":${lv(asks)}${cs},"timestamp":"${iso(tsMax)}"}]}`;
    rows.push({ ns: e.recvNs, text, cls: snap ? SNAPSHOT : UPDATE, levels: asks.length + bids.length });
  }
  const pairs = [...precision.keys()];
  // trades (KRAKEN.ws.48.0, the same session's trade channel) as v2 `trade` messages, in receive order with the books
  let tradeId = 1, trades = 0;
  if (existsSync(KRAKEN_TRADES_FILE)) {
    for (const e of CryptofeedLogReader.open(KRAKEN_TRADES_FILE).entries()) {
      if (e.kind !== "recv" || !e.text.startsWith("[") || !e.text.includes('"trade",')) continue;
      const m = JSON.parse(e.text) as [number, string[][], string, string];
      if (!precision.has(m[3])) continue;
      const data = m[1].map((t) => `{"symbol":"${krakenSpotUnified(m[3])}","side":"${t[3] === "s" ? "sell" : "buy"}","price":${t[0]},"qty":${t[1]},"ord_type":"${t[4] === "l" ? "limit" : "market"}","trade_id":${tradeId++},"timestamp":"${iso(t[2]!)}"}`);
      trades += data.length;
      rows.push({ ns: e.recvNs, text: `{"channel":"trade","type":"update","data":[${data.join(",")}]}`, cls: TRADE, levels: 0 });
    }
  }
  rows.sort((x, y) => (x.ns < y.ns ? -1 : x.ns > y.ns ? 1 : 0));
  const t: Tape = { frames: rows.map((r) => r.text), cls: Uint8Array.from(rows, (r) => r.cls), levels: new Float64Array(3) };
  for (const r of rows) t.levels[r.cls]! += r.levels;
  section(`Kraken spot v2 (the v1 book-1000 capture with its checksums and the trade capture, rendered as v2 messages): ${t.frames.length} frames (${trades} trades), ${pairs.length} pairs`);

  // ours: KrakenFeed on the very frames ccxt gets
  const lb = loopback();
  const symbols = pairs.map((p, instrument) => ({ symbol: krakenSpotUnified(p), instrument, pricePrecision: precision.get(p)!.price, qtyPrecision: precision.get(p)!.qty }));
  const feed = new KrakenFeed({ ...quiet, transport: lb.factory, depth: 1000, channels: ["book", "trade"], symbols });
  feed.start();
  const url = "wss://ws.kraken.com/v2";
  const specs = pairs.map((p) => ({ id: krakenSpotUnified(p), symbol: krakenSpotUnified(p), type: "spot" as const }));
  const { json, ours, theirs, text, last } = measure(t, [feedBytes(lb, t), feedFrames(lb)], () => offlineCcxt("kraken", url, specs));
  const fc = feed.counters;
  const checked = symbols.reduce((a, s) => a + feed.sync(s.symbol)!.counters.checksumsChecked, 0);
  if (fc.checksumMismatches || fc.crossed || fc.bookMalformed || fc.malformed || fc.ringDrops || fc.unknownSymbols || fc.skipped || checked < fc.applied + fc.snapshots) {
    throw new Error(`Kraken v2 feed did not replay clean: ${JSON.stringify(fc)}, ${checked} checksums checked`);
  }

  for (const s of symbols) sameTop("Kraken", feed.sync(s.symbol)!.book, last.ex.orderbooks[s.symbol], s.symbol);
  if (trades > 0 && !Object.values(last.ex.trades as Record<string, unknown[]>).some((x) => x.length > 0)) throw new Error("Kraken: ccxt kept no trades");
  feed.stop();
  report("kraken", t, json, ours, theirs, "KrakenFeed: frame bytes as WsClient delivers them -> one FFI call: C parse + the pairs' C books (truncation, CRC32 checksum on every message) + ring", "ccxt.pro.kraken: WsClient.onMessage -> handleOrderBook (checksum off, its default) / handleTrades", text);
  const c2 = cOnlyKraken(t.frames, symbols, 1000);
  figure("kraken_all_c_only_ns", c2, "ns/frame", "bot4_vfeed_frames on pre-encoded bytes: C parse + C books with the checksum, no text, no per-frame FFI call");
  figure("kraken_all_c_only_vs_ccxt_x", theirs[3]! / c2, "x");
  // ccxt with options.watchOrderBook.checksum on: does that path run at all on these frames?
  const probe = offlineCcxt("kraken", url, specs, { watchOrderBook: { checksum: true } });
  for (const f of t.frames.slice(0, 200)) probe.client.onMessage({ data: f });
  if (probe.rejects.length === 0) {
    const { ns } = timeCcxt(t, () => offlineCcxt("kraken", url, specs, { watchOrderBook: { checksum: true } }), 3);
    figure("kraken_ccxt_checksum_update_ns", ns[UPDATE]!, "ns/frame", "ccxt with options.watchOrderBook.checksum = true");
    figure("kraken_update_ours_vs_ccxt_checksum_x", ns[UPDATE]! / ours[UPDATE]!, "x");
  } else {
    figure("kraken_ccxt_checksum", "fails", "", `checksum on: ccxt rejects ${probe.rejects.length} of the first 200 frames: ${String(probe.rejects[0]).slice(0, 100)}`);
  }
}

// ---------------------------------------------------------------------------------------------
// OKX v5 public: books + trades, the simulator's generated tape

if (!ONLY || ONLY.has("okx")) {
  const gen = generateOkxTape({ pushes: 6000 });
  const snapshots = gen.instruments.map((x, i) => {
    const vb = new OkxVenueBook(x.instId);
    vb.load(gen.startBooks[i]!);
    return vb.snapshotFrame();
  });
  const t = tape([...snapshots, ...gen.text], (f) => {
    const m = JSON.parse(f);
    if (m.arg.channel === "trades") return { cls: TRADE, levels: 0 };
    return { cls: m.action === "snapshot" ? SNAPSHOT : UPDATE, levels: m.data[0].bids.length + m.data[0].asks.length };
  });
  const ids = gen.instruments.map((x) => x.instId);
  section(`OKX v5 public (simulator's generated tape, seed 7): ${t.frames.length} frames, ${ids.join(" ")}`);

  const lb = loopback();
  const url = "wss://ws.okx.com:8443/ws/v5/public";
  const feed = new OkxFeed({ ...quiet, wsUrl: url, transport: lb.factory, symbols: ids.map((instId, instrument) => ({ instId, instrument })), channels: ["books", "trades"] });
  feed.start();
  const specs = ids.map((id) => ({ id, symbol: okxUnified(id), type: id.endsWith("-SWAP") ? ("swap" as const) : ("spot" as const), contractSize: 1 }));
  const { json, ours, theirs, text, last } = measure(t, [feedBytes(lb, t), feedFrames(lb)], () => {
    const o = offlineCcxt("okx", url, specs);
    // as after watchOrderBook: handleOrderBook stops at a books message whose hash is not subscribed
    for (const s of specs) o.client.subscriptions[`books:${s.symbol}`] = {};
    return o;
  });
  const c = feed.counters;
  if (c.gaps || c.checksumMismatches || c.crossed || c.bookMalformed || c.malformed || c.ringDrops || c.unknownSymbols || c.withheld) throw new Error(`OKX feed did not replay clean: ${JSON.stringify(c)}`);
  ids.forEach((id, i) => sameTop("OKX", feed.sync(i)!.book, last.ex.orderbooks[okxUnified(id)], id));
  const checked = ids.reduce((a, _, i) => a + feed.sync(i)!.counters.checksumsChecked, 0);
  if (checked < c.snapshots + c.applied) throw new Error(`OKX: only ${checked} checksums checked`);
  if (!last.ex.trades[okxUnified(ids[0]!)]?.length) throw new Error("OKX: ccxt kept no trades");
  feed.stop();
  report("okx", t, json, ours, theirs, "OkxFeed: frame bytes as WsClient delivers them -> one FFI call: C parse + seqId chain + CRC-32 checksum + the feed's C book + ring", "ccxt.pro.okx: WsClient.onMessage -> handleOrderBook (seqId check, no checksum) / handleTrades", text);
  const c2 = cOnly(t.frames, ids, VparseVenue.okx, Venue.okx, 1024, BookRule.none, undefined, true);
  figure("okx_all_c_only_ns", c2, "ns/frame", "bot4_vfeed_frames on pre-encoded bytes: C parse + seqId chain + checksum + C books, no text, no per-frame FFI call");
  figure("okx_all_c_only_vs_ccxt_x", theirs[3]! / c2, "x");
}

ring.free();
if (sink === -1) console.log("");
done();
process.exit(0);
