/**
 * Coinbase Advanced Trade market-data frames → 64-byte tick records (cold path: importers turning
 * captures into tick files). One decoded frame in, records appended to a TickBuffer, the count
 * returned. Instruments are named in ccxt's unified form (`BTC-USD` → `BTC/USD`).
 *
 *   - `market_trades`: one TRADE per trade of `update` events (the `snapshot` event replays past
 *     trades the stream has already sent or that predate it, and is skipped). Coinbase's `side` on
 *     a public match is the MAKER's side (Coinbase Exchange docs, websocket-feed/channels#match:
 *     "the side field indicates the maker order side"; in the cryptofeed v3 capture every SELL trade printed at the best ask and
 *     every BUY at the best bid), so the aggressor sold — `sell` is set — when side is "BUY".
 *     ts = the trade's `time`; seq = trade_id;
 *   - `ticker`: one QUOTE per ticker (best_bid/best_bid_quantity, best_ask/best_ask_quantity),
 *     ts = the envelope's timestamp, seq = sequence_num;
 *   - `l2_data`: one LEVEL per update, in the order sent; `ask` for side "offer", `snapshot` on
 *     every record of a snapshot event, `last` on the final record of each event (an event is one
 *     product's update; a frame with one event — what Coinbase sends — has `last` on its final
 *     record); seq = sequence_num; ts = the update's event_time. An event with no update makes one
 *     NOLEVEL record (price 0, size 0) so a snapshot's reset and the sequence survive.
 *
 * Times are ISO-8601 with up to 9 fractional digits, converted exactly to ns. A message is
 * converted whole or not at all: any unreadable field appends nothing for it. heartbeats,
 * subscriptions, candles, errors and unknown channels append nothing.
 */
import type { InstrumentTable } from "../../domain/instruments.ts";
import { Venue } from "../../domain/instruments.ts";
import { TickFlag, TickKind, type TickBuffer } from "../../domain/tick-buffer.ts";

const ISO = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?Z$/;

/** `2026-08-09T21:05:48.483587501Z` → ns since the epoch (exact), or null when not that form. */
export function isoToNs(s: unknown): bigint | null {
  if (typeof s !== "string") return null;
  const m = ISO.exec(s);
  if (!m) return null;
  const ms = Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!);
  if (!Number.isFinite(ms)) return null;
  return BigInt(ms) * 1_000_000n + BigInt(((m[7] ?? "") + "000000000").slice(0, 9));
}

/** `BTC-USD` → `BTC/USD`. */
export function coinbaseUnified(productId: string): string {
  const i = productId.indexOf("-");
  return i > 0 && productId.indexOf("-", i + 1) < 0 ? `${productId.slice(0, i)}/${productId.slice(i + 1)}` : productId;
}

const num = (v: unknown): number => (typeof v === "string" && v.length > 0 ? Number(v) : typeof v === "number" ? v : NaN);
type Json = Record<string, unknown>;
const isObj = (v: unknown): v is Json => v !== null && typeof v === "object" && !Array.isArray(v);

export function normalizeCoinbaseFrame(frame: unknown, recvNs: bigint, instruments: InstrumentTable, out: TickBuffer): number {
  if (!isObj(frame)) return 0;
  const events = frame.events;
  if (!Array.isArray(events)) return 0;
  const venue = Venue.coinbase;
  const seqNum = typeof frame.sequence_num === "number" && Number.isSafeInteger(frame.sequence_num) && frame.sequence_num >= 0 ? frame.sequence_num : -1;
  switch (frame.channel) {
    case "market_trades": {
      for (const e of events) {
        if (!isObj(e) || !Array.isArray(e.trades)) return 0;
        if (e.type !== "update") continue;
        for (const t of e.trades) {
          if (!isObj(t) || typeof t.product_id !== "string" || !(num(t.price) > 0) || !(num(t.size) >= 0) || isoToNs(t.time) === null || (t.side !== "BUY" && t.side !== "SELL")) return 0;
        }
      }
      const start = out.count;
      for (const e of events as Json[]) {
        if (e.type !== "update") continue;
        for (const t of e.trades as Json[]) {
          const id = typeof t.trade_id === "string" && /^\d{1,15}$/.test(t.trade_id) ? Number(t.trade_id) : 0;
          out.push({
            kind: TickKind.trade,
            flags: t.side === "BUY" ? TickFlag.sell : 0, // maker bought: the aggressor sold
            venue,
            instrument: instruments.id(venue, coinbaseUnified(t.product_id as string)),
            tsExchangeNs: isoToNs(t.time)!,
            tsRecvNs: recvNs,
            price: num(t.price),
            size: num(t.size),
            seq: id,
          });
        }
      }
      if (out.count > start) out.markLast(out.count - 1);
      return out.count - start;
    }
    case "ticker": {
      const ts = isoToNs(frame.timestamp);
      if (ts === null) return 0;
      for (const e of events) {
        if (!isObj(e) || !Array.isArray(e.tickers)) return 0;
        for (const t of e.tickers) {
          if (!isObj(t) || typeof t.product_id !== "string" || !(num(t.best_bid) > 0) || !(num(t.best_ask) > 0) || !(num(t.best_bid_quantity) >= 0) || !(num(t.best_ask_quantity) >= 0)) return 0;
        }
      }
      const start = out.count;
      for (const e of events as Json[]) {
        for (const t of e.tickers as Json[]) {
          out.push({
            kind: TickKind.quote,
            flags: TickFlag.last,
            venue,
            instrument: instruments.id(venue, coinbaseUnified(t.product_id as string)),
            tsExchangeNs: ts,
            tsRecvNs: recvNs,
            price: num(t.best_bid),
            size: num(t.best_bid_quantity),
            price2: num(t.best_ask),
            size2: num(t.best_ask_quantity),
            seq: Math.max(0, seqNum),
          });
        }
      }
      return out.count - start;
    }
    case "l2_data": {
      const envTs = isoToNs(frame.timestamp);
      if (seqNum < 0) return 0;
      for (const e of events) {
        if (!isObj(e) || typeof e.product_id !== "string" || (e.type !== "snapshot" && e.type !== "update") || !Array.isArray(e.updates)) return 0;
        for (const u of e.updates) {
          if (!isObj(u) || (u.side !== "bid" && u.side !== "offer") || !(num(u.price_level) > 0) || !(num(u.new_quantity) >= 0) || !Number.isFinite(num(u.new_quantity)) || isoToNs(u.event_time) === null) return 0;
        }
      }
      const start = out.count;
      for (const e of events as Json[]) {
        const instrument = instruments.id(venue, coinbaseUnified(e.product_id as string));
        const base = e.type === "snapshot" ? TickFlag.snapshot : 0;
        const first = out.count;
        for (const u of e.updates as Json[]) {
          out.push({
            kind: TickKind.level,
            flags: base | (u.side === "offer" ? TickFlag.ask : 0),
            venue,
            instrument,
            tsExchangeNs: isoToNs(u.event_time)!,
            tsRecvNs: recvNs,
            price: num(u.price_level),
            size: num(u.new_quantity),
            seq: seqNum,
          });
        }
        if (out.count === first) out.push({ kind: TickKind.level, flags: base | TickFlag.nolevel, venue, instrument, tsExchangeNs: envTs ?? 0n, tsRecvNs: recvNs, price: 0, size: 0, seq: seqNum });
        out.markLast(out.count - 1);
      }
      return out.count - start;
    }
    default:
      return 0;
  }
}
