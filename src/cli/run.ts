/** `bot4 run`: the engine. No venues configured: paper mode on replayed recorded data. */
import btcSlice from "../../data/binance-usdm/btcusdt_20240808_235415-235515.gz" with { type: "file" };
import ethSlice from "../../data/binance-usdm/ethusdt_20240808_235415-235515.gz" with { type: "file" };
import krakenCapture from "../../data/kraken/KRAKEN.ws.50.0.gz" with { type: "file" };
import { ConfigError, loadConfig } from "../config/load.ts";
import { createLogger, flushLogs, setLogger } from "../telemetry/log.ts";
import { flagHelp, parseFlags, type FlagSpec, UsageError } from "./args.ts";

const FLAGS: Record<string, FlagSpec> = {
  speed: { value: true, about: "replay speed: 1 = real time, 10, ... or max (overrides BOT4_REPLAY_SPEED)" },
  market: { value: true, about: "sim: simulated venues on 127.0.0.1 (Binance USD-M replaying the data, and Kraken replaying the bundled Kraken recording unless --data is given), the native feeds connected to them (default without --data); replay: recorded ticks straight into the rings (default with --data)" },
  data: { value: true, about: "comma-separated recorded captures (overrides BOT4_DATA; default: the bundled slice)" },
  duration: { value: true, about: "stop after this many seconds (default: at the end of the data)" },
  loop: { value: true, about: "--market replay: passes over the data (default 1; 0 = until stopped) — soak runs" },
  rate: { value: true, about: "--market replay: publish at this many records/s in all, ignoring recorded times; a full ring drops (counted) — peak-load runs" },
  json: { about: "print the final summary as one JSON object on stdout" },
  strategy: { value: true, about: "strategy to paper-trade: built-in name or file (overrides BOT4_STRATEGY; `none` = market data only)" },
  params: { value: true, about: "strategy parameters `name=value,...` (overrides BOT4_STRATEGY_PARAMS)" },
  journal: { value: true, about: "order journal path, or `off` (overrides BOT4_JOURNAL)" },
  "metrics-port": { value: true, about: "serve /metrics, /health, /ready on 127.0.0.1:PORT (overrides BOT4_METRICS_PORT; 0 = off)" },
  help: { about: "this help" },
};

export const BUNDLED_DATA = [btcSlice, ethSlice];

function parseSpeed(v: string, from: string): number {
  if (v === "max") return 0;
  const n = Number(v);
  if (!(n > 0) || !Number.isFinite(n)) throw new UsageError(`${from}: expected \`max\` or a positive speed factor, got \`${v}\``);
  return n;
}

const fmtNs = (ns: number) => (ns >= 1e6 ? `${(ns / 1e6).toFixed(2)} ms` : ns >= 1e3 ? `${(ns / 1e3).toFixed(2)} µs` : `${ns.toFixed(0)} ns`);

export async function main(args: string[]): Promise<number> {
  const f = parseFlags("run", args, FLAGS);
  if (f.help) {
    process.stdout.write(`usage: bot4 run [flags]\n\nPaper mode (no venues configured): the built-in simulated venue replays recorded market data,\nthe native feed handler reads it into lock-free rings, and the engine thread runs books,\nindicators, the strategy, pre-trade risk and simulated order execution (with a journal).\nA status line refreshes every second; Ctrl-C cancels open orders, flushes the journal and\nprints the latency summary; \`kill -USR2 <pid>\` trips the kill switch.\n\n${flagHelp(FLAGS)}\n`);
    return 0;
  }
  const config = loadConfig();
  const logger = createLogger({ level: config.BOT4_LOG_LEVEL, file: config.BOT4_LOG_FILE || undefined });
  setLogger(logger);
  if (config.BOT4_MODE === "live") {
    // configuration checked (confirmation, venues, keys): live order entry is native Binance spot
    const other = config.BOT4_VENUES.split(",").filter((v) => v && v !== "binance");
    if (other.length) throw new ConfigError(`BOT4_MODE=live: live order entry in bot4 run is Binance spot's WebSocket API (venue binance); ${other.join(", ")} can run with BOT4_MODE=paper (their live market data, simulated execution)`);
  }
  const speed = parseSpeed(typeof f.speed === "string" ? f.speed : config.BOT4_REPLAY_SPEED, f.speed ? "--speed" : "BOT4_REPLAY_SPEED");
  const duration = typeof f.duration === "string" ? Number(f.duration) : 0;
  if (!(duration >= 0) || !Number.isFinite(duration)) throw new UsageError(`--duration: expected seconds (a number >= 0), got \`${f.duration}\``);
  const dataArg = typeof f.data === "string" ? f.data : config.BOT4_DATA;
  const files = dataArg ? dataArg.split(",").filter(Boolean) : BUNDLED_DATA;
  // no venue configured: the simulated venue is the default market; captures named with --data /
  // BOT4_DATA are replayed straight into the rings unless --market sim asks for the venue
  const market = typeof f.market === "string" ? f.market : dataArg ? "replay" : "sim";
  if (market !== "sim" && market !== "replay") throw new UsageError(`--market: expected \`sim\` or \`replay\`, got \`${market}\``);
  const strategy = typeof f.strategy === "string" ? f.strategy : config.BOT4_STRATEGY;
  const { parseParams } = await import("../strategy/loader.ts");
  let params: Record<string, number>;
  try {
    params = parseParams(typeof f.params === "string" ? f.params : config.BOT4_STRATEGY_PARAMS);
  } catch (e) {
    throw new UsageError(`${f.params ? "--params" : "BOT4_STRATEGY_PARAMS"}: ${(e as Error).message}`);
  }
  const journalArg = typeof f.journal === "string" ? f.journal : config.BOT4_JOURNAL;
  const metricsPort = typeof f["metrics-port"] === "string" ? Number(f["metrics-port"]) : config.BOT4_METRICS_PORT;
  if (!(Number.isInteger(metricsPort) && metricsPort >= 0 && metricsPort <= 65535)) throw new UsageError(`--metrics-port: expected a port from 0 to 65535, got \`${f["metrics-port"]}\``);
  const loops = typeof f.loop === "string" ? Number(f.loop) : 1;
  if (!(Number.isInteger(loops) && loops >= 0)) throw new UsageError(`--loop: expected a whole number of passes >= 0 (0 = until stopped), got \`${f.loop}\``);
  const rate = typeof f.rate === "string" ? Number(f.rate) : 0;
  if (!(rate >= 0 && Number.isFinite(rate))) throw new UsageError(`--rate: expected records per second (a number > 0), got \`${f.rate}\``);
  if ((loops !== 1 || rate > 0) && market !== "replay") throw new UsageError("--loop and --rate drive recorded data straight into the rings: use them with --market replay (or --data)");
  const risk = parseRisk(config.BOT4_RISK);
  // the engine thread loads the strategy again for itself; loading it here first refuses a bad
  // name or file before anything starts
  if (strategy !== "none") await (await import("../strategy/loader.ts")).loadStrategy(strategy, params);
  const [makerBps, takerBps] = config.BOT4_PAPER_FEES.split(",").map(Number) as [number, number];
  const opts: RunOptions = {
    speed, duration, json: !!f.json, config, logger,
    trading: strategy === "none" ? null : { strategy, params, journal: journalArg === "off" ? "" : journalArg, risk, makerBps, takerBps },
    metricsPort,
    loops,
    rate,
  };
  if (config.BOT4_VENUES) {
    if (f.data || f.market) throw new UsageError("--data and --market replay recorded data; with BOT4_VENUES set, bot4 run connects to those venues (unset BOT4_VENUES to replay)");
    return runOnVenues(opts);
  }
  // the bundled Kraken recording is a second simulated venue of the default market
  return market === "sim" ? runOnSimulatedVenue(files, dataArg ? null : krakenCapture, opts) : runOnReplay(files, opts);
}

interface RunOptions {
  speed: number;
  duration: number;
  json: boolean;
  config: ReturnType<typeof loadConfig>;
  logger: ReturnType<typeof createLogger>;
  trading: { strategy: string; params: Record<string, number>; journal: string; risk: Record<string, unknown>; makerBps: number; takerBps: number } | null;
  metricsPort: number;
  loops: number;
  rate: number;
  /** BOT4_MODE=live: venues whose orders go to the real venue */
  live?: import("../engine/paper.ts").LiveVenue[];
}

/** BOT4_RISK: JSON validated by the risk schema; empty = paper defaults. */
function parseRisk(text: string): Record<string, unknown> {
  if (!text.trim()) return { collarBps: 500, staleMs: 5000 };
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new ConfigError(`BOT4_RISK: not JSON (${(e as Error).message}); expected an object such as {"maxPosition":0.05,"dailyLossLimit":500}`);
  }
  if (typeof v !== "object" || v === null || Array.isArray(v)) throw new ConfigError(`BOT4_RISK: expected a JSON object of risk limits, got ${JSON.stringify(v)}`);
  return v as Record<string, unknown>;
}

/**
 * Replays tapes straight into the rings (--market replay, the default with --data): no venue
 * protocol, the fastest way to drive the engine with recorded data.
 */
async function runOnReplay(files: string[], o: RunOptions): Promise<number> {
  const { loadBinanceCapture } = await import("../feed/recording.ts");
  const { InstrumentTable, Venue, venueName } = await import("../domain/instruments.ts");
  const { BookRule } = await import("../../ffi/book.ts");
  const { inferSteps } = await import("../backtest/run.ts");
  const instruments = new InstrumentTable();
  // one feed per source, instrument ids shared by all of them
  const tapes = files.map((file) => loadBinanceCapture([file], undefined, instruments));
  for (const t of tapes) {
    if (t.stats.malformed > 0) o.logger.warn({ file: t.stats.files[0], malformed: t.stats.malformed, first: t.stats.malformedAt }, "skipped malformed lines in recorded data; the rest is replayed");
  }
  const records = tapes.reduce((a, t) => a + t.count, 0);
  // every instrument whose recording carries depth keeps a book, with its venue's procedure
  const withDepth = new Set<number>();
  for (const t of tapes) for (let i = 0; i < t.count; i++) if (t.u8[i * 64 + 62] === 3) withDepth.add(t.u32[i * 16 + 14]!);
  const books = [...withDepth].map((id) => ({ instrument: id, rule: instruments.venues[id] === Venue.binance ? BookRule.binanceSpot : BookRule.binanceFutures }));
  // venue steps from the decimals of the recorded prices and sizes (the smallest any tape shows)
  const steps = Array.from({ length: instruments.size }, () => ({ tickSize: Infinity, lotSize: Infinity }));
  const names = Array.from({ length: instruments.size }, (_, id) => ({ venue: venueName(instruments.venues[id]!), symbol: instruments.symbols[id]! }));
  for (const t of tapes) {
    inferSteps({ u8: t.u8, u32: t.u32, f64: t.f64, ptr: 0, count: t.count, instruments: names }).forEach((s, id) => {
      if (s.firstPrice > 0) {
        steps[id]!.tickSize = Math.min(steps[id]!.tickSize, s.tickSize);
        steps[id]!.lotSize = Math.min(steps[id]!.lotSize, s.lotSize);
      }
    });
  }
  const infos = names.map((n, id) => ({ id, ...n, tickSize: Number.isFinite(steps[id]!.tickSize) ? steps[id]!.tickSize : 0, lotSize: Number.isFinite(steps[id]!.lotSize) ? steps[id]!.lotSize : 0 }));
  // parsing the captures left megabytes of text behind: collect it before the engine starts
  Bun.gc(true);
  return drive(o, {
    header: `${tapes.length} recorded feeds, ${records.toLocaleString("en-US")} records, ${instruments.size} instruments`,
    feeds: tapes.map((t) => `replay:${t.stats.files[0]?.split("/").pop() ?? "?"}`),
    records,
    instruments,
    infos,
    pipeline: { tapes, books, loops: o.loops, rate: o.rate > 0 ? o.rate / tapes.length : 0 },
  });
}

/**
 * The default paper market: venue simulators (src/sim) on 127.0.0.1 replay recorded captures over
 * each venue's real protocol, looping — Binance USD-M (the bundled or given Binance captures) and
 * Kraken spot v2 (the bundled Kraken recording) — and the engine's native feed handlers connect
 * to them exactly as to the venues: WebSocket streams parsed in C into the rings, REST depth
 * snapshots or checksummed WS snapshots, resyncs. A paper run exercises the live code path end to
 * end. Tick and lot sizes come from each venue's own instrument data (Binance exchangeInfo,
 * Kraken's price and quantity precision).
 */
async function runOnSimulatedVenue(files: string[], kraken: string | null, o: RunOptions): Promise<number> {
  const { startDefaultMarket } = await import("../sim/venues/binance.ts");
  const { InstrumentTable, Venue, binanceUsdmUnified } = await import("../domain/instruments.ts");
  const { BookRule } = await import("../../ffi/book.ts");
  const sim = startDefaultMarket({ captures: files, speed: o.speed, loop: true, onNotice: (what, detail) => o.logger.debug({ sim: what, ...detail }, "venue simulator") });
  let ksim: import("../sim/venues/kraken.ts").KrakenSim | null = null;
  try {
    const instruments = new InstrumentTable();
    const symbols = sim.symbols.map((sym) => ({ symbol: sym, instrument: instruments.id(Venue.binanceusdm, binanceUsdmUnified(sym)) }));
    const books: Array<{ instrument: number; rule: number }> = symbols.map((x) => ({ instrument: x.instrument, rule: BookRule.binanceFutures }));
    const info = (await (await fetch(`${sim.httpUrl}/fapi/v1/exchangeInfo`)).json()) as { symbols: Array<{ symbol: string; filters: Array<{ filterType: string; tickSize?: string; stepSize?: string }> }> };
    const infos = symbols.map((x) => {
      const s = info.symbols.find((y) => y.symbol === x.symbol.toUpperCase());
      return { id: x.instrument, venue: "binanceusdm", symbol: instruments.symbols[x.instrument]!, ...binanceSteps(s) };
    });
    const live: NonNullable<import("../engine/pipeline.ts").PipelineOptions["live"]> = [
      { venue: Venue.binanceusdm, binance: { market: "usdm", wsUrl: sim.wsUrl, restUrl: sim.httpUrl, symbols, channels: ["trade", "bookTicker", "depth"], depthSpeed: "0ms" } },
    ];
    const feeds = ["binanceusdm"];
    const venues = [`Binance USD-M at ${sim.wsUrl} (${sim.symbols.join(", ")})`];
    if (kraken) {
      const { loadKrakenTape, startKrakenSim } = await import("../sim/venues/kraken.ts");
      const tape = loadKrakenTape({ file: kraken });
      ksim = startKrakenSim({ tape, speed: o.speed, loop: true });
      // the feed checks Kraken's checksums itself and sends only what its book accepted: the
      // engine's books take its records as they come (a failed book arrives as a STATUS record)
      const ksyms = tape.instruments.map((x) => ({ symbol: x.symbol, pricePrecision: x.pricePrecision, qtyPrecision: x.qtyPrecision, instrument: instruments.id(Venue.kraken, x.symbol) }));
      for (const k of ksyms) {
        books.push({ instrument: k.instrument, rule: BookRule.none });
        infos.push({ id: k.instrument, venue: "kraken", symbol: instruments.symbols[k.instrument]!, tickSize: Number((10 ** -k.pricePrecision).toFixed(k.pricePrecision)), lotSize: Number((10 ** -k.qtyPrecision).toFixed(k.qtyPrecision)) });
      }
      live.push({ venue: Venue.kraken, kraken: { wsUrl: `${ksim.wsUrl}/v2`, symbols: ksyms, depth: 100 } });
      feeds.push("kraken");
      venues.push(`Kraken at ${ksim.wsUrl}/v2 (${ksyms.length} pairs)`);
    }
    return await drive(o, {
      header: `simulated ${venues.join(" and ")}`,
      feeds,
      records: 0,
      instruments,
      infos,
      pipeline: { tapes: [], live, staleMs: 10_000, books },
      extra: { market: "sim", venue: sim.httpUrl, venues: feeds },
    });
  } finally {
    await sim.stop();
    await ksim?.stop();
  }
}

/** tick and lot size of a symbol in Binance's exchangeInfo (PRICE_FILTER, LOT_SIZE); 0 when absent */
function binanceSteps(s: { filters: Array<{ filterType: string; tickSize?: string; stepSize?: string }> } | undefined): { tickSize: number; lotSize: number } {
  return {
    tickSize: Number(s?.filters.find((f) => f.filterType === "PRICE_FILTER")?.tickSize ?? 0),
    lotSize: Number(s?.filters.find((f) => f.filterType === "LOT_SIZE")?.stepSize ?? 0),
  };
}

const BINANCE_ENDPOINTS: Record<string, { ws: string; rest: string; info: string; market: "spot" | "usdm" | "coinm" }> = {
  binance: { ws: "wss://stream.binance.com:9443", rest: "https://api.binance.com", info: "/api/v3/exchangeInfo", market: "spot" },
  binanceusdm: { ws: "wss://fstream.binance.com", rest: "https://fapi.binance.com", info: "/fapi/v1/exchangeInfo", market: "usdm" },
  binancecoinm: { ws: "wss://dstream.binance.com", rest: "https://dapi.binance.com", info: "/dapi/v1/exchangeInfo", market: "coinm" },
};

/** The public endpoints of the other venues with a native feed (BOT4_<VENUE>_WS_URL / _REST_URL override them). */
const NATIVE_ENDPOINTS: Record<"bybit" | "okx" | "coinbase" | "kraken", { ws: string; rest: string }> = {
  bybit: { ws: "wss://stream.bybit.com", rest: "https://api.bybit.com" },
  okx: { ws: "wss://ws.okx.com:8443", rest: "https://www.okx.com" },
  coinbase: { ws: "wss://advanced-trade-ws.coinbase.com", rest: "https://api.coinbase.com" },
  kraken: { ws: "wss://ws.kraken.com", rest: "https://api.kraken.com" },
};
const NATIVE_VENUES = [...Object.keys(BINANCE_ENDPOINTS), ...Object.keys(NATIVE_ENDPOINTS)];
/** Bybit orderbook depth: 200 is served on every category (linear, inverse, spot) */
const BYBIT_DEPTH = 200;
/** Coinbase's feed ring: room for the records of its largest frame (CoinbaseFeed maxRecords) */
const COINBASE_RING = 131_072;
/** Kraken v2 book depth per side */
const KRAKEN_DEPTH = 100;

type LiveSpec = import("../engine/pipeline.ts").LiveFeedSpec;

/** What one venue of BOT4_VENUES adds to the run: its instruments (with tick and lot sizes and book rules) and feeds. */
interface VenuePlan {
  /** the venue id of BOT4_VENUES */
  v: string;
  /** its symbols in BOT4_SYMBOLS, as given (deduplicated) */
  syms: string[];
  ws: string;
  rest: string;
  instruments: import("../domain/instruments.ts").InstrumentTable;
  infos: DriveSpec["infos"];
  books: Array<{ instrument: number; rule: number }>;
  /** live feeds, with the venue name of each (the status line's per-feed figures) */
  live: LiveSpec[];
  feedNames: string[];
  /** how the header names it */
  labels: string[];
}

/** `base` with `path` when base is a bare origin (`wss://host:port` or `…/`); else base as given (a full stream URL). */
function withPath(base: string, path: string): string {
  const u = new URL(base);
  return u.pathname === "/" || u.pathname === "" ? `${base.replace(/\/$/, "")}${path}` : base;
}

/** GET a venue's public JSON; one ConfigError line when it cannot be read. */
async function venueJson(v: string, url: string): Promise<{ status: number; body: any }> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(10_000) });
    const text = await res.text();
    try {
      return { status: res.status, body: JSON.parse(text) };
    } catch {
      throw new Error(`HTTP ${res.status}, not JSON: ${text.slice(0, 80)}`);
    }
  } catch (e) {
    throw new ConfigError(`${v}: cannot read ${url} (${(e as Error).message}); check the network or BOT4_${v.toUpperCase()}_REST_URL`);
  }
}

const notListed = (v: string, sym: string, where: string) => new ConfigError(`BOT4_SYMBOLS: ${v} does not list ${sym} (${where}); use the venue's own symbol, e.g. ${VENUE_EXAMPLE[v] ?? `${v}:BTCUSDT`}`);
const VENUE_EXAMPLE: Record<string, string> = { bybit: "bybit:BTCUSDT", okx: "okx:BTC-USDT or okx:BTC-USDT-SWAP", coinbase: "coinbase:BTC-USD", kraken: "kraken:BTC/USD" };

/** Binance spot / USD-M / COIN-M: exchangeInfo, books by Binance's snapshot + diff procedure. */
async function planBinance(p: VenuePlan): Promise<void> {
  const { Venue, binanceUsdmUnified } = await import("../domain/instruments.ts");
  const { BookRule } = await import("../../ffi/book.ts");
  const { v, ws, rest } = p;
  const ep = BINANCE_ENDPOINTS[v]!;
  const { body: info } = (await venueJson(v, `${rest}${ep.info}`)) as { body: { symbols?: Array<{ symbol: string; baseAsset: string; quoteAsset: string; marginAsset?: string; filters: Array<{ filterType: string; tickSize?: string; stepSize?: string }> }> } };
  if (!Array.isArray(info?.symbols)) throw new ConfigError(`${v}: ${rest}${ep.info} is not an exchangeInfo answer (no symbols list); check BOT4_${v.toUpperCase()}_REST_URL`);
  const symbols: Array<{ symbol: string; instrument: number }> = [];
  for (const sym of p.syms.map((s) => s.toUpperCase())) {
    const s = info.symbols.find((y) => y.symbol === sym);
    if (!s) throw new ConfigError(`BOT4_SYMBOLS: ${v} does not list ${sym} (exchangeInfo of ${rest})`);
    const unified = v === "binanceusdm" ? binanceUsdmUnified(sym.toLowerCase()) : v === "binancecoinm" ? `${s.baseAsset}/${s.quoteAsset}:${s.marginAsset ?? s.baseAsset}` : `${s.baseAsset}/${s.quoteAsset}`;
    const id = p.instruments.id(Venue[v as keyof typeof Venue], unified);
    symbols.push({ symbol: sym.toLowerCase(), instrument: id });
    p.books.push({ instrument: id, rule: ep.market === "spot" ? BookRule.binanceSpot : BookRule.binanceFutures });
    p.infos.push({ id, venue: v, symbol: unified, ...binanceSteps(s) });
  }
  p.live.push({ venue: Venue[v as keyof typeof Venue], binance: { market: ep.market, wsUrl: ws, restUrl: rest, symbols, channels: ["trade", "bookTicker", "depth"], depthSpeed: ep.market === "spot" ? "100ms" : "0ms" } });
  p.feedNames.push(v);
  p.labels.push(v);
}

/**
 * Bybit v5: each symbol's category and steps from /v5/market/instruments-info (priceFilter.tickSize,
 * lotSizeFilter.qtyStep, spot basePrecision). BOT4_BYBIT_WS_URL may name one category's stream
 * (…/v5/public/spot); a bare origin means: linear, else inverse, else spot, whichever lists the
 * symbol first. One feed per category; the engine's books check Bybit's u chain (rule SEQ).
 */
async function planBybit(p: VenuePlan): Promise<void> {
  const { Venue } = await import("../domain/instruments.ts");
  const { BookRule } = await import("../../ffi/book.ts");
  const { bybitCategoryFromUrl } = await import("../feed/bybit/book.ts");
  const { bybitUnified } = await import("../feed/bybit/normalize.ts");
  type Cat = "linear" | "inverse" | "spot";
  const { v, ws, rest } = p;
  const path = new URL(ws).pathname;
  const bare = path === "/" || path === "";
  const pinned = bare ? null : bybitCategoryFromUrl(ws);
  if (!bare && (pinned === null || pinned === "option")) throw new ConfigError(`BOT4_BYBIT_WS_URL: ${ws} is neither an origin (wss://stream.bybit.com) nor a Bybit v5 public stream (…/v5/public/linear, /spot or /inverse)`);
  const cats: Cat[] = pinned ? [pinned as Cat] : ["linear", "inverse", "spot"];
  const byCat = new Map<Cat, Array<{ symbol: string; instrument: number }>>();
  for (const sym of p.syms.map((s) => s.toUpperCase())) {
    let hit: { cat: Cat; e: any } | undefined;
    for (const cat of cats) {
      const url = `${rest}/v5/market/instruments-info?category=${cat}&symbol=${encodeURIComponent(sym)}`;
      const { body } = await venueJson(v, url);
      // a symbol a category does not have: an empty list, or a params error naming the symbol
      if (body?.retCode !== 0 && /symbol/i.test(String(body?.retMsg))) continue;
      if (body?.retCode !== 0) throw new ConfigError(`bybit: ${url} answered retCode ${body?.retCode}: ${body?.retMsg}; check BOT4_BYBIT_REST_URL`);
      const e = (body.result?.list as any[] | undefined)?.find((x) => x?.symbol === sym);
      if (e) {
        hit = { cat, e };
        break;
      }
    }
    if (!hit) throw notListed(v, sym, `instruments-info of ${rest}, category ${cats.join(", ")}`);
    const unified = bybitUnified(sym, hit.cat);
    const id = p.instruments.id(Venue.bybit, unified);
    p.books.push({ instrument: id, rule: BookRule.seq });
    p.infos.push({ id, venue: v, symbol: unified, tickSize: Number(hit.e.priceFilter?.tickSize ?? 0), lotSize: Number(hit.e.lotSizeFilter?.qtyStep ?? hit.e.lotSizeFilter?.basePrecision ?? 0) });
    if (!byCat.has(hit.cat)) byCat.set(hit.cat, []);
    byCat.get(hit.cat)!.push({ symbol: sym, instrument: id });
  }
  for (const [cat, symbols] of byCat) {
    const wsUrl = pinned ? ws : `${ws.replace(/\/$/, "")}/v5/public/${cat}`;
    p.live.push({ venue: Venue.bybit, bybit: { wsUrl, symbols, depth: BYBIT_DEPTH } });
    p.feedNames.push(v);
    p.labels.push(`bybit ${cat} at ${wsUrl}`);
  }
}

/** OKX v5: steps from /api/v5/public/instruments (tickSz, lotSz; swaps and futures count contracts); the feed checks seqId and checksums itself (rule NONE). */
async function planOkx(p: VenuePlan): Promise<void> {
  const { Venue } = await import("../domain/instruments.ts");
  const { BookRule } = await import("../../ffi/book.ts");
  const { okxUnified } = await import("../feed/okx/normalize.ts");
  const { v, ws, rest } = p;
  const symbols: Array<{ instId: string; instrument: number }> = [];
  for (const instId of p.syms.map((s) => s.toUpperCase())) {
    const parts = instId.split("-");
    const type = parts.length === 2 ? "SPOT" : parts.length === 3 && parts[2] === "SWAP" ? "SWAP" : parts.length === 3 && /^\d{6}$/.test(parts[2]!) ? "FUTURES" : null;
    if (!type) throw new ConfigError(`BOT4_SYMBOLS: okx:${instId} is not an OKX spot, swap or futures instId (e.g. okx:BTC-USDT, okx:BTC-USDT-SWAP, okx:BTC-USD-250328)`);
    const url = `${rest}/api/v5/public/instruments?instType=${type}&instId=${encodeURIComponent(instId)}`;
    const { body } = await venueJson(v, url);
    const d = body?.code === "0" && Array.isArray(body.data) ? body.data.find((x: any) => x?.instId === instId) : undefined;
    if (!d) {
      if (body?.code === "0" || body?.code === "51001" || /instId|instrument/i.test(String(body?.msg))) throw notListed(v, instId, `instruments of ${rest}, instType ${type}`);
      throw new ConfigError(`okx: ${url} answered code ${body?.code}: ${body?.msg}; check BOT4_OKX_REST_URL`);
    }
    const unified = okxUnified(instId);
    const id = p.instruments.id(Venue.okx, unified);
    p.books.push({ instrument: id, rule: BookRule.none });
    p.infos.push({ id, venue: v, symbol: unified, tickSize: Number(d.tickSz ?? 0), lotSize: Number(d.lotSz ?? 0) });
    symbols.push({ instId, instrument: id });
  }
  const wsUrl = withPath(ws, "/ws/v5/public");
  p.live.push({ venue: Venue.okx, okx: { wsUrl, symbols } });
  p.feedNames.push(v);
  p.labels.push(`okx at ${wsUrl}`);
}

/** Coinbase Advanced Trade: steps from the public product data (price_increment, base_increment); the feed checks sequence_num itself (rule NONE). */
async function planCoinbase(p: VenuePlan): Promise<void> {
  const { Venue } = await import("../domain/instruments.ts");
  const { BookRule } = await import("../../ffi/book.ts");
  const { coinbaseUnified } = await import("../feed/coinbase/normalize.ts");
  const { v, ws, rest } = p;
  const symbols: Array<{ symbol: string; instrument: number }> = [];
  for (const product of p.syms.map((s) => s.toUpperCase())) {
    const url = `${rest}/api/v3/brokerage/market/products/${encodeURIComponent(product)}`;
    const { status, body } = await venueJson(v, url);
    if (status === 404 || (status === 400 && /not.?found|invalid/i.test(String(body?.error ?? "")))) throw notListed(v, product, `products of ${rest}`);
    if (status !== 200 || body?.product_id !== product) throw new ConfigError(`coinbase: ${url} answered HTTP ${status}${body?.message ? `: ${body.message}` : ""}; check BOT4_COINBASE_REST_URL`);
    const unified = coinbaseUnified(product);
    const id = p.instruments.id(Venue.coinbase, unified);
    p.books.push({ instrument: id, rule: BookRule.none });
    p.infos.push({ id, venue: v, symbol: unified, tickSize: Number(body.price_increment || body.quote_increment || 0), lotSize: Number(body.base_increment || 0) });
    symbols.push({ symbol: product, instrument: id });
  }
  // a level2 snapshot carries the whole book (BTC-USD ~46,000 levels) in one frame, pushed at once: the ring holds it
  p.live.push({ venue: Venue.coinbase, coinbase: { wsUrl: ws, symbols }, minRingCapacity: COINBASE_RING });
  p.feedNames.push(v);
  p.labels.push(`coinbase at ${ws}`);
}

/** Kraken spot v2: precisions from /0/public/AssetPairs (pair_decimals, lot_decimals: the checksum formats with them); the feed checks checksums itself (rule NONE). */
async function planKraken(p: VenuePlan): Promise<void> {
  const { Venue } = await import("../domain/instruments.ts");
  const { BookRule } = await import("../../ffi/book.ts");
  const { krakenSpotUnified } = await import("../feed/kraken/normalize.ts");
  const { v, ws, rest } = p;
  const url = `${rest}/0/public/AssetPairs`;
  const { body } = await venueJson(v, url);
  if (!body || typeof body.result !== "object" || body.result === null || (Array.isArray(body.error) && body.error.length > 0)) throw new ConfigError(`kraken: ${url} answered ${JSON.stringify(body?.error ?? body).slice(0, 120)}; check BOT4_KRAKEN_REST_URL`);
  const pairs = Object.values(body.result as Record<string, any>).filter((x) => typeof x?.wsname === "string");
  const symbols: import("../feed/kraken/feed.ts").KrakenSymbol[] = [];
  for (const sym of p.syms.map((s) => s.toUpperCase())) {
    const want = krakenSpotUnified(sym);
    const e = pairs.find((x) => krakenSpotUnified(x.wsname) === want);
    if (!e) throw notListed(v, sym, `AssetPairs of ${rest}`);
    const pricePrecision = Number(e.pair_decimals), qtyPrecision = Number(e.lot_decimals);
    if (!Number.isInteger(pricePrecision) || !Number.isInteger(qtyPrecision)) throw new ConfigError(`kraken: ${url} gives ${e.wsname} no pair_decimals / lot_decimals; check BOT4_KRAKEN_REST_URL`);
    const id = p.instruments.id(Venue.kraken, want);
    p.books.push({ instrument: id, rule: BookRule.none });
    p.infos.push({ id, venue: v, symbol: want, tickSize: Number(e.tick_size) || Number((10 ** -pricePrecision).toFixed(pricePrecision)), lotSize: Number((10 ** -qtyPrecision).toFixed(qtyPrecision)) });
    symbols.push({ symbol: want, instrument: id, pricePrecision, qtyPrecision });
  }
  const wsUrl = withPath(ws, "/v2");
  p.live.push({ venue: Venue.kraken, kraken: { wsUrl, symbols, depth: KRAKEN_DEPTH } });
  p.feedNames.push(v);
  p.labels.push(`kraken at ${wsUrl}`);
}

/**
 * Any other venue ccxt pro supports: markets loaded through ccxt (BOT4_<ID>_REST_URL and _WS_URL,
 * together, point every endpoint of the exchange at one origin each, and nothing else may be
 * reached), a symbol is the venue's market id (or a ccxt unified symbol), steps from ccxt's
 * market precision. ccxt keeps the books in sync (rule NONE).
 */
async function planCcxt(p: VenuePlan, venueId: number): Promise<void> {
  const ccxt = (await import("ccxt")).default;
  const { CcxtFeed } = await import("../feed/ccxt/adapter.ts");
  const { BookRule } = await import("../../ffi/book.ts");
  const { TickBuffer } = await import("../domain/tick-buffer.ts");
  const { v } = p;
  const ep = p.ws && p.rest ? { http: p.rest, ws: p.ws } : undefined;
  let probe: InstanceType<typeof CcxtFeed>;
  try {
    probe = new CcxtFeed({ exchange: v, symbols: p.syms, sink: new TickBuffer(16), instruments: p.instruments, venue: venueId, endpoint: ep, log: (await import("../telemetry/log.ts")).log() });
  } catch (e) {
    throw new ConfigError(`${v}: ccxt cannot set the exchange up for ${p.syms.join(", ")} (${(e as Error).message}); check BOT4_SYMBOLS`);
  }
  const ex = probe.exchange as unknown as { markets: Record<string, any>; markets_by_id: Record<string, any[]> | undefined; precisionMode: number };
  try {
    await probe.exchange.loadMarkets();
  } catch (e) {
    await probe.exchange.close().catch(() => {});
    throw new ConfigError(`${v}: ccxt cannot load its markets${ep ? ` from ${ep.http}` : ""} (${(e as Error).message.split("\n")[0]!.slice(0, 160)}); check the network or BOT4_${v.toUpperCase()}_REST_URL / _WS_URL`);
  }
  await probe.exchange.close().catch(() => {});
  const step = (x: unknown): number => {
    const n = Number(x);
    if (!Number.isFinite(n) || n <= 0) return 0;
    return ex.precisionMode === ccxt.TICK_SIZE ? n : ex.precisionMode === ccxt.DECIMAL_PLACES ? Number((10 ** -n).toFixed(n)) : 0;
  };
  const symbols: Array<{ symbol: string; instrument: number }> = [];
  for (const sym of p.syms) {
    const m = ex.markets[sym] ?? ex.markets_by_id?.[sym]?.[0] ?? ex.markets_by_id?.[sym.toUpperCase()]?.[0];
    if (!m) throw new ConfigError(`BOT4_SYMBOLS: ${v} does not list ${sym} (ccxt's markets of ${v}${ep ? ` at ${ep.http}` : ""}); give the venue's market id (e.g. ${Object.values(ex.markets).slice(0, 3).map((x) => `${v}:${x.id}`).join(", ")}) or a ccxt unified symbol`);
    const id = p.instruments.id(venueId, m.symbol);
    p.books.push({ instrument: id, rule: BookRule.none });
    p.infos.push({ id, venue: v, symbol: m.symbol, tickSize: step(m.precision?.price), lotSize: step(m.precision?.amount) });
    symbols.push({ symbol: m.symbol, instrument: id });
  }
  p.live.push({ venue: venueId, ccxt: { exchange: v, symbols, instruments: { symbols: [...p.instruments.symbols], venues: [...p.instruments.venues] }, endpoint: ep } });
  p.feedNames.push(v);
  p.labels.push(`${v} through ccxt${ep ? ` at ${ep.ws}` : ""}`);
}

/**
 * Paper trading on venues' live market data (BOT4_VENUES, BOT4_SYMBOLS): each venue's native feed
 * (Binance spot / USD-M / COIN-M, Bybit, OKX, Coinbase, Kraken) or, for any other venue ccxt pro
 * supports, the ccxt adapter connects to it (BOT4_<VENUE>_WS_URL / _REST_URL point elsewhere: a
 * testnet, a local simulator); tick and lot sizes come from the venue's own instrument data, and
 * orders go to simulated venues fed by that live data.
 */
async function runOnVenues(o: RunOptions): Promise<number> {
  const { InstrumentTable, Venue, venueName } = await import("../domain/instruments.ts");
  const c = o.config;
  const venues = [...new Set(c.BOT4_VENUES.split(",").filter(Boolean))];
  const wanted = c.BOT4_SYMBOLS.split(",").filter(Boolean).map((x) => {
    const k = x.indexOf(":");
    return { venue: x.slice(0, k), symbol: x.slice(k + 1) };
  });
  for (const w of wanted) if (!venues.includes(w.venue)) throw new ConfigError(`BOT4_SYMBOLS names ${w.venue}:${w.symbol}, but ${w.venue} is not in BOT4_VENUES="${c.BOT4_VENUES}"`);
  // every venue known before anything is fetched: a native feed, else a ccxt pro exchange
  const viaCcxt = venues.filter((v) => !NATIVE_VENUES.includes(v));
  if (viaCcxt.length) {
    const ccxt = (await import("ccxt")).default;
    const pro = Object.keys(ccxt.pro).filter((k) => /^[a-z0-9]+$/.test(k) && k !== "exchanges" && typeof (ccxt.pro as Record<string, unknown>)[k] === "function");
    for (const v of viaCcxt) {
      if (!pro.includes(v)) throw new ConfigError(`BOT4_VENUES: ${v} is not a venue bot4 can connect to; accepted: ${NATIVE_VENUES.join(", ")} (native feeds) or a ccxt pro exchange id (ccxt ${ccxt.version}: ${pro.filter((k) => !NATIVE_VENUES.includes(k)).join(", ")})`);
      const e = c.endpoints[v] ?? {};
      if (!!e.WS_URL !== !!e.REST_URL) throw new ConfigError(`BOT4_${v.toUpperCase()}_${e.WS_URL ? "REST_URL" : "WS_URL"}: a ccxt venue's endpoints are overridden together; set BOT4_${v.toUpperCase()}_WS_URL and BOT4_${v.toUpperCase()}_REST_URL, or neither`);
    }
  }
  for (const v of venues) {
    if (!wanted.some((w) => w.venue === v)) throw new ConfigError(`BOT4_SYMBOLS: no instrument for ${v}; add ${v}:SYMBOL (e.g. ${VENUE_EXAMPLE[v] ?? `${v}:BTCUSDT`})`);
  }
  // ccxt venues without a Venue id of their own get ids after the table's, and their names in labels
  const firstFree = Math.max(...Object.values(Venue)) + 1;
  const ccxtNames = new Map<number, string>(viaCcxt.map((v, k) => [firstFree + k, v]));
  class VenueInstruments extends InstrumentTable {
    override label(id: number): string {
      const venue = this.venues[id] ?? -1;
      return `${ccxtNames.get(venue) ?? venueName(venue)}:${this.symbols[id] ?? `#${id}`}`;
    }
  }
  const instruments = new VenueInstruments();
  const infos: DriveSpec["infos"] = [];
  const books: Array<{ instrument: number; rule: number }> = [];
  const live: LiveSpec[] = [];
  const feedNames: string[] = [];
  const labels: string[] = [];
  for (const v of venues) {
    const native = BINANCE_ENDPOINTS[v] ?? NATIVE_ENDPOINTS[v as keyof typeof NATIVE_ENDPOINTS];
    const p: VenuePlan = {
      v, syms: [...new Set(wanted.filter((w) => w.venue === v).map((w) => w.symbol))],
      ws: c.endpoints[v]?.WS_URL ?? native?.ws ?? "", rest: (c.endpoints[v]?.REST_URL ?? native?.rest ?? "").replace(/\/$/, ""),
      instruments, infos, books, live, feedNames, labels,
    };
    if (BINANCE_ENDPOINTS[v]) await planBinance(p);
    else if (v === "bybit") await planBybit(p);
    else if (v === "okx") await planOkx(p);
    else if (v === "coinbase") await planCoinbase(p);
    else if (v === "kraken") await planKraken(p);
    else await planCcxt(p, firstFree + viaCcxt.indexOf(v));
  }
  // live order entry, per venue: Binance spot's WebSocket API (native) unless
  // BOT4_BINANCE_ORDER_API=ccxt; every other venue through ccxt's REST client (the venue's
  // own endpoints, or BOT4_<VENUE>_REST_URL with nothing else reachable)
  let liveVenues: import("../engine/paper.ts").LiveVenue[] | undefined;
  if (c.BOT4_MODE === "live") {
    const ccxt = (await import("ccxt")).default;
    liveVenues = venues.map((v): import("../engine/paper.ts").LiveVenue => {
      const cr = c.credentials[v] ?? {};
      const secret = cr.API_SECRET ?? "";
      const api = c.orderApi[v] ?? (v === "binance" ? "native" : "ccxt");
      if (api === "native") {
        if (v !== "binance") throw new ConfigError(`BOT4_${v.toUpperCase()}_ORDER_API=native: bot4's own order entry covers binance (spot, WebSocket API); ${v} takes its orders through ccxt (unset the variable or set it to ccxt)`);
        const pem = secret.includes("PRIVATE KEY");
        const url = c.endpoints.binance?.ORDER_URL ?? "wss://ws-api.binance.com:443/ws-api/v3";
        if (!/^wss?:\/\//.test(url)) throw new ConfigError(`BOT4_BINANCE_ORDER_URL=${JSON.stringify(url)}: bot4's own Binance order entry is the WebSocket API (ws:// or wss://); a REST URL takes BOT4_BINANCE_ORDER_API=ccxt`);
        return {
          venue: "binance",
          kind: "binance-ws",
          url,
          apiKey: cr.API_KEY ?? "",
          ...(pem ? { privateKey: secret } : { secret }),
          symbols: Object.fromEntries(infos.filter((i) => i.venue === "binance").map((i) => [i.symbol, { id: i.symbol.replace("/", "") }])),
        };
      }
      if (typeof (ccxt as unknown as Record<string, unknown>)[v] !== "function") throw new ConfigError(`BOT4_MODE=live: ccxt ${ccxt.version} has no exchange ${v} to send orders to`);
      // orders to ORDER_URL (its REST API), else where the market data's REST goes, else the venue's own
      const at = c.endpoints[v]?.ORDER_URL ?? c.endpoints[v]?.REST_URL;
      if (at && !/^https?:\/\//.test(at)) throw new ConfigError(`BOT4_${v.toUpperCase()}_ORDER_URL=${JSON.stringify(at)}: orders through ccxt go to the venue's REST API (http:// or https://)`);
      return {
        venue: v,
        kind: "ccxt",
        exchange: v,
        apiKey: cr.API_KEY ?? "",
        secret,
        password: cr.PASSPHRASE,
        endpoint: at ? { http: at } : undefined,
      };
    });
  }
  return drive({ ...o, live: liveVenues }, {
    header: `live market data from ${labels.join(", ")} (${wanted.map((w) => `${w.venue}:${w.symbol}`).join(", ")}), ${liveVenues ? `LIVE ORDERS on ${liveVenues.map((l) => `${l.venue} (${l.kind === "ccxt" ? "ccxt REST" : "WebSocket API"})`).join(", ")}` : "simulated execution"}`,
    feeds: feedNames,
    records: 0,
    instruments,
    infos,
    pipeline: { tapes: [], live, staleMs: 10_000, books },
    extra: { market: "venues", venues, mode: c.BOT4_MODE },
  });
}

interface DriveSpec {
  header: string;
  /** venue label per feed */
  feeds: string[];
  /** records in the data (replay), 0 = endless (a venue) */
  records: number;
  instruments: import("../domain/instruments.ts").InstrumentTable;
  infos: Array<{ id: number; venue: string; symbol: string; tickSize: number; lotSize: number }>;
  pipeline: Pick<import("../engine/pipeline.ts").PipelineOptions, "tapes" | "live" | "staleMs" | "books" | "loops" | "rate">;
  extra?: Record<string, unknown>;
}

/** Runs the pipeline: trading setup, status line, metrics endpoint, signals, the final report. */
async function drive(o: RunOptions, d: DriveSpec): Promise<number> {
  const { Pipeline } = await import("../engine/pipeline.ts");
  const { choice } = await import("../../ffi/lib.ts");
  const { TradingStatus, S } = await import("../engine/status.ts");
  const { RiskLimits, KillSwitch } = await import("../risk/pretrade.ts");
  const { config, logger } = o;
  const n = Math.max(1, d.instruments.size);
  const venues = [...new Set(d.infos.map((i) => i.venue))];
  let limits: import("../risk/pretrade.ts").RiskLimits | null = null;
  let status: InstanceType<typeof TradingStatus> | null = null;
  let kill: InstanceType<typeof KillSwitch> | null = null;
  let trading: import("../engine/paper.ts").TradingInit | undefined;
  if (o.trading) {
    // live venues: unless configured, the message-rate throttle keeps new orders inside the
    // venue's own order limit (Binance spot: 50 orders / 10 s -> 4/s, burst 8), so risk refuses
    // them (RATE_LIMIT) before the venue would, and venue rejections never pile up into an error storm
    const riskIn = { ...o.trading.risk } as { maxMsgsPerSec?: number; venues?: Record<string, { maxMsgsPerSec?: number; msgBurst?: number }> };
    if (o.live && !riskIn.maxMsgsPerSec) {
      riskIn.venues = { ...riskIn.venues };
      for (const l of o.live) {
        const k = String(venues.indexOf(l.venue));
        if (k !== "-1" && riskIn.venues[k]?.maxMsgsPerSec === undefined) riskIn.venues[k] = { ...riskIn.venues[k], maxMsgsPerSec: 4, msgBurst: 8 };
      }
    }
    o.trading.risk = riskIn;
    try {
      limits = RiskLimits.create(n, o.trading.risk as never, Math.max(1, venues.length));
    } catch (e) {
      const z = e as { issues?: Array<{ path: unknown[]; message: string }> };
      throw new ConfigError(`BOT4_RISK: ${z.issues ? z.issues.map((i) => `${i.path.join(".") || "(top)"}: ${i.message}`).join("; ") : (e as Error).message}`);
    }
    status = TradingStatus.create(n);
    kill = new KillSwitch(limits);
    const risk = o.trading.risk as { dailyLossLimit?: number; maxDrawdown?: number };
    trading = {
      strategy: o.trading.strategy,
      params: o.trading.params,
      instruments: d.infos,
      limits: { shared: limits.shared, venues: Math.max(1, venues.length) },
      status: status.sab,
      capital: config.BOT4_CAPITAL,
      latencyUs: config.BOT4_PAPER_LATENCY_US,
      makerBps: o.trading.makerBps,
      takerBps: o.trading.takerBps,
      journal: o.trading.journal,
      killTriggers: { lossLimit: risk.dailyLossLimit ?? 0, maxDrawdown: risk.maxDrawdown ?? 0 },
      cwd: process.cwd(),
      live: o.live,
    };
  }
  logger.info({ kernel: choice.variant, source: d.header, speed: o.speed || "max", strategy: o.trading?.strategy ?? "none", journal: o.trading?.journal || null }, "paper mode");
  const tty = process.stderr.isTTY && !o.json;
  if (!o.json) process.stderr.write(`bot4 run: ${o.live ? "LIVE mode" : "paper mode"}, ${d.header}, speed ${o.speed || "max"}, kernel ${choice.variant}, strategy ${o.trading ? o.trading.strategy : "none"}${o.trading?.journal ? `, journal ${o.trading.journal}` : ""} — Ctrl-C to stop${kill ? `, kill -USR2 ${process.pid} to halt trading` : ""}\n`);

  // the status line: per venue messages/s and books in sync; positions held; PnL; orders; P99
  const venueOf = d.infos.map((i) => i.venue);
  const short = Array.from({ length: d.instruments.size }, (_, i) => d.instruments.symbols[i]!.split(":")[0]!);
  const feedRate = new Float64Array(d.feeds.length);
  const statusLine = (s: import("../engine/pipeline.ts").LiveStatus, ctl: Float64Array): string => {
    const F_PRODUCED = 8;
    const parts = [`${s.elapsedS.toFixed(0)}s`];
    d.feeds.forEach((v, f) => {
      const produced = ctl[F_PRODUCED + f]!;
      let ok = 0, n = 0;
      if (status) venueOf.forEach((x, i) => {
        if (x !== v) return;
        n++;
        if (status!.inst(i, "usable") === 1) ok++;
      });
      parts.push(`${v} ${Math.round(produced - feedRate[f]!).toLocaleString("en-US")} ticks/s${n ? ` books ${ok}/${n}` : ""}`);
      feedRate[f] = produced;
    });
    if (status) {
      const held = short.map((l, i) => [l, status!.inst(i, "position")] as const).filter(([, q]) => q !== 0);
      const ttd = status.get(S.TTD_P99_WINDOW);
      parts.push(`pos ${held.length ? held.map(([l, q]) => `${l} ${fmtQty(q)}`).join(" ") : "flat"}`, `PnL ${status.get(S.PNL).toFixed(2)}`, `orders ${status.get(S.ORDERS)} fills ${status.get(S.FILLS)} open ${status.get(S.OPEN)}`, `tick->decision p99 ${ttd > 0 ? fmtNs(ttd) : "-"}`);
      if (kill?.tripped) parts.push(`KILL SWITCH: ${kill.reasonName}`);
      if (status.get(S.STRATEGY_ERROR) === 1) parts.push("STRATEGY STOPPED");
    } else parts.push(`${Math.round(s.ratePerS).toLocaleString("en-US")} ticks/s`, `p99 ${fmtNs(s.p99WindowNs)}`);
    return parts.join(" | ");
  };

  // threads on cores: as configured; else, when the machine has a core for the engine, one for
  // the feeds and one left for everything else, the engine gets the last core to itself
  const placement = { engine: config.BOT4_ENGINE_CPU, feeds: config.BOT4_FEED_CPUS, auto: false };
  if (placement.engine.length === 0 && placement.feeds.length === 0) {
    const { processCpus } = await import("../../ffi/sys.ts");
    const cpus = processCpus();
    if (cpus.length >= 3) {
      placement.engine = [cpus[cpus.length - 1]!];
      placement.feeds = cpus.slice(1, cpus.length - 1);
      placement.auto = true;
      logger.info({ engineCpu: placement.engine, feedCpus: placement.feeds }, "cores to spare: engine thread pinned to a core of its own (BOT4_ENGINE_CPU / BOT4_FEED_CPUS override)");
    }
  }
  // a sleeping engine waits for the kernel to wake it; with a core of its own it busy-polls
  const spinNs = config.BOT4_ENGINE_SPIN_US === "auto" ? (placement.engine.length > 0 ? 1e9 : 200_000) : Number(config.BOT4_ENGINE_SPIN_US) * 1e3;
  const pipeline = new Pipeline({
    ...d.pipeline,
    instruments: d.instruments,
    ringCapacity: config.BOT4_RING_CAPACITY,
    speed: o.speed,
    engineCpus: placement.engine,
    feedCpus: placement.feeds,
    spinNs,
    pools: config,
    durationS: o.duration,
    trading,
    onNotice: (nt) => logger.info({ feed: nt.what, ...nt.detail }, "feed"),
    onLog: (msg, fields) => logger.warn(fields ?? {}, msg),
    onStatus: tty ? (st) => process.stderr.write(`\r\x1b[2K  ${statusLine(st, pipeline.control.f64)}`) : undefined,
  });
  let server: import("../telemetry/metrics.ts").MetricsServer | null = null;
  if (o.metricsPort > 0) {
    const { engineMetrics } = await import("../telemetry/engine-metrics.ts");
    const { serveMetrics } = await import("../telemetry/metrics.ts");
    const m = engineMetrics({ control: pipeline.control, feeds: d.feeds, instruments: Array.from({ length: d.instruments.size }, (_, i) => d.instruments.label(i)), status, limits, kill, startedAtMs: Date.now() });
    server = serveMetrics(m.registry, m.health, { host: config.BOT4_METRICS_HOST, port: o.metricsPort });
    if (!o.json) process.stderr.write(`metrics: ${server.url}/metrics  health: ${server.url}/health  ready: ${server.url}/ready\n`);
  }
  const uninstallKill = kill ? kill.installSignalTrip("SIGUSR2") : () => {};
  // resident memory once a second (cold; the soak bench reads it from the JSON result)
  const rss: number[] = [Math.round(process.memoryUsage.rss() / 1024)];
  const rssTimer = setInterval(() => rss.push(Math.round(process.memoryUsage.rss() / 1024)), 1000);
  let signals = 0;
  const onSignal = (sig: string) => {
    if (++signals > 1) process.exit(130);
    logger.info({ signal: sig }, "stopping: feeds first, then the engine drains, cancels open orders and flushes the journal");
    pipeline.stop("signal");
  };
  const sigint = () => onSignal("SIGINT"), sigterm = () => onSignal("SIGTERM");
  process.on("SIGINT", sigint);
  process.on("SIGTERM", sigterm);
  let r: import("../engine/pipeline.ts").PipelineResult;
  try {
    r = await pipeline.run();
  } finally {
    process.off("SIGINT", sigint);
    process.off("SIGTERM", sigterm);
    uninstallKill();
    clearInterval(rssTimer);
    await server?.stop();
  }
  rss.push(Math.round(process.memoryUsage.rss() / 1024));
  const rssKb = { start: rss[0]!, peak: Math.max(...rss), end: rss[rss.length - 1]!, samples: rss };
  if (tty) process.stderr.write("\n");
  logger.info({ stoppedBy: r.stoppedBy, consumed: r.consumed, latencyNs: r.latencyNs, pnl: r.trading?.pnl }, "engine stopped");
  flushLogs();
  if (o.json) {
    process.stdout.write(`${JSON.stringify({ kernel: choice.variant, ...d.extra, ...r, engineSpinUs: spinNs / 1e3, rssKb })}\n`);
    return r.trading?.strategyError ? 1 : 0;
  }
  process.stdout.write(`${report(r, d).join("\n")}\nprocess memory (RSS): start ${(rssKb.start / 1024).toFixed(1)} MB, peak ${(rssKb.peak / 1024).toFixed(1)} MB, end ${(rssKb.end / 1024).toFixed(1)} MB\n`);
  return r.trading?.strategyError ? 1 : 0;
}

const fmtPx = (p: number) => (!Number.isFinite(p) ? "-" : Math.abs(p) >= 1000 ? p.toFixed(2) : Number(p.toPrecision(6)).toString());
const fmtQty = (q: number) => (q === 0 ? "0" : Math.abs(q) >= 100 ? q.toFixed(0) : Number(q.toPrecision(4)).toString());

function report(r: import("../engine/pipeline.ts").PipelineResult, d: DriveSpec): string[] {
  const L = r.latencyNs;
  const dropped = r.feeds.reduce((a, x) => a + x.dropped, 0);
  const live = r.live[0];
  const out = [`stopped by ${r.stoppedBy} after ${r.elapsedS.toFixed(2)} s`];
  if (live) {
    out.push(`feed: ${live.counters.frames ?? 0} frames -> ${r.consumed.toLocaleString("en-US")} ticks; ${live.counters.connects ?? 0} connections, ${live.counters.snapshotsFetched ?? 0} REST snapshots, ${live.counters.refused ?? 0} frames refused; trades applied ${r.trades.toLocaleString("en-US")}; ring drops ${dropped}`);
  } else {
    out.push(`ticks consumed ${r.consumed.toLocaleString("en-US")} of ${r.feeds.reduce((a, x) => a + x.produced, 0).toLocaleString("en-US")} published (${d.records.toLocaleString("en-US")} in the data); trades applied ${r.trades.toLocaleString("en-US")}; dropped ${dropped}; rejected ${r.counters.rejected}`);
  }
  out.push(
    `throughput ${Math.round(r.throughputPerS).toLocaleString("en-US")} ticks/s over ${r.batches.toLocaleString("en-US")} batches; engine parked ${r.parks} times`,
    `receive -> consume latency (${L.count.toLocaleString("en-US")} ticks): p50 ${fmtNs(L.p50)}  p90 ${fmtNs(L.p90)}  p99 ${fmtNs(L.p99)}  p99.9 ${fmtNs(L.p999)}  max ${fmtNs(L.max)}`,
    "instrument                     trades         last          vwap        volume",
    ...r.instruments.map((i) => `${i.symbol.padEnd(28)} ${String(i.trades).padStart(8)} ${fmtPx(i.last).padStart(12)} ${fmtPx(i.vwap).padStart(13)} ${i.volume.toFixed(3).padStart(13)}`),
  );
  if (r.books.length) {
    out.push("book                         state          bid          ask   levels (bid/ask)   updates  gaps  resyncs");
    for (const b of r.books) {
      out.push(`${b.symbol.padEnd(28)} ${(b.synced ? "in sync" : `UNUSABLE${b.problem ? ` (${b.problem})` : ""}`).padEnd(10)} ${fmtPx(b.bid).padStart(12)} ${fmtPx(b.ask).padStart(12)} ${`${b.depth[0]}/${b.depth[1]}`.padStart(18)} ${String(b.applied).padStart(9)} ${String(b.gaps).padStart(5)} ${String(b.resyncs).padStart(8)}`);
    }
  }
  const t = r.trading;
  if (t) {
    out.push(
      `trading: ${t.orders} orders, ${t.fills} fills, ${t.openOrders} open at the end; PnL ${t.pnl.toFixed(2)} after fees; kill switch ${t.killSwitch ? `TRIPPED (${t.killSwitch.reason}: ${t.killSwitch.detail})` : "not tripped"}${t.strategyError ? `; STRATEGY STOPPED: ${t.strategyError}` : ""}`,
      "position                       amount      avg price       realised     unrealised       fees  fills",
      ...t.perInstrument.map((p: any) => `${`${p.venue}:${p.symbol}`.padEnd(28)} ${fmtQty(p.position).padStart(9)} ${(p.position === 0 ? "-" : fmtPx(p.avgPrice)).padStart(14)} ${p.realised.toFixed(2).padStart(14)} ${p.unrealised.toFixed(2).padStart(14)} ${p.fees.toFixed(2).padStart(10)} ${String(p.fills).padStart(6)}`),
    );
    const rej = Object.entries(t.riskRejects as Record<string, number>).filter(([, v]) => v > 0);
    out.push(`risk rejections: ${rej.length ? rej.map(([k, v]) => `${k} ${v}`).join(", ") : "none"}`);
    out.push("stage latency (wall clock)      count        p50        p90        p99      p99.9        max");
    for (const [k, s] of Object.entries(t.latency as Record<string, { count: number; p50: number; p90: number; p99: number; p999: number; max: number }>)) {
      out.push(`${k.padEnd(28)} ${String(s.count).padStart(8)} ${fmtNs(s.p50).padStart(10)} ${fmtNs(s.p90).padStart(10)} ${fmtNs(s.p99).padStart(10)} ${fmtNs(s.p999).padStart(10)} ${fmtNs(s.max).padStart(10)}`);
    }
    out.push(`shutdown: ${t.shutdown.cancelsSent} cancels sent by the journal, ${t.shutdown.stillLive} orders still live${t.journal ? `; journal ${t.journal.path}: ${t.journal.submits} submits, ${t.journal.reports} reports, ${t.journal.refused} refused, flushed and closed` : "; no journal"}`);
  }
  out.push(`engine memory: ${r.memory}`);
  if (r.pinError) out.push(`engine not pinned: ${r.pinError}`);
  return out;
}
