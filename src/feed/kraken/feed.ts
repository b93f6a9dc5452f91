/**
 * KrakenFeed — the native market-data handler for Kraken spot WebSocket v2 (`wss://ws.kraken.com/v2`):
 * one connection for many pairs (`book`, `trade`), every frame decoded once, each pair's book kept
 * by KrakenV2BookSync (src/feed/kraken/book.ts: CRC32 checksum on every snapshot and update, with
 * the pair's price/qty precision), the frame turned into 64-byte tick records by
 * normalizeKrakenFrame and pushed into the feed's SPSC ring with one push per frame
 * (TickRingWriter: 64-byte-aligned scratch, the bot4 receive time and venue stamped).
 *
 * Guarantees:
 *  - after every (re)connect the feed sends `{"method":"subscribe","params":{"channel":"book",
 *    "symbol":[…],"depth":N}}` and the same for `trade` (spot-websocket-v2/book, /trade); the
 *    venue answers each symbol on its own (`{"method":"subscribe","success":true|false,…}`):
 *    a `success: false` answer is counted with its `error` and reported through onNotice;
 *  - the ring only receives book data the sync accepted: a snapshot whose checksum matched, then
 *    updates whose checksum matched (v2: "the checksum is calculated on the snapshot and each
 *    update"), never an update that arrives while the pair waits for a snapshot. A checksum
 *    mismatch, a crossed book or an unreadable level makes the pair's book unusable; the feed then
 *    pushes a STATUS record so the engine's book clears and waits for a snapshot,
 *    and resubscribes the pair's book (unsubscribe + subscribe: Kraken publishes a snapshot on
 *    subscription). Resubscribes are coalesced until the snapshot arrives and re-sent if none came
 *    within `resyncTimeoutMs`. A lost connection resets every pair's engine book the same way;
 *  - the engine's book for a Kraken pair keeps at most `depth` levels a side (CBook `levels`):
 *    Kraken "truncate[s] to the subscribed depth" and sends no deletion for a level that falls out
 *    of scope (book-checksum-v2 guide); the checksum itself is checked here, so the C book rule is
 *    NONE (v2 book messages carry no sequence number);
 *  - liveness: Kraken sends `{"channel":"heartbeat"}` about once a second when no other update is
 *    due (spot-websocket-v2/heartbeat), so any frame feeds the stall watchdog (`stallMs`); after
 *    `pingMs` without a frame the feed sends the application ping `{"method":"ping"}`
 *    (spot-websocket-v2/ping) and drops the connection if no `{"method":"pong"}` follows within
 *    `pongTimeoutMs`. Reconnects use exponential backoff with full jitter;
 *  - nothing a venue sends crashes the feed: frames that are not JSON objects, unknown channels,
 *    data for pairs not configured and unreadable book messages are counted.
 *
 * The connection session, text transport, fixed instrument table and ring writer are the ones the
 * Bybit, OKX and Coinbase feeds use (src/feed/ws-session.ts): Binance's FeedTransport delivers
 * bytes to its C parser and cannot send, and every v2 subscription is a message.
 */
import { L2Book } from "../../book/l2book.ts";
import { Venue } from "../../domain/instruments.ts";
import { TickBuffer } from "../../domain/tick-buffer.ts";
import { FixedInstruments, TextFeedSession, TickRingWriter, PendingResyncs, jsonObject, type SessionCounters, type JsonFeedOptions } from "../ws-session.ts";
import { KrakenV2BookSync, type KrakenBookResult, type KrakenV2BookData } from "./book.ts";
import { krakenSpotUnified, normalizeKrakenFrame } from "./normalize.ts";

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
  /** book data outcomes (KrakenV2BookSync) */
  snapshots: number;
  applied: number;
  skipped: number;
  checksumMismatches: number;
  crossed: number;
  bookMalformed: number;
  /** book unsubscribe+subscribe cycles sent, and re-sends of one that brought no snapshot */
  resubscribes: number;
  resubscribeRetries: number;
  /** STATUS records pushed so the engine's book drops a state that can no longer be trusted */
  bookResets: number;
  /** data elements for pairs that were not configured */
  unknownSymbols: number;
}

const MAX_KEPT = 20;

export class KrakenFeed {
  readonly counters: KrakenFeedCounters = {
    connects: 0, reconnects: 0, stalls: 0, pingsSent: 0, pongs: 0, pongTimeouts: 0, sendFailures: 0,
    frames: 0, records: 0, malformed: 0, ringDrops: 0, subscribeAcks: 0, unsubscribeAcks: 0, errors: 0,
    heartbeats: 0, statusMessages: 0, otherChannels: 0, snapshots: 0, applied: 0, skipped: 0,
    checksumMismatches: 0, crossed: 0, bookMalformed: 0, resubscribes: 0, resubscribeRetries: 0,
    bookResets: 0, unknownSymbols: 0,
  };
  /** `method symbol: error` of `success: false` answers, first few */
  readonly errorMessages: string[] = [];
  readonly session: TextFeedSession;
  readonly depth: number;
  private syncsNow = new Map<string, KrakenV2BookSync>();
  private readonly bySymbol = new Map<string, KrakenSymbol>();
  private readonly instruments: FixedInstruments;
  private readonly tb = new TickBuffer(1024);
  private readonly writer: TickRingWriter;
  private readonly book: boolean;
  /** symbol → performance.now() of the resubscribe awaiting its snapshot */
  private readonly resyncing = new PendingResyncs();
  /** symbols whose records the full ring refused: their updates wait for the next snapshot */
  private readonly ringBroken = new Set<string>();
  private readonly accepted: KrakenV2BookData[] = [];
  private malformedNoticed = false;
  private dropping = false;

  constructor(private readonly o: KrakenFeedOptions) {
    if (o.symbols.length === 0) throw new RangeError("KrakenFeed needs at least one symbol");
    if (o.channels.length === 0) throw new RangeError("KrakenFeed needs at least one channel");
    this.depth = o.depth ?? 10;
    if (!(KRAKEN_BOOK_DEPTHS as readonly number[]).includes(this.depth)) throw new RangeError(`Kraken v2 book depth ${this.depth}: one of ${KRAKEN_BOOK_DEPTHS.join(", ")}`);
    for (const s of o.symbols) this.bySymbol.set(s.symbol, s);
    this.instruments = new FixedInstruments(o.symbols.map((s) => [krakenSpotUnified(s.symbol), s.instrument] as const));
    this.book = o.channels.includes("book");
    this.writer = new TickRingWriter(o.ring, o.venue ?? Venue.kraken);
    this.syncsNow = this.newSyncs(); // checks every pair's precision now, not at the first connect
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
      { onOpen: () => this.onOpen(), onText: (t) => this.onText(t), onLost: (r) => this.onLost(r), onTick: (t) => this.onTick(t) },
      this.counters,
    );
  }

  start(): void {
    this.session.start();
  }

  stop(): void {
    this.session.stop();
  }

  /** The current connection's book sync of a pair (a new set per connection). */
  sync(symbol: string): KrakenV2BookSync | undefined {
    return this.syncsNow.get(symbol);
  }

  /** The engine's book asks for a fresh snapshot: resubscribe the pair's book. */
  requestResync(instrument: number): void {
    for (const s of this.o.symbols) if (s.instrument === instrument) this.resubscribe(s.symbol, "requested by the engine's book");
  }

  private newSyncs(): Map<string, KrakenV2BookSync> {
    const m = new Map<string, KrakenV2BookSync>();
    for (const s of this.o.symbols) m.set(s.symbol, new KrakenV2BookSync(new L2Book("kraken", s.symbol), this.depth, s.pricePrecision, s.qtyPrecision));
    return m;
  }

  private request(method: "subscribe" | "unsubscribe", channel: KrakenChannel, symbols: string[]): void {
    const params: Record<string, unknown> = { channel, symbol: symbols };
    if (channel === "book") params.depth = this.depth;
    // trade: "snapshot ... Default: false" — only trades from now on
    if (channel === "trade" && method === "subscribe") params.snapshot = false;
    this.session.send(JSON.stringify({ method, params }));
  }

  private onOpen(): void {
    this.syncsNow = this.newSyncs();
    this.resyncing.clear();
    this.ringBroken.clear();
    this.malformedNoticed = false;
    this.dropping = false;
    const all = this.o.symbols.map((s) => s.symbol);
    for (const ch of this.o.channels) this.request("subscribe", ch, all);
  }

  private onLost(reason: string): void {
    this.resyncing.clear();
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

  private onText(text: string): void {
    const c = this.counters;
    const now = this.o.clock();
    c.frames++;
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
    let frame: Record<string, unknown> = f;
    switch (channel) {
      case "heartbeat":
        c.heartbeats++;
        return;
      case "status":
        c.statusMessages++;
        return;
      case "book": {
        const kept = this.onBook(f, text);
        if (kept === null) return;
        frame = kept;
        break;
      }
      case "trade":
        break;
      default:
        c.otherChannels++;
        return;
    }
    const tb = this.tb;
    tb.clear();
    const unknownBefore = this.instruments.unknown;
    const n = normalizeKrakenFrame(frame, 0n, this.instruments, tb);
    if (this.instruments.unknown !== unknownBefore) c.unknownSymbols++;
    if (n === 0) {
      if (channel === "book") {
        // the sync applied data the normaliser refused (e.g. an unreadable timestamp): the
        // engine's book would miss it, so it drops its levels and waits for a fresh snapshot
        this.malformedFrame(text, "book data the normaliser refused");
        this.breakRing(frame, "book data refused by the normaliser");
      } else if (Array.isArray(f.data) && f.data.length > 0) this.malformedFrame(text, `${channel} data the normaliser refused`);
      return;
    }
    const put = this.writer.push(tb, now);
    c.records += put;
    if (put === n) {
      this.dropping = false;
      return;
    }
    c.ringDrops += n - put;
    if (!this.dropping) {
      this.dropping = true;
      this.o.onNotice?.("ring full: records dropped", { channel, dropped: n - put });
    }
    if (channel === "book") this.breakRing(frame, "ring full");
  }

  /**
   * Hands each data element of a book message to its pair's sync; returns the message with only
   * the elements the engine's book may apply (the message itself when all of them qualify), or
   * null when none does.
   */
  private onBook(f: Record<string, unknown>, text: string): Record<string, unknown> | null {
    const c = this.counters;
    const type = f.type;
    const data = f.data;
    if ((type !== "snapshot" && type !== "update") || !Array.isArray(data)) {
      c.bookMalformed++;
      this.malformedFrame(text, "book message that is not a snapshot/update with a data array");
      return null;
    }
    const kept = this.accepted;
    kept.length = 0;
    for (const d of data as KrakenV2BookData[]) {
      const symbol = d !== null && typeof d === "object" ? d.symbol : undefined;
      const sync = typeof symbol === "string" ? this.syncsNow.get(symbol) : undefined;
      if (!sync) {
        c.unknownSymbols++;
        continue;
      }
      const r: KrakenBookResult = sync.onData(type, d);
      switch (r) {
        case "snapshot":
          c.snapshots++;
          this.resyncing.done(symbol!);
          this.ringBroken.delete(symbol!);
          kept.push(d);
          break;
        case "applied":
          c.applied++;
          if (!this.ringBroken.has(symbol!)) kept.push(d);
          break;
        case "skipped":
          c.skipped++;
          break;
        case "mismatch":
          c.checksumMismatches++;
          break;
        case "crossed":
          c.crossed++;
          break;
        case "malformed":
          c.bookMalformed++;
          break;
      }
      if (sync.resyncRequested) {
        // the sync cleared the pair's book (mismatch, crossed, unreadable level)
        this.resetBook(this.bySymbol.get(symbol!)!.instrument);
        this.resubscribe(symbol!, sync.lastProblem);
        sync.resyncSent();
      }
    }
    if (kept.length === 0) return null;
    if (kept.length === data.length) return f;
    return { ...f, data: kept.slice() };
  }

  private breakRing(frame: Record<string, unknown>, reason: string): void {
    for (const d of frame.data as KrakenV2BookData[]) {
      const s = this.bySymbol.get(d.symbol);
      if (!s || this.ringBroken.has(s.symbol)) continue;
      this.ringBroken.add(s.symbol);
      this.resetBook(s.instrument);
      this.resubscribe(s.symbol, reason);
    }
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
