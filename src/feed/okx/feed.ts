/**
 * OkxFeed — the native market-data handler for OKX's v5 public websocket (`/ws/v5/public`): one
 * connection for many instruments (`books`, `trades`). Hot path: each frame's text is encoded into a
 * preallocated buffer and one FFI call (c/vparse.h bot4_vfeed_frame) parses it in C into 64-byte
 * tick records, keeps the feed's own C book of a books push by OKX's procedure (seqId/prevSeqId
 * chain, CRC-32 checksum over each level's received text) and pushes the records the book
 * accepted into the SPSC ring — no JSON.parse and no JS object per push. Events, "pong" and
 * unreadable frames take the cold path.
 *
 * Guarantees:
 *  - after every (re)connect every configured channel is subscribed again; OKX pushes a full
 *    `snapshot` first after a books subscription, which replaces the book;
 *  - the ring only carries book records the C book accepted (snapshot, update in sequence with a
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
import { BookRule, BookSet, type CBook } from "../../../ffi/book.ts";
import { ParseStatus } from "../../../ffi/parse.ts";
import { now } from "../../../ffi/clock.ts";
import { VenueFrameParser, VparseVenue, VparseWhat } from "../../../ffi/vparse.ts";
import { Venue } from "../../domain/instruments.ts";
import { TextFeedSession, TickRingWriter, PendingResyncs, frameText, jsonObject, type SessionCounters, type JsonFeedOptions } from "../ws-session.ts";

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
  /** books outcomes (the C books) */
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

/** One configured instrument's book as the feed keeps it: a C book (rule NONE) and OKX's checks in C. */
export interface OkxBookView {
  readonly instId: string;
  readonly book: CBook;
  readonly counters: { snapshots: number; applied: number; heartbeats: number; resets: number; gaps: number; checksumsChecked: number; checksumMismatches: number; checksumZero: number; crossed: number; withheld: number };
  /** the book's checksum as OKX computes it, from the levels' received text */
  checksum(): number;
}

const MAX_KEPT = 20;

export class OkxFeed {
  readonly counters: OkxFeedCounters;
  /** `code: msg` of error events, first few */
  readonly errorMessages: string[] = [];
  readonly session: TextFeedSession;
  /** the subscription arguments sent on each connection */
  readonly args: Array<{ channel: OkxChannel; instId: string }>;
  private readonly instrumentOf = new Map<string, number>();
  private readonly instIdOf = new Map<number, string>();
  private readonly writer: TickRingWriter;
  private readonly withBooks: boolean;
  private readonly bookSet: BookSet;
  private readonly views = new Map<number, OkxBookView>();
  private readonly vp: VenueFrameParser;
  /** instId → performance.now() of the resubscribe awaiting its snapshot */
  private readonly resyncing = new PendingResyncs();
  private ringDropsSeen = 0;
  /** the feed's clock is the bot4 clock: the C step stamps the frame itself */
  private readonly bot4Clock: boolean;
  private malformedNoticed = false;
  private dropping = false;

  constructor(private readonly o: OkxFeedOptions) {
    this.bot4Clock = o.clock === now;
    if (o.symbols.length === 0) throw new RangeError("OkxFeed needs at least one instrument");
    if (o.channels.length === 0) throw new RangeError("OkxFeed needs at least one channel");
    if (!/\/ws\/v5\/public\b/.test(o.wsUrl)) throw new RangeError(`OkxFeed: ${o.wsUrl} is not a /ws/v5/public stream`);
    const pingMs = o.pingMs ?? 20_000;
    if (!(pingMs > 0 && pingMs < 30_000)) throw new RangeError(`OkxFeed: pingMs must be in (0, 30000): OKX drops a connection silent for 30 s (got ${pingMs})`);
    for (const s of o.symbols) {
      this.instrumentOf.set(s.instId, s.instrument);
      this.instIdOf.set(s.instrument, s.instId);
    }
    this.args = o.symbols.flatMap((s) => o.channels.map((channel) => ({ channel, instId: s.instId })));
    this.withBooks = o.channels.includes("books");
    const venue = o.venue ?? Venue.okx;
    this.writer = new TickRingWriter(o.ring, venue);
    this.bookSet = new BookSet(Math.max(...o.symbols.map((s) => s.instrument)) + 1);
    const vp = (this.vp = new VenueFrameParser(VparseVenue.okx, venue, { books: this.bookSet, ring: o.ring, okxBooks: true }));
    if (this.withBooks) {
      for (const s of o.symbols) {
        // OKX books: 400 levels a side; room for more absorbs levels an update inserts before it deletes
        const book = this.bookSet.add(s.instrument, BookRule.none, { levels: 1024, pending: 16 });
        const i = s.instrument;
        this.views.set(i, {
          instId: s.instId,
          book,
          get counters() {
            const k = book.counters(), x = vp.okxCounters(i);
            return { snapshots: k.snapshots, applied: k.applied, heartbeats: x.heartbeats, resets: x.resets, gaps: k.gaps, checksumsChecked: x.checksumsChecked, checksumMismatches: x.checksumMismatches, checksumZero: x.checksumZero, crossed: x.crossed, withheld: x.withheld };
          },
          checksum: () => vp.okxChecksum(i),
        });
      }
    }
    for (const s of o.symbols) vp.addSymbol(s.instId, s.instrument);
    vp.reset();
    const views = [...this.views.values()];
    const sum = (pick: (k: OkxBookView["counters"]) => number) => () => views.reduce((a, v) => a + pick(v.counters), 0);
    this.counters = Object.defineProperties(
      {
        connects: 0, reconnects: 0, stalls: 0, pingsSent: 0, pongs: 0, pongTimeouts: 0, sendFailures: 0,
        frames: 0, records: 0, malformed: 0, ringDrops: 0, subscribeAcks: 0, unsubscribeAcks: 0, errors: 0, venueNotices: 0, other: 0,
        snapshots: 0, bookMalformed: 0, resubscribes: 0, resubscribeRetries: 0, unknownSymbols: 0,
      },
      {
        applied: { get: sum((k) => k.applied), enumerable: true },
        heartbeats: { get: sum((k) => k.heartbeats), enumerable: true },
        gaps: { get: sum((k) => k.gaps), enumerable: true },
        checksumMismatches: { get: sum((k) => k.checksumMismatches), enumerable: true },
        crossed: { get: sum((k) => k.crossed), enumerable: true },
        // updates held back while a book waited for its snapshot, and pushes a book refused
        withheld: { get: () => sum((k) => k.withheld + k.gaps + k.checksumMismatches + k.crossed)() + this.counters.bookMalformed, enumerable: true },
      },
    ) as OkxFeedCounters;
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
      { onOpen: () => this.onOpen(), onText: (t) => this.onText(t), onBytes: (b, s, e, p) => this.onBytes(b, s, e, p), onLost: () => this.onLost(), onTick: (t) => this.onTick(t) },
      this.counters,
    );
  }

  start(): void {
    this.session.start();
  }

  stop(): void {
    this.session.stop();
  }

  /** The feed's book of a configured instrument (books channel). */
  sync(instrument: number): OkxBookView | undefined {
    return this.views.get(instrument);
  }

  /** The C parser's counters (frames by outcome). */
  parserCounters(): ReturnType<VenueFrameParser["counters"]> {
    return this.vp.counters();
  }

  /** The engine's book asks for a fresh snapshot: resubscribe its books channel. */
  requestResync(instrument: number): void {
    const instId = this.instIdOf.get(instrument);
    if (instId !== undefined && this.withBooks) this.resubscribe(instId, "requested by the engine's book");
  }

  /** Connection gone: the engine's books must not look current until the next snapshots. */
  private onLost(): void {
    this.resyncing.clear();
    this.vp.reset();
    const now = this.o.clock();
    for (const s of this.o.symbols) this.writer.pushBookLost(s.instrument, now);
  }

  private onOpen(): void {
    // a new connection starts from the snapshots its subscriptions bring
    this.vp.reset();
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

  /** Hot path: one FFI call parses the push, keeps its book by OKX's rules and fills the ring. */
  private onText(text: string): void {
    this.counters.frames++;
    // OKX answers the text "ping" with the text "pong"
    if (text === "pong") {
      this.session.pong();
      return;
    }
    const vp = this.vp;
    this.parsed(this.bot4Clock ? vp.textNow(text) : vp.text(text, this.o.clock()), text, null, 0, 0);
  }

  /** The same for a byte transport's frame: the C parser reads it in the transport's buffer. */
  private onBytes(buf: Uint8Array, start: number, end: number, ptr: number): void {
    this.counters.frames++;
    const len = end - start;
    if (len === 4 && buf[start] === 0x70 && buf[start + 1] === 0x6f && buf[start + 2] === 0x6e && buf[start + 3] === 0x67) {
      this.session.pong();
      return;
    }
    const vp = this.vp;
    this.parsed(this.bot4Clock ? vp.frameNow(ptr, len) : vp.frame(ptr, len, this.o.clock()), null, buf, start, end);
  }

  /** After the C step: book outcomes, ring drops; frames it made nothing of go to the cold path (as text) */
  private parsed(n: number, text: string | null, buf: Uint8Array | null, start: number, end: number): void {
    const c = this.counters;
    const vp = this.vp;
    c.records += vp.pushed;
    const book = vp.what === VparseWhat.snapshot || vp.what === VparseWhat.delta;
    if (book && vp.resyncs > 0) {
      const v = this.views.get(vp.instrument);
      if (n === ParseStatus.missing) c.bookMalformed++;
      if (v) this.resubscribe(v.instId, v.book.problem?.what ?? "book problem");
    } else if (vp.what === VparseWhat.snapshot && n >= 0) {
      c.snapshots++;
      const v = this.views.get(vp.instrument);
      if (v) this.resyncing.done(v.instId);
    }
    if (vp.ringDrops !== this.ringDropsSeen) this.ringDropped(book);
    else if (n > 0) this.dropping = false;
    if (n < 0 && !(book && vp.resyncs > 0)) this.coldFrame(text ?? frameText(buf!, start, end), n);
  }

  private ringDropped(book: boolean): void {
    const vp = this.vp;
    const dropped = vp.ringDrops - this.ringDropsSeen;
    this.ringDropsSeen = vp.ringDrops;
    this.counters.ringDrops += dropped;
    const v = this.views.get(vp.instrument);
    if (!this.dropping) {
      this.dropping = true;
      this.o.onNotice?.("ring full: records dropped", { instId: v?.instId, dropped });
    }
    // the engine's book lost part of this stream: the feed's book stops passing updates on (a
    // STATUS record says so) until a fresh snapshot, which a resubscribe brings
    if (!book || !v) return;
    if (vp.failBook(vp.instrument, this.o.clock())) {
      this.counters.records += vp.pushed;
      this.ringDropsSeen = vp.ringDrops;
    }
    this.resubscribe(v.instId, "ring full");
  }

  /** Frames the C path made no records for: events, other channels, unreadable frames (rare). */
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
    if (f.event !== undefined) {
      this.onEvent(f);
      return;
    }
    const arg = f.arg as { channel?: unknown; instId?: unknown } | undefined;
    if (arg === null || typeof arg !== "object" || typeof arg.instId !== "string" || !Array.isArray(f.data)) {
      this.malformedFrame(text, "a push without arg.instId or a data array");
      return;
    }
    if (status === ParseStatus.unknownType) {
      c.other++;
      return;
    }
    this.malformedFrame(text, `unreadable ${String(arg.channel).slice(0, 20)} push (${status})`);
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
