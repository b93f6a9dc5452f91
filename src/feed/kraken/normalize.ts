/**
 * Kraken websocket frames → 64-byte tick records (src/domain/tick.ts), for importers that turn
 * captures into tick files. Cold path: one call per frame, records built with TickBuffer.push.
 * Handles the three Kraken public feeds:
 *
 *   - spot v1 (array frames): `trade` → one TRADE per trade, `side` "s" = the taker sold (Kraken:
 *     "triggering order side"), exchange time = the trade's time; `book-N` → one LEVEL per price
 *     level in message order (snapshot `as`/`bs` with the SNAPSHOT flag; update `a`/`b`, also when
 *     split over two objects), exchange time = the level's timestamp. v1 has no sequence: seq 0.
 *   - spot v2 (`{channel, type, data}`): `trade` → TRADE (side "sell" = taker sold, seq =
 *     trade_id); `book` → LEVEL (SNAPSHOT on type "snapshot"), exchange time = the entry's timestamp.
 *   - futures (`{feed, …}`): `trade` → TRADE (side = the taker's side, seq = the feed's seq, time in
 *     ms); `book_snapshot` → LEVEL with SNAPSHOT, `book` → LEVEL, side "sell" = ask, seq = the
 *     product's book seq. `trade_snapshot` (trades from before the subscription, newest first) is
 *     not appended: it repeats history out of time order.
 *
 * ASK marks ask levels; size 0 = the level is removed; LAST marks the final record of the frame.
 * Frames that are none of these (events, heartbeats, tickers, junk) append nothing, and so does a
 * frame with any entry that cannot be read: a frame is appended whole or not at all. Returns the
 * number of records appended. Symbols are registered in ccxt's unified form (`XBT/CHF` → `BTC/CHF`,
 * `PI_XBTUSD` → `BTC/USD:BTC`), all under Venue.kraken.
 */
import { Venue, type InstrumentTable } from "../../domain/instruments.ts";
import { TickFlag, TickKind } from "../../domain/tick.ts";
import type { TickBuffer } from "../../domain/tick-buffer.ts";

const SEC_RE = /^\d{1,12}(\.\d{1,9})?$/;
const RFC3339_RE = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d{1,9})?Z$/;

/** Kraken's own currency codes where ccxt's common code differs. */
const COMMON: Record<string, string> = { XBT: "BTC", XDG: "DOGE" };
const common = (c: string) => COMMON[c] ?? c;

/** Kraken spot pair (`XBT/CHF`, v1 wsname, or v2 `BTC/USD`) → ccxt unified symbol. */
export function krakenSpotUnified(pair: string): string {
  const i = pair.indexOf("/");
  return i < 0 ? pair : `${common(pair.slice(0, i))}/${common(pair.slice(i + 1))}`;
}

/** Kraken Futures product id → ccxt unified symbol (inverse perpetual/fixed-date, linear perpetual). */
export function krakenFuturesUnified(product: string): string {
  const m = /^(PI|FI|PF)_([A-Z0-9]+?)(USD|EUR|GBP)(?:_(\d{6}))?$/.exec(product.toUpperCase());
  if (!m) return product;
  const [, kind, b, quote, date] = m as unknown as [string, string, string, string, string | undefined];
  const base = common(b);
  if (kind === "PF" && !date) return `${base}/${quote}:${quote}`; // linear multi-collateral perpetual
  if (kind === "PI" && !date) return `${base}/${quote}:${base}`;
  if (kind === "FI" && date) return `${base}/${quote}:${base}-${date}`;
  return product;
}

/** "1618678142.557535" → ns (exact to the digits sent); -1n when it is not decimal seconds. */
function secondsTextToNs(s: unknown): bigint {
  if (typeof s !== "string" || !SEC_RE.test(s)) return -1n;
  const dot = s.indexOf(".");
  const whole = dot < 0 ? s : s.slice(0, dot);
  const frac = dot < 0 ? "" : s.slice(dot + 1);
  return BigInt(whole) * 1_000_000_000n + BigInt((frac + "000000000").slice(0, 9));
}

/** "2023-09-25T07:49:37.708706Z" → ns (exact to the digits sent); -1n when unreadable. */
function rfc3339ToNs(s: unknown): bigint {
  if (typeof s !== "string") return -1n;
  const m = RFC3339_RE.exec(s);
  if (!m) return -1n;
  const ms = Date.parse(`${m[1]}Z`);
  if (!Number.isFinite(ms)) return -1n;
  const frac = (m[2] ?? ".").slice(1);
  return BigInt(ms) * 1_000_000n + BigInt((frac + "000000000").slice(0, 9));
}

function msToNs(v: unknown): bigint {
  return typeof v === "number" && Number.isSafeInteger(v) && v >= 0 ? BigInt(v) * 1_000_000n : -1n;
}

const str = (v: unknown): number => (typeof v === "string" && v.length > 0 ? Number(v) : NaN);
const okPrice = (p: number) => p > 0 && p !== Infinity;
const okSize = (s: number) => s >= 0 && s !== Infinity;

/**
 * Appends the records of one Kraken frame (already JSON-decoded) to `out`; returns how many.
 * `recvNs`: local receive time (ns since the epoch).
 */
export function normalizeKrakenFrame(frame: unknown, recvNs: bigint, instruments: InstrumentTable, out: TickBuffer): number {
  const start = out.count;
  let ok: boolean;
  if (Array.isArray(frame)) ok = spotV1(frame, recvNs, instruments, out);
  else if (frame && typeof frame === "object") {
    const o = frame as Record<string, unknown>;
    if (typeof o.feed === "string" && o.event === undefined) ok = futures(o, recvNs, instruments, out);
    else if (typeof o.channel === "string" && Array.isArray(o.data)) ok = spotV2(o, recvNs, instruments, out);
    else return 0;
  } else return 0;
  if (!ok) {
    out.count = start; // all or nothing
    return 0;
  }
  if (out.count > start) out.markLast(out.count - 1);
  return out.count - start;
}

function spotV1(f: unknown[], recvNs: bigint, instruments: InstrumentTable, out: TickBuffer): boolean {
  const n = f.length;
  const channel = f[n - 2], pair = f[n - 1];
  if (n < 4 || typeof channel !== "string" || typeof pair !== "string") return true; // not a channel message: nothing
  const venue = Venue.kraken;
  if (channel === "trade") {
    const trades = f[1];
    if (!Array.isArray(trades)) return false;
    const instrument = instruments.id(venue, krakenSpotUnified(pair));
    for (const t of trades) {
      if (!Array.isArray(t)) return false;
      const price = str(t[0]), size = str(t[1]), ts = secondsTextToNs(t[2]);
      if (!okPrice(price) || !(size > 0) || ts < 0n || (t[3] !== "b" && t[3] !== "s")) return false;
      out.push({ kind: TickKind.trade, flags: t[3] === "s" ? TickFlag.sell : 0, venue, instrument, tsExchangeNs: ts, tsRecvNs: recvNs, price, size });
    }
    return true;
  }
  if (!channel.startsWith("book-")) return true; // ticker, spread, ohlc…: not ours
  const instrument = instruments.id(venue, krakenSpotUnified(pair));
  for (let k = 1; k < n - 2; k++) {
    const body = f[k] as Record<string, unknown> | null;
    if (!body || typeof body !== "object" || Array.isArray(body)) return false;
    for (const key of Object.keys(body)) {
      if (key === "c") continue;
      const snap = key === "as" || key === "bs";
      if (!snap && key !== "a" && key !== "b") return false;
      const levels = body[key];
      if (!Array.isArray(levels)) return false;
      const flags = (snap ? TickFlag.snapshot : 0) | (key[0] === "a" ? TickFlag.ask : 0);
      for (const lv of levels) {
        if (!Array.isArray(lv)) return false;
        const price = str(lv[0]), size = str(lv[1]), ts = secondsTextToNs(lv[2]);
        if (!okPrice(price) || !okSize(size) || ts < 0n) return false;
        out.push({ kind: TickKind.level, flags, venue, instrument, tsExchangeNs: ts, tsRecvNs: recvNs, price, size });
      }
    }
  }
  return true;
}

function spotV2(o: Record<string, unknown>, recvNs: bigint, instruments: InstrumentTable, out: TickBuffer): boolean {
  const venue = Venue.kraken;
  const data = o.data as Array<Record<string, unknown>>;
  if (o.channel === "trade" && (o.type === "update" || o.type === "snapshot")) {
    for (const t of data) {
      const price = t?.price, size = t?.qty, id = t?.trade_id, ts = rfc3339ToNs(t?.timestamp);
      if (typeof t?.symbol !== "string" || typeof price !== "number" || typeof size !== "number" || !okPrice(price) || !(size > 0) || (t.side !== "buy" && t.side !== "sell") || ts < 0n) return false;
      const seq = typeof id === "number" && Number.isSafeInteger(id) && id >= 0 ? id : 0;
      out.push({ kind: TickKind.trade, flags: t.side === "sell" ? TickFlag.sell : 0, venue, instrument: instruments.id(venue, krakenSpotUnified(t.symbol)), tsExchangeNs: ts, tsRecvNs: recvNs, price, size, seq });
    }
    return true;
  }
  if (o.channel === "book" && (o.type === "update" || o.type === "snapshot")) {
    const snap = o.type === "snapshot" ? TickFlag.snapshot : 0;
    for (const d of data) {
      if (typeof d?.symbol !== "string" || !Array.isArray(d.bids) || !Array.isArray(d.asks)) return false;
      const ts = d.timestamp === undefined ? 0n : rfc3339ToNs(d.timestamp);
      if (ts < 0n) return false;
      const instrument = instruments.id(venue, krakenSpotUnified(d.symbol));
      for (let side = 0; side < 2; side++) {
        for (const lv of (side === 0 ? d.bids : d.asks) as Array<{ price?: unknown; qty?: unknown }>) {
          const price = lv?.price, size = lv?.qty;
          if (typeof price !== "number" || typeof size !== "number" || !okPrice(price) || !okSize(size)) return false;
          out.push({ kind: TickKind.level, flags: snap | (side === 1 ? TickFlag.ask : 0), venue, instrument, tsExchangeNs: ts, tsRecvNs: recvNs, price, size });
        }
      }
    }
    return true;
  }
  return true; // other v2 channels (ticker, instrument, heartbeat, status): nothing
}

function futures(o: Record<string, unknown>, recvNs: bigint, instruments: InstrumentTable, out: TickBuffer): boolean {
  const feed = o.feed;
  if (feed !== "trade" && feed !== "book" && feed !== "book_snapshot") return true; // ticker, trade_snapshot…: nothing
  if (typeof o.product_id !== "string") return false;
  const venue = Venue.kraken;
  const instrument = instruments.id(venue, krakenFuturesUnified(o.product_id));
  const seq = o.seq;
  if (typeof seq !== "number" || !Number.isSafeInteger(seq) || seq < 0) return false;
  if (feed === "trade") {
    const price = o.price, size = o.qty, ts = msToNs(o.time);
    if (typeof price !== "number" || typeof size !== "number" || !okPrice(price) || !(size > 0) || (o.side !== "buy" && o.side !== "sell") || ts < 0n) return false;
    out.push({ kind: TickKind.trade, flags: o.side === "sell" ? TickFlag.sell : 0, venue, instrument, tsExchangeNs: ts, tsRecvNs: recvNs, price, size, seq });
    return true;
  }
  const ts = msToNs(o.timestamp);
  if (ts < 0n) return false;
  if (feed === "book") {
    const price = o.price, size = o.qty;
    if (typeof price !== "number" || typeof size !== "number" || !okPrice(price) || !okSize(size) || (o.side !== "buy" && o.side !== "sell")) return false;
    out.push({ kind: TickKind.level, flags: o.side === "sell" ? TickFlag.ask : 0, venue, instrument, tsExchangeNs: ts, tsRecvNs: recvNs, price, size, seq });
    return true;
  }
  if (!Array.isArray(o.bids) || !Array.isArray(o.asks)) return false;
  for (let side = 0; side < 2; side++) {
    for (const lv of (side === 0 ? o.bids : o.asks) as Array<{ price?: unknown; qty?: unknown }>) {
      const price = lv?.price, size = lv?.qty;
      if (typeof price !== "number" || typeof size !== "number" || !okPrice(price) || !okSize(size)) return false;
      out.push({ kind: TickKind.level, flags: TickFlag.snapshot | (side === 1 ? TickFlag.ask : 0), venue, instrument, tsExchangeNs: ts, tsRecvNs: recvNs, price, size, seq });
    }
  }
  return true;
}
