/**
 * Binance spot and USD-M futures public market data, as the venue simulator speaks it
 * (a VenueModule, see src/sim/server.ts). Rules below are Binance's documented ones:
 * developers.binance.com "WebSocket Streams" (spot) and "Websocket Market Streams" (USD-M).
 *
 * WebSocket
 *  - raw streams at `/ws/<streamName>`, combined streams at `/stream?streams=a/b/c`, the
 *    combined envelope being `{"stream":"<streamName>","data":<rawPayload>}`. USD-M also serves
 *    the routed paths `/public/...` and `/market/...` (what ccxt connects to). A path segment
 *    that is not a stream of the capture (ccxt's `/ws/0`) is accepted and delivers nothing, as
 *    an unknown stream does at the venue.
 *  - The recorded lines are combined envelopes: a combined connection gets the recorded line
 *    itself, a raw one the recorded `data` bytes (both verbatim).
 *  - Live requests `{"method","params","id"}`: SUBSCRIBE / UNSUBSCRIBE → `{"result":null,"id"}`,
 *    LIST_SUBSCRIPTIONS → `{"result":[...],"id"}`, SET_PROPERTY / GET_PROPERTY `combined`.
 *    Bad requests get the documented error replies: code 0 "Unknown property", 1 "Invalid value
 *    type: expected Boolean", 2 "Invalid request: ..." (bad id, unknown method, missing field,
 *    property name not a string), 3 "Invalid JSON: ...".
 *  - The id: USD-M "an unsigned INT"; spot "int64, an alphanumeric string of at most 36
 *    characters, or null".
 *  - Heartbeat: spot "a ping frame every 20 seconds; ... does not receive a pong frame back from
 *    the connection within a minute the connection will be disconnected"; the pong must echo
 *    the ping's payload ("unsolicited pong frames ... will not prevent disconnection"). USD-M "a
 *    ping frame every 3 minutes ... within a 10 minute period"; unsolicited pongs are allowed.
 *  - Incoming messages: spot 5 per second, USD-M 10 per second; beyond that the connection is
 *    disconnected.
 *
 * REST (GET)
 *  - `/api/v3/depth` (limit default 100, above 5000 truncated to 5000) and `/fapi/v1/depth`
 *    (limit default 500, one of 5, 10, 20, 50, 100, 500, 1000; USD-M adds `E` and `T`): the
 *    venue's own book at the current replay position; lastUpdateId = the `u` of the last diff
 *    that left the venue, so the first diff a client still needs straddles it exactly as the
 *    documented sync procedure requires (spot U <= lastUpdateId+1 <= u, USD-M U <= lastUpdateId
 *    <= u with pu chaining). The venue's book is BinanceDepthSync's on an L2Book, built from the
 *    capture's REST snapshot line and every diff since.
 *  - `/api/v3/exchangeInfo`, `/fapi/v1/exchangeInfo`: Binance's documented response shape, one
 *    symbol per instrument in the capture. PRICE_FILTER.tickSize and LOT_SIZE.stepSize are the
 *    finest decimal unit the recorded prices and quantities use; the string widths give the
 *    precisions (spot baseAssetPrecision/quotePrecision, USD-M pricePrecision/quantityPrecision);
 *    minPrice/minQty are one tick/step, maxPrice/maxQty a decade above anything recorded.
 *  - `/api/v3/time`, `/fapi/v1/time`: the replay clock (recorded time at the replay position);
 *    `/api/v3/ping`, `/fapi/v1/ping`: `{}`.
 *  - Errors: unknown symbol → 400 {"code":-1121,"msg":"Invalid symbol."}; missing symbol → 400
 *    -1102; bad limit → 400 -1130 (USD-M).
 */
import { existsSync, readdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { ASK, BID, L2Book } from "../../book/l2book.ts";
import { BinanceDepthSync, type DepthDiff, type DepthSnapshot } from "../../feed/binance/depth.ts";
import { DataFileError } from "../../feed/recording.ts";
import { readCaptureLines, type CaptureSource } from "../replay.ts";
import { startVenueSim, type ConnControl, type SimTape, type VenueModule, type VenueSim, type VenueSimOptions } from "../server.ts";

export type BinanceSimMarket = "spot" | "usdm";

/** Per instrument: what the capture says about its number formats, and the venue's book. */
export class BinanceSimSymbol {
  /** decimals printed in the recorded price / quantity strings */
  priceWidth = 0;
  qtyWidth = 0;
  /** decimals actually used (trailing zeros removed): tick and step */
  priceSig = 0;
  qtySig = 0;
  maxPrice = 0;
  maxQty = 0;
  hasDepth = false;
  book: L2Book;
  sync: BinanceDepthSync;

  constructor(
    readonly symbol: string,
    readonly base: string,
    readonly quote: string,
    private readonly market: BinanceSimMarket,
  ) {
    this.book = new L2Book(`sim-binance-${market}`, symbol);
    this.sync = new BinanceDepthSync(this.book, market === "spot" ? "spot" : "futures");
  }

  resetBook(): void {
    this.book = new L2Book(`sim-binance-${this.market}`, this.symbol);
    this.sync = new BinanceDepthSync(this.book, this.market === "spot" ? "spot" : "futures");
  }

  notePrice(s: string): void {
    const v = +s;
    if (v > this.maxPrice) this.maxPrice = v;
    const [w, sig] = decimals(s);
    if (w > this.priceWidth) this.priceWidth = w;
    if (sig > this.priceSig) this.priceSig = sig;
  }
  noteLevels(levels: Array<[string, string]>): void {
    for (const [p, q] of levels) {
      this.notePrice(p);
      this.noteQty(q);
    }
  }
  noteQty(s: string): void {
    const v = +s;
    if (v > this.maxQty) this.maxQty = v;
    const [w, sig] = decimals(s);
    if (w > this.qtyWidth) this.qtyWidth = w;
    if (sig > this.qtySig) this.qtySig = sig;
  }
}

/** [printed decimals, decimals without trailing zeros] of a decimal string */
function decimals(s: string): [number, number] {
  const dot = s.indexOf(".");
  if (dot < 0) return [0, 0];
  let end = s.length;
  while (end > dot + 1 && s.charCodeAt(end - 1) === 48) end--;
  return [s.length - dot - 1, end - dot - 1];
}

const QUOTES = ["FDUSD", "USDT", "USDC", "BUSD", "TUSD", "EUR", "TRY", "BRL", "BTC", "ETH", "BNB"];
function splitSymbol(symbol: string): [string, string] {
  for (const q of QUOTES) if (symbol.endsWith(q) && symbol.length > q.length) return [symbol.slice(0, -q.length), q];
  return [symbol, ""];
}

export interface BinanceTape extends SimTape {
  text: string[];
  /** where the recorded `data` payload starts in each line (-1: not an envelope) */
  dataAt: Int32Array;
  /** parsed depth diffs by frame (undefined for other frames) */
  diffs: Array<DepthDiff | undefined>;
  /** recorded REST snapshots by frame (state lines) and the symbol each belongs to */
  snapshots: Map<number, { symbol: string; snap: DepthSnapshot }>;
  /** symbol (upper case) of each stream id */
  streamSymbol: string[];
  symbols: Map<string, BinanceSimSymbol>;
  files: string[];
  /** lines that were neither a combined envelope nor a REST snapshot */
  unknownLines: number;
}

const ENVELOPE = '{"stream":"';

/**
 * Reads Binance captures (hftbacktest `<recv_ns> <json>` lines; several files are merged by
 * receive time). Replay starts after the last recorded REST snapshot line (what precedes it is
 * history, applied to the venue's books but not sent); a capture without one starts at once.
 */
export function loadBinanceTape(sources: CaptureSource[], market: BinanceSimMarket): BinanceTape {
  const lines = readCaptureLines(sources);
  const n = lines.text.length;
  const streamOf = new Int32Array(n).fill(-1);
  const dataAt = new Int32Array(n).fill(-1);
  const diffs = new Array<DepthDiff | undefined>(n);
  const snapshots = new Map<number, { symbol: string; snap: DepthSnapshot }>();
  const streams: string[] = [];
  const streamSymbol: string[] = [];
  const sidOf = new Map<string, number>();
  const symbols = new Map<string, BinanceSimSymbol>();
  const fileSymbol = new Map<number, string>();
  const pendingSnaps: Array<{ i: number; snap: DepthSnapshot }> = [];
  let unknownLines = 0;
  const sym = (s: string): BinanceSimSymbol => {
    let x = symbols.get(s);
    if (!x) {
      const [b, q] = splitSymbol(s);
      symbols.set(s, (x = new BinanceSimSymbol(s, b, q, market)));
    }
    return x;
  };
  const tradeLines: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = lines.text[i]!;
    if (t.startsWith(ENVELOPE)) {
      const q = t.indexOf('"', ENVELOPE.length);
      const d = t.indexOf('"data":', q);
      if (q > 0 && d > 0 && t.charCodeAt(t.length - 1) === 125) {
        const name = t.slice(ENVELOPE.length, q);
        let sid = sidOf.get(name);
        if (sid === undefined) {
          sid = streams.length;
          sidOf.set(name, sid);
          streams.push(name);
          streamSymbol.push(name.slice(0, name.indexOf("@")).toUpperCase());
        }
        streamOf[i] = sid;
        dataAt[i] = d + 7;
        const symbol = streamSymbol[sid]!;
        const info = sym(symbol);
        if (name.includes("@depth")) {
          const diff = (JSON.parse(t) as { data: DepthDiff }).data;
          diffs[i] = diff;
          info.hasDepth = true;
          fileSymbol.set(lines.file[i]!, symbol);
          info.noteLevels(diff.b);
          info.noteLevels(diff.a);
        } else tradeLines.push(i);
        continue;
      }
    }
    let m: unknown;
    try {
      m = JSON.parse(t);
    } catch {
      unknownLines++;
      continue;
    }
    const snap = m as DepthSnapshot;
    if (snap && typeof snap.lastUpdateId === "number" && Array.isArray(snap.bids) && Array.isArray(snap.asks)) pendingSnaps.push({ i, snap });
    else unknownLines++;
  }
  // a snapshot line carries no symbol: it belongs to the depth stream of its file
  let start = 0;
  for (const { i, snap } of pendingSnaps) {
    const symbol = fileSymbol.get(lines.file[i]!);
    if (!symbol) {
      unknownLines++;
      continue;
    }
    const info = sym(symbol);
    info.noteLevels(snap.bids);
    info.noteLevels(snap.asks);
    snapshots.set(i, { symbol, snap });
    start = Math.max(start, i + 1);
  }
  // instruments without depth in the capture: number formats from their trades and quotes
  for (const i of tradeLines) {
    const info = symbols.get(streamSymbol[streamOf[i]!]!)!;
    if (info.hasDepth) continue;
    const d = (JSON.parse(lines.text[i]!) as { data: Record<string, unknown> }).data;
    for (const k of ["p", "b", "a"]) if (typeof d[k] === "string") info.notePrice(d[k] as string);
    for (const k of ["q", "B", "A"]) if (typeof d[k] === "string") info.noteQty(d[k] as string);
  }
  return { count: n, recvNs: lines.recvNs, start, streamOf, streams, text: lines.text, dataAt, diffs, snapshots, streamSymbol, symbols, files: lines.files, unknownLines };
}

export interface BinanceSession {
  combined: boolean;
}

export interface BinanceVenueOptions {
  market: BinanceSimMarket;
  tape: BinanceTape;
}

interface Request_ {
  method?: unknown;
  params?: unknown;
  id?: unknown;
}

const METHODS = ["SUBSCRIBE", "UNSUBSCRIBE", "LIST_SUBSCRIPTIONS", "SET_PROPERTY", "GET_PROPERTY"];
const FUTURES_LIMITS = [5, 10, 20, 50, 100, 500, 1000];

const json = (body: unknown, status = 200) => new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json;charset=UTF-8" } });

/** Binance's error body for REST */
const restError = (code: number, msg: string, status = 400) => json({ code, msg }, status);

export class BinanceVenue implements VenueModule<BinanceSession> {
  readonly name: string;
  readonly tape: BinanceTape;
  readonly market: BinanceSimMarket;
  readonly ping: { intervalMs: number; timeoutMs: number; echoRequired: boolean };
  readonly inboundPerSecond: number;
  private lastIdx = -1;
  /** REST requests by path, for tests and logs */
  readonly restCounts = new Map<string, number>();

  constructor(o: BinanceVenueOptions) {
    this.market = o.market;
    this.tape = o.tape;
    this.name = o.market === "spot" ? "binance" : "binanceusdm";
    const spot = o.market === "spot";
    this.ping = spot ? { intervalMs: 20_000, timeoutMs: 60_000, echoRequired: true } : { intervalMs: 180_000, timeoutMs: 600_000, echoRequired: false };
    this.inboundPerSecond = spot ? 5 : 10;
  }

  /** The venue's book of a symbol (upper case), or undefined. */
  book(symbol: string): L2Book | undefined {
    return this.tape.symbols.get(symbol)?.book;
  }

  symbol(symbol: string): BinanceSimSymbol | undefined {
    return this.tape.symbols.get(symbol);
  }

  reset(): void {
    for (const s of this.tape.symbols.values()) s.resetBook();
    this.lastIdx = -1;
    for (let i = 0; i < this.tape.start; i++) this.advance(i);
  }

  advance(i: number): void {
    this.lastIdx = i;
    const d = this.tape.diffs[i];
    if (d) {
      this.tape.symbols.get(this.tape.streamSymbol[this.tape.streamOf[i]!]!)!.sync.onDiff(d);
      return;
    }
    const s = this.tape.snapshots.get(i);
    if (s) this.tape.symbols.get(s.symbol)!.sync.onSnapshot(s.snap);
  }

  /** The replay clock: recorded receive time of the last frame that left the venue (ms). */
  nowMs(): number {
    const i = Math.max(0, this.lastIdx);
    return Math.floor(this.tape.recvNs[Math.min(i, this.tape.count - 1)]! / 1e6);
  }

  accept(url: URL): { session: BinanceSession; streams: string[] } | Response {
    let path = url.pathname;
    if (this.market === "usdm") {
      // USD-M's routed endpoints (wss://fstream.binance.com/public/..., /market/...)
      if (path.startsWith("/public/")) path = path.slice(7);
      else if (path.startsWith("/market/")) path = path.slice(7);
    }
    if (path === "/ws" || path === "/ws/") return { session: { combined: false }, streams: [] };
    if (path.startsWith("/ws/")) return { session: { combined: false }, streams: [decodeURIComponent(path.slice(4))] };
    if (path === "/stream" || path === "/stream/") {
      const q = url.searchParams.get("streams");
      return { session: { combined: true }, streams: q ? q.split("/").filter(Boolean) : [] };
    }
    return new Response(`no such WebSocket endpoint: ${url.pathname}`, { status: 404 });
  }

  frame(session: BinanceSession, i: number): string {
    const t = this.tape.text[i]!;
    return session.combined ? t : t.slice(this.tape.dataAt[i]!, t.length - 1);
  }

  errorFrame(): string {
    // Binance's error body; -1001 is its documented "DISCONNECTED" code (internal error)
    return '{"code":-1001,"msg":"Internal error; unable to process your request. Please try again."}';
  }

  onMessage(session: BinanceSession, text: string, conn: ConnControl): void {
    let req: Request_;
    try {
      req = JSON.parse(text) as Request_;
    } catch (e) {
      conn.send(JSON.stringify({ code: 3, msg: `Invalid JSON: ${(e as Error).message}` }));
      return;
    }
    if (req === null || typeof req !== "object" || Array.isArray(req)) {
      conn.send(JSON.stringify({ code: 2, msg: "Invalid request: expected a JSON object" }));
      return;
    }
    const id = req.id;
    const idOk =
      this.market === "usdm"
        ? typeof id === "number" && Number.isSafeInteger(id) && id >= 0
        : id === null || (typeof id === "number" && Number.isSafeInteger(id)) || (typeof id === "string" && /^[A-Za-z0-9-]{1,36}$/.test(id));
    if (!idOk) {
      conn.send(JSON.stringify({ code: 2, msg: "Invalid request: request ID must be an unsigned integer" }));
      return;
    }
    const reply = (body: Record<string, unknown>) => conn.send(JSON.stringify({ ...body, id }));
    if (req.method === undefined) return reply({ code: 2, msg: "Invalid request: missing field `method`" });
    if (typeof req.method !== "string" || !METHODS.includes(req.method)) {
      return reply({ code: 2, msg: `Invalid request: unknown variant \`${String(req.method)}\`, expected one of \`SUBSCRIBE\`, \`UNSUBSCRIBE\`, \`LIST_SUBSCRIPTIONS\`, \`SET_PROPERTY\`, \`GET_PROPERTY\`` });
    }
    const params = req.params;
    switch (req.method) {
      case "SUBSCRIBE":
      case "UNSUBSCRIBE": {
        if (!Array.isArray(params) || !params.every((p) => typeof p === "string")) return reply({ code: 2, msg: "Invalid request: params must be a list of stream names" });
        if (req.method === "SUBSCRIBE") conn.subscribe(params as string[]);
        else conn.unsubscribe(params as string[]);
        return reply({ result: null });
      }
      case "LIST_SUBSCRIPTIONS":
        return reply({ result: conn.subscriptions() });
      case "SET_PROPERTY": {
        if (!Array.isArray(params) || typeof params[0] !== "string") return reply({ code: 2, msg: "Invalid request: property name must be a string" });
        if (params[0] !== "combined") return reply({ code: 0, msg: "Unknown property" });
        if (typeof params[1] !== "boolean") return reply({ code: 1, msg: "Invalid value type: expected Boolean" });
        session.combined = params[1];
        return reply({ result: null });
      }
      case "GET_PROPERTY": {
        if (!Array.isArray(params) || typeof params[0] !== "string") return reply({ code: 2, msg: "Invalid request: property name must be a string" });
        if (params[0] !== "combined") return reply({ code: 0, msg: "Unknown property" });
        return reply({ result: session.combined });
      }
    }
  }

  rest(req: Request, url: URL): Response | undefined {
    if (req.method !== "GET") return undefined;
    const p = url.pathname;
    const pre = this.market === "spot" ? "/api/v3/" : "/fapi/v1/";
    if (!p.startsWith(pre)) return undefined;
    const ep = p.slice(pre.length);
    this.restCounts.set(p, (this.restCounts.get(p) ?? 0) + 1);
    switch (ep) {
      case "ping":
        return json({});
      case "time":
        return json({ serverTime: this.nowMs() });
      case "exchangeInfo":
        return this.exchangeInfo(url);
      case "depth":
        return this.depth(url);
    }
    return undefined;
  }

  private depth(url: URL): Response {
    const symbol = url.searchParams.get("symbol");
    if (!symbol) return restError(-1102, "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed.");
    const info = this.tape.symbols.get(symbol);
    if (!info) return restError(-1121, "Invalid symbol.");
    const spot = this.market === "spot";
    const lim = url.searchParams.get("limit");
    let limit = spot ? 100 : 500;
    if (lim !== null) {
      limit = Number(lim);
      if (!Number.isInteger(limit) || limit < 1) return restError(-1100, "Illegal characters found in parameter 'limit'; legal range is '^[0-9]{1,20}$'.");
      if (spot) limit = Math.min(limit, 5000); // "If limit > 5000, then the response will truncate to 5000"
      else if (!FUTURES_LIMITS.includes(limit)) return restError(-1130, "Data sent for parameter 'limit' is not valid.");
    }
    if (!info.hasDepth || !info.book.synced) {
      return restError(-1000, `An unknown error occurred while processing the request. (simulator: ${info.hasDepth ? "its own book is not synced" : "the capture holds no depth stream"} for ${symbol})`, 503);
    }
    const book = info.book, pw = info.priceWidth, qw = info.qtyWidth;
    const side = (s: number) => book.levels(s, limit).map(([px, q]) => [px.toFixed(pw), q.toFixed(qw)]);
    const now = this.nowMs();
    const body = spot ? { lastUpdateId: book.lastSeq, bids: side(BID), asks: side(ASK) } : { lastUpdateId: book.lastSeq, E: now, T: now, bids: side(BID), asks: side(ASK) };
    return json(body);
  }

  /** Documented exchangeInfo shape, filters from the capture's number formats. */
  private exchangeInfo(url: URL): Response {
    const one = url.searchParams.get("symbol");
    const many = url.searchParams.get("symbols");
    let list = [...this.tape.symbols.values()];
    if (one) list = list.filter((s) => s.symbol === one);
    else if (many) {
      let names: string[] = [];
      try {
        names = JSON.parse(many) as string[];
      } catch {
        return restError(-1100, "Illegal characters found in parameter 'symbols'.");
      }
      list = list.filter((s) => names.includes(s.symbol));
    }
    if ((one || many) && list.length === 0) return restError(-1121, "Invalid symbol.");
    const spot = this.market === "spot";
    const unit = (d: number, w: number) => (10 ** -d).toFixed(Math.max(d, w));
    const decade = (v: number, w: number) => (10 ** Math.ceil(Math.log10(Math.max(v, 1) * 10))).toFixed(w);
    const symbols = list.map((s) => {
      const tick = unit(s.priceSig, s.priceWidth), step = unit(s.qtySig, s.qtyWidth);
      const filters = [
        { filterType: "PRICE_FILTER", minPrice: tick, maxPrice: decade(s.maxPrice, s.priceWidth), tickSize: tick },
        { filterType: "LOT_SIZE", minQty: step, maxQty: decade(s.maxQty, s.qtyWidth), stepSize: step },
        { filterType: "MARKET_LOT_SIZE", minQty: step, maxQty: decade(s.maxQty, s.qtyWidth), stepSize: step },
      ];
      if (spot) {
        return {
          symbol: s.symbol, status: "TRADING", baseAsset: s.base, baseAssetPrecision: s.qtyWidth, quoteAsset: s.quote, quotePrecision: s.priceWidth, quoteAssetPrecision: s.priceWidth,
          baseCommissionPrecision: s.qtyWidth, quoteCommissionPrecision: s.priceWidth,
          orderTypes: ["LIMIT", "LIMIT_MAKER", "MARKET", "STOP_LOSS", "STOP_LOSS_LIMIT", "TAKE_PROFIT", "TAKE_PROFIT_LIMIT"],
          icebergAllowed: true, ocoAllowed: true, otoAllowed: true, quoteOrderQtyMarketAllowed: true, allowTrailingStop: true, cancelReplaceAllowed: true,
          isSpotTradingAllowed: true, isMarginTradingAllowed: false, filters, permissions: [], permissionSets: [["SPOT"]],
        };
      }
      return {
        symbol: s.symbol, pair: s.symbol, contractType: "PERPETUAL", deliveryDate: 4133404800000, status: "TRADING",
        baseAsset: s.base, quoteAsset: s.quote, marginAsset: s.quote, pricePrecision: s.priceWidth, quantityPrecision: s.qtyWidth,
        baseAssetPrecision: 8, quotePrecision: 8, underlyingType: "COIN", underlyingSubType: [], filters,
        orderTypes: ["LIMIT", "MARKET", "STOP", "STOP_MARKET", "TAKE_PROFIT", "TAKE_PROFIT_MARKET", "TRAILING_STOP_MARKET"], timeInForce: ["GTC", "IOC", "FOK", "GTX", "GTD"],
      };
    });
    const now = this.nowMs();
    if (spot) {
      return json({
        timezone: "UTC", serverTime: now,
        rateLimits: [
          { rateLimitType: "REQUEST_WEIGHT", interval: "MINUTE", intervalNum: 1, limit: 6000 },
          { rateLimitType: "ORDERS", interval: "SECOND", intervalNum: 10, limit: 100 },
          { rateLimitType: "ORDERS", interval: "DAY", intervalNum: 1, limit: 200000 },
          { rateLimitType: "RAW_REQUESTS", interval: "MINUTE", intervalNum: 5, limit: 61000 },
        ],
        exchangeFilters: [], symbols,
      });
    }
    const assets = [...new Set(list.map((s) => s.quote))].map((asset) => ({ asset, marginAvailable: true, autoAssetExchange: null }));
    return json({
      timezone: "UTC", serverTime: now, futuresType: "U_MARGINED",
      rateLimits: [
        { rateLimitType: "REQUEST_WEIGHT", interval: "MINUTE", intervalNum: 1, limit: 2400 },
        { rateLimitType: "ORDERS", interval: "MINUTE", intervalNum: 1, limit: 1200 },
        { rateLimitType: "ORDERS", interval: "SECOND", intervalNum: 10, limit: 300 },
      ],
      exchangeFilters: [], assets, symbols,
    });
  }
}

export interface BinanceSimOptions extends Omit<VenueSimOptions<BinanceSession>, "venue"> {
  market: BinanceSimMarket;
  /** capture files, or a tape loaded before (reused by one simulator at a time: it holds the books) */
  captures: CaptureSource[] | BinanceTape;
}

export type BinanceSim = VenueSim<BinanceSession> & { readonly venue: BinanceVenue };

/** A Binance spot or USD-M venue on 127.0.0.1 replaying the captures. */
export function startBinanceSim(o: BinanceSimOptions): BinanceSim {
  const { market, captures, ...rest } = o;
  const venue = new BinanceVenue({ market, tape: Array.isArray(captures) ? loadBinanceTape(captures, market) : captures });
  return startVenueSim({ ...rest, venue }) as BinanceSim;
}

/**
 * The recorded slice bundled with bot4: every `*.gz` under data/binance-usdm/ (found when called,
 * so the slice can be replaced without touching this module).
 */
export function bundledUsdmCaptures(): string[] {
  const dir = fileURLToPath(new URL("../../../data/binance-usdm/", import.meta.url));
  if (!existsSync(dir)) throw new DataFileError(`the bundled data folder ${dir} is missing; pass captures explicitly`);
  const files = readdirSync(dir).filter((f) => f.endsWith(".gz")).sort().map((f) => dir + f);
  if (files.length === 0) throw new DataFileError(`no *.gz capture in ${dir}; pass captures explicitly`);
  return files;
}

/**
 * The default market for `bot4 run`: a Binance USD-M venue on 127.0.0.1 replaying `captures`
 * (the bundled slice when none are given) at `speed` (default real time), looping, so the
 * engine's live feed handlers (native or ccxt) have a venue to connect to without the internet.
 */
export function startDefaultMarket(o: { captures?: CaptureSource[]; speed?: number; loop?: boolean; port?: number; onNotice?: VenueSimOptions["onNotice"] } = {}): BinanceSim & {
  symbols: string[];
  streams: string[];
} {
  const sim = startBinanceSim({ market: "usdm", captures: o.captures ?? bundledUsdmCaptures(), speed: o.speed ?? 1, loop: o.loop ?? true, port: o.port, onNotice: o.onNotice });
  return Object.assign(sim, { symbols: [...sim.venue.tape.symbols.keys()], streams: [...sim.venue.tape.streams] });
}

export interface BinanceReferenceClientOptions {
  /** the venue's REST and WebSocket origins (the simulator's httpUrl / wsUrl) */
  httpUrl: string;
  wsUrl: string;
  /** WebSocket path, e.g. `/stream?streams=btcusdt@depth@0ms/btcusdt@trade` */
  path: string;
  market: BinanceSimMarket;
  /** upper case, e.g. BTCUSDT: the book kept */
  symbol: string;
  /** no frame for this long: the connection is taken as stalled and replaced (0 = never) */
  stallMs?: number;
  /** depth snapshot size asked for (default 1000) */
  snapshotLimit?: number;
  /** keep every received text (tests compare them with the capture) */
  keepFrames?: boolean;
  reconnectMs?: number;
}

/**
 * The reference client the simulator is checked with: Binance's documented local-book procedure
 * (BinanceDepthSync on an L2Book) over Bun's WebSocket, REST snapshots whenever the sync asks,
 * a fresh sync after every reconnect, a silence watchdog. It also checks trade ids (consecutive
 * on Binance) and counts what it saw: unparsable frames, error frames, repeated and backward
 * trade ids. Plain and readable rather than fast: the engine's feed is src/feed/binance/feed.ts.
 */
export class BinanceReferenceClient {
  readonly book: L2Book;
  sync: BinanceDepthSync;
  /** DepthCounters of the syncs of earlier connections, summed */
  readonly pastSyncs = { gaps: 0, snapshots: 0, snapshotsRejected: 0, stale: 0, resyncs: 0, applied: 0 };
  messages = 0;
  malformed = 0;
  errorFrames = 0;
  /** replies and error frames, in arrival order */
  replies: unknown[] = [];
  trades = 0;
  tradeRepeats = 0;
  tradeBackwards = 0;
  maxTradeId = -1;
  opens = 0;
  closes = 0;
  stalls = 0;
  snapshotErrors = 0;
  frames: string[] = [];
  private ws: WebSocket | undefined;
  private stopped = false;
  private inFlight = false;
  private lastMsgAt = 0;
  private watchdog: ReturnType<typeof setInterval> | undefined;
  private lastTradeId = -1;

  constructor(readonly o: BinanceReferenceClientOptions) {
    this.book = new L2Book(`ref-binance-${o.market}`, o.symbol);
    this.sync = new BinanceDepthSync(this.book, o.market === "spot" ? "spot" : "futures");
  }

  get open(): boolean {
    return this.ws?.readyState === WebSocket.OPEN;
  }

  /** gaps, snapshots, ... over every connection so far */
  totals(): { gaps: number; snapshots: number; snapshotsRejected: number; stale: number; resyncs: number; applied: number } {
    const c = this.sync.counters, p = this.pastSyncs;
    return { gaps: p.gaps + c.gaps, snapshots: p.snapshots + c.snapshots, snapshotsRejected: p.snapshotsRejected + c.snapshotsRejected, stale: p.stale + c.stale, resyncs: p.resyncs + c.resyncs, applied: p.applied + c.applied };
  }

  start(): Promise<void> {
    this.connect();
    if (this.o.stallMs) {
      this.watchdog = setInterval(() => {
        if (this.open && performance.now() - this.lastMsgAt > this.o.stallMs!) {
          this.stalls++;
          this.ws!.close(4000, "stalled");
        }
      }, Math.max(5, this.o.stallMs / 4));
    }
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`reference client: no connection to ${this.o.wsUrl}${this.o.path} within 5 s`)), 5000);
      const check = setInterval(() => {
        if (this.open) {
          clearTimeout(t);
          clearInterval(check);
          resolve();
        }
      }, 2);
    });
  }

  send(msg: unknown): void {
    this.ws?.send(typeof msg === "string" ? msg : JSON.stringify(msg));
  }

  stop(): void {
    this.stopped = true;
    if (this.watchdog) clearInterval(this.watchdog);
    this.ws?.close(1000, "done");
  }

  /** Asks for a snapshot if the sync needs one; resolves when the book is synced (or after timeoutMs). */
  async settle(timeoutMs = 3000): Promise<boolean> {
    const end = performance.now() + timeoutMs;
    while (performance.now() < end) {
      if (!this.sync.needSnapshot) return true;
      this.requestSnapshot();
      await Bun.sleep(5);
    }
    return !this.sync.needSnapshot;
  }

  private connect(): void {
    const ws = new WebSocket(this.o.wsUrl + this.o.path);
    this.ws = ws;
    ws.onopen = () => {
      this.opens++;
      this.lastMsgAt = performance.now();
      // a new connection: the stream may have moved on, so the book starts over from a snapshot
      const c = this.sync.counters, p = this.pastSyncs;
      for (const k of Object.keys(p) as Array<keyof typeof p>) p[k] += c[k];
      this.book.clear();
      this.sync = new BinanceDepthSync(this.book, this.o.market === "spot" ? "spot" : "futures");
    };
    ws.onmessage = (e) => this.onText(e.data as string);
    ws.onclose = () => {
      this.closes++;
      if (!this.stopped) setTimeout(() => this.connect(), this.o.reconnectMs ?? 10);
    };
  }

  private onText(text: string): void {
    this.messages++;
    this.lastMsgAt = performance.now();
    if (this.o.keepFrames) this.frames.push(text);
    let m: { stream?: string; data?: Record<string, unknown>; code?: unknown; result?: unknown; e?: unknown };
    try {
      m = JSON.parse(text);
    } catch {
      this.malformed++;
      return;
    }
    if (m.code !== undefined && m.stream === undefined) {
      this.errorFrames++;
      this.replies.push(m);
      return;
    }
    if (m.result !== undefined && m.stream === undefined) {
      this.replies.push(m);
      return;
    }
    const d = (m.stream !== undefined ? m.data : m) as Record<string, unknown> | undefined;
    if (!d || d.s !== this.o.symbol) return;
    if (d.e === "depthUpdate") {
      this.sync.onDiff(d as unknown as DepthDiff);
      if (this.sync.needSnapshot) this.requestSnapshot();
    } else if (d.e === "trade") {
      const id = d.t as number;
      this.trades++;
      if (id === this.lastTradeId) this.tradeRepeats++;
      else if (id < this.maxTradeId) this.tradeBackwards++;
      this.lastTradeId = id;
      if (id > this.maxTradeId) this.maxTradeId = id;
    }
  }

  private requestSnapshot(): void {
    if (this.inFlight) return;
    this.inFlight = true;
    const sync = this.sync;
    const path = this.o.market === "spot" ? "/api/v3/depth" : "/fapi/v1/depth";
    fetch(`${this.o.httpUrl}${path}?symbol=${this.o.symbol}&limit=${this.o.snapshotLimit ?? 1000}`)
      .then(async (r) => {
        if (!r.ok) throw new Error(`HTTP ${r.status}: ${await r.text()}`);
        return (await r.json()) as DepthSnapshot;
      })
      .then((s) => {
        if (sync === this.sync && sync.needSnapshot) sync.onSnapshot(s);
      })
      .catch(() => this.snapshotErrors++)
      .finally(() => (this.inFlight = false));
  }
}
