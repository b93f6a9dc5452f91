/**
 * Kraken spot WebSocket v2 public market data (`wss://ws.kraken.com/v2`: `book`, `trade`,
 * `heartbeat`, `status`, ping), as the venue simulator speaks it (a VenueModule, see
 * src/sim/server.ts). Rules are Kraken's documented ones (docs.kraken.com, spot-websocket-v2:
 * "book", "trade", "heartbeat", "status", "ping", and the "Book checksum (WebSocket v2)" guide).
 *
 * Tape. There is no v2 capture: the tape is derived, deterministically, from the v1 capture
 * KRAKEN.ws.50.0.gz (ten pairs, `book-1000`). v1 pair names become v2 symbols (XBT → BTC, XDG →
 * DOGE); each pair's price and qty precision is the widest decimal count of its recorded strings
 * (v1 prints them at the pair's precision, "354.80000000"). The v1 snapshot of a pair is the
 * venue's history (its book at the start); each v1 update becomes a v2 `book` update of JSON
 * numbers with the checksum of the venue's book after it — the v2 rule (top 10 asks low → high,
 * then top 10 bids high → low, each number formatted with the pair's precision, "." and leading
 * zeros removed, CRC32), computed by KrakenV2BookSync. `v1Checksums` counts how many of those
 * agree with the v1 capture's own checksums (all of them: the derivation is checked against the
 * venue). After every 25th book message a `trade` message (v2 shape) at the book's top: the side
 * alternates, the qty is min(top qty, 0.5), the trade_id counts up from 1.
 *
 * Depth. A book subscription names a depth (10, 25, 100, 500, 1000; default 10). The venue's book
 * is 1000 deep (the capture's); a subscriber at depth d gets the top d in its snapshot and, for
 * every update, what a depth-d book needs: the changed levels inside the top d after the update,
 * deletions of levels it held, and levels that came into the top d from below ("you will not
 * receive qty 0 for levels that fall out of scope" — the client truncates). These per-depth
 * messages are computed once when the tape is built, by keeping a depth-d book beside the venue's
 * and checking after every update that it equals the venue's top d. The checksum covers the top
 * 10 only, so it is the same at every depth.
 *
 * Per connection (guaranteed):
 *  - `{"method":"subscribe"|"unsubscribe","params":{"channel","symbol":[…],"depth"?,
 *    "snapshot"?},"req_id"?}` → one answer per symbol, `{"method","result":{"channel","symbol",
 *    ("depth","snapshot")},"success":true,"time_in","time_out"}` (req_id echoed), or
 *    `{"error","method","success":false,"symbol"?,"time_in","time_out"}`: "Currency pair not
 *    supported <symbol>" for a pair this venue does not list (the other symbols are served),
 *    "Subscription depth not supported" for a depth not in the list, "Subscription Not Found" for
 *    an unsubscribe of something not subscribed, "Channel not supported" / "Malformed request" for
 *    the rest (the last three wordings are the simulator's);
 *  - a book subscription (snapshot: true, the default) is followed by a `snapshot` of the venue's
 *    book at that moment, top `depth` levels a side, with its checksum; updates follow from the
 *    next frame that leaves the venue. A trade subscription with snapshot: true (default false)
 *    gets the last 50 trades as a `snapshot`;
 *  - `{"method":"ping","req_id"?}` → `{"method":"pong","req_id"?,"time_in","time_out"}`;
 *  - `{"channel":"heartbeat"}` every `heartbeatMs` (1000: "approximately once every second") on
 *    a connection with a subscription; `{"channel":"status","type":"update","data":[{"api_version":
 *    "v2","connection_id","system":"online","version"}]}` once per connection, before its first
 *    answer (the core has no open hook, so it cannot go out at connect time);
 *  - an update that changes nothing inside a subscriber's depth is not an update for it: the core
 *    sends one frame per tape frame to every subscriber of its stream, so that subscriber gets a
 *    `{"channel":"heartbeat"}` in its place (Kraken's keep-alive, which a client ignores);
 *  - a connection a `stall` fault froze gets nothing more from this module (no heartbeat, no
 *    answer, no pong). `errorFrame` (the `error` fault) is an `{"error":"Internal error",
 *    "method":"subscribe","success":false,…}` without a request (simulator's choice).
 *
 * REST (GET) `/0/public/AssetPairs` (optionally `?pair=A,B`, each an altname, a wsname or a
 * key): Kraken's `{"error":[],"result":{<key>:{altname,wsname,base,quote,pair_decimals,
 * lot_decimals,tick_size,ordermin,status,…}}}` for the tape's pairs, derived from the capture: key
 * and altname the v1 pair without its slash (XBTCHF; the venue prefixes some keys with X/Z, the
 * simulator does not), wsname the v1 pair (XBT/CHF), base and quote its assets, pair_decimals
 * and lot_decimals the pair's price and qty precision, tick_size one unit of the last price
 * decimal, ordermin one unit of the last qty decimal. A pair not listed →
 * `{"error":["EQuery:Unknown asset pair"]}` (Kraken's wording).
 *
 * The core's own protocol pings are off (Kraken's keep-alive is the application ping).
 * Not modelled: the `instrument`, `ticker`, `ohlc`, `book` L3 channels, rate limits, authentication,
 * the 1-minute idle disconnect.
 */
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { ASK, BID, L2Book } from "../../book/l2book.ts";
import { CryptofeedLogReader } from "../../feed/cryptofeed-log.ts";
import { KrakenV2BookSync, type KrakenV2Level } from "../../feed/kraken/book.ts";
import { DataFileError } from "../../feed/recording.ts";
import { startVenueSim, type ConnControl, type SimTape, type VenueModule, type VenueSim, type VenueSimOptions } from "../server.ts";
import type { SimConnectionsView } from "./coinbase.ts";

export const KRAKEN_DEFAULT_CAPTURE = fileURLToPath(new URL("../../../../shared/data/cryptofeed/KRAKEN.ws.50.0.gz", import.meta.url));
/** spot-websocket-v2/book: depth "One of: 10, 25, 100, 500, 1000" (default 10) */
export const KRAKEN_SIM_DEPTHS = [10, 25, 100, 500, 1000] as const;
/** the capture's depth: the venue's book */
const VENUE_DEPTH = 1000;
const TRADE_EVERY = 25;
const TRADE_SNAPSHOT = 50;

export interface KrakenSimInstrument {
  /** v2 symbol (BTC/CHF) and the v1 pair it comes from (XBT/CHF) */
  symbol: string;
  v1: string;
  pricePrecision: number;
  qtyPrecision: number;
}

type V1Level = [string, string, string, string?];

export interface KrakenTape extends SimTape {
  instruments: KrakenSimInstrument[];
  /** instrument index of each frame */
  inst: Int32Array;
  /** book update frames: the text per depth (index into KRAKEN_SIM_DEPTHS; "" = nothing changed inside that depth); trades: one text */
  bookText: Array<string[] | undefined>;
  tradeText: Array<string | undefined>;
  /** the checksum of each book update (the venue's book after it) */
  checksum: Float64Array;
  /** the levels of each book update (as the venue applies them) and its trade (for the trade snapshot) */
  update: Array<{ asks: KrakenV2Level[]; bids: KrakenV2Level[] } | undefined>;
  trade: Array<Record<string, unknown> | undefined>;
  /** each instrument's book before the first frame */
  startBooks: Array<{ asks: KrakenV2Level[]; bids: KrakenV2Level[] }>;
  /** v1 updates whose own checksum was compared with the derived v2 one, and how many agreed */
  v1Checksums: { checked: number; agree: number };
  file: string;
}

const V2_ASSET: Record<string, string> = { XBT: "BTC", XDG: "DOGE" };
export const krakenV2Symbol = (v1: string): string => v1.split("/").map((a) => V2_ASSET[a] ?? a).join("/");

const rfc3339 = (sec: string): string => {
  const [whole, frac = ""] = sec.split(".");
  return `${new Date(Number(whole) * 1000).toISOString().slice(0, 19)}.${(frac + "000000").slice(0, 6)}Z`;
};

const decimals = (s: string): number => {
  const d = s.indexOf(".");
  return d < 0 ? 0 : s.length - d - 1;
};

export interface KrakenTapeOptions {
  file?: string;
  /** v1 pairs to keep (default: every pair of the capture) */
  pairs?: string[];
}

/** A venue-side book of one depth: what a subscriber at that depth holds. */
function levelsOf(book: L2Book, side: number, n: number): KrakenV2Level[] {
  const out: KrakenV2Level[] = [];
  for (let i = 0, m = Math.min(n, book.depth(side)); i < m; i++) out.push({ price: book.price(side, i), qty: book.size(side, i) });
  return out;
}

/** Builds the v2 tape from the v1 capture (see the header). Throws DataFileError for a missing file. */
export function loadKrakenTape(o: KrakenTapeOptions = {}): KrakenTape {
  const file = o.file ?? KRAKEN_DEFAULT_CAPTURE;
  if (!existsSync(file)) throw new DataFileError(`Kraken capture ${file} is absent`);
  const keep = o.pairs ? new Set(o.pairs) : undefined;
  // pass 1: the pairs, their precision, their snapshots and updates in order
  const rows: Array<{ ns: number; pair: string; snap: boolean; bodies: Array<Record<string, unknown>> }> = [];
  const width = new Map<string, [number, number]>();
  for (const e of CryptofeedLogReader.open(file).entries()) {
    if (e.kind !== "recv") continue;
    let f: unknown;
    try {
      f = JSON.parse(e.text);
    } catch {
      continue;
    }
    if (!Array.isArray(f) || f.length < 4 || typeof f[f.length - 2] !== "string" || !(f[f.length - 2] as string).startsWith("book-")) continue;
    const pair = f[f.length - 1] as string;
    if (keep && !keep.has(pair)) continue;
    const bodies = f.slice(1, -2) as Array<Record<string, unknown>>;
    const snap = "as" in bodies[0]! || "bs" in bodies[0]!;
    const w = width.get(pair) ?? [0, 0];
    for (const b of bodies) for (const k of ["as", "bs", "a", "b"]) for (const lv of (b[k] ?? []) as V1Level[]) {
      w[0] = Math.max(w[0], decimals(lv[0]));
      w[1] = Math.max(w[1], decimals(lv[1]));
    }
    width.set(pair, w);
    rows.push({ ns: Number(e.recvNs), pair, snap, bodies });
  }
  const pairs = [...new Set(rows.filter((r) => r.snap).map((r) => r.pair))];
  if (pairs.length === 0) throw new DataFileError(`${file} holds no v1 book snapshot${keep ? ` of ${[...keep].join(", ")}` : ""}`);
  const instruments: KrakenSimInstrument[] = pairs.map((p) => ({ symbol: krakenV2Symbol(p), v1: p, pricePrecision: width.get(p)![0], qtyPrecision: width.get(p)![1] }));
  const idx = new Map(pairs.map((p, i) => [p, i]));
  const venue = instruments.map((x) => new KrakenV2BookSync(new L2Book("sim-kraken", x.symbol), VENUE_DEPTH, x.pricePrecision, x.qtyPrecision));
  // per instrument and depth: what a subscriber at that depth holds
  const mirrors = instruments.map((x) => KRAKEN_SIM_DEPTHS.map(() => new L2Book("sim-kraken-depth", x.symbol)));
  const startBooks: KrakenTape["startBooks"] = instruments.map(() => ({ asks: [], bids: [] }));
  const seen = new Set<number>();
  const checksum: number[] = [], recv: number[] = [], inst: number[] = [], bookText: KrakenTape["bookText"] = [], tradeText: KrakenTape["tradeText"] = [], update: KrakenTape["update"] = [], trade: KrakenTape["trade"] = [], stream: string[] = [];
  const v1Checksums = { checked: 0, agree: 0 };
  let books = 0, tradeId = 1;
  const num = (lv: V1Level): KrakenV2Level => ({ price: Number(lv[0]), qty: Number(lv[1]) });
  for (const r of rows) {
    const i = idx.get(r.pair);
    if (i === undefined) continue;
    const x = instruments[i]!, sync = venue[i]!;
    if (r.snap) {
      if (seen.has(i)) throw new DataFileError(`${file}: a second v1 snapshot of ${r.pair}`);
      seen.add(i);
      const asks = ((r.bodies[0]!.as ?? []) as V1Level[]).map(num), bids = ((r.bodies[0]!.bs ?? []) as V1Level[]).map(num);
      sync.onData("snapshot", { symbol: x.symbol, asks, bids });
      startBooks[i] = { asks: levelsOf(sync.book, ASK, VENUE_DEPTH), bids: levelsOf(sync.book, BID, VENUE_DEPTH) };
      KRAKEN_SIM_DEPTHS.forEach((d, k) => {
        const m = mirrors[i]![k]!;
        for (const side of [BID, ASK]) for (const l of levelsOf(sync.book, side, d)) m.set(side, l.price, l.qty);
      });
      continue;
    }
    if (!seen.has(i)) continue; // an update before the pair's snapshot: no book yet
    const asks: KrakenV2Level[] = [], bids: KrakenV2Level[] = [];
    let v1c: number | null = null, ts = "";
    for (const b of r.bodies) {
      for (const [k, out] of [["a", asks], ["b", bids]] as const) {
        for (const lv of (b[k] ?? []) as V1Level[]) {
          out.push(num(lv));
          ts = rfc3339(lv[2]);
        }
      }
      if (typeof b.c === "string") v1c = Number(b.c);
    }
    // what each depth's subscriber held before the update: levels it may need deleted
    const held = mirrors[i]!.map((m) => [new Set(asks.filter((l) => has(m, ASK, l.price)).map((l) => l.price)), new Set(bids.filter((l) => has(m, BID, l.price)).map((l) => l.price))]);
    const res = sync.onData("update", { symbol: x.symbol, asks, bids });
    if (res !== "applied") throw new DataFileError(`${file}: the v1 update of ${r.pair} does not apply to the venue's book (${res}: ${sync.lastProblem})`);
    const c = sync.checksum();
    if (v1c !== null) {
      v1Checksums.checked++;
      if (v1c === c) v1Checksums.agree++;
    }
    const texts = KRAKEN_SIM_DEPTHS.map((d, k) => {
      const m = mirrors[i]![k]!;
      const out: [KrakenV2Level[], KrakenV2Level[]] = [[], []]; // asks, bids
      for (const s of [0, 1]) {
        const side = s === 0 ? ASK : BID;
        const wasHeld = held[k]![s]!;
        const done = new Set<number>();
        for (const l of s === 0 ? asks : bids) {
          if (done.has(l.price)) continue;
          done.add(l.price);
          const at = indexOf(sync.book, side, l.price);
          if (at >= 0 && at < d) out[s]!.push({ price: l.price, qty: sync.book.size(side, at) });
          else if (at < 0 && wasHeld.has(l.price)) out[s]!.push({ price: l.price, qty: 0 });
        }
        for (const l of out[s]!) m.set(side, l.price, l.qty);
        // levels that came into the top d from below
        for (let j = 0, n = Math.min(d, sync.book.depth(side)); j < n; j++) {
          const p = sync.book.price(side, j);
          if (m.price(side, j) === p) continue;
          const q = sync.book.size(side, j);
          m.set(side, p, q);
          out[s]!.push({ price: p, qty: q });
        }
        while (m.depth(side) > d) m.set(side, m.price(side, m.depth(side) - 1), 0);
        for (let j = 0; j < m.depth(side); j++) {
          if (m.price(side, j) !== sync.book.price(side, j) || m.size(side, j) !== sync.book.size(side, j)) throw new Error(`loadKrakenTape: the depth-${d} book of ${x.symbol} left the venue's top ${d}`);
        }
      }
      // nothing changed inside this depth: Kraken sends no update ("" → a heartbeat, see frame())
      if (out[0].length + out[1].length === 0) return "";
      return JSON.stringify({ channel: "book", type: "update", data: [{ symbol: x.symbol, bids: out[1], asks: out[0], checksum: c, timestamp: ts }] });
    });
    recv.push(r.ns);
    checksum.push(c);
    inst.push(i);
    bookText.push(texts);
    tradeText.push(undefined);
    update.push({ asks, bids });
    trade.push(undefined);
    stream.push(`book:${x.symbol}`);
    if (++books % TRADE_EVERY === 0) {
      const id = tradeId++;
      const sell = id % 2 === 0;
      const side = sell ? BID : ASK;
      const t = { symbol: x.symbol, side: sell ? "sell" : "buy", price: sync.book.price(side, 0), qty: Math.min(sync.book.size(side, 0), 0.5), ord_type: "market", trade_id: id, timestamp: ts };
      recv.push(r.ns);
      checksum.push(0);
      inst.push(i);
      bookText.push(undefined);
      tradeText.push(JSON.stringify({ channel: "trade", type: "update", data: [t] }));
      update.push(undefined);
      trade.push(t);
      stream.push(`trade:${x.symbol}`);
    }
  }
  const streams = instruments.flatMap((x) => [`book:${x.symbol}`, `trade:${x.symbol}`]);
  const sid = new Map(streams.map((s, k) => [s, k]));
  return {
    count: recv.length, recvNs: Float64Array.from(recv), start: 0, streamOf: Int32Array.from(stream, (s) => sid.get(s)!), streams,
    instruments, inst: Int32Array.from(inst), checksum: Float64Array.from(checksum), bookText, tradeText, update, trade, startBooks, v1Checksums, file,
  };
}

/** Index of `price` on a side of the book (0 = best), -1 when absent. */
function indexOf(book: L2Book, side: number, price: number): number {
  let lo = 0, hi = book.depth(side) - 1;
  const better = (a: number, b: number) => (side === BID ? a > b : a < b);
  while (lo <= hi) {
    const mid = (lo + hi) >> 1, p = book.price(side, mid);
    if (p === price) return mid;
    if (better(p, price)) lo = mid + 1;
    else hi = mid - 1;
  }
  return -1;
}

const has = (book: L2Book, side: number, price: number): boolean => indexOf(book, side, price) >= 0;

export interface KrakenSession {
  /** symbol → subscribed book depth */
  book: Map<string, number>;
  trade: Set<string>;
  conn: ConnControl | undefined;
  statusSent: boolean;
  connectionId: number;
}

export interface KrakenVenueOptions {
  /** heartbeat interval (default 1000 ms; 0 = the venue sends no heartbeats) */
  heartbeatMs?: number;
}

const NEVER_MS = 2 ** 31 - 1;
const HEARTBEAT = '{"channel":"heartbeat"}';
const DEPTH_INDEX = new Map<number, number>(KRAKEN_SIM_DEPTHS.map((d, k) => [d, k]));

export class KrakenVenue implements VenueModule<KrakenSession> {
  readonly name = "kraken";
  readonly tape: KrakenTape;
  readonly ping = { intervalMs: NEVER_MS, timeoutMs: NEVER_MS, echoRequired: false };
  readonly inboundPerSecond = 0;
  readonly heartbeatMs: number;
  books: KrakenV2BookSync[] = [];
  /** messages answered per connection id (everything but data frames) */
  readonly replies = new Map<number, number>();
  /** requests received, parsed, in order (all connections) */
  readonly received: Array<Record<string, unknown>> = [];
  snapshotsSent = 0;
  heartbeatsSent = 0;
  pongsSent = 0;
  errorsSent = 0;
  /** updates whose checksum did not match the venue's book after them (a derivation fault) */
  bookProblems = 0;
  private trades: Array<Array<Record<string, unknown>>> = [];
  private readonly bySymbol = new Map<string, number>();
  private readonly sessions = new Set<KrakenSession>();
  private sim: SimConnectionsView | undefined;
  private timer: ReturnType<typeof setInterval> | undefined;
  private lastIdx = -1;
  private connections = 0;
  private closed = false;

  constructor(tape: KrakenTape, o: KrakenVenueOptions = {}) {
    this.tape = tape;
    this.heartbeatMs = o.heartbeatMs ?? 1000;
    tape.instruments.forEach((x, i) => this.bySymbol.set(x.symbol, i));
    this.reset();
  }

  book(symbol: string): KrakenV2BookSync | undefined {
    const i = this.bySymbol.get(symbol);
    return i === undefined ? undefined : this.books[i];
  }

  attach(sim: SimConnectionsView): void {
    this.sim = sim;
  }

  close(): void {
    this.closed = true;
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  reset(): void {
    const t = this.tape;
    this.books = t.instruments.map((x, i) => {
      const s = new KrakenV2BookSync(new L2Book("sim-kraken", x.symbol), VENUE_DEPTH, x.pricePrecision, x.qtyPrecision);
      s.onData("snapshot", { symbol: x.symbol, ...t.startBooks[i]! });
      return s;
    });
    this.trades = t.instruments.map(() => []);
    this.lastIdx = -1;
  }

  advance(i: number): void {
    this.lastIdx = i;
    const t = this.tape, k = t.inst[i]!;
    const u = t.update[i];
    if (u) {
      const x = t.instruments[k]!;
      if (this.books[k]!.onData("update", { symbol: x.symbol, asks: u.asks, bids: u.bids, checksum: t.checksum[i]! }) !== "applied") this.bookProblems++;
      return;
    }
    const tr = t.trade[i];
    if (tr) {
      const list = this.trades[k]!;
      list.push(tr);
      if (list.length > TRADE_SNAPSHOT) list.shift();
    }
  }

  nowMs(): number {
    const t = this.tape;
    return this.lastIdx < 0 ? t.recvNs[0]! / 1e6 - 1 : t.recvNs[this.lastIdx]! / 1e6;
  }

  accept(url: URL): { session: KrakenSession; streams: string[] } | Response {
    if (url.pathname !== "/v2") return new Response(`no such WebSocket endpoint: ${url.pathname}`, { status: 404 });
    const s: KrakenSession = { book: new Map(), trade: new Set(), conn: undefined, statusSent: false, connectionId: ++this.connections };
    this.sessions.add(s);
    return { session: s, streams: [] };
  }

  frame(session: KrakenSession, i: number): string {
    const t = this.tape;
    const books = t.bookText[i];
    if (!books) return t.tradeText[i]!;
    const d = session.book.get(t.instruments[t.inst[i]!]!.symbol) ?? VENUE_DEPTH;
    return books[DEPTH_INDEX.get(d)!]! || HEARTBEAT;
  }

  errorFrame(): string {
    const now = new Date().toISOString();
    return JSON.stringify({ error: "Internal error", method: "subscribe", success: false, time_in: now, time_out: now });
  }

  rest(req: Request, url: URL): Response | undefined {
    if (req.method !== "GET" || url.pathname !== "/0/public/AssetPairs") return undefined;
    const json = (body: unknown) => new Response(JSON.stringify(body), { headers: { "content-type": "application/json" } });
    const unit = (d: number) => (d === 0 ? "1" : `0.${"0".repeat(d - 1)}1`);
    const entries = this.tape.instruments.map((x) => {
      const [base = "", quote = ""] = x.v1.split("/");
      const key = `${base}${quote}`;
      return [key, { altname: key, wsname: x.v1, aclass_base: "currency", base, aclass_quote: "currency", quote, lot: "unit", pair_decimals: x.pricePrecision, lot_decimals: x.qtyPrecision, lot_multiplier: 1, tick_size: unit(x.pricePrecision), ordermin: unit(x.qtyPrecision), status: "online" }] as const;
    });
    const want = url.searchParams.get("pair");
    if (want === null || want === "") return json({ error: [], result: Object.fromEntries(entries) });
    const result: Record<string, unknown> = {};
    for (const w of want.split(",")) {
      const e = entries.find(([key, v]) => key === w || v.altname === w || v.wsname === w);
      if (!e) return json({ error: ["EQuery:Unknown asset pair"] });
      result[e[0]] = e[1];
    }
    return json({ error: [], result });
  }

  private live(s: KrakenSession): boolean {
    const c = s.conn;
    if (!c) return false;
    if (!this.sim) return true;
    const info = this.sim.connections().find((x) => x.id === c.id);
    return info !== undefined && info.open && info.faults.stalls === 0;
  }

  private send(s: KrakenSession, body: unknown): void {
    const c = s.conn!;
    this.replies.set(c.id, (this.replies.get(c.id) ?? 0) + 1);
    c.send(typeof body === "string" ? body : JSON.stringify(body));
  }

  onMessage(s: KrakenSession, text: string, conn: ConnControl): void {
    s.conn = conn;
    if (!this.live(s)) return;
    if (!s.statusSent) {
      s.statusSent = true;
      this.send(s, { channel: "status", type: "update", data: [{ api_version: "v2", connection_id: s.connectionId, system: "online", version: "2.0.0" }] });
    }
    const timeIn = new Date().toISOString();
    const stamp = () => ({ time_in: timeIn, time_out: new Date().toISOString() });
    let m: { method?: unknown; params?: unknown; req_id?: unknown };
    try {
      m = JSON.parse(text);
    } catch {
      this.errorsSent++;
      return this.send(s, { error: "Malformed request", success: false, ...stamp() });
    }
    if (m === null || typeof m !== "object" || Array.isArray(m)) {
      this.errorsSent++;
      return this.send(s, { error: "Malformed request", success: false, ...stamp() });
    }
    this.received.push(m as Record<string, unknown>);
    const req = typeof m.req_id === "number" ? { req_id: m.req_id } : {};
    const method = m.method;
    if (method === "ping") {
      this.pongsSent++;
      return this.send(s, { method: "pong", ...req, ...stamp() });
    }
    const fail = (error: string, symbol?: string) => {
      this.errorsSent++;
      this.send(s, { error, method, ...req, success: false, ...(symbol === undefined ? {} : { symbol }), ...stamp() });
    };
    if (method !== "subscribe" && method !== "unsubscribe") return fail("Method not found");
    const p = m.params as { channel?: unknown; symbol?: unknown; depth?: unknown; snapshot?: unknown } | undefined;
    if (!p || typeof p !== "object") return fail("Malformed request");
    if (p.channel !== "book" && p.channel !== "trade") return fail("Channel not supported");
    if (!Array.isArray(p.symbol) || p.symbol.length === 0 || !p.symbol.every((x) => typeof x === "string")) return fail("Malformed request");
    const depth = p.depth === undefined ? 10 : p.depth;
    if (p.channel === "book" && !(typeof depth === "number" && DEPTH_INDEX.has(depth))) return fail("Subscription depth not supported");
    const snapshot = typeof p.snapshot === "boolean" ? p.snapshot : p.channel === "book";
    for (const sym of p.symbol as string[]) {
      const i = this.bySymbol.get(sym);
      if (i === undefined) {
        fail(`Currency pair not supported ${sym}`, sym);
        continue;
      }
      const name = `${p.channel}:${sym}`;
      if (method === "unsubscribe") {
        const had = p.channel === "book" ? s.book.delete(sym) : s.trade.delete(sym);
        if (!had) {
          fail("Subscription Not Found", sym);
          continue;
        }
        conn.unsubscribe([name]);
        this.send(s, { method, ...req, result: p.channel === "book" ? { channel: "book", depth, symbol: sym } : { channel: "trade", symbol: sym }, success: true, ...stamp() });
        continue;
      }
      if (p.channel === "book") s.book.set(sym, depth as number);
      else s.trade.add(sym);
      this.send(s, { method, ...req, result: p.channel === "book" ? { channel: "book", depth, snapshot, symbol: sym } : { channel: "trade", snapshot, symbol: sym }, success: true, ...stamp() });
      if (snapshot) {
        if (p.channel === "book") {
          const b = this.books[i]!;
          this.snapshotsSent++;
          this.send(s, { channel: "book", type: "snapshot", data: [{ symbol: sym, bids: levelsOf(b.book, BID, depth as number), asks: levelsOf(b.book, ASK, depth as number), checksum: b.checksum() }] });
        } else this.send(s, { channel: "trade", type: "snapshot", data: [...this.trades[i]!].reverse() });
      }
      conn.subscribe([name]);
      this.startBeats();
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
      if ((c && c.faults.stalls > 0) || s.book.size + s.trade.size === 0) continue;
      this.heartbeatsSent++;
      this.send(s, HEARTBEAT);
    }
    if (this.sessions.size === 0) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }
}

export interface KrakenSimOptions extends Omit<VenueSimOptions<KrakenSession>, "venue">, KrakenVenueOptions {
  /** a tape built before, or the options to build it */
  tape?: KrakenTape | KrakenTapeOptions;
}

export type KrakenSim = VenueSim<KrakenSession> & { readonly venue: KrakenVenue };

/** A Kraken spot v2 venue on 127.0.0.1 (ws://127.0.0.1:port/v2) replaying the derived tape. */
export function startKrakenSim(o: KrakenSimOptions = {}): KrakenSim {
  const { tape, heartbeatMs, ...rest } = o;
  const t = tape && "streamOf" in tape ? tape : loadKrakenTape(tape);
  const venue = new KrakenVenue(t, { heartbeatMs });
  const sim = startVenueSim({ ...rest, venue }) as KrakenSim;
  venue.attach(sim);
  const stop = sim.stop.bind(sim);
  (sim as { stop: () => Promise<void> }).stop = async () => {
    venue.close();
    await stop();
  };
  return sim;
}
