/**
 * CoinbaseFeed — the native market-data handler for the Coinbase Advanced Trade websocket
 * (`wss://advanced-trade-ws.coinbase.com`): one connection for many products, every frame decoded
 * once, the connection's sequence_num and level2 books kept by CoinbaseBookSync
 * (src/feed/coinbase/book.ts), the frame turned into 64-byte tick records by
 * normalizeCoinbaseFrame, and those records pushed into the feed's SPSC ring with one push per
 * frame (TickRingWriter: 64-byte-aligned scratch, the bot4 receive time and venue stamped).
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
 *    here, once, for the whole connection;
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
import { Venue } from "../../domain/instruments.ts";
import { TickBuffer } from "../../domain/tick-buffer.ts";
import { FixedInstruments, TextFeedSession, TickRingWriter, PendingResyncs, jsonObject, type SessionCounters, type JsonFeedOptions } from "../ws-session.ts";
import { CoinbaseBookSync } from "./book.ts";
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
}

export interface CoinbaseFeedCounters extends SessionCounters {
  frames: number;
  records: number;
  /** frames that are not JSON objects, or that the book sync could not read */
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
  snapshots: number;
  /** l2 update events applied, and dropped while their product waited for a snapshot */
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

const MAX_KEPT = 20;

export class CoinbaseFeed {
  readonly counters: CoinbaseFeedCounters = {
    connects: 0, reconnects: 0, stalls: 0, pingsSent: 0, pongs: 0, pongTimeouts: 0, sendFailures: 0,
    frames: 0, records: 0, malformed: 0, ringDrops: 0, errors: 0, subscriptionAcks: 0, heartbeats: 0,
    stale: 0, gaps: 0, snapshots: 0, applied: 0, discarded: 0, resubscribes: 0, resubscribeRetries: 0,
    bookResets: 0, unknownSymbols: 0,
  };
  /** messages of `{"type":"error"}` frames, first few */
  readonly errorMessages: string[] = [];
  readonly session: TextFeedSession;
  /** the channels subscribed on each connection, heartbeats included */
  readonly channels: CoinbaseChannel[];
  private syncNow = new CoinbaseBookSync();
  private readonly products: string[];
  private readonly instrumentOf = new Map<string, number>();
  private readonly instruments: FixedInstruments;
  private readonly tb = new TickBuffer(1024);
  private readonly writer: TickRingWriter;
  private readonly level2: boolean;
  /** product → performance.now() of the resubscribe awaiting its snapshot */
  private readonly resyncing = new PendingResyncs();
  /** products whose records the full ring refused: their l2 records wait for the next snapshot */
  private readonly ringBroken = new Set<string>();
  private malformedNoticed = false;
  private dropping = false;

  constructor(private readonly o: CoinbaseFeedOptions) {
    if (o.symbols.length === 0) throw new RangeError("CoinbaseFeed needs at least one product");
    if (o.channels.length === 0) throw new RangeError("CoinbaseFeed needs at least one channel");
    this.products = o.symbols.map((s) => s.symbol.toUpperCase());
    o.symbols.forEach((s, i) => this.instrumentOf.set(this.products[i]!, s.instrument));
    this.instruments = new FixedInstruments(o.symbols.map((s, i) => [coinbaseUnified(this.products[i]!), s.instrument] as const));
    this.channels = [...new Set<CoinbaseChannel>([...o.channels, "heartbeats"])];
    this.level2 = this.channels.includes("level2");
    this.writer = new TickRingWriter(o.ring, o.venue ?? Venue.coinbase);
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

  /** The current connection's book sync (a new one per connection). */
  get sync(): CoinbaseBookSync {
    return this.syncNow;
  }

  /** The engine's book asks for a fresh snapshot (crossed, bad level): resubscribe its level2. */
  requestResync(instrument: number): void {
    for (const [product, id] of this.instrumentOf) if (id === instrument) this.resubscribe([product], "requested by the engine's book");
  }

  private subscribe(type: "subscribe" | "unsubscribe", channel: CoinbaseChannel, products: string[]): void {
    this.session.send(JSON.stringify({ type, product_ids: products, channel }));
  }

  private onOpen(): void {
    this.syncNow = new CoinbaseBookSync();
    this.resyncing.clear();
    this.ringBroken.clear();
    this.malformedNoticed = false;
    this.dropping = false;
    // Advanced Trade: one channel per subscribe message ("channel": a single name)
    for (const ch of this.channels) this.subscribe("subscribe", ch, this.products);
  }

  private onLost(reason: string): void {
    // the next connection subscribes again and its snapshots replace the books; until then the
    // engine's books hold a state nobody is keeping up to date
    this.resyncing.clear();
    if (!this.level2) return;
    this.resetBooks(this.products);
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

  private resetBooks(products: string[]): void {
    const now = this.o.clock();
    for (const p of products) {
      const id = this.instrumentOf.get(p);
      if (id === undefined) continue;
      this.counters.bookResets++;
      if (this.writer.pushBookLost(id, now) === 1) this.counters.records++;
      else this.counters.ringDrops++;
    }
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
    const sync = this.syncNow;
    const r = sync.onMessage(f);
    switch (r) {
      case "error": {
        c.errors++;
        const msg = typeof f.message === "string" ? f.message : JSON.stringify(f).slice(0, 200);
        const reason = typeof f.reason === "string" ? `: ${f.reason}` : "";
        if (this.errorMessages.length < MAX_KEPT) this.errorMessages.push(msg + reason);
        this.o.onNotice?.("venue error frame", { message: f.message, reason: f.reason });
        return;
      }
      case "stale":
        c.stale++;
        return;
      case "malformed":
        this.malformedFrame(text, sync.malformedWhy[sync.malformedWhy.length - 1] ?? "unreadable");
        break;
      case "gap":
        c.gaps++;
        this.o.onNotice?.("sequence_num gap: every book of the connection resubscribed", { problem: sync.lastProblem });
        break;
      default:
        break;
    }
    // products whose book the sync cleared (gap, crossed, unreadable event) get a fresh snapshot,
    // and the engine's books drop theirs meanwhile
    const broken = sync.takeResubscribe();
    if (broken.length > 0) {
      this.resetBooks(broken);
      this.resubscribe(broken, sync.lastProblem);
    }
    const channel = f.channel;
    // an l2 frame the sync found partly unreadable may still carry events it applied: those go on
    if (r === "malformed" && channel !== "l2_data") return;
    if (channel === "heartbeats") {
      c.heartbeats++;
      return;
    }
    if (channel === "subscriptions") {
      c.subscriptionAcks++;
      return;
    }
    let frame: Record<string, unknown> = f;
    if (channel === "l2_data") {
      frame = this.acceptedL2(f);
      if (frame !== f && (frame.events as unknown[]).length === 0) return;
    }
    const tb = this.tb;
    tb.clear();
    const unknownBefore = this.instruments.unknown;
    const n = normalizeCoinbaseFrame(frame, 0n, this.instruments, tb);
    if (this.instruments.unknown !== unknownBefore) c.unknownSymbols++;
    if (n === 0) {
      if (channel === "l2_data") {
        // the sync applied events the normaliser refused (e.g. an unreadable event_time): the
        // engine's book would miss them, so it drops its levels and waits for a fresh snapshot
        const lost = this.l2Products(frame);
        if (r !== "malformed") this.malformedFrame(text, "l2 events the normaliser refused");
        for (const p of lost) this.ringBroken.add(p);
        this.resetBooks(lost);
        this.resubscribe(lost, "l2 frame refused by the normaliser");
      }
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
    // the engine's book lost part of this stream: it drops its levels, takes none of this
    // product's updates until a fresh snapshot, which a resubscribe brings
    if (channel === "l2_data") {
      const lost = this.l2Products(frame);
      for (const p of lost) this.ringBroken.add(p);
      this.resetBooks(lost);
      this.resubscribe(lost, "ring full");
    }
  }

  /**
   * The frame with only the events the engine's book may apply: those of products whose book the
   * sync holds in sync after the frame (a loaded snapshot, or updates on a synced book), except
   * updates of a product whose earlier records the ring refused (they wait for its snapshot).
   * The frame itself when every event qualifies; a copy otherwise (gaps and resyncs only).
   */
  private acceptedL2(f: Record<string, unknown>): Record<string, unknown> {
    const events = f.events as Array<Record<string, unknown>>;
    const sync = this.syncNow;
    let all = true;
    for (const e of events) {
      const product = e.product_id as string;
      const ok = sync.products.get(product)?.needSnapshot === false;
      if (e.type === "snapshot" && ok) {
        this.resyncing.done(product);
        this.ringBroken.delete(product);
        this.counters.snapshots++;
      } else if (e.type === "update") {
        if (ok && !this.ringBroken.has(product)) this.counters.applied++;
        else this.counters.discarded++;
      }
      if (!ok || (e.type !== "snapshot" && this.ringBroken.has(product))) all = false;
    }
    if (all) return f;
    return { ...f, events: events.filter((e) => sync.products.get(e.product_id as string)?.needSnapshot === false && (e.type === "snapshot" || !this.ringBroken.has(e.product_id as string))) };
  }

  private l2Products(f: Record<string, unknown>): string[] {
    const out = new Set<string>();
    for (const e of f.events as Array<Record<string, unknown>>) if (typeof e.product_id === "string") out.add(e.product_id);
    return [...out];
  }

  private malformedFrame(text: string, why: string): void {
    this.counters.malformed++;
    if (this.malformedNoticed) return;
    this.malformedNoticed = true;
    this.o.onNotice?.("malformed frame (first on this connection)", { why, frame: text.slice(0, 120) });
  }
}
