/**
 * Tardis downloadable CSV files (docs.tardis.dev, "Downloadable CSV files → Data types"): the kind is
 * told by the header row; timestamps are µs since the epoch (`timestamp` = exchange, `local_timestamp`
 * = arrival), kept exactly as ns.
 *
 *   incremental_book_L2 `exchange,symbol,timestamp,local_timestamp,is_snapshot,side,price,amount`
 *       → LEVEL (ASK for side ask, SNAPSHOT when is_snapshot; amount 0 = remove the level). "Exchanges'
 *       real-time feeds usually publish multiple order book level updates in a single message, you can
 *       recognize that by grouping rows by the local_timestamp field": consecutive rows with the same
 *       symbol, local_timestamp and is_snapshot form one message, LAST on its final row;
 *   book_snapshot_N `…,asks[0].price,asks[0].amount,bids[0].price,bids[0].amount,…` → per row one
 *       snapshot message: LEVEL+SNAPSHOT for each non-empty level, bids then asks, LAST on the final;
 *   trades `…,id,side,price,amount` → TRADE (SELL when side is sell; seq = id when it is an integer);
 *   quotes `…,ask_amount,ask_price,bid_price,bid_amount` → QUOTE (an empty side is 0).
 * seq is 0 where Tardis gives none. A row with the wrong number of columns or a non-numeric field is
 * malformed (counted with its line number) and breaks the message it was in.
 *
 * Venues: the Tardis exchange ids bot4 knows map to its Venue ids (binance, binance-futures → USD-M,
 * binance-delivery → COIN-M, coinbase, kraken, okex*, bybit*); any other (deribit, bitmex, huobi-dm-swap…)
 * gets a file-local venue id named by the Tardis id. Symbols: Binance ones are mapped to ccxt unified;
 * others keep the exchange's symbol as their unified name (no mapping is known here).
 */
import { Venue } from "../../domain/instruments.ts";
import { TickFlag, TickKind } from "../../domain/tick-buffer.ts";
import { binanceUnified } from "./binance.ts";
import type { BadLine, Frame, ImportInput, ImporterEntry, Normaliser } from "./types.ts";

export type TardisKind = "incremental_book_L2" | "book_snapshot" | "trades" | "quotes";

const PREFIX = "exchange,symbol,timestamp,local_timestamp,";

export function tardisKind(header: string): TardisKind | null {
  const h = header.trim();
  if (!h.startsWith(PREFIX)) return null;
  const rest = h.slice(PREFIX.length);
  if (rest === "is_snapshot,side,price,amount") return "incremental_book_L2";
  if (rest === "id,side,price,amount") return "trades";
  if (rest === "ask_amount,ask_price,bid_price,bid_amount") return "quotes";
  if (/^asks\[0\]\.price,asks\[0\]\.amount,bids\[0\]\.price,bids\[0\]\.amount/.test(rest)) return "book_snapshot";
  return null;
}

/** A frame of this importer: one venue message as CSV rows. */
export interface TardisFrame {
  kind: TardisKind;
  rows: string[][];
  /** levels per side for book_snapshot */
  depth: number;
}

const TARDIS_VENUES: Record<string, number> = {
  binance: Venue.binance,
  "binance-us": -1,
  "binance-futures": Venue.binanceusdm,
  "binance-delivery": Venue.binancecoinm,
  coinbase: Venue.coinbase,
  kraken: Venue.kraken,
  okex: Venue.okx,
  "okex-futures": Venue.okx,
  "okex-swap": Venue.okx,
  "okex-options": Venue.okx,
  bybit: Venue.bybit,
  "bybit-spot": Venue.bybit,
  "bybit-options": Venue.bybit,
};

const US_RE = /^\d{1,17}$/;

export const tardisImporter: ImporterEntry = {
  name: "tardis",
  about: "Tardis CSV (incremental_book_L2, book_snapshot_N, trades, quotes), gzip or plain",
  detect: ({ head }) => tardisKind(head.slice(0, head.indexOf("\n") >= 0 ? head.indexOf("\n") : head.length)) !== null,

  async *reader(input: ImportInput): AsyncIterable<Frame | BadLine> {
    let kind: TardisKind | null = null;
    let cols = 0, depth = 0;
    let lineNo = 0;
    let group: string[][] = [];
    let groupLine = 0, groupKey = "";
    const flush = (): Frame | null => {
      if (group.length === 0) return null;
      const f: Frame = { frame: { kind: kind!, rows: group, depth } satisfies TardisFrame, recvNs: BigInt(group[0]![3]!) * 1000n, line: groupLine };
      group = [];
      groupKey = "";
      return f;
    };
    for await (const batch of input.lines()) {
      for (const raw of batch) {
        lineNo++;
        const line = raw.endsWith("\r") ? raw.slice(0, -1) : raw;
        if (line.length === 0) continue;
        if (kind === null) {
          kind = tardisKind(line);
          if (kind === null) {
            yield { bad: "not a Tardis CSV header", line: lineNo };
            return;
          }
          cols = line.split(",").length;
          depth = kind === "book_snapshot" ? (cols - 4) / 4 : 0;
          continue;
        }
        const row = line.split(",");
        const bad = row.length !== cols ? `${row.length} columns, the header has ${cols}` : !US_RE.test(row[2]!) || !US_RE.test(row[3]!) ? "timestamp or local_timestamp is not integer µs" : row[0]!.length === 0 || row[1]!.length === 0 ? "empty exchange or symbol" : null;
        if (bad) {
          const f = flush();
          if (f) yield f;
          yield { bad, line: lineNo };
          continue;
        }
        if (kind === "incremental_book_L2") {
          const key = `${row[1]},${row[3]},${row[4]}`;
          if (key !== groupKey) {
            const f = flush();
            if (f) yield f;
            groupKey = key;
            groupLine = lineNo;
          }
          group.push(row);
        } else {
          groupLine = lineNo;
          group.push(row);
          yield flush()!;
        }
      }
    }
    const f = flush();
    if (f) yield f;
  },

  normaliser(input: ImportInput): Normaliser {
    const ctx = input.ctx;
    const fn: Normaliser = (frame, recvNs, instruments, out) => {
      const start = out.count;
      const malformed = (why: string): number => {
        out.count = start;
        fn.reason = why;
        return -1;
      };
      const f = frame as TardisFrame;
      for (const row of f.rows) {
        const exchange = row[0]!, native = row[1]!;
        let venue = TARDIS_VENUES[exchange] ?? -1;
        if (venue < 0) venue = ctx.venueId(exchange);
        const symbol = venue === Venue.binance || venue === Venue.binanceusdm || venue === Venue.binancecoinm ? binanceUnified(venue, native) : native;
        const id = instruments.id(venue, symbol);
        if (!ctx.native.has(id)) ctx.native.set(id, native);
        const ts = BigInt(row[2]!) * 1000n, recv = BigInt(row[3]!) * 1000n;
        if (f.kind === "incremental_book_L2") {
          const snap = row[4] === "true" ? TickFlag.snapshot : row[4] === "false" ? 0 : -1;
          const side = row[5] === "ask" ? TickFlag.ask : row[5] === "bid" ? 0 : -1;
          const p = num(row[6]!), q = num(row[7]!);
          if (snap < 0 || side < 0 || !(p > 0) || !(q >= 0)) return malformed("incremental_book_L2 row without is_snapshot true/false, side bid/ask, price > 0, amount >= 0");
          out.push({ kind: TickKind.level, flags: snap | side, venue, instrument: id, tsExchangeNs: ts, tsRecvNs: recv, price: p, size: q });
        } else if (f.kind === "book_snapshot") {
          for (const [side, first] of [[0, 6], [TickFlag.ask, 4]] as const) {
            for (let l = 0; l < f.depth; l++) {
              const ps = row[first + l * 4]!, qs = row[first + l * 4 + 1]!;
              if (ps === "" && qs === "") continue; // fewer levels than N
              const p = num(ps), q = num(qs);
              if (!(p > 0) || !(q >= 0)) return malformed(`book_snapshot level ${l} is not price > 0, amount >= 0`);
              out.push({ kind: TickKind.level, flags: TickFlag.snapshot | side, venue, instrument: id, tsExchangeNs: ts, tsRecvNs: recv, price: p, size: q });
            }
          }
          if (out.count === start) return malformed("book_snapshot row with no level");
        } else if (f.kind === "trades") {
          const p = num(row[6]!), q = num(row[7]!);
          if (!(p > 0) || !(q >= 0)) return malformed("trade row without price > 0, amount >= 0");
          const seq = /^\d{1,15}$/.test(row[4]!) ? Number(row[4]) : 0;
          out.push({ kind: TickKind.trade, flags: row[5] === "sell" ? TickFlag.sell : 0, venue, instrument: id, tsExchangeNs: ts, tsRecvNs: recv, price: p, size: q, seq });
        } else {
          const aq = numOr0(row[4]!), ap = numOr0(row[5]!), bp = numOr0(row[6]!), bq = numOr0(row[7]!);
          if (!(aq >= 0 && ap >= 0 && bp >= 0 && bq >= 0)) return malformed("quote row with a non-numeric or negative field");
          out.push({ kind: TickKind.quote, venue, instrument: id, tsExchangeNs: ts, tsRecvNs: recv, price: bp, size: bq, price2: ap, size2: aq });
        }
      }
      if (out.count === start) return 0;
      out.markLast(out.count - 1);
      void recvNs;
      return out.count - start;
    };
    return fn;
  },
};

const num = (s: string): number => (s.length > 0 ? +s : NaN);
const numOr0 = (s: string): number => (s.length > 0 ? +s : 0);
