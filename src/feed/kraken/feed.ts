/**
 * KrakenFeed — the native market-data handler for Kraken spot WebSocket v2 (`wss://ws.kraken.com/v2`):
 * one connection for many pairs (`book`, `trade`). Hot path: each frame's text is encoded into a
 * preallocated buffer and one FFI call (c/vparse.h bot4_vfeed_frame) parses it in C into 64-byte
 * tick records, keeps each pair's book in C by Kraken's procedure (every level of a message
 * applied in order, the book truncated to the subscribed depth, the CRC32 checksum over the top
 * 10 levels' received digits padded to the pair's precision, on every snapshot and update) and
 * pushes the records the books accepted into the SPSC ring — no JSON.parse and no JS object per
 * message. Subscribe answers, pongs, errors and unreadable frames take the cold path.
 *
 * Guarantees:
 *  - after every (re)connect the feed sends `{"method":"subscribe","params":{"channel":"book",
 *    "symbol":[…],"depth":N}}` and the same for `trade` (spot-websocket-v2/book, /trade); the
 *    venue answers each symbol on its own (`{"method":"subscribe","success":true|false,…}`):
 *    a `success: false` answer is counted with its `error` and reported through onNotice;
 *  - the ring only receives book data the C book accepted: a snapshot whose checksum matched, then
 *    updates whose checksum matched (v2: "the checksum is calculated on the snapshot and each
 *    update"), never an update that arrives while the pair waits for a snapshot. A checksum
 *    mismatch, a crossed book or an unreadable level makes the pair's book unusable; its records
 *    are replaced by a STATUS record so the engine's book clears and waits for a snapshot, and the
 *    feed resubscribes the pair's book (unsubscribe + subscribe: Kraken publishes a snapshot on
 *    subscription). Resubscribes are coalesced until the snapshot arrives and re-sent if none came
 *    within `resyncTimeoutMs`. A lost connection resets every pair's book the same way;
 *  - the feed's book keeps exactly `depth` levels a side: Kraken "truncate[s] to the subscribed
 *    depth" and sends no deletion for a level that falls out of scope (book-checksum-v2 guide);
 *    v2 book messages carry no sequence number, so the engine's C book (rule NONE) learns of a
 *    problem only through the STATUS record;
 *  - liveness: Kraken sends `{"channel":"heartbeat"}` about once a second when no other update is
 *    due (spot-websocket-v2/heartbeat), so any frame feeds the stall watchdog (`stallMs`); after
 *    `pingMs` without a frame the feed sends the application ping `{"method":"ping"}`
 *    (spot-websocket-v2/ping) and drops the connection if no `{"method":"pong"}` follows within
 *    `pongTimeoutMs`. Reconnects use exponential backoff with full jitter;
 *  - nothing a venue sends crashes the feed: frames that are not JSON objects, unknown channels,
 *    data for pairs not configured and unreadable book messages are counted.
 *
 * The connection session, text transport and ring writer (for the STATUS records of a lost
 * connection) are the ones the Bybit, OKX and Coinbase feeds use (src/feed/ws-session.ts).
 */
import { ParseStatus } from "../../../ffi/parse.ts";
import { now } from "../../../ffi/clock.ts";
import { KrakenFlag, VenueFrameParser, VparseVenue, VparseWhat, type KrakenBookCounters } from "../../../ffi/vparse.ts";
import { Venue } from "../../domain/instruments.ts";
import { TextFeedSession, TickRingWriter, PendingResyncs, frameText, parsedFrames, jsonObject, type SessionCounters, type JsonFeedOptions } from "../ws-session.ts";

export const KRAKEN_WS_V2_URL = "wss://ws.kraken.com/v2";
/** spot-websocket-v2/book: depth "One of: 10, 25, 100, 500, 1000" (default 10) */
export const KRAKEN_BOOK_DEPTHS = [10, 25, 100, 500, 1000] as const;

export type KrakenChannel = "book" | "trade";

export interface KrakenSymbol {
  /** the v2 pair name, e.g. BTC/USD */
  symbol: string;
  instrument: number;
  /** `price_precision` and `qty_precision` of the pair (v2 `instrument` channel): the checksum formats numbers with them */
  pricePrecision: number;
  qtyPrecision: number;
}

export interface KrakenFeedOptions extends JsonFeedOptions {
  /** default wss://ws.kraken.com/v2 (a ws://127.0.0.1:port in tests) */
  wsUrl?: string;
  symbols: KrakenSymbol[];
  channels: KrakenChannel[];
  /** book depth per side: 10, 25, 100, 500 or 1000 (default 10) */
  depth?: number;
}

export interface KrakenFeedCounters extends SessionCounters {
  frames: number;
  records: number;
  /** frames that are not JSON objects, or neither a channel message nor a method reply */
  malformed: number;
  ringDrops: number;
  /** `success: true` answers to subscribe / unsubscribe */
  subscribeAcks: number;
  unsubscribeAcks: number;
  /** `success: false` answers */
  errors: number;
  heartbeats: number;
  /** `status` channel messages (sent on connect and on system status changes) */
  statusMessages: number;
  /** channel messages we do not use (ticker, instrument, ...) */
  otherChannels: number;
  /** book data outcomes (the C books) */
  snapshots: number;
  applied: number;
  skipped: number;
  checksumMismatches: number;
  crossed: number;
  /** book messages that could not be read: whole frames, and data elements of configured pairs */
  bookMalformed: number;
  /** book unsubscribe+subscribe cycles sent, and re-sends of one that brought no snapshot */
  resubscribes: number;
  resubscribeRetries: number;
  /** STATUS records pushed so the engine's book drops a state that can no longer be trusted */
  bookResets: number;
  /** data elements for pairs that were not configured */
  unknownSymbols: number;
}

/** A pair's book as the feed keeps it (in C), read cold: tests, reports, the engine's checks. */
export interface KrakenBookView {
  readonly symbol: string;
  readonly instrument: number;
  readonly book: {
    readonly synced: boolean;
    depth(side: number): number;
    price(side: number, level: number): number;
    size(side: number, level: number): number;
    /** best first, [price, qty] */
    levels(side: number, n?: number): Array<[number, number]>;
  };
  readonly counters: KrakenBookCounters;
  /** the last problem that failed the book ("" when none) */
  readonly lastProblem: string;
  /** Kraken's checksum of the book as it stands */
  checksum(): number;
}

const MAX_KEPT = 20;
/** enum bot4_book_problem codes (c/book.h) the Kraken step records */
const CHECKSUM = 8;
const PROBLEM_TEXT: Record<number, string> = {
  2: "crossed book",
  5: "book data that cannot be read (a level, the checksum or the timestamp)",
  6: "records lost to a full ring",
  [CHECKSUM]: "checksum mismatch",
};

export class KrakenFeed {
  readonly counters: KrakenFeedCounters;
  /** `method symbol: error` of `success: false` answers, first few */
  readonly errorMessages: string[] = [];
  readonly session: TextFeedSession;
  readonly depth: number;
  private readonly bySymbol = new Map<string, KrakenSymbol>();
  private readonly byInstrument = new Map<number, KrakenSymbol>();
  private readonly views = new Map<string, KrakenBookView>();
  private readonly writer: TickRingWriter;
  private readonly book: boolean;
  private readonly vp: VenueFrameParser;
  /** symbol → performance.now() of the resubscribe awaiting its snapshot */
  private readonly resyncing = new PendingResyncs();
  private ringDropsSeen = 0;
  private unknownSeen = 0;
  /** the feed's clock is the bot4 clock: the C step stamps the frame itself */
  private readonly bot4Clock: boolean;
  private malformedNoticed = false;
  private dropping = false;

  constructor(private readonly o: KrakenFeedOptions) {
    this.bot4Clock = o.clock === now;
    if (o.symbols.length === 0) throw new RangeError("KrakenFeed needs at least one symbol");
    if (o.channels.length === 0) throw new RangeError("KrakenFeed needs at least one channel");
    this.depth = o.depth ?? 10;
    if (!(KRAKEN_BOOK_DEPTHS as readonly number[]).includes(this.depth)) throw new RangeError(`Kraken v2 book depth ${this.depth}: one of ${KRAKEN_BOOK_DEPTHS.join(", ")}`);
    for (const s of o.symbols) {
      for (const p of [s.pricePrecision, s.qtyPrecision]) {
        if (!Number.isInteger(p) || p < 0 || p > 18) throw new RangeError(`Kraken v2 precision ${p} of ${s.symbol}: an integer number of decimals 0..18`);
      }
      if (!Number.isInteger(s.instrument) || s.instrument < 0 || s.instrument > 4095) throw new RangeError(`Kraken instrument id ${s.instrument} of ${s.symbol}: 0..4095`);
      if (this.bySymbol.has(s.symbol) || this.byInstrument.has(s.instrument)) throw new RangeError(`Kraken symbol ${s.symbol} / instrument ${s.instrument} given twice`);
      this.bySymbol.set(s.symbol, s);
      this.byInstrument.set(s.instrument, s);
    }
    this.book = o.channels.includes("book");
    const venue = o.venue ?? Venue.kraken;
    this.writer = new TickRingWriter(o.ring, venue);
    const nb = Math.max(...o.symbols.map((s) => s.instrument)) + 1;
    const vp = (this.vp = new VenueFrameParser(VparseVenue.kraken, venue, { ring: o.ring, krakenBooks: { books: nb, depth: this.depth } }));
    for (const s of o.symbols) {
      vp.addSymbol(s.symbol, s.instrument);
      vp.krakenPair(s.instrument, s.pricePrecision, s.qtyPrecision);
      const i = s.instrument;
      const levels = (side: number, n = Infinity) => vp.krakenLevels(i, side, n);
      this.views.set(s.symbol, {
        symbol: s.symbol,
        instrument: i,
        book: {
          get synced() {
            return vp.krakenState(i).state === 2;
          },
          depth: (side) => vp.krakenDepthOf(i, side),
          price: (side, level) => levels(side, level + 1)[level]?.[0] ?? NaN,
          size: (side, level) => levels(side, level + 1)[level]?.[1] ?? NaN,
          levels,
        },
        get counters() {
          return vp.krakenCounters(i);
        },
        get lastProblem() {
          const st = vp.krakenState(i);
          if (!st.problem) return "";
          const what = PROBLEM_TEXT[st.problem] ?? `problem ${st.problem}`;
          return st.problem === CHECKSUM ? `${what}: venue ${st.lastVenue}, book ${st.lastBook}` : what;
        },
        checksum: () => vp.krakenChecksum(i),
      });
    }
    vp.reset();
    const views = [...this.views.values()];
    const sum = (pick: (k: KrakenBookCounters) => number) => () => views.reduce((a, v) => a + pick(v.counters), 0);
    this.counters = Object.defineProperties(
      {
        connects: 0, reconnects: 0, stalls: 0, pingsSent: 0, pongs: 0, pongTimeouts: 0, sendFailures: 0,
        frames: 0, records: 0, malformed: 0, ringDrops: 0, subscribeAcks: 0, unsubscribeAcks: 0, errors: 0,
        heartbeats: 0, statusMessages: 0, otherChannels: 0, resubscribes: 0, resubscribeRetries: 0, bookResets: 0,
      },
      {
        snapshots: { get: sum((k) => k.snapshots), enumerable: true },
        applied: { get: sum((k) => k.applied), enumerable: true },
        skipped: { get: sum((k) => k.skipped), enumerable: true },
        checksumMismatches: { get: sum((k) => k.checksumMismatches), enumerable: true },
        crossed: { get: sum((k) => k.crossed), enumerable: true },
        bookMalformed: { get: () => sum((k) => k.malformed)() + this.frameBookMalformed, enumerable: true },
        unknownSymbols: { get: () => this.vp.krakenUnknown + this.tradeUnknown, enumerable: true },
      },
    ) as KrakenFeedCounters;
    const pingMs = o.pingMs ?? 5000;
    this.session = new TextFeedSession(
      {
        url: o.wsUrl ?? KRAKEN_WS_V2_URL,
        transport: o.transport,
        backoff: o.backoff,
        stallMs: o.stallMs ?? 10_000,
        heartbeat: { text: '{"method":"ping"}', everyMs: pingMs, idleOnly: true, timeoutMs: o.pongTimeoutMs ?? 5000 },
        onNotice: o.onNotice,
        random: o.random,
      },
      { onOpen: () => this.onOpen(), ...parsedFrames(this.vp, this.counters, this.bot4Clock ? null : o.clock, (n, t, b, s, e) => this.parsed(n, t, b, s, e)), onLost: (r) => this.onLost(r), onTick: (t) => this.onTick(t) },
      this.counters,
    );
  }

  /** book frames that could not be read as a whole (no data array, no snapshot/update type) */
  private frameBookMalformed = 0;
  /** trade frames naming a pair not configured */
  private tradeUnknown = 0;

  start(): void {
    this.session.start();
  }

  stop(): void {
    this.session.stop();
  }

  /** The feed's book of a configured pair (kept across connections; reset by each). */
  sync(symbol: string): KrakenBookView | undefined {
    return this.views.get(symbol);
  }

  /** The C parser's counters (frames by outcome). */
  parserCounters(): ReturnType<VenueFrameParser["counters"]> {
    return this.vp.counters();
  }

  /** The engine's book asks for a fresh snapshot: resubscribe the pair's book. */
  requestResync(instrument: number): void {
    const s = this.byInstrument.get(instrument);
    if (s) this.resubscribe(s.symbol, "requested by the engine's book");
  }

  private request(method: "subscribe" | "unsubscribe", channel: KrakenChannel, symbols: string[]): void {
    const params: Record<string, unknown> = { channel, symbol: symbols };
    if (channel === "book") params.depth = this.depth;
    // trade: "snapshot ... Default: false" — only trades from now on
    if (channel === "trade" && method === "subscribe") params.snapshot = false;
    this.session.send(JSON.stringify({ method, params }));
  }

  private onOpen(): void {
    // a new connection starts from the snapshots its subscriptions bring
    this.vp.reset();
    this.resyncing.clear();
    this.malformedNoticed = false;
    this.dropping = false;
    const all = this.o.symbols.map((s) => s.symbol);
    for (const ch of this.o.channels) this.request("subscribe", ch, all);
  }

  private onLost(reason: string): void {
    this.resyncing.clear();
    this.vp.reset();
    if (!this.book) return;
    for (const s of this.o.symbols) this.resetBook(s.instrument);
    this.o.onNotice?.("books reset until the next connection's snapshots", { reason });
  }

  private onTick(t: number): void {
    if (this.resyncing.size === 0 || !this.session.connected) return;
    for (const { key, waitedMs } of this.resyncing.overdue(t, this.o.resyncTimeoutMs ?? 5000)) {
      this.counters.resubscribeRetries++;
      this.o.onNotice?.("book resync: no snapshot yet, resubscribing again", { symbol: key, waitedMs });
      this.sendResubscribe(key);
    }
  }

  private resubscribe(symbol: string, reason: string): void {
    if (!this.book || !this.session.connected || this.resyncing.has(symbol) || !this.bySymbol.has(symbol)) return;
    this.resyncing.begin(symbol, performance.now());
    this.counters.resubscribes++;
    this.o.onNotice?.("book resync: resubscribing", { symbol, reason });
    this.sendResubscribe(symbol);
  }

  private sendResubscribe(symbol: string): void {
    this.request("unsubscribe", "book", [symbol]);
    this.request("subscribe", "book", [symbol]);
  }

  private resetBook(instrument: number): void {
    this.counters.bookResets++;
    if (this.writer.pushBookLost(instrument, this.o.clock()) === 1) this.counters.records++;
    else this.counters.ringDrops++;
  }

  /** After the C step (parsedFrames: one FFI call per frame): book outcomes, ring drops; frames it made nothing of go to the cold path (as text) */
  private parsed(n: number, text: string | null, buf: Uint8Array | null, start: number, end: number): void {
    const c = this.counters;
    const vp = this.vp;
    c.records += vp.pushed;
    const what = vp.what;
    const book = what === VparseWhat.snapshot || what === VparseWhat.delta;
    if (book && n >= 0) {
      if (vp.resyncs > 0 || what === VparseWhat.snapshot) this.bookOutcomes();
      if (vp.ringDrops !== this.ringDropsSeen) this.ringDropped(true);
      else this.dropping = false;
      return;
    }
    if (n > 0) {
      if (vp.ringDrops !== this.ringDropsSeen) this.ringDropped(false);
      else this.dropping = false;
      return;
    }
    if (n === ParseStatus.control) {
      if (what === VparseWhat.heartbeat) {
        c.heartbeats++;
        return;
      }
      if (what === VparseWhat.status) {
        c.statusMessages++;
        return;
      }
    }
    this.coldFrame(text ?? frameText(buf!, start, end), n, what);
  }

  /** After a book frame that failed a book or loaded a snapshot: resubscribes, finished resyncs. */
  private bookOutcomes(): void {
    const vp = this.vp;
    for (const s of this.o.symbols) {
      const f = vp.krakenTakeFlags(s.instrument);
      if (f === 0) continue;
      if (f & KrakenFlag.resync) {
        // the C step cleared the book and put a STATUS record in the ring in place of its records
        this.counters.bookResets++;
        this.resubscribe(s.symbol, this.views.get(s.symbol)!.lastProblem);
      } else if (f & KrakenFlag.snapped) this.resyncing.done(s.symbol);
    }
  }

  private ringDropped(book: boolean): void {
    const vp = this.vp;
    const dropped = vp.ringDrops - this.ringDropsSeen;
    this.ringDropsSeen = vp.ringDrops;
    this.counters.ringDrops += dropped;
    const s = this.byInstrument.get(vp.instrument);
    if (!this.dropping) {
      this.dropping = true;
      this.o.onNotice?.("ring full: records dropped", { symbol: s?.symbol, dropped });
    }
    // the engine's book lost part of this stream: the feed's book stops passing updates on (a
    // STATUS record says so) until a fresh snapshot, which a resubscribe brings
    if (!book || !s) return;
    if (vp.failBook(s.instrument, this.o.clock())) {
      this.counters.records += vp.pushed;
      this.counters.bookResets++;
      vp.krakenTakeFlags(s.instrument);
      this.ringDropsSeen = vp.ringDrops;
    }
    this.resubscribe(s.symbol, "ring full");
  }

  /** Frames the C path made no records for: replies, other channels, unreadable frames (rare). */
  private coldFrame(text: string, status: number, what: number): void {
    const c = this.counters;
    if (what === VparseWhat.trades && status === ParseStatus.unknownSymbol) {
      this.tradeUnknown++;
      return;
    }
    const f = jsonObject(text);
    if (typeof f === "string") {
      this.malformedFrame(text, f);
      return;
    }
    const channel = f.channel;
    if (typeof channel !== "string") {
      if (typeof f.method === "string") this.onReply(f);
      else this.malformedFrame(text, "neither a channel message nor a method reply");
      return;
    }
    if (channel === "book") {
      this.frameBookMalformed++;
      this.malformedFrame(text, "book message that is not a snapshot/update with a data array");
      return;
    }
    if (channel === "trade") {
      if (Array.isArray(f.data) && f.data.length === 0) return;
      this.malformedFrame(text, `trade data that cannot be read (${status})`);
      return;
    }
    c.otherChannels++;
  }

  private onReply(f: Record<string, unknown>): void {
    const c = this.counters;
    const method = f.method as string;
    if (method === "pong") {
      this.session.pong();
      return;
    }
    if (f.success === false) {
      c.errors++;
      const what = `${method}${typeof f.symbol === "string" ? ` ${f.symbol}` : ""}: ${typeof f.error === "string" ? f.error : JSON.stringify(f.error)}`;
      if (this.errorMessages.length < MAX_KEPT) this.errorMessages.push(what);
      this.o.onNotice?.("venue error reply", { method, symbol: f.symbol, error: f.error });
      return;
    }
    if (method === "subscribe") c.subscribeAcks++;
    else if (method === "unsubscribe") c.unsubscribeAcks++;
  }

  private malformedFrame(text: string, why: string): void {
    this.counters.malformed++;
    if (this.malformedNoticed) return;
    this.malformedNoticed = true;
    this.o.onNotice?.("malformed frame (first on this connection)", { why, frame: text.slice(0, 120) });
  }
}
