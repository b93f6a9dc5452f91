/**
 * BybitFeed — the native market-data handler for Bybit v5 public streams (`/v5/public/linear`,
 * `/v5/public/spot`, `/v5/public/inverse`): one websocket for many symbols (orderbook.{depth},
 * publicTrade, tickers), every frame decoded once, kept in the connection's books
 * (BybitConnectionBooks, src/feed/bybit/book.ts) and turned into 64-byte tick records by
 * normalizeBybitFrame, which reach the feed's SPSC ring with one `ring.push` per frame.
 *
 * Guarantees:
 *  - after every (re)connect the feed subscribes every configured topic again (Bybit: "once you
 *    have subscribed successfully, you will receive a snapshot"), so no book carries a
 *    pre-disconnect state past the new snapshot; every subscribe/unsubscribe reply is checked and
 *    a `success: false` reply is counted with its `ret_msg` and reported through onNotice;
 *  - a book that its sync finds broken (update-id gap, crossed book, unreadable message), that
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
 * The module also holds the parts the OKX feed shares (src/feed/okx/feed.ts): a text websocket
 * transport that can send (`TextTransport`; Binance's FeedTransport delivers bytes for its C
 * parser and cannot send), the reconnecting session with heartbeat and watchdog
 * (`TextFeedSession`), the fixed instrument-id table the normalisers write through
 * (`FixedInstruments`) and the frame-to-ring copier (`TickRingWriter`).
 */
import { alignedBuffer, type AlignedBuffer } from "../../../ffi/buffers.ts";
import type { SpscRing } from "../../../ffi/ring.ts";
import { InstrumentTable, Venue } from "../../domain/instruments.ts";
import { T, TICK_BYTES, TICK_U32, TickFlag, TickKind, writeU64 } from "../../domain/tick.ts";
import { TickBuffer } from "../../domain/tick-buffer.ts";
import { BybitConnectionBooks, bybitCategoryFromUrl, type BybitBookSync, type BybitCategory } from "./book.ts";
import { BybitTickerState, bybitUnified, normalizeBybitFrame } from "./normalize.ts";

// ---------------------------------------------------------------------------------------------
// Shared by the JSON-over-websocket feeds (Bybit, OKX)

export type NoticeFn = (what: string, detail: Record<string, unknown>) => void;

/** What a text transport gives a feed: whole text frames, in order. */
export interface TextTransportHandlers {
  onOpen(): void;
  onText(text: string): void;
  onClose(reason: string): void;
}
export interface TextTransport {
  /** false when the socket is not open (nothing sent) */
  send(text: string): boolean;
  close(): void;
}
export type TextTransportFactory = (url: string, h: TextTransportHandlers) => TextTransport;

const utf8 = new TextDecoder();

/** The default transport: Bun's WebSocket client; binary frames (not sent by these venues' public streams) are decoded as UTF-8. */
export function bunTextWebSocketTransport(): TextTransportFactory {
  return (url, h) => {
    const ws = new WebSocket(url);
    ws.binaryType = "arraybuffer";
    ws.onopen = () => h.onOpen();
    ws.onmessage = (ev: MessageEvent) => {
      const d = ev.data as string | ArrayBuffer;
      h.onText(typeof d === "string" ? d : utf8.decode(d));
    };
    ws.onclose = (ev: CloseEvent) => h.onClose(`closed (${ev.code}${ev.reason ? ` ${ev.reason}` : ""})`);
    ws.onerror = () => {
      /* onclose follows with the code */
    };
    return {
      send: (text) => {
        if (ws.readyState !== WebSocket.OPEN) return false;
        ws.send(text);
        return true;
      },
      close: () => ws.close(),
    };
  };
}

export interface HeartbeatOptions {
  /** the application-level ping frame */
  text: string;
  /** send every `everyMs` (`idleOnly` false), or once `everyMs` passed without any frame (true) */
  everyMs: number;
  idleOnly: boolean;
  /** no pong this long after a ping: the connection is dead */
  timeoutMs: number;
}

export interface BackoffOptions {
  baseMs?: number;
  capMs?: number;
  /** a connection that stayed up this long resets the backoff */
  stableMs?: number;
}

export interface SessionCounters {
  connects: number;
  reconnects: number;
  stalls: number;
  pingsSent: number;
  pongs: number;
  pongTimeouts: number;
  /** frames the feed tried to send while no socket was open */
  sendFailures: number;
}

export interface SessionHandlers {
  /** a connection opened: subscribe here */
  onOpen(): void;
  onText(text: string): void;
  /** the connection ended (closed by the venue, stalled, no pong): per-connection state ends here */
  onLost(reason: string): void;
  /** every watchdog tick while started (cold path: retries); `t` = performance.now() */
  onTick?(t: number): void;
}

export interface SessionOptions {
  url: string;
  transport?: TextTransportFactory;
  backoff?: BackoffOptions;
  stallMs?: number;
  heartbeat: HeartbeatOptions;
  onNotice?: NoticeFn;
  random?: () => number;
}

/**
 * One venue session over successive websocket connections: connect, reconnect with exponential
 * backoff and full jitter (uniform in [0, min(cap, base·2^attempt)], reset after a stable
 * connection), a stall watchdog, and an application-level heartbeat. Frames of a connection the
 * session has given up on are never delivered.
 */
export class TextFeedSession {
  private transport: TextTransport | null = null;
  private stopped = true;
  private attempt = 0;
  private openedAt = 0;
  private lastFrameAt = 0;
  private lastPingAt = 0;
  private pingSince = 0;
  private timers = new Set<ReturnType<typeof setTimeout>>();
  private watchdog: ReturnType<typeof setInterval> | null = null;

  constructor(
    private readonly o: SessionOptions,
    private readonly h: SessionHandlers,
    readonly counters: SessionCounters,
  ) {}

  /** A socket is open and subscribed-to (between onOpen and onLost). */
  get connected(): boolean {
    return this.transport !== null && this.openedAt !== 0;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.connect();
    const hb = this.o.heartbeat, stallMs = this.o.stallMs ?? 30_000;
    const period = Math.max(10, Math.min(1000, stallMs / 4, hb.everyMs / 4, hb.timeoutMs / 4));
    this.watchdog = setInterval(() => this.tick(), period);
  }

  stop(): void {
    this.stopped = true;
    if (this.watchdog) clearInterval(this.watchdog);
    this.watchdog = null;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    const t = this.transport;
    this.transport = null;
    this.openedAt = 0;
    t?.close();
  }

  send(text: string): boolean {
    if (this.transport?.send(text)) return true;
    this.counters.sendFailures++;
    return false;
  }

  /** The feed recognised the venue's answer to a ping. */
  pong(): void {
    this.counters.pongs++;
    this.pingSince = 0;
  }

  /** Gives up on the current connection (the feed found it unusable) and reconnects. */
  drop(reason: string): void {
    const t = this.transport;
    if (!t) return;
    this.transport = null;
    t.close();
    this.lost(reason);
  }

  private connect(): void {
    const mk = this.o.transport ?? bunTextWebSocketTransport();
    let self: TextTransport | null = null;
    self = mk(this.o.url, {
      onOpen: () => {
        if (this.transport !== self) return;
        const c = this.counters;
        c.connects++;
        if (c.connects > 1) c.reconnects++;
        this.openedAt = this.lastPingAt = performance.now();
        this.lastFrameAt = 0;
        this.pingSince = 0;
        this.h.onOpen();
      },
      onText: (text) => {
        if (this.transport !== self) return;
        this.lastFrameAt = performance.now();
        this.h.onText(text);
      },
      onClose: (reason) => {
        if (this.transport !== self) return;
        this.transport = null;
        this.lost(reason);
      },
    });
    this.transport = self;
  }

  private tick(): void {
    const t = performance.now();
    if (this.transport && this.openedAt) {
      const hb = this.o.heartbeat, stallMs = this.o.stallMs ?? 30_000;
      const silent = t - Math.max(this.lastFrameAt, this.openedAt);
      if (silent > stallMs) {
        this.counters.stalls++;
        this.o.onNotice?.("stream stalled: reconnecting", { silentMs: Math.round(silent) });
        this.drop("stall");
      } else if (this.pingSince !== 0) {
        if (t - this.pingSince > hb.timeoutMs) {
          this.counters.pongTimeouts++;
          this.o.onNotice?.("no pong: reconnecting", { waitedMs: Math.round(t - this.pingSince) });
          this.drop("no pong");
        }
      } else if (hb.idleOnly ? silent >= hb.everyMs : t - this.lastPingAt >= hb.everyMs) {
        if (this.send(hb.text)) {
          this.counters.pingsSent++;
          this.lastPingAt = this.pingSince = t;
        }
      }
    }
    if (!this.stopped) this.h.onTick?.(t);
  }

  private lost(reason: string): void {
    const wasOpen = this.openedAt;
    this.openedAt = 0;
    this.pingSince = 0;
    this.h.onLost(reason);
    if (this.stopped) return;
    const b = this.o.backoff ?? {};
    const base = b.baseMs ?? 250, cap = b.capMs ?? 30_000, stable = b.stableMs ?? 60_000;
    if (wasOpen && performance.now() - wasOpen > stable) this.attempt = 0;
    // exponential backoff with full jitter: uniform in [0, min(cap, base * 2^attempt)]
    const ceiling = Math.min(cap, base * 2 ** Math.min(this.attempt, 20));
    const delay = Math.floor((this.o.random ?? Math.random)() * ceiling);
    this.attempt++;
    this.o.onNotice?.("connection lost: reconnecting", { reason, attempt: this.attempt, delayMs: delay });
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      if (!this.stopped) this.connect();
    }, delay);
    this.timers.add(timer);
  }
}

/**
 * Instrument ids fixed by a feed's configuration. The normalisers name instruments through
 * `id(venue, unifiedSymbol)`; here that is a lookup, never a registration: a symbol that was not
 * configured gets UNKNOWN (no book table holds it) and is counted.
 */
export class FixedInstruments extends InstrumentTable {
  static readonly UNKNOWN = 0xffffffff;
  /** lookups of symbols that were not configured */
  unknown = 0;
  private readonly fixed = new Map<string, number>();

  constructor(entries: Iterable<readonly [string, number]>) {
    super();
    for (const [symbol, id] of entries) {
      if (!Number.isInteger(id) || id < 0 || id >= FixedInstruments.UNKNOWN) throw new RangeError(`instrument id for ${symbol} must be an integer in [0, 2^32-2], got ${id}`);
      this.fixed.set(symbol, id);
    }
  }

  override id(_venue: number, symbol: string): number {
    const id = this.fixed.get(symbol);
    if (id !== undefined) return id;
    this.unknown++;
    return FixedInstruments.UNKNOWN;
  }
}

/**
 * Copies one frame's records (a TickBuffer) into 64-byte-aligned memory, stamps the venue and
 * the receive time, and pushes them with one `ring.pushDrop` (what does not fit is counted by the
 * ring as drops). The scratch memory grows, rarely, to the largest frame seen.
 */
export class TickRingWriter {
  private mem: AlignedBuffer;
  private u8: Uint8Array;
  private u16: Uint16Array;
  private u32: Uint32Array;
  private cap: number;

  constructor(
    readonly ring: SpscRing,
    readonly venue: number,
    records = 1024,
  ) {
    this.cap = 0;
    this.mem = alignedBuffer(64);
    this.u8 = new Uint8Array(0);
    this.u16 = new Uint16Array(0);
    this.u32 = new Uint32Array(0);
    this.grow(records);
  }

  /** Pushes the buffer's records; returns how many the ring took. `recvNs`: the bot4 clock. */
  push(tb: TickBuffer, recvNs: number): number {
    const n = tb.count;
    if (n > this.cap) this.grow(n);
    this.u8.set(tb.u8.subarray(0, n * TICK_BYTES));
    const recv = recvNs > 0 ? Math.trunc(recvNs) : 0, venue = this.venue, u16 = this.u16, u32 = this.u32;
    for (let i = 0; i < n; i++) {
      writeU64(u32, i * TICK_U32 + T.TS_RECV_U32, recv);
      u16[i * (TICK_BYTES / 2) + T.VENUE_U16] = venue;
    }
    return this.ring.pushDrop(this.mem.ptr, n);
  }

  /**
   * Pushes one empty snapshot for `instrument` (LEVEL, SNAPSHOT|NOLEVEL|LAST, seq 0): the
   * engine's book drops its levels. Used where the engine's book cannot see that the venue's
   * stream broke (OKX: the chain and checksum are checked by the handler, not by c/book.h).
   */
  pushEmptySnapshot(instrument: number, recvNs: number): number {
    this.u8.fill(0, 0, TICK_BYTES);
    writeU64(this.u32, T.TS_RECV_U32, recvNs > 0 ? Math.trunc(recvNs) : 0);
    this.u32[T.INSTRUMENT_U32] = instrument;
    this.u16[T.VENUE_U16] = this.venue;
    this.u8[T.KIND_U8] = TickKind.level;
    this.u8[T.FLAGS_U8] = TickFlag.snapshot | TickFlag.nolevel | TickFlag.last;
    return this.ring.pushDrop(this.mem.ptr, 1);
  }

  private grow(records: number): void {
    this.cap = Math.max(records, this.cap * 2);
    this.mem = alignedBuffer(this.cap * TICK_BYTES);
    const { buffer, byteOffset } = this.mem;
    this.u8 = new Uint8Array(buffer, byteOffset, this.cap * TICK_BYTES);
    this.u16 = new Uint16Array(buffer, byteOffset, (this.cap * TICK_BYTES) / 2);
    this.u32 = new Uint32Array(buffer, byteOffset, (this.cap * TICK_BYTES) / 4);
  }
}

// ---------------------------------------------------------------------------------------------
// Bybit

export type BybitChannel = "orderbook" | "publicTrade" | "tickers";

export interface BybitFeedOptions {
  /** the stream URL, e.g. wss://stream.bybit.com/v5/public/linear (ws://127.0.0.1:port/v5/public/linear in tests) */
  wsUrl: string;
  /** Bybit symbols (BTCUSDT) and the engine's instrument ids for them */
  symbols: Array<{ symbol: string; instrument: number }>;
  channels: BybitChannel[];
  /** orderbook depth (Bybit v5: 1, 50, 200, 1000; linear/inverse also 500); default 50 */
  depth?: number;
  ring: SpscRing;
  /** venue id stamped on the records (default Venue.bybit) */
  venue?: number;
  /** receive timestamps (the bot4 clock, ns) */
  clock: () => number;
  backoff?: BackoffOptions;
  stallMs?: number;
  /** heartbeat period (default 20 000 ms) and how long a pong may take (default 10 000 ms) */
  pingMs?: number;
  pongTimeoutMs?: number;
  /** a resubscribe that brought no snapshot within this long is sent again (default 5000 ms) */
  resyncTimeoutMs?: number;
  transport?: TextTransportFactory;
  /** cold-path notices (reconnects, error replies, resyncs); never called per frame */
  onNotice?: NoticeFn;
  /** random source for the jitter (tests make it deterministic) */
  random?: () => number;
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

export class BybitFeed {
  readonly counters: BybitFeedCounters = {
    connects: 0, reconnects: 0, stalls: 0, pingsSent: 0, pongs: 0, pongTimeouts: 0, sendFailures: 0,
    frames: 0, records: 0, malformed: 0, ringDrops: 0, subscribeAcks: 0, unsubscribeAcks: 0, errors: 0,
    snapshots: 0, applied: 0, stale: 0, discarded: 0, gaps: 0, crossed: 0, bookMalformed: 0,
    resubscribes: 0, resubscribeRetries: 0, unknownSymbols: 0,
  };
  /** `op: ret_msg` of error replies, first few */
  readonly errorMessages: string[] = [];
  readonly category: BybitCategory;
  readonly session: TextFeedSession;
  /** every topic subscribed on each connection */
  readonly topics: string[];
  private booksNow: BybitConnectionBooks;
  private tickers = new BybitTickerState();
  private readonly instruments: FixedInstruments;
  private readonly tb = new TickBuffer(1024);
  private readonly writer: TickRingWriter;
  private readonly bookTopicOf = new Map<number, string>();
  /** topic → performance.now() of the resubscribe awaiting its snapshot */
  private readonly resyncing = new Map<string, number>();
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
    this.writer = new TickRingWriter(o.ring, o.venue ?? Venue.bybit);
    this.booksNow = new BybitConnectionBooks(`bybit-${category}`);
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
      { onOpen: () => this.onOpen(), onText: (t) => this.onText(t), onLost: () => this.onLost(), onTick: (t) => this.onTick(t) },
      this.counters,
    );
  }

  start(): void {
    this.session.start();
  }

  stop(): void {
    this.session.stop();
  }

  /** The current connection's books (a new set per connection). */
  get books(): BybitConnectionBooks {
    return this.booksNow;
  }

  /** The book sync of a configured symbol on the current connection, once its topic has been seen. */
  sync(instrument: number): BybitBookSync | undefined {
    const topic = this.bookTopicOf.get(instrument);
    return topic === undefined ? undefined : this.booksNow.syncs.get(topic);
  }

  /** The engine's book asks for a fresh snapshot (gap, crossed): resubscribe its topic. */
  requestResync(instrument: number): void {
    const topic = this.bookTopicOf.get(instrument);
    if (topic !== undefined) this.resubscribe(topic, "requested by the engine's book");
  }

  private onOpen(): void {
    this.booksNow = new BybitConnectionBooks(`bybit-${this.category}`);
    this.tickers = new BybitTickerState();
    this.resyncing.clear();
    this.malformedNoticed = false;
    this.dropping = false;
    for (let i = 0; i < this.topics.length; i += MAX_ARGS_PER_REQUEST) {
      this.session.send(JSON.stringify({ op: "subscribe", args: this.topics.slice(i, i + MAX_ARGS_PER_REQUEST) }));
    }
  }

  private onLost(): void {
    // the next connection subscribes everything again; its snapshots replace the books
    this.resyncing.clear();
  }

  private onTick(t: number): void {
    if (this.resyncing.size === 0 || !this.session.connected) return;
    const wait = this.o.resyncTimeoutMs ?? 5000;
    for (const [topic, since] of this.resyncing) {
      if (t - since < wait) continue;
      this.counters.resubscribeRetries++;
      this.resyncing.set(topic, t);
      this.o.onNotice?.("book resync: no snapshot yet, resubscribing again", { topic, waitedMs: Math.round(t - since) });
      this.sendResubscribe(topic);
    }
  }

  private resubscribe(topic: string, reason: string): void {
    if (!this.session.connected || this.resyncing.has(topic)) return;
    this.resyncing.set(topic, performance.now());
    this.counters.resubscribes++;
    this.o.onNotice?.("book resync: resubscribing", { topic, reason });
    this.sendResubscribe(topic);
  }

  private sendResubscribe(topic: string): void {
    this.session.send(JSON.stringify({ op: "unsubscribe", args: [topic] }));
    this.session.send(JSON.stringify({ op: "subscribe", args: [topic] }));
  }

  private onText(text: string): void {
    const c = this.counters;
    const now = this.o.clock();
    c.frames++;
    let m: unknown;
    try {
      m = JSON.parse(text);
    } catch {
      this.malformedFrame(text, "not JSON");
      return;
    }
    if (m === null || typeof m !== "object" || Array.isArray(m)) {
      this.malformedFrame(text, "not a JSON object");
      return;
    }
    const f = m as Record<string, unknown>;
    const books = this.booksNow;
    const r = books.onFrame(f);
    const topic = f.topic;
    if (typeof topic !== "string") {
      this.onReply(f, r, text);
      return;
    }
    switch (r) {
      case "snapshot":
        c.snapshots++;
        this.resyncing.delete(topic);
        break;
      case "applied":
        c.applied++;
        break;
      case "stale":
        c.stale++;
        break;
      case "discarded":
        c.discarded++;
        break;
      case "gap":
        c.gaps++;
        break;
      case "crossed":
        c.crossed++;
        break;
      case "malformed":
        c.bookMalformed++;
        break;
      default:
        break;
    }
    if (r === "gap" || r === "crossed" || r === "malformed") {
      for (const t of books.takeResubscribe()) this.resubscribe(t, books.syncs.get(t)?.lastProblem ?? r);
    }
    const tb = this.tb;
    tb.clear();
    const unknownBefore = this.instruments.unknown;
    const n = normalizeBybitFrame(f, 0n, this.instruments, tb, { category: this.category, tickers: this.tickers });
    if (this.instruments.unknown !== unknownBefore) c.unknownSymbols++;
    if (n === 0) return;
    const put = this.writer.push(tb, now);
    c.records += put;
    if (put === n) {
      this.dropping = false;
      return;
    }
    c.ringDrops += n - put;
    if (!this.dropping) {
      this.dropping = true;
      this.o.onNotice?.("ring full: records dropped", { topic, dropped: n - put });
    }
    // the engine's book lost part of this stream: a fresh snapshot puts it right
    if (topic.startsWith("orderbook.")) this.resubscribe(topic, "ring full");
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
