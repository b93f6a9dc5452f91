/**
 * Coinbase Advanced Trade public market data (`wss://advanced-trade-ws.coinbase.com`), as the
 * venue simulator speaks it (a VenueModule, see src/sim/server.ts). Rules are Coinbase's
 * documented ones (docs.cdp.coinbase.com, Advanced Trade "WebSocket Overview" and "WebSocket
 * Channels": level2, market_trades, ticker, candles, heartbeats, subscriptions).
 *
 * Tape: the `recv` frames of a cryptofeed v3 recording (COINBASE.jsonl.gz; the first WebSocket
 * connection of the file). A frame is one stream, `<channel>:<product>` (`level2:BTC-USD`,
 * `market_trades:ETH-USD`, ...): a recorded frame whose events name several products is split into
 * one frame per product. What is the venue's own doing rather than market data is not replayed:
 *  - the recorded `snapshot` events (l2_data, market_trades, ticker, candles) are state lines: the
 *    first of each product is the venue's history, loaded by reset(); a later one replaces that
 *    state when the replay reaches it. A subscriber gets the venue's snapshot of the moment
 *    instead (below). l2 updates of a product before its first snapshot are dropped (no book yet);
 *  - `subscriptions` and `heartbeats` frames: the venue answers and beats on its own.
 *
 * The venue's state advances with every frame that leaves it, lost or not: per product a level2
 * book (an L2Book, and the price/size strings and event_time last received for every level, so
 * a snapshot repeats the recorded strings), the last 100 trades (newest first, as the recorded
 * snapshot lists them), the last ticker, the last 100 candles (oldest first). l2 updates that
 * cross the book are counted in `bookProblems` (a capture fault would show there).
 *
 * Per connection (guaranteed):
 *  - `sequence_num` is the connection's own counter, 0 for its first message, +1 for every message
 *    put on the connection — data frames (the recorded frame with its sequence_num replaced,
 *    otherwise byte for byte), snapshots, subscriptions answers and heartbeats. A data frame a
 *    fault drops has used its number, so the client sees the gap; a corrupted one too;
 *  - `{"type":"subscribe"|"unsubscribe","product_ids":[…],"channel":C}`, one channel per message
 *    (Advanced Trade: "channel" is a single name). A subscribe is answered by the channel's
 *    snapshot of each product named (level2: one `l2_data` frame with one `snapshot` event of the
 *    whole book, bids best first, then offers best first; market_trades / ticker / candles: the
 *    venue's recent state as a `snapshot` event), then one `subscriptions` frame listing every
 *    subscription of the connection; updates follow from the next frame that leaves the venue.
 *    Unsubscribe answers with `subscriptions`. `heartbeats` (and `status`) take no products; the
 *    answer lists heartbeats as `["heartbeats"]`, as the recording shows;
 *  - heartbeats: `{"channel":"heartbeats",…,"events":[{"current_time","heartbeat_counter"}]}`
 *    every `heartbeatMs` (1000: "heartbeats ... every second") on a connection subscribed to the
 *    heartbeats channel, carrying the connection's sequence_num. A connection a `stall` fault
 *    froze gets nothing more from this module either (no heartbeat, no answer), so only the
 *    client's silence watchdog notices, as the fault means;
 *  - errors, `{"type":"error","message":"Failed to subscribe","reason":…}` (no sequence_num): a
 *    product this venue does not list (the request is refused whole), a channel it does not know,
 *    a subscribe without product_ids for a product channel; `{"type":"error","message":…}` for a
 *    request that is not JSON or has no type. `errorFrame` (the `error` fault) is a bare
 *    `{"type":"error","message":"Internal error"}` (simulator's choice).
 *
 * REST (GET), the public market endpoints of Advanced Trade (no authentication):
 *  - `/api/v3/brokerage/market/products` (optionally `?product_ids=A&product_ids=B`): the product
 *    list the recording holds (a cryptofeed v3 `http` entry of that endpoint, entries as recorded:
 *    base_increment, price_increment, ...), `{"products":[…],"num_products":N}`;
 *  - `/api/v3/brokerage/market/products/{product_id}`: that product's entry, or 404
 *    `{"error":"NOT_FOUND","error_details":"ProductID <id> could not be found","message":…}` for a
 *    product the list does not hold (wording the simulator's). A recording without the list
 *    answers an empty list and 404s.
 *
 * Advanced Trade sends no protocol pings of its own (the heartbeats channel is the keep-alive),
 * so the core's ping is off. Not modelled: JWT authentication and the user channels, the
 * ticker_batch and status channels' data (subscriptions are accepted, nothing is sent), the
 * per-IP connection and message limits, the 60-90 s close of a subscription without updates.
 *
 * Two limits of the core this module works around: the core has no connection-open hook, so the
 * module learns a connection's ConnControl from its first message; and ConnControl does not say
 * whether a fault stalled or closed the connection, so the module asks the server (`attach`, done
 * by startCoinbaseSim) before it answers or beats.
 */
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { ASK, BID, L2Book } from "../../book/l2book.ts";
import { CryptofeedV3Reader } from "../../feed/cryptofeed-v3.ts";
import { DataFileError } from "../../feed/recording.ts";
import { startVenueSim, type ConnControl, type SimConnectionInfo, type SimTape, type VenueModule, type VenueSim, type VenueSimOptions } from "../server.ts";

export const COINBASE_DEFAULT_CAPTURE = fileURLToPath(new URL("../../../../shared/data/cryptofeed-v3/COINBASE.jsonl.gz", import.meta.url));

/** Product channels whose recorded frames the tape carries, by the channel name the frames use. */
const CHANNEL_OF_FRAME: Record<string, string> = { l2_data: "level2", market_trades: "market_trades", ticker: "ticker", candles: "candles" };
/** Channels a subscribe may name: product channels, then those that take no product. */
const PRODUCT_CHANNELS = new Set(["level2", "market_trades", "ticker", "ticker_batch", "candles"]);
const GLOBAL_CHANNELS = new Set(["heartbeats", "status"]);
const KEEP_TRADES = 100;
const KEEP_CANDLES = 100;

type Json = Record<string, unknown>;

export interface CoinbaseL2Level {
  side: string;
  event_time: string;
  price_level: string;
  new_quantity: string;
}

export interface CoinbaseTape extends SimTape {
  /** the frame text before and after its sequence_num digits */
  pre: string[];
  post: string[];
  /** product and frame channel (l2_data, market_trades, ...) of each frame ("" for frames not sent) */
  product: string[];
  channel: string[];
  /** the frame's events (parsed once) */
  events: Json[][];
  /** frames that replace a product's state (recorded snapshots), and the first of each product: history */
  snapshotAt: Set<number>;
  firstSnapshot: Map<string, number>;
  products: string[];
  /** heartbeat_counter of the first recorded heartbeat (the venue's counter starts there) */
  heartbeatCounter: number;
  file: string;
  /** the recorded REST product list (`/api/v3/brokerage/market/products`), entries as the venue sent them */
  productInfo: Json[];
}

const stream = (channel: string, product: string): string => `${channel}:${product}`;
export const coinbaseStream = stream;

/** Products named by one event of a frame of `channel`. */
function eventProducts(channel: string, e: Json): string[] {
  if (channel === "l2_data") return typeof e.product_id === "string" ? [e.product_id] : [];
  const list = (channel === "market_trades" ? e.trades : channel === "ticker" ? e.tickers : channel === "candles" ? e.candles : undefined) as Json[] | undefined;
  if (!Array.isArray(list)) return [];
  return [...new Set(list.map((x) => x?.product_id).filter((p): p is string => typeof p === "string"))];
}

/** The frame's events restricted to one product (for a frame that names several). */
function eventsOf(channel: string, events: Json[], product: string): Json[] {
  const out: Json[] = [];
  for (const e of events) {
    if (channel === "l2_data") {
      if (e.product_id === product) out.push(e);
      continue;
    }
    const key = channel === "market_trades" ? "trades" : channel === "ticker" ? "tickers" : "candles";
    const list = (e[key] as Json[]).filter((x) => x?.product_id === product);
    if (list.length > 0) out.push({ ...e, [key]: list });
  }
  return out;
}

const SEQ = '"sequence_num":';

/** Reads the recording (see the header). Throws DataFileError for a missing or unreadable file. */
export function loadCoinbaseTape(file = COINBASE_DEFAULT_CAPTURE): CoinbaseTape {
  if (!existsSync(file)) throw new DataFileError(`Coinbase capture ${file} is absent`);
  const reader = CryptofeedV3Reader.open(file);
  let conn = "";
  const pre: string[] = [], post: string[] = [], product: string[] = [], channel: string[] = [], events: Json[][] = [], recv: number[] = [], sname: string[] = [];
  const snapshotAt = new Set<number>();
  const firstSnapshot = new Map<string, number>();
  const products = new Set<string>();
  let heartbeatCounter = 0;
  const push = (ns: number, text: string, ch: string, p: string, ev: Json[], s: string) => {
    const at = text.indexOf(SEQ);
    if (at < 0) throw new DataFileError(`${file}: a ${ch} frame without sequence_num`);
    let end = at + SEQ.length;
    while (end < text.length && text.charCodeAt(end) >= 48 && text.charCodeAt(end) <= 57) end++;
    pre.push(text.slice(0, at + SEQ.length));
    post.push(text.slice(end));
    recv.push(ns);
    channel.push(ch);
    product.push(p);
    events.push(ev);
    sname.push(s);
  };
  let productInfo: Json[] = [];
  for (const e of reader.entries()) {
    if (e.kind === "http" && e.target.includes("/api/v3/brokerage/market/products")) {
      try {
        const list = (JSON.parse(e.frame) as { products?: unknown }).products;
        if (Array.isArray(list)) productInfo = list.filter((x): x is Json => x !== null && typeof x === "object" && typeof x.product_id === "string");
      } catch {
        // an unreadable recorded answer: no product list
      }
      continue;
    }
    if (e.kind !== "recv") continue;
    if (conn === "") conn = e.conn;
    if (e.conn !== conn) continue; // the first connection's session only
    let f: Json;
    try {
      f = JSON.parse(e.frame) as Json;
    } catch {
      continue;
    }
    const ch = typeof f.channel === "string" ? f.channel : "";
    const ns = Number(e.recvNs);
    if (ch === "heartbeats") {
      if (heartbeatCounter === 0) heartbeatCounter = Number((f.events as Json[] | undefined)?.[0]?.heartbeat_counter ?? 0);
      continue;
    }
    if (!(ch in CHANNEL_OF_FRAME) || !Array.isArray(f.events)) continue; // subscriptions, errors: the venue's own answers
    const evs = f.events as Json[];
    const names = [...new Set(evs.flatMap((x) => eventProducts(ch, x)))];
    for (const p of names) {
      const mine = names.length === 1 ? evs : eventsOf(ch, evs, p);
      const text = names.length === 1 ? e.frame : JSON.stringify({ ...f, events: mine });
      const isSnap = mine.some((x) => x.type === "snapshot");
      const i = pre.length;
      if (isSnap) {
        snapshotAt.add(i);
        const key = stream(ch, p);
        if (!firstSnapshot.has(key)) firstSnapshot.set(key, i);
        push(ns, text, ch, p, mine, "");
        continue;
      }
      // l2 updates of a product with no book yet: the venue cannot have sent them to anyone
      if (ch === "l2_data" && !firstSnapshot.has(stream(ch, p))) continue;
      products.add(p);
      push(ns, text, ch, p, mine, stream(CHANNEL_OF_FRAME[ch]!, p));
    }
  }
  if (pre.length === 0) throw new DataFileError(`${file} holds no Advanced Trade market-data frame`);
  for (const k of firstSnapshot.keys()) products.add(k.slice(k.indexOf(":") + 1));
  const streams: string[] = [];
  const sidOf = new Map<string, number>();
  for (const p of [...products].sort()) {
    for (const ch of ["level2", "market_trades", "ticker", "candles"]) {
      sidOf.set(stream(ch, p), streams.length);
      streams.push(stream(ch, p));
    }
  }
  return {
    count: pre.length, recvNs: Float64Array.from(recv), start: 0,
    streamOf: Int32Array.from(sname, (s) => (s === "" ? -1 : sidOf.get(s)!)), streams,
    pre, post, product, channel, events, snapshotAt, firstSnapshot, products: [...products].sort(), heartbeatCounter, file, productInfo,
  };
}

/** One product's level2 book at the venue, with the strings last received for every level. */
export class CoinbaseVenueBook {
  readonly book: L2Book;
  private readonly strings: [Map<number, CoinbaseL2Level>, Map<number, CoinbaseL2Level>] = [new Map(), new Map()];
  /** updates that crossed the book or could not be read */
  problems = 0;

  constructor(readonly product: string) {
    this.book = new L2Book("sim-coinbase", product);
  }

  /** A snapshot's levels (bids best first, then offers best first) replace the book. */
  load(updates: CoinbaseL2Level[]): void {
    this.book.clear();
    for (const m of this.strings) m.clear();
    // loaded worst first: each side stores best last, so this appends rather than shifts
    for (let k = updates.length - 1; k >= 0; k--) this.set(updates[k]!);
    this.book.synced = true;
  }

  apply(updates: CoinbaseL2Level[]): void {
    for (const u of updates) this.set(u);
    if (this.book.crossed) this.problems++;
  }

  private set(u: CoinbaseL2Level): void {
    const p = Number(u.price_level), q = Number(u.new_quantity);
    if ((u.side !== "bid" && u.side !== "offer") || !(p > 0) || !(q >= 0)) {
      this.problems++;
      return;
    }
    const side: number = u.side === "bid" ? BID : ASK;
    this.book.set(side, p, q);
    const m = this.strings[side === BID ? 0 : 1];
    if (q === 0) m.delete(p);
    else m.set(p, u);
  }

  /** The snapshot event's updates: bids best first, then offers best first, as received. */
  snapshotUpdates(): CoinbaseL2Level[] {
    const out: CoinbaseL2Level[] = [];
    for (const side of [BID, ASK]) {
      const m = this.strings[side]!;
      for (let i = 0, n = this.book.depth(side); i < n; i++) {
        const l = m.get(this.book.price(side, i))!;
        out.push({ side: l.side, event_time: l.event_time, price_level: l.price_level, new_quantity: l.new_quantity });
      }
    }
    return out;
  }
}

/** A product's market state besides the book. */
interface ProductState {
  trades: Json[];
  ticker: Json | undefined;
  candles: Json[];
}

export interface CoinbaseSession {
  /** the next sequence_num of this connection */
  seq: number;
  /** channel → products subscribed (heartbeats/status: the channel name itself) */
  subs: Map<string, Set<string>>;
  /** learned from the connection's first message (the core has no open hook) */
  conn: ConnControl | undefined;
}

export interface CoinbaseVenueOptions {
  /** heartbeats channel interval (default 1000 ms; 0 = the venue sends no heartbeats) */
  heartbeatMs?: number;
}

/** What the module needs of the server: which connections are open and which a fault stalled. */
export interface SimConnectionsView {
  connections(): SimConnectionInfo[];
}

const NEVER_MS = 2 ** 31 - 1;

export class CoinbaseVenue implements VenueModule<CoinbaseSession> {
  readonly name = "coinbase";
  readonly tape: CoinbaseTape;
  readonly ping = { intervalMs: NEVER_MS, timeoutMs: NEVER_MS, echoRequired: false };
  readonly inboundPerSecond = 0;
  readonly heartbeatMs: number;
  books = new Map<string, CoinbaseVenueBook>();
  /** messages answered per connection id (replies, snapshots, heartbeats: everything but data frames) */
  readonly replies = new Map<number, number>();
  /** requests received, parsed, in order (all connections) */
  readonly received: Json[] = [];
  snapshotsSent = 0;
  heartbeatsSent = 0;
  errorsSent = 0;
  private state = new Map<string, ProductState>();
  private readonly sessions = new Set<CoinbaseSession>();
  private sim: SimConnectionsView | undefined;
  private timer: ReturnType<typeof setInterval> | undefined;
  private heartbeatCounter = 0;
  private lastIdx = -1;
  private closed = false;

  constructor(tape: CoinbaseTape, o: CoinbaseVenueOptions = {}) {
    this.tape = tape;
    this.heartbeatMs = o.heartbeatMs ?? 1000;
    this.reset();
  }

  book(product: string): CoinbaseVenueBook | undefined {
    return this.books.get(product);
  }

  get bookProblems(): number {
    let n = 0;
    for (const b of this.books.values()) n += b.problems;
    return n;
  }

  /** The server this module runs in, to tell open, closed and stalled connections apart. */
  attach(sim: SimConnectionsView): void {
    this.sim = sim;
  }

  /** Stops the heartbeat timer (the server's stop does it through startCoinbaseSim). */
  close(): void {
    this.closed = true;
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  reset(): void {
    const t = this.tape;
    this.books = new Map();
    this.state = new Map();
    for (const p of t.products) this.state.set(p, { trades: [], ticker: undefined, candles: [] });
    // the history: each product's first recorded snapshot of each channel
    for (const i of t.firstSnapshot.values()) this.applySnapshot(i);
    this.heartbeatCounter = t.heartbeatCounter;
    this.lastIdx = -1;
  }

  advance(i: number): void {
    this.lastIdx = i;
    const t = this.tape;
    if (t.snapshotAt.has(i)) {
      if (t.firstSnapshot.get(stream(t.channel[i]!, t.product[i]!)) !== i) this.applySnapshot(i);
      return;
    }
    const p = t.product[i]!, st = this.state.get(p)!;
    for (const e of t.events[i]!) {
      switch (t.channel[i]) {
        case "l2_data":
          this.books.get(p)?.apply(e.updates as CoinbaseL2Level[]);
          break;
        case "market_trades":
          st.trades = [...[...(e.trades as Json[])].reverse(), ...st.trades].slice(0, KEEP_TRADES);
          break;
        case "ticker":
          st.ticker = (e.tickers as Json[])[(e.tickers as Json[]).length - 1];
          break;
        case "candles":
          for (const c of e.candles as Json[]) {
            const k = st.candles.findIndex((x) => x.start === c.start);
            if (k >= 0) st.candles[k] = c;
            else st.candles.push(c);
          }
          if (st.candles.length > KEEP_CANDLES) st.candles.splice(0, st.candles.length - KEEP_CANDLES);
          break;
      }
    }
  }

  private applySnapshot(i: number): void {
    const t = this.tape, p = t.product[i]!;
    let st = this.state.get(p);
    if (!st) this.state.set(p, (st = { trades: [], ticker: undefined, candles: [] }));
    for (const e of t.events[i]!) {
      switch (t.channel[i]) {
        case "l2_data": {
          let b = this.books.get(p);
          if (!b) this.books.set(p, (b = new CoinbaseVenueBook(p)));
          b.load(e.updates as CoinbaseL2Level[]);
          break;
        }
        case "market_trades":
          st.trades = (e.trades as Json[]).slice(0, KEEP_TRADES);
          break;
        case "ticker":
          st.ticker = (e.tickers as Json[])[0];
          break;
        case "candles":
          st.candles = (e.candles as Json[]).slice(-KEEP_CANDLES);
          break;
      }
    }
  }

  /** The replay clock: recorded time at the replay position, ms. */
  nowMs(): number {
    const t = this.tape;
    return this.lastIdx < 0 ? t.recvNs[0]! / 1e6 - 1 : t.recvNs[this.lastIdx]! / 1e6;
  }

  accept(url: URL): { session: CoinbaseSession; streams: string[] } | Response {
    if (url.pathname !== "/" && url.pathname !== "") return new Response(`no such WebSocket endpoint: ${url.pathname}`, { status: 404 });
    const s: CoinbaseSession = { seq: 0, subs: new Map(), conn: undefined };
    this.sessions.add(s);
    return { session: s, streams: [] };
  }

  frame(session: CoinbaseSession, i: number): string {
    const t = this.tape;
    return t.pre[i]! + session.seq++ + t.post[i]!;
  }

  errorFrame(): string {
    return '{"type":"error","message":"Internal error"}';
  }

  rest(req: Request, url: URL): Response | undefined {
    const PRODUCTS = "/api/v3/brokerage/market/products";
    if (req.method !== "GET" || !url.pathname.startsWith(PRODUCTS)) return undefined;
    const json = (body: unknown, status = 200) => new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });
    const all = this.tape.productInfo;
    if (url.pathname === PRODUCTS || url.pathname === `${PRODUCTS}/`) {
      const want = url.searchParams.getAll("product_ids");
      const products = want.length ? all.filter((p) => want.includes(p.product_id as string)) : all;
      return json({ products, num_products: products.length });
    }
    const id = decodeURIComponent(url.pathname.slice(PRODUCTS.length + 1));
    const p = all.find((x) => x.product_id === id);
    if (p) return json(p);
    const msg = `ProductID ${id} could not be found`;
    return json({ error: "NOT_FOUND", error_details: msg, message: msg }, 404);
  }

  /** Whether the connection still takes messages (open, not frozen by a stall fault). */
  private live(s: CoinbaseSession): boolean {
    const c = s.conn;
    if (!c) return false;
    if (!this.sim) return true;
    const info = this.sim.connections().find((x) => x.id === c.id);
    return info !== undefined && info.open && info.faults.stalls === 0;
  }

  /** A message of the connection: carries the next sequence_num. */
  private sendSeq(s: CoinbaseSession, channel: string, events: unknown[]): void {
    const body = { channel, client_id: "", timestamp: new Date(this.nowMs()).toISOString(), sequence_num: s.seq++, events };
    this.count(s.conn!);
    s.conn!.send(JSON.stringify(body));
  }

  private count(c: ConnControl): void {
    this.replies.set(c.id, (this.replies.get(c.id) ?? 0) + 1);
  }

  private error(s: CoinbaseSession, message: string, reason?: string): void {
    this.errorsSent++;
    this.count(s.conn!);
    s.conn!.send(JSON.stringify(reason === undefined ? { type: "error", message } : { type: "error", message, reason }));
  }

  onMessage(s: CoinbaseSession, text: string, conn: ConnControl): void {
    s.conn = conn;
    if (!this.live(s)) return;
    let m: Json;
    try {
      m = JSON.parse(text) as Json;
    } catch {
      return this.error(s, `malformed request: ${text.slice(0, 100)}`);
    }
    if (m === null || typeof m !== "object" || Array.isArray(m)) return this.error(s, "malformed request: not a JSON object");
    this.received.push(m);
    const type = m.type;
    if (type !== "subscribe" && type !== "unsubscribe") return this.error(s, `Failed to ${String(type)}`, `type must be subscribe or unsubscribe, got ${JSON.stringify(type)}`);
    const ch = m.channel;
    if (typeof ch !== "string" || !(PRODUCT_CHANNELS.has(ch) || GLOBAL_CHANNELS.has(ch))) return this.error(s, `Failed to ${type}`, `channel ${JSON.stringify(ch)} is not a valid channel`);
    const ids = m.product_ids === undefined ? [] : m.product_ids;
    if (!Array.isArray(ids) || !ids.every((p) => typeof p === "string")) return this.error(s, `Failed to ${type}`, "product_ids must be an array of product ids");
    const products = ids as string[];
    const bad = products.filter((p) => !this.state.has(p));
    if (bad.length > 0) return this.error(s, `Failed to ${type}`, `${bad.join(",")} is not a valid product`);
    const global = GLOBAL_CHANNELS.has(ch);
    if (!global && products.length === 0) return this.error(s, `Failed to ${type}`, "product_ids is required for this channel");
    const names = global ? [ch] : products;
    let set = s.subs.get(ch);
    if (!set) s.subs.set(ch, (set = new Set()));
    if (type === "unsubscribe") {
      for (const p of names) set.delete(p);
      if (!global) conn.unsubscribe(products.map((p) => stream(ch, p)));
    } else {
      for (const p of names) set.add(p);
      if (!global) {
        for (const p of products) this.snapshot(s, ch, p);
        conn.subscribe(products.map((p) => stream(ch, p)));
      }
      if (ch === "heartbeats") this.startBeats();
    }
    const subscriptions: Record<string, string[]> = {};
    for (const [c, ps] of s.subs) if (ps.size > 0) subscriptions[c] = [...ps];
    this.sendSeq(s, "subscriptions", [{ subscriptions }]);
  }

  private snapshot(s: CoinbaseSession, ch: string, p: string): void {
    const st = this.state.get(p)!;
    switch (ch) {
      case "level2": {
        const b = this.books.get(p);
        this.snapshotsSent++;
        this.sendSeq(s, "l2_data", [{ type: "snapshot", product_id: p, updates: b ? b.snapshotUpdates() : [] }]);
        return;
      }
      case "market_trades":
        this.sendSeq(s, "market_trades", [{ type: "snapshot", trades: st.trades }]);
        return;
      case "ticker":
        if (st.ticker) this.sendSeq(s, "ticker", [{ type: "snapshot", tickers: [st.ticker] }]);
        return;
      case "candles":
        this.sendSeq(s, "candles", [{ type: "snapshot", candles: st.candles }]);
        return;
    }
  }

  private startBeats(): void {
    if (this.timer !== undefined || this.closed || this.heartbeatMs <= 0) return;
    this.timer = setInterval(() => this.beat(), this.heartbeatMs);
    (this.timer as { unref?: () => void }).unref?.();
  }

  private beat(): void {
    const info = this.sim ? new Map(this.sim.connections().map((c) => [c.id, c])) : undefined;
    for (const s of this.sessions) {
      if (!s.conn) continue;
      const c = info?.get(s.conn.id);
      if (info && (!c || !c.open)) {
        this.sessions.delete(s);
        continue;
      }
      if ((c && c.faults.stalls > 0) || (s.subs.get("heartbeats")?.size ?? 0) === 0) continue;
      this.heartbeatsSent++;
      const now = new Date(this.nowMs()).toISOString();
      // the venue's clock as Go prints it, as the recording shows ("2026-08-09 21:05:48.854840045 +0000 UTC")
      this.sendSeq(s, "heartbeats", [{ current_time: `${now.slice(0, 10)} ${now.slice(11, 23)}000000 +0000 UTC`, heartbeat_counter: ++this.heartbeatCounter }]);
    }
    if (this.sessions.size === 0) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }
}

export interface CoinbaseSimOptions extends Omit<VenueSimOptions<CoinbaseSession>, "venue">, CoinbaseVenueOptions {
  /** a tape loaded before, or the capture's path (default shared/data/cryptofeed-v3/COINBASE.jsonl.gz) */
  tape?: CoinbaseTape | string;
}

export type CoinbaseSim = VenueSim<CoinbaseSession> & { readonly venue: CoinbaseVenue };

/** A Coinbase Advanced Trade market-data venue on 127.0.0.1 replaying the capture (ws://127.0.0.1:port/). */
export function startCoinbaseSim(o: CoinbaseSimOptions = {}): CoinbaseSim {
  const { tape, heartbeatMs, ...rest } = o;
  const t = typeof tape === "object" ? tape : loadCoinbaseTape(tape);
  const venue = new CoinbaseVenue(t, { heartbeatMs });
  const sim = startVenueSim({ ...rest, venue }) as CoinbaseSim;
  venue.attach(sim);
  const stop = sim.stop.bind(sim);
  (sim as { stop: () => Promise<void> }).stop = async () => {
    venue.close();
    await stop();
  };
  return sim;
}
