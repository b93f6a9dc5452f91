/**
 * CoinbaseFeed — the native market-data handler for the Coinbase Advanced Trade websocket
 * (`wss://advanced-trade-ws.coinbase.com`): one connection for many products. Hot path: each
 * frame's text is encoded into a preallocated buffer and one FFI call (c/vparse.h
 * bot4_vfeed_frame) parses it in C into 64-byte tick records, checks the connection's
 * sequence_num, applies l2 events to the feed's own C book of their product (rule NONE: the
 * chain is the connection's, checked in C per frame) and pushes the records into the SPSC ring —
 * no JSON.parse and no JS object per message. Tickers (deferred by the C parser), error frames
 * and unreadable frames take the cold path (JSON.parse; tickers through normalizeCoinbaseFrame).
 *
 * Guarantees:
 *  - after every (re)connect the feed sends one `{"type":"subscribe","product_ids":[…],
 *    "channel":C}` per configured channel, plus `heartbeats` (Advanced Trade WebSocket Channels:
 *    "Most channels close within 60-90 seconds if no updates are sent. Subscribe to heartbeats to
 *    keep all subscriptions open"); a connection's sequence_num chain and books start afresh
 *    with it (sequence_num counts the messages of one connection);
 *  - the ring only receives what the book sync accepted: l2 records of a product whose book is
 *    in sync (its snapshot, then its updates), never a stale (duplicate/reordered) frame, never
 *    updates that arrive while the product waits for its snapshot. Where the engine's book can no
 *    longer be trusted — a sequence_num gap (every product of the connection), a crossed or
 *    unreadable l2 event (that product), a lost connection (every product), records the full ring
 *    refused — the ring gets a STATUS record for the instrument (its book clears and waits for a snapshot),
 *    so the engine's book drops its levels until the fresh snapshot arrives. The engine's C book
 *    for Coinbase therefore uses rule NONE: sequence_num is connection-wide (trades, tickers and
 *    heartbeats share it), so a product's l2 messages are not consecutive and the chain is checked
 *    here, once, for the whole connection (in C: a number at or below the last is skipped and
 *    counted stale; a frame that does not parse consumes none, so the next one shows the gap);
 *  - a product that needs a fresh book is resubscribed: `unsubscribe` + `subscribe` of its level2
 *    channel (Coinbase answers a level2 subscription with a `snapshot` event: "level2 guarantees
 *    delivery of all updates and is the easiest way to keep an order book snapshot in sync").
 *    Requests are coalesced until the snapshot arrives and re-sent if none came within
 *    `resyncTimeoutMs`;
 *  - `{"type":"error","message":…}` frames (a bad product, a bad channel) are counted with their
 *    message and reported through onNotice; frames that are not JSON objects, unknown channels and
 *    unreadable events are counted; nothing a venue sends crashes the feed;
 *  - liveness: Advanced Trade has no client ping; heartbeats arrive every second, so a stream
 *    silent for `stallMs` is dropped and reconnected (exponential backoff with full jitter).
 *
 * The connection session, text transport, fixed instrument table and ring writer are the ones
 * the Bybit and OKX feeds use (src/feed/ws-session.ts): Binance's FeedTransport delivers bytes to
 * its C parser and cannot send, and every Advanced Trade subscription is a message.
 */
import { BookRule, BookSet, type CBook, type CBookCounters } from "../../../ffi/book.ts";
import { ParseStatus } from "../../../ffi/parse.ts";
import { PARSE_DEFER, PARSE_STALE, VenueFrameParser, VparseVenue, VparseWhat } from "../../../ffi/vparse.ts";
import { Venue } from "../../domain/instruments.ts";
import { TickBuffer } from "../../domain/tick-buffer.ts";
import { FixedInstruments, TextFeedSession, TickRingWriter, PendingResyncs, frameText, parsedFrames, jsonObject, type SessionCounters, type JsonFeedOptions } from "../ws-session.ts";
import { coinbaseUnified, normalizeCoinbaseFrame } from "./normalize.ts";

export const COINBASE_WS_URL = "wss://advanced-trade-ws.coinbase.com";

/** Advanced Trade market-data channels (heartbeats is always added). */
export type CoinbaseChannel = "level2" | "market_trades" | "ticker" | "ticker_batch" | "candles" | "status" | "heartbeats";

export interface CoinbaseFeedOptions extends JsonFeedOptions {
  /** default wss://advanced-trade-ws.coinbase.com (a ws://127.0.0.1:port in tests) */
  wsUrl?: string;
  /** product ids (BTC-USD) and the engine's instrument ids for them */
  symbols: Array<{ symbol: string; instrument: number }>;
  channels: CoinbaseChannel[];
  /** levels kept per side of each book (default 65536: level2 snapshots carry the whole book) */
  bookLevels?: number;
  /** records one frame may make (default 131072: a BTC-USD snapshot is ~46,000 levels) */
  maxRecords?: number;
}

export interface CoinbaseFeedCounters extends SessionCounters {
  frames: number;
  records: number;
  /** frames that are not JSON objects, or whose content does not read */
  malformed: number;
  ringDrops: number;
  /** `{"type":"error"}` frames */
  errors: number;
  /** `subscriptions` frames (the venue's answer to each subscribe/unsubscribe) */
  subscriptionAcks: number;
  heartbeats: number;
  /** frames skipped: sequence_num at or below the last one */
  stale: number;
  /** sequence_num gaps on a connection */
  gaps: number;
  /** snapshots the books took */
  snapshots: number;
  /** l2 update events applied, and held back while their product waited for a snapshot */
  applied: number;
  discarded: number;
  /** level2 unsubscribe+subscribe cycles sent, and re-sends of one that brought no snapshot */
  resubscribes: number;
  resubscribeRetries: number;
  /** STATUS records pushed so the engine's book drops a state that can no longer be trusted */
  bookResets: number;
  /** frames naming a product that was not configured */
  unknownSymbols: number;
}

/** One configured product's book as the feed keeps it (C, rule NONE; c/book.h). */
export interface CoinbaseBookView {
  readonly product: string;
  readonly instrument: number;
  readonly book: CBook;
}

/** The feed's book state: its books by product, their outcomes, the connection's sequence. */
export interface CoinbaseSyncView {
  readonly products: ReadonlyMap<string, CoinbaseBookView>;
  readonly counters: { gaps: number; stale: number; crossed: number; discarded: number; snapshots: number; applied: number };
  /** the last problem: "sequence_num gap on the connection ..." or a book's (CROSSED, BAD_LEVEL, ...) */
  readonly lastProblem: string;
  /** the last sequence_num accepted on the current connection (-1 before the first) */
  readonly lastSequence: number;
}

const MAX_KEPT = 20;

export class CoinbaseFeed {
  readonly counters: CoinbaseFeedCounters;
  /** messages of `{"type":"error"}` frames, first few */
  readonly errorMessages: string[] = [];
  readonly session: TextFeedSession;
  /** the channels subscribed on each connection, heartbeats included */
  readonly channels: CoinbaseChannel[];
  readonly sync: CoinbaseSyncView;
  private readonly products: string[];
  private readonly instrumentOf = new Map<string, number>();
  private readonly productOf = new Map<number, string>();
  private readonly instruments: FixedInstruments;
  private readonly tb = new TickBuffer(1024);
  private readonly writer: TickRingWriter;
  private readonly level2: boolean;
  private readonly bookSet: BookSet;
  private readonly views = new Map<string, CoinbaseBookView>();
  private readonly vp: VenueFrameParser;
  /** product → performance.now() of the resubscribe awaiting its snapshot */
  private readonly resyncing = new PendingResyncs();
  private lastProblem = "";
  private ringDropsSeen = 0;
  private malformedNoticed = false;
  private dropping = false;

  constructor(private readonly o: CoinbaseFeedOptions) {
    if (o.symbols.length === 0) throw new RangeError("CoinbaseFeed needs at least one product");
    if (o.channels.length === 0) throw new RangeError("CoinbaseFeed needs at least one channel");
    this.products = o.symbols.map((s) => s.symbol.toUpperCase());
    o.symbols.forEach((s, i) => {
      this.instrumentOf.set(this.products[i]!, s.instrument);
      this.productOf.set(s.instrument, this.products[i]!);
    });
    this.instruments = new FixedInstruments(o.symbols.map((s, i) => [coinbaseUnified(this.products[i]!), s.instrument] as const));
    this.channels = [...new Set<CoinbaseChannel>([...o.channels, "heartbeats"])];
    this.level2 = this.channels.includes("level2");
    const venue = o.venue ?? Venue.coinbase;
    this.writer = new TickRingWriter(o.ring, venue);
    this.bookSet = new BookSet(Math.max(...o.symbols.map((s) => s.instrument)) + 1);
    if (this.level2) {
      for (const [product, instrument] of this.instrumentOf) {
        // rule NONE: the chain is the connection's sequence_num, checked by the C parser per frame
        const book = this.bookSet.add(instrument, BookRule.none, { levels: o.bookLevels ?? 65536, pending: 64 });
        this.views.set(product, { product, instrument, book });
      }
    }
    this.vp = new VenueFrameParser(VparseVenue.coinbase, venue, { books: this.bookSet, ring: o.ring, maxRecords: o.maxRecords ?? 1 << 17 });
    this.products.forEach((p) => this.vp.addSymbol(p, this.instrumentOf.get(p)!));
    this.vp.reset();
    const books = [...this.views.values()].map((v) => v.book);
    const sum = (pick: (k: CBookCounters) => number) => () => {
      let n = 0;
      for (const b of books) n += pick(b.counters());
      return n;
    };
    const vp = this.vp;
    this.counters = Object.defineProperties(
      {
        connects: 0, reconnects: 0, stalls: 0, pingsSent: 0, pongs: 0, pongTimeouts: 0, sendFailures: 0,
        frames: 0, records: 0, malformed: 0, ringDrops: 0, errors: 0, subscriptionAcks: 0, heartbeats: 0,
        resubscribes: 0, resubscribeRetries: 0, bookResets: 0, unknownSymbols: 0,
      },
      {
        stale: { get: () => vp.seqStale, enumerable: true },
        gaps: { get: () => vp.seqGaps, enumerable: true },
        snapshots: { get: sum((k) => k.snapshots - k.snapshotsRejected), enumerable: true },
        applied: { get: sum((k) => k.applied), enumerable: true },
        discarded: { get: sum((k) => k.buffered), enumerable: true },
      },
    ) as CoinbaseFeedCounters;
    const self = this;
    const c = this.counters;
    this.sync = {
      products: this.views,
      counters: {
        get gaps() { return c.gaps; },
        get stale() { return c.stale; },
        get crossed() { return sum((k) => k.crossed)(); },
        get discarded() { return c.discarded; },
        get snapshots() { return c.snapshots; },
        get applied() { return c.applied; },
      },
      get lastProblem() { return self.lastProblem; },
      get lastSequence() { return vp.seqLast; },
    };
    this.session = new TextFeedSession(
      {
        url: o.wsUrl ?? COINBASE_WS_URL,
        transport: o.transport,
        backoff: o.backoff,
        stallMs: o.stallMs ?? 10_000,
        // Advanced Trade has no application-level ping: the heartbeats channel (one message a
        // second) is the liveness signal, watched by the stall watchdog
        heartbeat: { text: "", everyMs: Infinity, idleOnly: true, timeoutMs: Infinity },
        onNotice: o.onNotice,
        random: o.random,
      },
      { onOpen: () => this.onOpen(), ...parsedFrames(this.vp, this.counters, o.clock, (n, t, b, s, e) => this.parsed(n, t, b, s, e)), onLost: (r) => this.onLost(r), onTick: (t) => this.onTick(t) },
      this.counters,
    );
  }

  start(): void {
    this.session.start();
  }

  stop(): void {
    this.session.stop();
  }

  /** The C parser's counters (frames by outcome). */
  parserCounters(): ReturnType<VenueFrameParser["counters"]> {
    return this.vp.counters();
  }

  /** The engine's book asks for a fresh snapshot (crossed, bad level): resubscribe its level2. */
  requestResync(instrument: number): void {
    const product = this.productOf.get(instrument);
    if (product !== undefined) this.resubscribe([product], "requested by the engine's book");
  }

  private subscribe(type: "subscribe" | "unsubscribe", channel: CoinbaseChannel, products: string[]): void {
    this.session.send(JSON.stringify({ type, product_ids: products, channel }));
  }

  private onOpen(): void {
    // sequence_num counts the messages of one connection; the books wait for its snapshots
    this.vp.reset();
    this.resyncing.clear();
    this.malformedNoticed = false;
    this.dropping = false;
    // Advanced Trade: one channel per subscribe message ("channel": a single name)
    for (const ch of this.channels) this.subscribe("subscribe", ch, this.products);
  }

  private onLost(reason: string): void {
    // the next connection subscribes again and its snapshots replace the books; until then the
    // engine's books hold a state nobody is keeping up to date
    this.resyncing.clear();
    this.vp.reset();
    if (!this.level2) return;
    const now = this.o.clock();
    for (const p of this.products) {
      this.counters.bookResets++;
      if (this.writer.pushBookLost(this.instrumentOf.get(p)!, now) === 1) this.counters.records++;
      else this.counters.ringDrops++;
    }
    this.o.onNotice?.("books reset until the next connection's snapshots", { reason });
  }

  private onTick(t: number): void {
    if (this.resyncing.size === 0 || !this.session.connected) return;
    const again = this.resyncing.overdue(t, this.o.resyncTimeoutMs ?? 5000).map((x) => x.key);
    if (again.length === 0) return;
    this.counters.resubscribeRetries++;
    this.o.onNotice?.("book resync: no snapshot yet, resubscribing again", { products: again });
    this.sendResubscribe(again);
  }

  private resubscribe(products: string[], reason: string): void {
    if (!this.level2 || !this.session.connected) return;
    const now = performance.now();
    const fresh = products.filter((p) => this.instrumentOf.has(p) && !this.resyncing.has(p));
    if (fresh.length === 0) return;
    for (const p of fresh) this.resyncing.begin(p, now);
    this.counters.resubscribes++;
    this.o.onNotice?.("book resync: resubscribing level2", { products: fresh, reason });
    this.sendResubscribe(fresh);
  }

  private sendResubscribe(products: string[]): void {
    this.subscribe("unsubscribe", "level2", products);
    this.subscribe("subscribe", "level2", products);
  }

  /** After the C step (parsedFrames: one FFI call per frame): book outcomes, ring drops; frames it made nothing of go to the cold path (as text) */
  private parsed(n: number, text: string | null, buf: Uint8Array | null, start: number, end: number): void {
    const c = this.counters;
    const vp = this.vp;
    c.records += vp.pushed;
    if (vp.resyncs > 0) this.booksFailed(n);
    else if (vp.what === VparseWhat.snapshot && this.resyncing.size > 0) this.snapshotsTaken();
    if (vp.ringDrops !== this.ringDropsSeen) this.ringDropped();
    else if (n > 0) this.dropping = false;
    if (n <= 0) this.coldFrame(text ?? frameText(buf!, start, end), n);
  }

  /** Books the C step failed on this frame (a gap: all of them; crossed or unreadable: one). */
  private booksFailed(n: number): void {
    const vp = this.vp;
    this.counters.bookResets += vp.resyncs;
    const broken: string[] = [];
    for (const v of this.views.values()) if (!v.book.synced && !this.resyncing.has(v.product)) broken.push(v.product);
    if (vp.gap) {
      this.lastProblem = `sequence_num gap on the connection: ${vp.seqGaps} so far, at ${vp.seqLast}`;
      this.o.onNotice?.("sequence_num gap: every book of the connection resubscribed", { problem: this.lastProblem });
    } else {
      const v = this.views.get(this.productOf.get(vp.instrument) ?? "");
      this.lastProblem = v ? `${v.product}: ${v.book.problem?.what ?? "book problem"}` : "book problem";
      if (n === ParseStatus.missing) this.malformedFrame("", `unreadable l2 event (${this.lastProblem})`);
    }
    if (vp.what === VparseWhat.snapshot) this.snapshotsTaken();
    if (broken.length > 0) this.resubscribe(broken, this.lastProblem);
  }

  private snapshotsTaken(): void {
    for (const v of this.views.values()) if (v.book.synced) this.resyncing.done(v.product);
  }

  private ringDropped(): void {
    const vp = this.vp;
    const dropped = vp.ringDrops - this.ringDropsSeen;
    this.ringDropsSeen = vp.ringDrops;
    this.counters.ringDrops += dropped;
    if (!this.dropping) {
      this.dropping = true;
      this.o.onNotice?.("ring full: records dropped", { dropped });
    }
    // the engine's book lost part of this stream: the feed's own book stops passing updates on
    // (and says so with a STATUS record) until a fresh snapshot, which a resubscribe brings
    if (vp.what !== VparseWhat.delta && vp.what !== VparseWhat.snapshot) return;
    const product = this.productOf.get(vp.instrument);
    if (product === undefined) return;
    if (vp.failBook(vp.instrument, this.o.clock())) {
      this.counters.bookResets++;
      this.counters.records += vp.pushed;
      this.ringDropsSeen = vp.ringDrops;
    }
    this.resubscribe([product], "ring full");
  }

  /** Frames the C path made no records for: answers, heartbeats, tickers, errors, unreadable frames. */
  private coldFrame(text: string, status: number): void {
    const c = this.counters;
    switch (status) {
      case 0:
      case PARSE_STALE:
        return;
      case ParseStatus.control:
        if (this.vp.what === VparseWhat.heartbeat) c.heartbeats++;
        else c.subscriptionAcks++;
        return;
      case ParseStatus.unknownSymbol:
        c.unknownSymbols++;
        return;
      case ParseStatus.unknownType:
        return; // candles, status, ...: not recorded
      case ParseStatus.missing:
        if (this.vp.resyncs === 0) this.malformedFrame(text, "unreadable event");
        return;
      case ParseStatus.venueError:
        break;
      case PARSE_DEFER:
        break;
      default:
        this.malformedFrame(text, status === ParseStatus.tooMany ? "more records than maxRecords" : "not a JSON object");
        return;
    }
    const f = jsonObject(text);
    if (typeof f === "string") {
      this.malformedFrame(text, f);
      return;
    }
    if (status === ParseStatus.venueError) {
      c.errors++;
      const msg = typeof f.message === "string" ? f.message : JSON.stringify(f).slice(0, 200);
      const reason = typeof f.reason === "string" ? `: ${f.reason}` : "";
      if (this.errorMessages.length < MAX_KEPT) this.errorMessages.push(msg + reason);
      this.o.onNotice?.("venue error frame", { message: f.message, reason: f.reason });
      return;
    }
    // tickers: the cold path's normaliser (the C parser checked their sequence_num)
    const tb = this.tb;
    tb.clear();
    const unknownBefore = this.instruments.unknown;
    const n = normalizeCoinbaseFrame(f, 0n, this.instruments, tb);
    if (this.instruments.unknown !== unknownBefore) c.unknownSymbols++;
    if (n === 0) return;
    const put = this.writer.push(tb, this.o.clock());
    c.records += put;
    if (put < n) {
      c.ringDrops += n - put;
      if (!this.dropping) {
        this.dropping = true;
        this.o.onNotice?.("ring full: records dropped", { channel: f.channel, dropped: n - put });
      }
    }
  }

  private malformedFrame(text: string, why: string): void {
    this.counters.malformed++;
    if (this.malformedNoticed) return;
    this.malformedNoticed = true;
    this.o.onNotice?.("malformed frame (first on this connection)", { why, frame: text.slice(0, 120) });
  }
}
