/**
 * Binance market-data frames → tick records, shared by the hftbacktest capture importer
 * (`<recv_ns> <json>` lines) and the cryptofeed raw-log importer. One normaliser per input (it keeps
 * which depth stream a symbol-less REST snapshot belongs to).
 *
 * Mapping (Binance WebSocket Streams docs, spot and USDⓈ-M / COIN-M futures):
 *   trade / aggTrade → TRADE: price p, size q, seq = trade id t (aggTrade: aggregate id a),
 *       ts_exchange = T; SELL when m is true ("is the buyer the market maker?": the taker sold);
 *   bookTicker       → QUOTE: b/B best bid, a/A best ask, seq = u (order book update id),
 *       ts_exchange = T (futures; spot bookTicker carries no time: 0);
 *   depthUpdate      → one LEVEL per [price, qty] (qty 0 = remove the level), bids first, then asks
 *       (flag ASK), LAST on the message's final level; seq = u (final update id); every record of the
 *       message also carries U (first update id) in price2 and pu (futures: final id of the previous
 *       event; spot: -1, none) in size2, as c/tick.h and the C book (c/book.h) define them, so a book builder can run Binance's chaining rules (spot
 *       U == previous u + 1, futures pu == previous u) from the records alone; ts_exchange = T ?? E.
 *       A diff with no level still advances the chain: it becomes one LEVEL record flagged NOLEVEL
 *       (no level, only the ids) with the same seq/U/pu and LAST;
 *   REST depth snapshot {lastUpdateId, bids, asks} → LEVEL records with SNAPSHOT, seq = lastUpdateId,
 *       LAST on the final one; ts_exchange = T ?? E (futures), 0 for spot. It names no symbol: the
 *       recorded URL's `symbol=` names it (cryptofeed), else it belongs to the capture's depth stream
 *       (hftbacktest records one symbol per file).
 *
 * Venue from the stream's shape (documented payloads): COIN-M symbols are `<pair>USD_<PERP|yymmdd>`;
 * a depthUpdate with `pu`, a bookTicker with `e`, a trade with `X`, an aggTrade without `M` are futures
 * (USDⓈ-M), the others spot; a REST snapshot's venue is its URL host (api / fapi / dapi) or its
 * symbol's depth stream's. Everything is checked; a frame with a missing or non-numeric field is
 * malformed and leaves no record.
 */
import { binanceUsdmUnified, type InstrumentTable, Venue } from "../../domain/instruments.ts";
import { TickFlag, TickKind, type TickBuffer } from "../../domain/tick-buffer.ts";
import type { ImportContext, Normaliser } from "./types.ts";

type Json = Record<string, unknown>;

const SPOT_QUOTES = ["FDUSD", "USDT", "USDC", "BUSD", "TUSD", "USDP", "BIDR", "IDRT", "DAI", "BTC", "ETH", "BNB", "EUR", "GBP", "TRY", "BRL", "AUD", "JPY", "RUB", "UAH", "ZAR", "NGN", "PLN", "RON", "ARS", "MXN", "COP", "CZK", "PAX", "VAI", "XRP", "TRX", "DOGE", "DOT"];

/** Binance native symbol → ccxt unified (`BTCUSDT` spot → `BTC/USDT`; USD-M → `BTC/USDT:USDT`; COIN-M `BTCUSD_PERP` → `BTC/USD:BTC`). */
export function binanceUnified(venue: number, native: string): string {
  const s = native.toUpperCase();
  const us = s.indexOf("_");
  if (venue === Venue.binancecoinm && us > 3) {
    const pair = s.slice(0, us), suffix = s.slice(us + 1);
    const base = pair.endsWith("USD") ? pair.slice(0, -3) : pair;
    return `${base}/USD:${base}${suffix === "PERP" ? "" : `-${suffix}`}`;
  }
  if (venue === Venue.binanceusdm) {
    if (us > 0) {
      const u = binanceUsdmUnified(s.slice(0, us));
      return u.includes("/") ? `${u}-${s.slice(us + 1)}` : s;
    }
    return binanceUsdmUnified(s);
  }
  let best = "";
  for (const q of SPOT_QUOTES) if (s.endsWith(q) && s.length > q.length && q.length > best.length) best = q;
  return best ? `${s.slice(0, -best.length)}/${best}` : s;
}

const num = (v: unknown): number => (typeof v === "string" ? (v.length > 0 ? +v : NaN) : typeof v === "number" ? v : NaN);
const isInt = (v: unknown): v is number => typeof v === "number" && Number.isSafeInteger(v) && v >= 0;
const msNs = (v: unknown): bigint => (isInt(v) ? BigInt(v) * 1_000_000n : 0n);

/** Venue of a REST depth URL's host, or -1. */
function restVenue(url: string | undefined): number {
  if (!url) return -1;
  if (url.includes("//fapi.")) return Venue.binanceusdm;
  if (url.includes("//dapi.")) return Venue.binancecoinm;
  if (url.includes("//api.") || url.includes("binance.com/api/")) return Venue.binance;
  return -1;
}

const coinm = (symbol: string): boolean => {
  const us = symbol.indexOf("_");
  return us > 0 && symbol.slice(0, us).endsWith("USD");
};

export function makeBinanceNormaliser(ctx: ImportContext): Normaliser {
  let depthSymbol: string | null = null;
  const depthVenue = new Map<string, number>();
  const symbols = new Set<string>();

  const inst = (instruments: InstrumentTable, venue: number, native: string): number => {
    const id = instruments.id(venue, binanceUnified(venue, native));
    if (!ctx.native.has(id)) ctx.native.set(id, native);
    return id;
  };

  const levels = (out: TickBuffer, list: unknown, flags: number, venue: number, id: number, ts: bigint, recvNs: bigint, seq: number, U: number, pu: number): boolean => {
    if (!Array.isArray(list)) return false;
    for (let i = 0; i < list.length; i++) {
      const lv = list[i];
      if (!Array.isArray(lv)) return false;
      const p = num(lv[0]), q = num(lv[1]);
      if (!(p > 0) || !(q >= 0) || !Number.isFinite(q)) return false;
      out.push({ kind: TickKind.level, flags, venue, instrument: id, tsExchangeNs: ts, tsRecvNs: recvNs, price: p, size: q, price2: U, size2: pu, seq });
    }
    return true;
  };

  const fn: Normaliser = (frame, recvNs, instruments, out, source) => {
    const start = out.count;
    const malformed = (why: string): number => {
      out.count = start;
      fn.reason = why;
      return -1;
    };
    if (frame === null || typeof frame !== "object" || Array.isArray(frame)) return malformed("frame is not a JSON object");
    const msg = frame as Json;

    // REST depth snapshot (no stream envelope)
    if ("lastUpdateId" in msg) {
      if (!isInt(msg.lastUpdateId) || !Array.isArray(msg.bids) || !Array.isArray(msg.asks)) return malformed("depth snapshot without numeric lastUpdateId or bids/asks arrays");
      const fromUrl = source ? /[?&]symbol=([A-Za-z0-9_]+)/.exec(source)?.[1]?.toUpperCase() : undefined;
      const symbol = fromUrl ?? depthSymbol ?? (symbols.size === 1 ? [...symbols][0]! : null);
      if (!symbol) return malformed("depth snapshot with no symbol to attribute it to (no URL, no depth stream before it)");
      let venue = restVenue(source);
      if (venue < 0) venue = depthVenue.get(symbol) ?? (coinm(symbol) ? Venue.binancecoinm : "E" in msg || "T" in msg ? Venue.binanceusdm : Venue.binance);
      const id = inst(instruments, venue, symbol);
      const ts = msNs(msg.T ?? msg.E);
      const seq = msg.lastUpdateId;
      if (!levels(out, msg.bids, TickFlag.snapshot, venue, id, ts, recvNs, seq, 0, 0) || !levels(out, msg.asks, TickFlag.snapshot | TickFlag.ask, venue, id, ts, recvNs, seq, 0, 0)) {
        return malformed("depth snapshot level that is not [price > 0, qty >= 0]");
      }
      if (out.count === start) return malformed("depth snapshot with no level");
      out.markLast(out.count - 1);
      return out.count - start;
    }

    const d = (typeof msg.stream === "string" && msg.data && typeof msg.data === "object" ? msg.data : msg) as Json;
    if (Array.isArray(d)) return 0; // !ticker@arr-style arrays: not a tick this importer maps
    const stream = typeof msg.stream === "string" ? msg.stream : "";
    const e = d.e;
    const rawSymbol = typeof d.s === "string" ? d.s : stream.slice(0, Math.max(0, stream.indexOf("@")));
    if (rawSymbol.length === 0) {
      if ("result" in d || "id" in d) return 0; // subscription reply
      return e === undefined && !stream ? 0 : malformed("frame without a symbol");
    }
    const symbol = rawSymbol.toUpperCase();
    const isCoinm = coinm(symbol);

    if (e === "depthUpdate") {
      if (!isInt(d.U) || !isInt(d.u) || !Array.isArray(d.b) || !Array.isArray(d.a)) return malformed("depthUpdate without numeric U/u or b/a arrays");
      const futures = "pu" in d;
      if (futures && !(isInt(d.pu) || d.pu === -1)) return malformed("depthUpdate with a non-numeric pu");
      const venue = isCoinm ? Venue.binancecoinm : futures ? Venue.binanceusdm : Venue.binance;
      const id = inst(instruments, venue, symbol);
      symbols.add(symbol);
      depthSymbol = symbol;
      depthVenue.set(symbol, venue);
      const ts = msNs(d.T ?? d.E);
      const pu = futures ? (d.pu as number) : -1;
      if (!levels(out, d.b, 0, venue, id, ts, recvNs, d.u, d.U, pu) || !levels(out, d.a, TickFlag.ask, venue, id, ts, recvNs, d.u, d.U, pu)) {
        return malformed("depthUpdate level that is not [price > 0, qty >= 0]");
      }
      if (out.count === start) out.push({ kind: TickKind.level, flags: TickFlag.nolevel, venue, instrument: id, tsExchangeNs: ts, tsRecvNs: recvNs, price: 0, size: 0, price2: d.U, size2: pu, seq: d.u });
      out.markLast(out.count - 1);
      return out.count - start;
    }
    if (e === "trade" || e === "aggTrade") {
      const price = num(d.p), size = num(d.q), id = e === "trade" ? d.t : d.a;
      if (!(price > 0) || !(size >= 0) || !Number.isFinite(size) || !isInt(id) || !isInt(d.T)) return malformed(`${e} without numeric p/q/T/${e === "trade" ? "t" : "a"}`);
      const futures = e === "trade" ? "X" in d : !("M" in d);
      const venue = isCoinm ? Venue.binancecoinm : futures ? Venue.binanceusdm : Venue.binance;
      symbols.add(symbol);
      out.push({ kind: TickKind.trade, flags: (d.m === true ? TickFlag.sell : 0) | TickFlag.last, venue, instrument: inst(instruments, venue, symbol), tsExchangeNs: msNs(d.T), tsRecvNs: recvNs, price, size, seq: id });
      return 1;
    }
    if (e === "bookTicker" || (e === undefined && stream.endsWith("@bookTicker")) || (e === undefined && !stream && "b" in d && "A" in d && "u" in d)) {
      const b = num(d.b), B = num(d.B), a = num(d.a), A = num(d.A);
      if (!(b >= 0) || !(a >= 0) || !(B >= 0) || !(A >= 0) || !Number.isFinite(b + B + a + A) || !isInt(d.u)) return malformed("bookTicker without numeric b/B/a/A/u");
      const venue = isCoinm ? Venue.binancecoinm : e === "bookTicker" ? Venue.binanceusdm : Venue.binance;
      symbols.add(symbol);
      out.push({ kind: TickKind.quote, flags: TickFlag.last, venue, instrument: inst(instruments, venue, symbol), tsExchangeNs: msNs(d.T ?? d.E), tsRecvNs: recvNs, price: b, size: B, price2: a, size2: A, seq: d.u });
      return 1;
    }
    return 0; // kline, markPrice, forceOrder…: streams with no tick record here
  };
  return fn;
}
