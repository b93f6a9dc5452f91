/**
 * BybitFeed — the native market-data handler for Bybit v5 public streams (`/v5/public/linear`,
 * `/v5/public/spot`, `/v5/public/inverse`): one websocket for many symbols (orderbook.{depth},
 * publicTrade, tickers). Hot path: each frame's text is encoded into a preallocated buffer and one
 * FFI call (c/vparse.h bot4_vfeed_frame) parses it in C into 64-byte tick records, applies book
 * frames to the feed's own C book of that symbol (rule SEQ) and pushes the records into the SPSC
 * ring — no JSON.parse and no JS object per message. Op replies, error replies, tickers (linear
 * sends deltas merged per symbol, BybitTickerState) and unreadable frames take the cold path
 * (JSON.parse + normalizeBybitFrame).
 *
 * Guarantees:
 *  - after every (re)connect the feed subscribes every configured topic again (Bybit: "once you
 *    have subscribed successfully, you will receive a snapshot"), so no book carries a
 *    pre-disconnect state past the new snapshot; every subscribe/unsubscribe reply is checked and
 *    a `success: false` reply is counted with its `ret_msg` and reported through onNotice;
 *  - a book that its C book finds broken (update-id gap, crossed book) or that gets an unreadable
 *    message (counted in bookMalformed), that
 *    lost records to a full ring, or that the engine's book asks for (`requestResync`) is
 *    resubscribed: unsubscribe + subscribe of its orderbook topic, after which Bybit sends a fresh
 *    snapshot (its public orderbook has no REST bridge). Requests for a topic are coalesced until
 *    the snapshot arrives, and re-sent if none came within `resyncTimeoutMs`;
 *  - the ring receives every frame's records as the venue sent them (seq = u on LEVEL records):
 *    the engine's C book (rule SEQ, c/book.h) checks the u chain itself;
 *  - heartbeat: `{"op":"ping"}` every `pingMs` (default 20 s, Bybit's recommendation), a pong
 *    (`op: "pong"` on linear/inverse, `op: "ping"` with `ret_msg: "pong"` on spot) expected
 *    within `pongTimeoutMs`, else the connection is dropped and reconnected; a stream silent for
 *    `stallMs` is reconnected too; reconnects use exponential backoff with full jitter;
 *  - nothing a venue sends crashes the feed: frames that are not JSON objects, unknown topics and
 *    error replies are counted; onNotice is called on the cold path only (connection events,
 *    error replies, resyncs, the first malformed frame or ring drop of a connection).
 *
 * The session, transport and ring writer it runs on are shared with the other JSON feeds
 * (src/feed/ws-session.ts).
 */
import { BookRule, BookSet, type CBook, type CBookCounters } from "../../../ffi/book.ts";
import { PARSE_DEFER, VenueFrameParser, VparseVenue, VparseWhat } from "../../../ffi/vparse.ts";
import { ParseStatus } from "../../../ffi/parse.ts";
import { Venue } from "../../domain/instruments.ts";
import { TickBuffer } from "../../domain/tick-buffer.ts";
import { FixedInstruments, TextFeedSession, TickRingWriter, PendingResyncs, frameText, parsedFrames, jsonObject, type SessionCounters, type JsonFeedOptions } from "../ws-session.ts";
import { bybitCategoryFromUrl, type BybitCategory } from "./book.ts";
import { BybitTickerState, bybitUnified, normalizeBybitFrame } from "./normalize.ts";

// ---------------------------------------------------------------------------------------------
// Bybit

export type BybitChannel = "orderbook" | "publicTrade" | "tickers";

export interface BybitFeedOptions extends JsonFeedOptions {
  /** the stream URL, e.g. wss://stream.bybit.com/v5/public/linear: its path names the category */
  wsUrl: string;
  /** Bybit symbols (BTCUSDT) and the engine's instrument ids for them */
  symbols: Array<{ symbol: string; instrument: number }>;
  channels: BybitChannel[];
  /** orderbook depth (Bybit v5: 1, 50, 200, 1000; linear/inverse also 500); default 50 */
  depth?: number;
}

export interface BybitFeedCounters extends SessionCounters {
  frames: number;
  records: number;
  /** frames that are not a JSON object */
  malformed: number;
  /** records the ring had no room for */
  ringDrops: number;
  subscribeAcks: number;
  unsubscribeAcks: number;
  /** `success: false` replies */
  errors: number;
  /** orderbook message outcomes (BybitBookSync) */
  snapshots: number;
  applied: number;
  stale: number;
  discarded: number;
  gaps: number;
  crossed: number;
  bookMalformed: number;
  /** unsubscribe+subscribe cycles sent for a book, and re-sends of one that brought no snapshot */
  resubscribes: number;
  resubscribeRetries: number;
  /** topic frames of symbols that were not configured */
  unknownSymbols: number;
}

/** Bybit: "For spot, you can input up to 10 args for each subscription request" (v5/ws/connect); used for every category. */
const MAX_ARGS_PER_REQUEST = 10;
const MAX_KEPT = 20;

/**
 * One configured symbol's order book as the feed keeps it: a C book (rule SEQ: a snapshot syncs
 * it, then each delta must carry u = previous u + 1; c/book.h) that the C parser applies every
 * orderbook frame to in the same FFI call that parses it.
 */
export interface BybitBookView {
  readonly book: CBook;
  readonly topic: string;
  /** the book's counters (snapshots, applied, stale, gaps, crossed, ...) */
  readonly counters: CBookCounters;
}

export class BybitFeed {
  readonly counters: BybitFeedCounters;
  /** `op: ret_msg` of error replies, first few */
  readonly errorMessages: string[] = [];
  readonly category: BybitCategory;
  readonly session: TextFeedSession;
  /** every topic subscribed on each connection */
  readonly topics: string[];
  private tickers = new BybitTickerState();
  private readonly instruments: FixedInstruments;
  private readonly tb = new TickBuffer(1024);
  private readonly writer: TickRingWriter;
  private readonly bookTopicOf = new Map<number, string>();
  /** the feed's own books (C), by instrument id; the C parser applies book frames to them */
  private readonly bookSet: BookSet;
  private readonly views = new Map<number, BybitBookView>();
  private readonly vp: VenueFrameParser;
  /** topic → performance.now() of the resubscribe awaiting its snapshot */
  private readonly resyncing = new PendingResyncs();
  private malformedNoticed = false;
  private dropping = false;

  constructor(private readonly o: BybitFeedOptions) {
    if (o.symbols.length === 0) throw new RangeError("BybitFeed needs at least one symbol");
    if (o.channels.length === 0) throw new RangeError("BybitFeed needs at least one channel");
    const category = bybitCategoryFromUrl(o.wsUrl);
    if (category === null || category === "option") throw new RangeError(`BybitFeed: ${o.wsUrl} is not a /v5/public/{linear|inverse|spot} stream`);
    this.category = category;
    const depth = o.depth ?? 50;
    this.instruments = new FixedInstruments(o.symbols.map((s) => [bybitUnified(s.symbol.toUpperCase(), category), s.instrument] as const));
    this.topics = [];
    for (const { symbol, instrument } of o.symbols) {
      const s = symbol.toUpperCase();
      for (const ch of o.channels) {
        const topic = ch === "orderbook" ? `orderbook.${depth}.${s}` : `${ch}.${s}`;
        this.topics.push(topic);
        if (ch === "orderbook") this.bookTopicOf.set(instrument, topic);
      }
    }
    const venue = o.venue ?? Venue.bybit;
    this.writer = new TickRingWriter(o.ring, venue);
    this.bookSet = new BookSet(Math.max(...o.symbols.map((s) => s.instrument)) + 1);
    for (const [instrument, topic] of this.bookTopicOf) {
      // the venue keeps `depth` levels a side; room for twice that absorbs levels a delta inserts before it deletes
      const book = this.bookSet.add(instrument, BookRule.seq, { levels: 2 * depth + 64, pending: 16 });
      this.views.set(instrument, { book, topic, get counters() { return book.counters(); } });
    }
    this.vp = new VenueFrameParser(VparseVenue.bybit, venue, { books: this.bookSet, ring: o.ring });
    for (const { symbol, instrument } of o.symbols) this.vp.addSymbol(symbol.toUpperCase(), instrument);
    this.counters = bookCounters(
      {
        connects: 0, reconnects: 0, stalls: 0, pingsSent: 0, pongs: 0, pongTimeouts: 0, sendFailures: 0,
        frames: 0, records: 0, malformed: 0, ringDrops: 0, subscribeAcks: 0, unsubscribeAcks: 0, errors: 0,
        bookMalformed: 0, resubscribes: 0, resubscribeRetries: 0, unknownSymbols: 0,
      },
      [...this.views.values()].map((v) => v.book),
    );
    const pingMs = o.pingMs ?? 20_000;
    this.session = new TextFeedSession(
      {
        url: o.wsUrl,
        transport: o.transport,
        backoff: o.backoff,
        stallMs: o.stallMs,
        // Bybit v5 (docs/v5/ws/connect, "How to Send the Heartbeat Packet"): send {"op":"ping"};
        // "we recommend that you send the ping heartbeat packet every 20 seconds"
        heartbeat: { text: '{"op":"ping"}', everyMs: pingMs, idleOnly: false, timeoutMs: o.pongTimeoutMs ?? Math.min(10_000, pingMs) },
        onNotice: o.onNotice,
        random: o.random,
      },
      { onOpen: () => this.onOpen(), ...parsedFrames(this.vp, this.counters, o.clock, (n, t, b, s, e) => this.parsed(n, t, b, s, e)), onLost: () => this.onLost(), onTick: (t) => this.onTick(t) },
      this.counters,
    );
  }

  start(): void {
    this.session.start();
  }

  stop(): void {
    this.session.stop();
  }

  /** The feed's book of a configured symbol (orderbook channel), with its counters. */
  sync(instrument: number): BybitBookView | undefined {
    return this.views.get(instrument);
  }

  /** The C parser's counters (frames by outcome). */
  parserCounters(): ReturnType<VenueFrameParser["counters"]> {
    return this.vp.counters();
  }

  /** The engine's book asks for a fresh snapshot (gap, crossed): resubscribe its topic. */
  requestResync(instrument: number): void {
    const topic = this.bookTopicOf.get(instrument);
    if (topic !== undefined) this.resubscribe(topic, "requested by the engine's book");
  }

  private onOpen(): void {
    // a new connection starts from the snapshots its subscriptions bring
    for (const v of this.views.values()) v.book.reset();
    this.tickers = new BybitTickerState();
    this.resyncing.clear();
    this.malformedNoticed = false;
    this.dropping = false;
    for (let i = 0; i < this.topics.length; i += MAX_ARGS_PER_REQUEST) {
      this.session.send(JSON.stringify({ op: "subscribe", args: this.topics.slice(i, i + MAX_ARGS_PER_REQUEST) }));
    }
  }

  private onLost(): void {
    // the next connection subscribes everything again and its snapshots replace the books; until
    // then the engine's books must not look current
    this.resyncing.clear();
    for (const v of this.views.values()) v.book.reset();
    const now = this.o.clock();
    for (const s of this.o.symbols) this.writer.pushBookLost(s.instrument, now);
  }

  private onTick(t: number): void {
    if (this.resyncing.size === 0 || !this.session.connected) return;
    for (const { key, waitedMs } of this.resyncing.overdue(t, this.o.resyncTimeoutMs ?? 5000)) {
      this.counters.resubscribeRetries++;
      this.o.onNotice?.("book resync: no snapshot yet, resubscribing again", { topic: key, waitedMs });
      this.sendResubscribe(key);
    }
  }

  private resubscribe(topic: string, reason: string): void {
    if (!this.session.connected || this.resyncing.has(topic)) return;
    this.resyncing.begin(topic, performance.now());
    this.counters.resubscribes++;
    this.o.onNotice?.("book resync: resubscribing", { topic, reason });
    this.sendResubscribe(topic);
  }

  private sendResubscribe(topic: string): void {
    this.session.send(JSON.stringify({ op: "unsubscribe", args: [topic] }));
    this.session.send(JSON.stringify({ op: "subscribe", args: [topic] }));
  }

  /** After the C step (parsedFrames: one FFI call per frame): book outcomes, ring drops; frames it made nothing of go to the cold path (as text) */
  private parsed(n: number, text: string | null, buf: Uint8Array | null, start: number, end: number): void {
    const c = this.counters;
    const vp = this.vp;
    if (n <= 0) {
      this.coldFrame(text ?? frameText(buf!, start, end), n);
      return;
    }
    const put = vp.pushed;
    c.records += put;
    if (vp.what >= VparseWhat.delta) {
      const inst = vp.instrument;
      if (vp.resyncs > 0) {
        const book = this.views.get(inst)?.book;
        this.resubscribe(this.bookTopicOf.get(inst)!, book?.problem?.what ?? "book problem");
      } else if (vp.what === VparseWhat.snapshot && this.resyncing.size > 0) {
        this.resyncing.done(this.bookTopicOf.get(inst)!);
      }
    }
    if (put === n) {
      this.dropping = false;
      return;
    }
    this.ringDropped(n - put, vp.what >= VparseWhat.delta ? vp.instrument : -1);
  }

  private ringDropped(dropped: number, bookInstrument: number): void {
    this.counters.ringDrops += dropped;
    const topic = this.bookTopicOf.get(bookInstrument);
    if (!this.dropping) {
      this.dropping = true;
      this.o.onNotice?.("ring full: records dropped", { topic, dropped });
    }
    // the engine's book lost part of this stream: a fresh snapshot puts it right
    if (topic !== undefined) this.resubscribe(topic, "ring full");
  }

  /** Frames the C path produced no records for: replies, tickers, unreadable messages (rare). */
  private coldFrame(text: string, status: number): void {
    const c = this.counters;
    if (status === ParseStatus.unknownSymbol) {
      c.unknownSymbols++;
      return;
    }
    const f = jsonObject(text);
    if (typeof f === "string") {
      this.malformedFrame(text, f);
      return;
    }
    const topic = f.topic;
    if (typeof topic !== "string") {
      this.onReply(f, typeof f.success === "boolean" ? (f.success ? "op" : "error") : typeof f.op === "string" ? "op" : "malformed", text);
      return;
    }
    if (status === PARSE_DEFER) {
      // tickers: linear sends deltas merged per symbol (BybitTickerState), kept in TypeScript
      const tb = this.tb;
      tb.clear();
      const n = normalizeBybitFrame(f, 0n, this.instruments, tb, { category: this.category, tickers: this.tickers });
      if (n === 0) return;
      const put = this.writer.push(tb, this.o.clock());
      c.records += put;
      if (put < n) this.ringDropped(n - put, -1);
      return;
    }
    if (topic.startsWith("orderbook.")) {
      // an orderbook message that cannot be applied as sent: the book would miss it
      c.bookMalformed++;
      const inst = this.vp.instrument;
      const v = this.views.get(inst);
      if (v && v.book.synced) {
        v.book.reset();
        this.resubscribe(v.topic, `unreadable orderbook message (${status})`);
      }
      return;
    }
    if (status === ParseStatus.missing || status === ParseStatus.malformed || status === ParseStatus.tooMany) this.malformedFrame(text, `unreadable ${topic.slice(0, 40)} message`);
    // other topic families (kline, liquidation, ...) are not ours: nothing to record
  }

  private onReply(f: Record<string, unknown>, r: string, text: string): void {
    const c = this.counters;
    const op = f.op;
    if (r === "op") {
      // linear/inverse answer {"op":"pong",...}; spot answers {"success":true,"ret_msg":"pong","op":"ping"}
      if (op === "pong" || op === "ping") this.session.pong();
      else if (op === "subscribe") c.subscribeAcks++;
      else if (op === "unsubscribe") c.unsubscribeAcks++;
      return;
    }
    if (r === "error") {
      c.errors++;
      const msg = `${typeof op === "string" ? op : "?"}: ${typeof f.ret_msg === "string" ? f.ret_msg : JSON.stringify(f.ret_msg)}`;
      if (this.errorMessages.length < MAX_KEPT) this.errorMessages.push(msg);
      this.o.onNotice?.("venue error reply", { op, message: f.ret_msg });
      return;
    }
    this.malformedFrame(text, "neither a topic push nor an op reply");
  }

  private malformedFrame(text: string, why: string): void {
    this.counters.malformed++;
    if (this.malformedNoticed) return;
    this.malformedNoticed = true;
    this.o.onNotice?.("malformed frame (first on this connection)", { why, frame: text.slice(0, 120) });
  }
}

type OwnCounters = Omit<BybitFeedCounters, "snapshots" | "applied" | "stale" | "discarded" | "gaps" | "crossed">;

/**
 * The feed's counters: its own, plus the book outcomes summed over its C books when read (cold
 * path). `discarded` = deltas a book skipped while it waited for a snapshot.
 */
function bookCounters(own: OwnCounters, books: CBook[]): BybitFeedCounters {
  const sum = (pick: (k: CBookCounters) => number) => () => {
    let n = 0;
    for (const b of books) n += pick(b.counters());
    return n;
  };
  return Object.defineProperties(own, {
    snapshots: { get: sum((k) => k.snapshots), enumerable: true },
    applied: { get: sum((k) => k.applied), enumerable: true },
    stale: { get: sum((k) => k.stale), enumerable: true },
    discarded: { get: sum((k) => k.msgs - k.applied - k.stale - k.snapshots - k.gaps), enumerable: true },
    gaps: { get: sum((k) => k.gaps), enumerable: true },
    crossed: { get: sum((k) => k.crossed), enumerable: true },
  }) as BybitFeedCounters;
}
