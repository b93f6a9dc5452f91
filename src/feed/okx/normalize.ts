/**
 * OKX v5 public websocket pushes → 64-byte tick records (src/domain/tick.ts), for importers that
 * turn captures into tick files. Cold path: one call per frame, records built with TickBuffer.push.
 *
 *   - `trades`: one TRADE per fill; `side` is the taker's side (OKX: "trade direction"), so
 *     "sell" sets the SELL flag; seq = tradeId; exchange time = `ts` (ms).
 *   - `books` (and the other depth channels of the same shape): one LEVEL per price level, bids
 *     first then asks, in the order sent; ASK on ask levels, SNAPSHOT on every level of a
 *     `snapshot` push; size 0 = the level is removed; seq = `seqId`.
 *   - LAST on the final record of the frame, so a consumer knows when the venue's message ends.
 *
 * Frames that are not one of these (events, other channels, "pong", junk) append nothing, and so
 * does a frame with any entry that cannot be read: a frame is appended whole or not at all. The
 * return value is the number of records appended. Symbols are registered in ccxt's unified form
 * (`BTC-USDT-SWAP` → `BTC/USDT:USDT`).
 */
import { Venue, type InstrumentTable } from "../../domain/instruments.ts";
import { TickFlag, TickKind } from "../../domain/tick.ts";
import type { TickBuffer } from "../../domain/tick-buffer.ts";

const MS_RE = /^\d{1,16}$/;

/** OKX instId → ccxt unified symbol (spot, perpetual swaps, dated futures; options left as sent). */
export function okxUnified(instId: string): string {
  const p = instId.split("-");
  if (p.length === 2) return `${p[0]}/${p[1]}`;
  if (p.length === 3) {
    const [base, quote, kind] = p as [string, string, string];
    const settle = quote === "USD" ? base : quote; // USD-margined contracts settle in the base coin
    if (kind === "SWAP") return `${base}/${quote}:${settle}`;
    if (/^\d{6}$/.test(kind)) return `${base}/${quote}:${settle}-${kind}`;
  }
  return instId;
}

function readNum(v: unknown): number {
  return typeof v === "string" && v.length > 0 ? Number(v) : NaN;
}

/**
 * Appends the records of one OKX push to `out`; returns how many. `recvNs`: local receive time
 * (ns since the epoch).
 */
export function normalizeOkxFrame(frame: unknown, recvNs: bigint, instruments: InstrumentTable, out: TickBuffer): number {
  if (!frame || typeof frame !== "object" || Array.isArray(frame)) return 0;
  const m = frame as { arg?: { channel?: unknown; instId?: unknown }; action?: unknown; data?: unknown; event?: unknown };
  if (m.event !== undefined || !m.arg || typeof m.arg.instId !== "string" || !Array.isArray(m.data)) return 0;
  const channel = m.arg.channel;
  const start = out.count;
  const venue = Venue.okx;
  const isTrades = channel === "trades" || channel === "trades-all";
  const isBook = typeof channel === "string" && channel.startsWith("books") && (m.action === "snapshot" || m.action === "update" || channel === "books5");
  if (!isTrades && !isBook) return 0;
  const instrument = instruments.id(venue, okxUnified(m.arg.instId));
  let ok = true;
  if (isTrades) {
    for (const t of m.data as Array<Record<string, unknown>>) {
      const price = readNum(t?.px), size = readNum(t?.sz), id = readNum(t?.tradeId);
      const ts = t?.ts;
      if (!(price > 0) || !(size > 0) || !Number.isSafeInteger(id) || (t.side !== "buy" && t.side !== "sell") || typeof ts !== "string" || !MS_RE.test(ts)) {
        ok = false;
        break;
      }
      out.push({ kind: TickKind.trade, flags: t.side === "sell" ? TickFlag.sell : 0, venue, instrument, tsExchangeNs: BigInt(ts) * 1_000_000n, tsRecvNs: recvNs, price, size, seq: id });
    }
  } else {
    // books5 pushes whole 5-level books with no action: each is a snapshot
    const snap = m.action !== "update" ? TickFlag.snapshot : 0;
    for (const d of m.data as Array<Record<string, unknown>>) {
      const ts = d?.ts;
      const seq = d?.seqId === undefined ? 0 : d.seqId;
      if (!Array.isArray(d?.bids) || !Array.isArray(d?.asks) || typeof ts !== "string" || !MS_RE.test(ts) || typeof seq !== "number" || !Number.isSafeInteger(seq) || seq < 0) {
        ok = false;
        break;
      }
      const exch = BigInt(ts) * 1_000_000n;
      for (let side = 0; side < 2 && ok; side++) {
        const levels = (side === 0 ? d.bids : d.asks) as unknown[];
        for (const lv of levels) {
          const price = Array.isArray(lv) ? readNum(lv[0]) : NaN, size = Array.isArray(lv) ? readNum(lv[1]) : NaN;
          if (!(price > 0) || !(size >= 0) || price === Infinity || size === Infinity) {
            ok = false;
            break;
          }
          out.push({ kind: TickKind.level, flags: snap | (side === 1 ? TickFlag.ask : 0), venue, instrument, tsExchangeNs: exch, tsRecvNs: recvNs, price, size, seq });
        }
      }
      if (!ok) break;
    }
  }
  if (!ok) {
    out.count = start; // all or nothing
    return 0;
  }
  if (out.count > start) out.markLast(out.count - 1);
  return out.count - start;
}
