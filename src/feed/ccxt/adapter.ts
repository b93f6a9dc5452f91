/**
 * CcxtFeed — market data for any venue ccxt pro supports, as 64-byte tick records: one
 * `watchTrades` loop and one `watchOrderBook` loop per symbol (ccxt's WebSocket classes,
 * `ccxt.pro[id]`), their results written into an SPSC ring (through TickRingWriter) or a
 * TickBuffer. ccxt keeps the book in sync with the venue (its own snapshot + diff procedure);
 * this adapter turns what ccxt holds into records:
 *
 *  - TRADE  one per new trade (ccxt's `newUpdates` gives the trades since the last call; numeric
 *           trade ids that do not increase are skipped and counted as repeats), SELL flag for
 *           side "sell", seq = the numeric id (0 when the venue's ids are not numbers).
 *  - LEVEL  book changes, derived without O(book) work per update: the adapter wraps, on the
 *           book instance ccxt keeps (never on ccxt's classes), each side's `storeArray` (every
 *           level change ccxt applies goes through it; the level's resulting size is then read
 *           back with one binary search of the side's price index, so ccxt's own rules — counted
 *           books, deletes — decide the value), the sides' `limit` (ccxt truncates its book to
 *           the requested depth on every return: those levels become deletes) and the book's
 *           `reset` (a new snapshot). When a watch returns, the changes logged since the last
 *           return become LEVEL records (the last one flagged LAST); a reset, or a book object
 *           the adapter has not seen (first result, resubscription), becomes one SNAPSHOT message
 *           of the whole book, O(book) once per snapshot. Books whose sides are not price-keyed
 *           (ccxt's IndexedOrderBook, order-id books) are diffed over their top `diffDepth`
 *           levels instead, O(diffDepth) per update.
 *           LEVEL records carry seq = ccxt's nonce and price2/size2 = -1 (no venue update ids):
 *           the engine's book for a ccxt feed takes them as they come (rule NONE), since ccxt
 *           already checked the venue's sequence.
 *  - QUOTE  best bid/ask after a book update, when either changed.
 *  - STATUS when a watch fails (ccxt lost the connection or the book's sequence): the engine's
 *           book clears and waits for the next snapshot, which follows ccxt's resubscription.
 * Errors from ccxt are counted by class and logged (never per tick) and the loop re-watches
 * after a capped backoff: a feed never throws into the engine.
 *
 * Endpoints: with `endpoint`, every URL in the exchange's `urls.api` (REST and WS, any nesting)
 * is pointed at that origin, keeping its path, and every request ccxt makes (REST through
 * `fetchImplementation`, WS through `client(url)`) is checked against the allowed origins;
 * anything else is refused with OffEndpointError and recorded in `offEndpoint` — a test against
 * the simulator fails loudly instead of reaching the internet. Binance options that would call
 * private or extra endpoints during loadMarkets are turned off (fetchCurrencies, fetchMargins,
 * time-difference adjustment) and fetchMarkets asks only for the market types of the symbols.
 */
import ccxt from "ccxt";
import type { Logger } from "pino";
import { now as clockNow } from "../../../ffi/clock.ts";
import type { SpscRing } from "../../../ffi/ring.ts";
import { type InstrumentTable, Venue } from "../../domain/instruments.ts";
import { TickBuffer } from "../../domain/tick-buffer.ts";
import { TickFlag, TickKind, TickStatus, TICK_BYTES } from "../../domain/tick.ts";
import { log as rootLog } from "../../telemetry/log.ts";
import { TickRingWriter } from "../ws-session.ts";

export class OffEndpointError extends Error {
  override name = "OffEndpointError";
}

export type CcxtChannel = "trades" | "book";

export interface CcxtFeedOptions {
  /** ccxt pro exchange id: "binanceusdm", "binance", "bybit", "okx", "coinbase", "kraken", ... */
  exchange: string;
  /** ccxt unified symbols: "BTC/USDT:USDT", "BTC/USDT" */
  symbols: string[];
  channels?: CcxtChannel[];
  /** where records go: a ring (the engine) or a TickBuffer (tools, tests) */
  sink: SpscRing | TickBuffer;
  instruments: InstrumentTable;
  /** venue id stamped on records (default: Venue[exchange], else Venue.sim) */
  venue?: number;
  /** point every REST and WS endpoint of the exchange here (the simulator) */
  endpoint?: { http: string; ws: string };
  /** origins requests may go to (default: the endpoint's two origins; none = no check) */
  allowedOrigins?: string[];
  /** merged into the exchange's options (e.g. { watchOrderBookRate: "0" }) */
  exchangeOptions?: Record<string, unknown>;
  /** depth asked of watchOrderBook (venue default when undefined) */
  bookLimit?: number;
  /** top levels compared per update for books that are not price-keyed (default 50) */
  diffDepth?: number;
  /** receive timestamps: the bot4 clock (ns) */
  clock?: () => number;
  log?: Logger;
  /** first retry delay after an error (ms), doubled up to maxRetryMs */
  retryMs?: number;
  maxRetryMs?: number;
}

export interface CcxtFeedCounters {
  tradeBatches: number;
  trades: number;
  tradeRepeats: number;
  bookUpdates: number;
  snapshots: number;
  levels: number;
  quotes: number;
  statusRecords: number;
  errors: number;
  /** watches started again after a network error */
  reconnects: number;
  ringDrops: number;
}

// ccxt's book objects, as far as this adapter touches them
interface CcxtSide extends Array<number[]> {
  index?: Float64Array;
  depth?: number;
  hashmap?: unknown;
  side?: boolean;
  storeArray(delta: number[]): void;
  limit(): void;
}
interface CcxtBook {
  bids: CcxtSide;
  asks: CcxtSide;
  nonce?: number;
  timestamp?: number;
  reset(snapshot?: unknown): unknown;
}
interface CcxtTrade {
  id?: string;
  timestamp?: number;
  side?: string;
  price?: number;
  amount?: number;
}
type CcxtExchange = {
  id: string;
  urls: Record<string, unknown>;
  options: Record<string, unknown>;
  orderbooks: Record<string, CcxtBook | undefined>;
  fetchImplementation?: unknown;
  client(url: string): unknown;
  loadMarkets(): Promise<unknown>;
  loadHttpProxyAgent(): Promise<unknown>;
  watchTrades(symbol: string): Promise<CcxtTrade[]>;
  watchOrderBook(symbol: string, limit?: number): Promise<CcxtBook>;
  close(): Promise<void>;
};

const CLEAR = 2;
const ORIGIN = /^(https?|wss?):\/\/[^/?#]+/i;

/** Points every URL under `urls` at `http` (REST) or `ws` (WebSocket) origins, keeping paths. */
export function pointUrlsAt(urls: unknown, http: string, ws: string): unknown {
  if (typeof urls === "string") {
    const m = ORIGIN.exec(urls);
    if (!m) return urls;
    const scheme = m[1]!.toLowerCase();
    return (scheme.startsWith("ws") ? ws : http) + urls.slice(m[0].length);
  }
  if (Array.isArray(urls)) return urls.map((u) => pointUrlsAt(u, http, ws));
  if (urls && typeof urls === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(urls)) out[k] = pointUrlsAt(v, http, ws);
    return out;
  }
  return urls;
}

const originOf = (u: string) => (ORIGIN.exec(u)?.[0] ?? "").toLowerCase();

/**
 * Follows one ccxt book object: logs every level change ccxt applies to it (see the header).
 * `ops` holds triples [side (0 bid, 1 ask, 2 clear), price, size].
 */
export class CcxtBookTap {
  ops: number[] = [];
  private book: CcxtBook | undefined;
  private bids: CcxtSide | undefined;
  private asks: CcxtSide | undefined;
  /** sides that are not price-keyed: diff the top levels instead */
  diffMode = false;
  private prevTop: [Map<number, number>, Map<number, number>] = [new Map(), new Map()];
  /** objects whose methods this tap already wraps (never wrap twice) */
  private readonly wrapped = new WeakSet<object>();

  /** The next result is taken as a new book (a snapshot), e.g. after ccxt reported an error. */
  forget(): void {
    this.book = this.bids = this.asks = undefined;
    this.prevTop = [new Map(), new Map()];
  }

  /** true when `b` is a book (or has sides) this tap has not followed yet: it now follows it */
  follow(b: CcxtBook): boolean {
    if (b === this.book && b.bids === this.bids && b.asks === this.asks) return false;
    this.book = b;
    this.bids = b.bids;
    this.asks = b.asks;
    this.ops.length = 0;
    this.prevTop = [new Map(), new Map()];
    this.diffMode = !(b.bids.index instanceof Float64Array) || b.bids.hashmap !== undefined || typeof b.bids.storeArray !== "function";
    if (this.diffMode) return true;
    const tap = this, wrapped = this.wrapped;
    const wrapSide = (side: CcxtSide, code: number) => {
      if (wrapped.has(side)) return;
      wrapped.add(side);
      const store = side.storeArray;
      const limit = side.limit;
      side.storeArray = function (this: CcxtSide, delta: number[]) {
        store.call(this, delta);
        const price = +delta[0]!;
        tap.ops.push(code, price, sizeAt(this, price));
      };
      side.limit = function (this: CcxtSide) {
        const depth = this.depth ?? Number.MAX_SAFE_INTEGER;
        for (let i = depth; i < this.length; i++) tap.ops.push(code, +this[i]![0]!, 0);
        limit.call(this);
      };
    };
    wrapSide(b.bids, 0);
    wrapSide(b.asks, 1);
    if (wrapped.has(b)) return true;
    wrapped.add(b);
    const reset = b.reset;
    b.reset = function (this: CcxtBook, snapshot?: unknown) {
      tap.ops.push(CLEAR, 0, 0);
      return reset.call(this, snapshot);
    };
    return true;
  }

  /** diff mode: the changes in the top `n` levels since the last call, as ops */
  diffTop(b: CcxtBook, n: number): void {
    const sides = [b.bids, b.asks];
    for (let s = 0; s < 2; s++) {
      const side = sides[s]!, prev = this.prevTop[s]!, next = new Map<number, number>();
      for (let i = 0; i < Math.min(n, side.length); i++) {
        const lv = side[i]!;
        const p = +lv[0]!, q = +lv[1]!;
        next.set(p, (next.get(p) ?? 0) + q); // order-id books: several entries per price
      }
      for (const [p, q] of next) if (prev.get(p) !== q) this.ops.push(s, p, q);
      for (const p of prev.keys()) if (!next.has(p)) this.ops.push(s, p, 0);
      this.prevTop[s] = next;
    }
  }
}

/** Size at `price` in a ccxt price-keyed side after a change (0 = no level): one binary search. */
function sizeAt(side: CcxtSide, price: number): number {
  const idx = side.index!;
  const key = side.side ? -price : price;
  let lo = 0, hi = side.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const v = idx[mid]!;
    if (v === key) return +side[mid]![1]!;
    if (v < key) lo = mid + 1;
    else hi = mid - 1;
  }
  return 0;
}

export class CcxtFeed {
  readonly counters: CcxtFeedCounters = { tradeBatches: 0, trades: 0, tradeRepeats: 0, bookUpdates: 0, snapshots: 0, levels: 0, quotes: 0, statusRecords: 0, errors: 0, reconnects: 0, ringDrops: 0 };
  /** errors by ccxt error class */
  readonly errorsByType = new Map<string, number>();
  /** requests refused because they went elsewhere than the allowed origins */
  readonly offEndpoint: string[] = [];
  lastError = "";
  readonly exchange: CcxtExchange;
  readonly venue: number;
  private stopped = false;
  private loops: Array<Promise<void>> = [];
  private readonly scratch = new TickBuffer(256);
  private readonly ringWriter: TickRingWriter | undefined;
  private readonly clock: () => number;
  private readonly log: Logger;
  private readonly taps = new Map<string, CcxtBookTap>();
  private readonly lastQuote = new Map<string, [number, number, number, number]>();

  constructor(private readonly o: CcxtFeedOptions) {
    const Pro = (ccxt.pro as unknown as Record<string, new (cfg: Record<string, unknown>) => CcxtExchange>)[o.exchange];
    if (!Pro) throw new Error(`ccxt pro has no exchange \`${o.exchange}\` (ccxt ${ccxt.version}); known: ${Object.keys(ccxt.pro).filter((k) => /^[a-z0-9]+$/.test(k)).slice(0, 20).join(", ")}, ...`);
    if (o.symbols.length === 0) throw new Error("CcxtFeed needs at least one symbol");
    const ex = new Pro({ enableRateLimit: true, newUpdates: true });
    this.exchange = ex;
    this.venue = o.venue ?? (Venue as Record<string, number>)[o.exchange] ?? Venue.sim;
    this.clock = o.clock ?? clockNow;
    this.log = (o.log ?? rootLog()).child({ feed: "ccxt", exchange: o.exchange });
    this.ringWriter = o.sink instanceof TickBuffer ? undefined : new TickRingWriter(o.sink, this.venue);
    if (o.exchange.startsWith("binance")) {
      const types = new Set(o.symbols.map((s) => (!s.includes(":") ? "spot" : s.split(":")[1]!.split("-")[0] === s.split("/")[1]!.split(":")[0] ? "linear" : "inverse")));
      Object.assign(ex.options, { fetchCurrencies: false, fetchMargins: false, adjustForTimeDifference: false, fetchMarkets: { types: [...types] } });
    }
    if (o.exchangeOptions) Object.assign(ex.options, o.exchangeOptions);
    if (o.endpoint) ex.urls = { ...ex.urls, api: pointUrlsAt(ex.urls.api, o.endpoint.http.replace(/\/$/, ""), o.endpoint.ws.replace(/\/$/, "")) };
    const allowed = (o.allowedOrigins ?? (o.endpoint ? [o.endpoint.http, o.endpoint.ws] : [])).map(originOf);
    if (allowed.length > 0) this.guard(allowed);
  }

  private guard(allowed: string[]): void {
    const ex = this.exchange;
    const refuse = (kind: string, url: string): never => {
      this.offEndpoint.push(`${kind} ${url}`);
      this.log.error({ url, allowed }, "ccxt tried to reach an endpoint outside the allowed origins: refused");
      throw new OffEndpointError(`${ex.id}: ${kind} request to ${url} refused: only ${allowed.join(", ")} may be reached`);
    };
    ex.fetchImplementation = (url: string, init?: RequestInit) => {
      if (!allowed.includes(originOf(String(url)))) refuse("REST", String(url));
      return fetch(url, init);
    };
    const client = ex.client.bind(ex);
    ex.client = (url: string) => {
      if (!allowed.includes(originOf(url))) refuse("WS", url);
      return client(url);
    };
  }

  /**
   * Loads markets (through the endpoint) and starts the watch loops. Rejects only when the
   * markets cannot be loaded (no feed can run without them); from then on errors are counted.
   */
  async start(): Promise<void> {
    // ccxt on Node/Bun wants its http agent loaded before it opens a plain ws:// URL
    if (this.o.endpoint?.ws.startsWith("ws://")) await this.exchange.loadHttpProxyAgent();
    await this.exchange.loadMarkets();
    const ch = this.o.channels ?? ["trades", "book"];
    for (const s of this.o.symbols) {
      if (ch.includes("trades")) this.loops.push(this.tradeLoop(s));
      if (ch.includes("book")) this.loops.push(this.bookLoop(s));
    }
  }

  /** Stops the loops and closes ccxt's connections. */
  async stop(): Promise<void> {
    this.stopped = true;
    try {
      await this.exchange.close();
    } catch (e) {
      this.log.warn({ err: (e as Error).message }, "ccxt close failed");
    }
    await Promise.allSettled(this.loops);
  }

  /** ccxt's current book of a symbol (what the LEVEL records mirror). */
  ccxtBook(symbol: string): CcxtBook | undefined {
    return this.exchange.orderbooks[symbol];
  }

  private async tradeLoop(symbol: string): Promise<void> {
    const inst = this.o.instruments.id(this.venue, symbol);
    let lastId = -1;
    let delay = this.o.retryMs ?? 250;
    while (!this.stopped) {
      let trades: CcxtTrade[];
      try {
        trades = await this.exchange.watchTrades(symbol);
      } catch (e) {
        if (this.stopped) break;
        await this.failed("watchTrades", symbol, e, delay);
        delay = Math.min(delay * 2, this.o.maxRetryMs ?? 5000);
        continue;
      }
      delay = this.o.retryMs ?? 250;
      const c = this.counters, tb = this.scratch;
      c.tradeBatches++;
      tb.clear();
      const recv = this.clock();
      for (let i = 0; i < trades.length; i++) {
        const t = trades[i]!;
        const id = t.id !== undefined && /^\d+$/.test(t.id) ? Number(t.id) : -1;
        if (id >= 0) {
          if (id <= lastId) {
            c.tradeRepeats++;
            continue;
          }
          lastId = id;
        }
        tb.push({
          kind: TickKind.trade, flags: (t.side === "sell" ? TickFlag.sell : 0) | TickFlag.last, venue: this.venue, instrument: inst,
          tsExchangeNs: BigInt(Math.trunc(t.timestamp ?? 0)) * 1_000_000n, tsRecvNs: Math.trunc(recv),
          price: t.price ?? NaN, size: t.amount ?? NaN, seq: id >= 0 ? id : 0,
        });
        c.trades++;
      }
      this.flush(recv);
    }
  }

  private async bookLoop(symbol: string): Promise<void> {
    const inst = this.o.instruments.id(this.venue, symbol);
    const tap = new CcxtBookTap();
    this.taps.set(symbol, tap);
    const diffDepth = this.o.diffDepth ?? 50;
    let delay = this.o.retryMs ?? 250;
    while (!this.stopped) {
      let ob: CcxtBook;
      try {
        ob = await this.exchange.watchOrderBook(symbol, this.o.bookLimit);
      } catch (e) {
        if (this.stopped) break;
        this.statusLost(inst);
        tap.forget();
        this.lastQuote.delete(symbol);
        await this.failed("watchOrderBook", symbol, e, delay);
        delay = Math.min(delay * 2, this.o.maxRetryMs ?? 5000);
        continue;
      }
      delay = this.o.retryMs ?? 250;
      const book = this.exchange.orderbooks[symbol] ?? ob;
      const c = this.counters, tb = this.scratch;
      c.bookUpdates++;
      tb.clear();
      const recv = this.clock();
      const ts = BigInt(Math.trunc(book.timestamp ?? 0)) * 1_000_000n;
      const seq = typeof book.nonce === "number" && book.nonce >= 0 ? book.nonce : 0;
      const fresh = tap.follow(book);
      if (tap.diffMode) {
        tap.diffTop(book, diffDepth);
        if (fresh) this.snapshotFromOps(tb, tap.ops, inst, ts, recv, seq);
        else this.levelsFromOps(tb, tap.ops, inst, ts, recv, seq);
      } else if (fresh || hasClear(tap.ops)) {
        this.snapshotOf(tb, book, inst, ts, recv, seq);
      } else {
        this.levelsFromOps(tb, tap.ops, inst, ts, recv, seq);
      }
      tap.ops.length = 0;
      this.quote(tb, symbol, book, inst, ts, recv, seq);
      this.flush(recv);
    }
  }

  private level(tb: TickBuffer, inst: number, ts: bigint, recv: number, seq: number, side: number, price: number, size: number, flags: number): number {
    return tb.push({ kind: TickKind.level, flags: flags | (side === 1 ? TickFlag.ask : 0), venue: this.venue, instrument: inst, tsExchangeNs: ts, tsRecvNs: Math.trunc(recv), price, size, price2: -1, size2: -1, seq });
  }

  /** one SNAPSHOT message: every level of ccxt's book (or one NOLEVEL record for an empty book) */
  private snapshotOf(tb: TickBuffer, book: CcxtBook, inst: number, ts: bigint, recv: number, seq: number): void {
    const start = tb.count;
    const sides = [book.bids, book.asks];
    for (let s = 0; s < 2; s++) {
      const side = sides[s]!;
      for (let i = 0; i < side.length; i++) this.level(tb, inst, ts, recv, seq, s, +side[i]![0]!, +side[i]![1]!, TickFlag.snapshot);
    }
    this.endSnapshot(tb, start, inst, ts, recv, seq);
  }

  private snapshotFromOps(tb: TickBuffer, ops: number[], inst: number, ts: bigint, recv: number, seq: number): void {
    const start = tb.count;
    for (let k = 0; k < ops.length; k += 3) if (ops[k + 2]! > 0) this.level(tb, inst, ts, recv, seq, ops[k]!, ops[k + 1]!, ops[k + 2]!, TickFlag.snapshot);
    this.endSnapshot(tb, start, inst, ts, recv, seq);
  }

  private endSnapshot(tb: TickBuffer, start: number, inst: number, ts: bigint, recv: number, seq: number): void {
    if (tb.count === start) this.level(tb, inst, ts, recv, seq, 0, 0, 0, TickFlag.snapshot | TickFlag.nolevel);
    tb.markLast(tb.count - 1);
    this.counters.snapshots++;
    this.counters.levels += tb.count - start;
  }

  private levelsFromOps(tb: TickBuffer, ops: number[], inst: number, ts: bigint, recv: number, seq: number): void {
    const start = tb.count;
    for (let k = 0; k < ops.length; k += 3) this.level(tb, inst, ts, recv, seq, ops[k]!, ops[k + 1]!, ops[k + 2]!, 0);
    if (tb.count > start) tb.markLast(tb.count - 1);
    this.counters.levels += tb.count - start;
  }

  private quote(tb: TickBuffer, symbol: string, book: CcxtBook, inst: number, ts: bigint, recv: number, seq: number): void {
    const b = book.bids[0], a = book.asks[0];
    const q: [number, number, number, number] = [b ? +b[0]! : 0, b ? +b[1]! : 0, a ? +a[0]! : 0, a ? +a[1]! : 0];
    const last = this.lastQuote.get(symbol);
    if (last && last[0] === q[0] && last[1] === q[1] && last[2] === q[2] && last[3] === q[3]) return;
    this.lastQuote.set(symbol, q);
    tb.push({ kind: TickKind.quote, flags: TickFlag.last, venue: this.venue, instrument: inst, tsExchangeNs: ts, tsRecvNs: Math.trunc(recv), price: q[0], size: q[1], price2: q[2], size2: q[3], seq });
    this.counters.quotes++;
  }

  private statusLost(inst: number): void {
    const tb = this.scratch;
    tb.clear();
    const recv = this.clock();
    tb.push({ kind: TickKind.status, flags: TickFlag.last, venue: this.venue, instrument: inst, tsExchangeNs: 0, tsRecvNs: Math.trunc(recv), price: TickStatus.disconnected, size: 0 });
    this.counters.statusRecords++;
    this.flush(recv);
  }

  /** Moves the scratch records to the sink. */
  private flush(recv: number): void {
    const tb = this.scratch;
    const n = tb.count;
    if (n === 0) return;
    if (this.ringWriter) {
      const took = this.ringWriter.push(tb, recv);
      if (took < n) this.counters.ringDrops += n - took;
    } else {
      const out = this.o.sink as TickBuffer;
      for (let i = 0; i < n; i++) {
        const j = out.alloc();
        out.u8.set(tb.u8.subarray(i * TICK_BYTES, (i + 1) * TICK_BYTES), j * TICK_BYTES);
      }
    }
    tb.clear();
  }

  private async failed(what: string, symbol: string, e: unknown, delayMs: number): Promise<void> {
    const err = e as Error;
    const type = err?.constructor?.name ?? "Error";
    this.counters.errors++;
    this.errorsByType.set(type, (this.errorsByType.get(type) ?? 0) + 1);
    if (e instanceof ccxt.NetworkError) this.counters.reconnects++;
    this.lastError = `${what} ${symbol}: ${type}: ${err?.message ?? String(e)}`;
    this.log.warn({ what, symbol, type, err: err?.message, errors: this.counters.errors, retryMs: delayMs }, "ccxt watch failed: retrying");
    await Bun.sleep(delayMs);
  }
}

function hasClear(ops: number[]): boolean {
  for (let k = 0; k < ops.length; k += 3) if (ops[k] === CLEAR) return true;
  return false;
}
