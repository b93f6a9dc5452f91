/**
 * OkxFeed — the native market-data handler for OKX's v5 public websocket (`/ws/v5/public`): one
 * connection for many instruments (`books`, `trades`), every frame decoded once, books kept by
 * OkxBookSync (seqId/prevSeqId chain and CRC32 checksum, src/feed/okx/book.ts) and frames turned
 * into 64-byte tick records by normalizeOkxFrame, pushed into the feed's SPSC ring with one
 * `ring.push` per frame.
 *
 * Guarantees:
 *  - after every (re)connect every configured channel is subscribed again; OKX pushes a full
 *    `snapshot` first after a books subscription, which replaces the book;
 *  - the ring only carries book records the sync accepted (snapshot, update in sequence with a
 *    matching checksum): the engine's C book (rule NONE, c/book.h) cannot check OKX's chain or
 *    checksum itself. When the sync finds a gap, a checksum mismatch, a crossed book or an
 *    unreadable push, the frame's records are withheld, one STATUS record (book lost)
 *    (SNAPSHOT|NOLEVEL|LAST) tells the engine's book to drop its levels, and the books channel of
 *    that instId is unsubscribed and subscribed again; its snapshot restores both books. Requests
 *    are coalesced until the snapshot arrives and re-sent if none came within `resyncTimeoutMs`
 *    (OKX allows 480 subscribe/unsubscribe requests an hour per connection, so they stay rare);
 *  - heartbeat, by OKX's connect rules ("set a timer of N seconds whenever a response message is
 *    received, where N is less than 30; if no new message is received within N seconds, send the
 *    String 'ping'; expect a 'pong' as a response; if the response message is not received within
 *    N seconds, please raise an error or reconnect"): "ping" after `pingMs` (default 20 s) of
 *    silence, the "pong" answer expected within `pongTimeoutMs`, else a reconnect with
 *    exponential backoff and full jitter; a stream silent for `stallMs` is reconnected too;
 *  - event replies are checked: `subscribe`/`unsubscribe` acknowledgements counted, `error`
 *    events (`{"event":"error","code":..,"msg":..}`) counted with their code and message and
 *    reported through onNotice, `notice` events (e.g. 64008, service upgrade) reported; frames
 *    that are not JSON objects are counted. Nothing a venue sends crashes the feed; onNotice is
 *    never called per frame.
 */
import { Venue } from "../../domain/instruments.ts";
import { TickBuffer } from "../../domain/tick-buffer.ts";
import {
  FixedInstruments,
  TextFeedSession,
  TickRingWriter,
  PendingResyncs,
  jsonObject,
  type SessionCounters,
  type JsonFeedOptions,
} from "../ws-session.ts";
import { OkxBooks, type OkxBookSync } from "./book.ts";
import { normalizeOkxFrame, okxUnified } from "./normalize.ts";

export type OkxChannel = "books" | "trades";

export interface OkxFeedOptions extends JsonFeedOptions {
  /** the public stream URL, e.g. wss://ws.okx.com:8443/ws/v5/public */
  wsUrl: string;
  /** OKX instrument ids (BTC-USDT, BTC-USDT-SWAP) and the engine's instrument ids for them */
  symbols: Array<{ instId: string; instrument: number }>;
  channels: OkxChannel[];
}

export interface OkxFeedCounters extends SessionCounters {
  frames: number;
  records: number;
  /** frames that are not a JSON object, or a push without arg/instId */
  malformed: number;
  ringDrops: number;
  subscribeAcks: number;
  unsubscribeAcks: number;
  /** `event: "error"` replies */
  errors: number;
  /** `event: "notice"` messages (service upgrade warnings) */
  venueNotices: number;
  /** events and channels this feed does not handle */
  other: number;
  /** books outcomes (OkxBookSync) */
  snapshots: number;
  applied: number;
  heartbeats: number;
  gaps: number;
  checksumMismatches: number;
  crossed: number;
  bookMalformed: number;
  /** books pushes whose records were kept out of the ring (rejected, or waiting for a snapshot) */
  withheld: number;
  resubscribes: number;
  resubscribeRetries: number;
  /** pushes for instIds that were not configured */
  unknownSymbols: number;
}

const MAX_KEPT = 20;

export class OkxFeed {
  readonly counters: OkxFeedCounters = {
    connects: 0, reconnects: 0, stalls: 0, pingsSent: 0, pongs: 0, pongTimeouts: 0, sendFailures: 0,
    frames: 0, records: 0, malformed: 0, ringDrops: 0, subscribeAcks: 0, unsubscribeAcks: 0, errors: 0, venueNotices: 0, other: 0,
    snapshots: 0, applied: 0, heartbeats: 0, gaps: 0, checksumMismatches: 0, crossed: 0, bookMalformed: 0, withheld: 0,
    resubscribes: 0, resubscribeRetries: 0, unknownSymbols: 0,
  };
  /** `code: msg` of error events, first few */
  readonly errorMessages: string[] = [];
  readonly session: TextFeedSession;
  /** the subscription arguments sent on each connection */
  readonly args: Array<{ channel: OkxChannel; instId: string }>;
  private booksNow = new OkxBooks("okx");
  private readonly instruments: FixedInstruments;
  private readonly instrumentOf = new Map<string, number>();
  private readonly instIdOf = new Map<number, string>();
  private readonly tb = new TickBuffer(1024);
  private readonly writer: TickRingWriter;
  private readonly withBooks: boolean;
  /** instId → performance.now() of the resubscribe awaiting its snapshot */
  private readonly resyncing = new PendingResyncs();
  private malformedNoticed = false;
  private dropping = false;

  constructor(private readonly o: OkxFeedOptions) {
    if (o.symbols.length === 0) throw new RangeError("OkxFeed needs at least one instrument");
    if (o.channels.length === 0) throw new RangeError("OkxFeed needs at least one channel");
    if (!/\/ws\/v5\/public\b/.test(o.wsUrl)) throw new RangeError(`OkxFeed: ${o.wsUrl} is not a /ws/v5/public stream`);
    const pingMs = o.pingMs ?? 20_000;
    if (!(pingMs > 0 && pingMs < 30_000)) throw new RangeError(`OkxFeed: pingMs must be in (0, 30000): OKX drops a connection silent for 30 s (got ${pingMs})`);
    this.instruments = new FixedInstruments(o.symbols.map((s) => [okxUnified(s.instId), s.instrument] as const));
    for (const s of o.symbols) {
      this.instrumentOf.set(s.instId, s.instrument);
      this.instIdOf.set(s.instrument, s.instId);
    }
    this.args = o.symbols.flatMap((s) => o.channels.map((channel) => ({ channel, instId: s.instId })));
    this.withBooks = o.channels.includes("books");
    this.writer = new TickRingWriter(o.ring, o.venue ?? Venue.okx);
    this.session = new TextFeedSession(
      {
        url: o.wsUrl,
        transport: o.transport,
        backoff: o.backoff,
        stallMs: o.stallMs,
        heartbeat: { text: "ping", everyMs: pingMs, idleOnly: true, timeoutMs: o.pongTimeoutMs ?? Math.min(10_000, pingMs) },
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
  get books(): OkxBooks {
    return this.booksNow;
  }

  /** The book sync of a configured instrument on the current connection, once its first push arrived. */
  sync(instrument: number): OkxBookSync | undefined {
    const instId = this.instIdOf.get(instrument);
    return instId === undefined ? undefined : this.booksNow.byInst.get(instId);
  }

  /** The engine's book asks for a fresh snapshot: resubscribe its books channel. */
  requestResync(instrument: number): void {
    const instId = this.instIdOf.get(instrument);
    if (instId !== undefined && this.withBooks) this.resubscribe(instId, "requested by the engine's book");
  }

  /** Connection gone: the engine's books must not look current until the next snapshots. */
  private onLost(): void {
    this.resyncing.clear();
    const now = this.o.clock();
    for (const s of this.o.symbols) this.writer.pushBookLost(s.instrument, now);
  }

  private onOpen(): void {
    this.booksNow = new OkxBooks("okx");
    this.resyncing.clear();
    this.malformedNoticed = false;
    this.dropping = false;
    this.session.send(JSON.stringify({ op: "subscribe", args: this.args }));
  }

  private onTick(t: number): void {
    if (this.resyncing.size === 0 || !this.session.connected) return;
    for (const { key, waitedMs } of this.resyncing.overdue(t, this.o.resyncTimeoutMs ?? 5000)) {
      this.counters.resubscribeRetries++;
      this.o.onNotice?.("book resync: no snapshot yet, resubscribing again", { instId: key, waitedMs });
      this.sendResubscribe(key);
    }
  }

  private resubscribe(instId: string, reason: string): void {
    if (!this.session.connected || this.resyncing.has(instId)) return;
    this.resyncing.begin(instId, performance.now());
    this.counters.resubscribes++;
    this.o.onNotice?.("book resync: resubscribing", { instId, reason });
    this.sendResubscribe(instId);
  }

  private sendResubscribe(instId: string): void {
    const arg = [{ channel: "books", instId }];
    this.session.send(JSON.stringify({ op: "unsubscribe", args: arg }));
    this.session.send(JSON.stringify({ op: "subscribe", args: arg }));
  }

  private onText(text: string): void {
    const c = this.counters;
    c.frames++;
    // OKX answers the text "ping" with the text "pong"
    if (text === "pong") {
      this.session.pong();
      return;
    }
    const now = this.o.clock();
    const f = jsonObject(text);
    if (typeof f === "string") {
      this.malformedFrame(text, f);
      return;
    }
    if (f.event !== undefined) {
      this.onEvent(f);
      return;
    }
    const arg = f.arg as { channel?: unknown; instId?: unknown } | undefined;
    if (arg === null || typeof arg !== "object" || typeof arg.instId !== "string" || !Array.isArray(f.data)) {
      this.malformedFrame(text, "a push without arg.instId or a data array");
      return;
    }
    if (arg.channel === "books") {
      if (!this.onBooks(f, arg.instId, now)) return;
    } else if (arg.channel !== "trades") {
      c.other++;
      return;
    }
    this.toRing(f, now);
  }

  /** Keeps the book; true when the push's records may go to the ring. */
  private onBooks(f: Record<string, unknown>, instId: string, now: number): boolean {
    const c = this.counters;
    const routed = this.booksNow.onMessage(f);
    if (routed === null) return false;
    const { sync, result } = routed;
    switch (result) {
      case "snapshot":
        c.snapshots++;
        this.resyncing.done(instId);
        return true;
      case "applied":
        c.applied++;
        return true;
      case "heartbeat":
        c.heartbeats++;
        return true;
      case "gap":
        c.gaps++;
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
      default:
        break;
    }
    c.withheld++;
    if (sync.resyncRequested) {
      sync.resyncSent();
      const instrument = this.instrumentOf.get(instId);
      if (instrument !== undefined && this.writer.pushBookLost(instrument, now) === 1) c.records++;
      else if (instrument !== undefined) c.ringDrops++;
      this.resubscribe(instId, sync.lastProblem);
    }
    return false;
  }

  private toRing(f: Record<string, unknown>, now: number): void {
    const c = this.counters;
    const tb = this.tb;
    tb.clear();
    const unknownBefore = this.instruments.unknown;
    const n = normalizeOkxFrame(f, 0n, this.instruments, tb);
    if (this.instruments.unknown !== unknownBefore) c.unknownSymbols++;
    if (n === 0) return;
    const put = this.writer.push(tb, now);
    c.records += put;
    if (put === n) {
      this.dropping = false;
      return;
    }
    c.ringDrops += n - put;
    const arg = f.arg as { channel: string; instId: string };
    if (!this.dropping) {
      this.dropping = true;
      this.o.onNotice?.("ring full: records dropped", { channel: arg.channel, instId: arg.instId, dropped: n - put });
    }
    // the engine's book lost part of this stream: a fresh snapshot puts it right
    if (arg.channel === "books") this.resubscribe(arg.instId, "ring full");
  }

  private onEvent(f: Record<string, unknown>): void {
    const c = this.counters;
    switch (f.event) {
      case "subscribe":
        c.subscribeAcks++;
        return;
      case "unsubscribe":
        c.unsubscribeAcks++;
        return;
      case "error": {
        c.errors++;
        const code = typeof f.code === "string" || typeof f.code === "number" ? String(f.code) : "?";
        const msg = typeof f.msg === "string" ? f.msg : JSON.stringify(f.msg);
        if (this.errorMessages.length < MAX_KEPT) this.errorMessages.push(`${code}: ${msg}`);
        this.o.onNotice?.("venue error event", { code, message: msg });
        return;
      }
      case "notice":
        // e.g. 64008: "the connection will soon be closed for a service upgrade"; the close that follows reconnects
        c.venueNotices++;
        this.o.onNotice?.("venue notice", { code: f.code, message: f.msg });
        return;
      default:
        c.other++;
    }
  }

  private malformedFrame(text: string, why: string): void {
    this.counters.malformed++;
    if (this.malformedNoticed) return;
    this.malformedNoticed = true;
    this.o.onNotice?.("malformed frame (first on this connection)", { why, frame: text.slice(0, 120) });
  }
}
