/**
 * Bybit v5 public frames → 64-byte tick records (cold path: importers turning captures into tick
 * files). One decoded frame in, records appended to a TickBuffer, the count returned:
 *
 *   - `publicTrade.{symbol}`: one TRADE per trade; `S` is the taker's side (Bybit: "Side of
 *     taker"), so `sell` is set when S is "Sell"; ts = T (ms); seq = the trade's cross sequence
 *     `seq` (the trade id `i` is a UUID on linear and cannot be a number);
 *   - `tickers.{symbol}`: one QUOTE (price/size = bid1Price/bid1Size, price2/size2 =
 *     ask1Price/ask1Size, seq = cs, ts = ts) when the message touches one of those four fields and
 *     all four are known. Linear tickers send deltas ("if a response param is not found in the
 *     message, then its value has not changed"), so pass a BybitTickerState per connection to
 *     merge them; without one, only a message carrying all four fields makes a quote. Spot tickers
 *     carry no bid1/ask1 and make none;
 *   - `orderbook.{depth}.{symbol}`: one LEVEL per level, bids then asks in the order sent, `ask`
 *     on asks, `snapshot` on every record of a snapshot message, `last` on the message's final
 *     record; seq = u; ts = cts (matching engine) when sent, else ts. A message with no level at
 *     all still makes one record (price 0, size 0, `nolevel`) so the u chain and a snapshot's
 *     reset survive in the tick file.
 *
 * A message is converted whole or not at all: any unreadable field appends nothing for it (the
 * consumer's book sees the missing u and resyncs). Other frames (op responses, kline, unknown)
 * append nothing. Instruments are named in ccxt's unified form when the category is given
 * (linear `BTCUSDT` → `BTC/USDT:USDT`, spot → `BTC/USDT`, inverse `BTCUSD` → `BTC/USD:BTC`), else
 * by the venue's raw symbol.
 */
import type { InstrumentTable } from "../../domain/instruments.ts";
import { Venue } from "../../domain/instruments.ts";
import { TickFlag, TickKind, type TickBuffer } from "../../domain/tick-buffer.ts";
import type { BybitCategory } from "./book.ts";

/** Merged `tickers` fields per symbol, for one connection. */
export class BybitTickerState {
  readonly bySymbol = new Map<string, Record<string, unknown>>();
}

export interface BybitNormalizeOptions {
  /** the connection's stream (from its URL: bybitCategoryFromUrl); names instruments */
  category?: BybitCategory | null;
  tickers?: BybitTickerState;
}

const QUOTES = ["USDT", "USDC", "USDE", "BTC", "ETH", "EUR", "BRL", "PLN", "TRY", "DAI", "MNT"];

/** Bybit symbol → ccxt unified symbol for a category; the raw symbol when it cannot be split. */
export function bybitUnified(raw: string, category?: BybitCategory | null): string {
  if (!category || category === "option") return raw;
  if (category === "inverse") {
    return /^[A-Z0-9]+USD$/.test(raw) ? `${raw.slice(0, -3)}/USD:${raw.slice(0, -3)}` : raw;
  }
  if (category === "linear" && raw.endsWith("PERP") && raw.length > 4 && !raw.includes("-")) return `${raw.slice(0, -4)}/USDC:USDC`;
  for (const q of QUOTES) {
    if (raw.endsWith(q) && raw.length > q.length) {
      const base = raw.slice(0, -q.length);
      return category === "linear" ? `${base}/${q}:${q}` : `${base}/${q}`;
    }
  }
  return raw;
}

const num = (v: unknown): number => (typeof v === "string" && v.length > 0 ? Number(v) : typeof v === "number" ? v : NaN);
const msNs = (ms: number): bigint => BigInt(Math.trunc(ms)) * 1_000_000n;
const isMs = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v) && v >= 0;

export function normalizeBybitFrame(frame: unknown, recvNs: bigint, instruments: InstrumentTable, out: TickBuffer, opts: BybitNormalizeOptions = {}): number {
  if (frame === null || typeof frame !== "object" || Array.isArray(frame)) return 0;
  const f = frame as Record<string, unknown>;
  const topic = f.topic;
  if (typeof topic !== "string") return 0;
  const dot = topic.indexOf(".");
  const family = dot < 0 ? topic : topic.slice(0, dot);
  const venue = Venue.bybit;
  if (family === "publicTrade") {
    const list = f.data;
    if (!Array.isArray(list) || list.length === 0) return 0;
    // validate the whole message first
    for (const t of list) {
      if (t === null || typeof t !== "object") return 0;
      const x = t as Record<string, unknown>;
      if (typeof x.s !== "string" || !(num(x.p) > 0) || !(num(x.v) >= 0) || !isMs(x.T) || (x.S !== "Buy" && x.S !== "Sell")) return 0;
    }
    const start = out.count;
    for (const t of list as Array<Record<string, unknown>>) {
      out.push({
        kind: TickKind.trade,
        flags: t.S === "Sell" ? TickFlag.sell : 0,
        venue,
        instrument: instruments.id(venue, bybitUnified(t.s as string, opts.category)),
        tsExchangeNs: msNs(t.T as number),
        tsRecvNs: recvNs,
        price: num(t.p),
        size: num(t.v),
        seq: typeof t.seq === "number" && Number.isSafeInteger(t.seq) && t.seq >= 0 ? t.seq : 0,
      });
    }
    out.markLast(out.count - 1);
    return out.count - start;
  }
  if (family === "tickers") {
    const d = f.data;
    if (d === null || typeof d !== "object" || Array.isArray(d)) return 0;
    const x = d as Record<string, unknown>;
    const symbol = typeof x.symbol === "string" ? x.symbol : topic.slice(dot + 1);
    const touches = "bid1Price" in x || "bid1Size" in x || "ask1Price" in x || "ask1Size" in x;
    let merged = x;
    if (opts.tickers) {
      const prev = f.type === "snapshot" ? {} : (opts.tickers.bySymbol.get(symbol) ?? {});
      merged = { ...prev, ...x };
      opts.tickers.bySymbol.set(symbol, merged);
    }
    if (!touches) return 0;
    const bid = num(merged.bid1Price), bidSize = num(merged.bid1Size), ask = num(merged.ask1Price), askSize = num(merged.ask1Size);
    // an empty side is sent as "" (no level): no quote can be made of it
    if (!(bid > 0) || !(ask > 0) || !(bidSize >= 0) || !(askSize >= 0)) return 0;
    const ts = isMs(f.ts) ? f.ts : 0;
    const cs = f.cs;
    out.push({
      kind: TickKind.quote,
      flags: TickFlag.last,
      venue,
      instrument: instruments.id(venue, bybitUnified(symbol, opts.category)),
      tsExchangeNs: msNs(ts),
      tsRecvNs: recvNs,
      price: bid,
      size: bidSize,
      price2: ask,
      size2: askSize,
      seq: typeof cs === "number" && Number.isSafeInteger(cs) && cs >= 0 ? cs : 0,
    });
    return 1;
  }
  if (family === "orderbook") {
    const d = f.data;
    if (d === null || typeof d !== "object" || Array.isArray(d)) return 0;
    const x = d as Record<string, unknown>;
    const snapshot = f.type === "snapshot";
    if (!snapshot && f.type !== "delta") return 0;
    const u = x.u;
    const symbol = typeof x.s === "string" ? x.s : topic.slice(topic.lastIndexOf(".") + 1);
    if (typeof u !== "number" || !Number.isSafeInteger(u) || u < 1 || !Array.isArray(x.b) || !Array.isArray(x.a)) return 0;
    for (const side of [x.b, x.a] as unknown[][]) {
      for (const lv of side) {
        if (!Array.isArray(lv) || lv.length < 2 || !(num(lv[0]) > 0) || !(num(lv[1]) >= 0) || !Number.isFinite(num(lv[1]))) return 0;
      }
    }
    const instrument = instruments.id(venue, bybitUnified(symbol, opts.category));
    const tsExchangeNs = msNs(isMs(f.cts) ? f.cts : isMs(f.ts) ? f.ts : 0);
    const base = snapshot ? TickFlag.snapshot : 0;
    const start = out.count;
    for (let s = 0; s < 2; s++) {
      const side = (s === 0 ? x.b : x.a) as Array<[unknown, unknown]>;
      const flags = base | (s === 1 ? TickFlag.ask : 0);
      for (const lv of side) out.push({ kind: TickKind.level, flags, venue, instrument, tsExchangeNs, tsRecvNs: recvNs, price: num(lv[0]), size: num(lv[1]), seq: u });
    }
    if (out.count === start) out.push({ kind: TickKind.level, flags: base | TickFlag.nolevel, venue, instrument, tsExchangeNs, tsRecvNs: recvNs, price: 0, size: 0, seq: u });
    out.markLast(out.count - 1);
    return out.count - start;
  }
  return 0;
}
