/**
 * Replays a Coinbase Advanced Trade capture (cryptofeed v3 recording) through the TypeScript book
 * procedure (CoinbaseBookSync, one per connection: the same rules the live CoinbaseFeed runs in C,
 * c/vparse.c) and says whether every book stayed correct: sequence_num gaps, resyncs, crossed
 * books, malformed input, error frames.
 *
 * Top of book against the `ticker` channel: a ticker message carries best_bid/best_ask but no book
 * sequence and no time of its own besides the envelope's, so no ticker can be tied to one exact
 * book state — `topChecks` stays 0 and nothing is claimed. What the capture does allow is an
 * ordering: ticker and l2_data share the connection's sequence_num. Each ticker is placed between
 * the product's l2 states before and after it (`tickerAgreement`): where both have the same best
 * bid and ask ("pinned"), the ticker should show that top, and where they differ it may show
 * either. Coinbase batches l2 updates, so a top that moved and came back between two l2 messages
 * is invisible to the book: pinned disagreements are reported, not treated as failures.
 */
import type { TopOfBook } from "./l2book.ts";
import { emptyVerifyReport, type InstrumentReport, type VerifyReport } from "./verify.ts";
import { bracketTickers, emptyAgreement, type TickerAgreement } from "./verify-bybit.ts";
import { CoinbaseBookSync } from "../feed/coinbase/book.ts";
import { CryptofeedV3Reader } from "../feed/cryptofeed-v3.ts";
import { DataFileError, readCaptureText } from "../feed/recording.ts";

export interface CoinbaseInstrumentReport extends InstrumentReport {
  conn: string;
  discarded: number;
  tickerAgreement: TickerAgreement;
}

export interface CoinbaseVerifyReport extends VerifyReport {
  /** frames skipped because their sequence_num was at or below the connection's last (duplicates, reordering) */
  stale: number;
  errors: number;
  errorMessages: string[];
  /** per channel message counts over all connections */
  channels: { l2: number; heartbeats: number; subscriptions: number; marketTrades: number; tickers: number; candles: number; other: number };
  tickerAgreement: TickerAgreement;
  instruments: CoinbaseInstrumentReport[];
}

interface Conn {
  label: string;
  sync: CoinbaseBookSync;
  /** per product: flat (sequence_num, bid, ask, epoch) after each l2 message that left the book synced */
  states: Map<string, number[]>;
  /** per product: flat (sequence_num, best_bid, best_ask) of ticker entries */
  samples: Map<string, number[]>;
}

type Json = Record<string, unknown>;

/** Verifies Coinbase Advanced Trade captures; each file and connection is replayed on its own. */
export function verifyCoinbaseCapture(files: string[]): CoinbaseVerifyReport {
  if (files.length === 0) throw new DataFileError("verify-book needs at least one capture file");
  const r: CoinbaseVerifyReport = {
    ...emptyVerifyReport("cryptofeed v3 jsonl", files),
    stale: 0,
    errors: 0,
    errorMessages: [],
    channels: { l2: 0, heartbeats: 0, subscriptions: 0, marketTrades: 0, tickers: 0, candles: 0, other: 0 },
    tickerAgreement: emptyAgreement(),
    instruments: [],
  };
  const conns: Conn[] = [];
  for (const file of files) {
    const reader = CryptofeedV3Reader.fromText(file, readCaptureText(file));
    const perConn = new Map<string, Conn>();
    const mine: string[] = [];
    for (const e of reader.entries()) {
      if (e.kind !== "recv") {
        r.ignored++;
        continue;
      }
      let c = perConn.get(e.conn);
      if (!c) {
        c = { label: files.length > 1 ? `${file}#${e.conn}` : e.conn, sync: new CoinbaseBookSync("coinbase"), states: new Map(), samples: new Map() };
        perConn.set(e.conn, c);
        conns.push(c);
      }
      let msg: unknown;
      try {
        msg = JSON.parse(e.frame);
      } catch {
        r.malformed++;
        mine.push(`${file}:${e.line}: recv frame is not valid JSON`);
        continue;
      }
      r.messages++;
      const before = c.sync.counters.malformed;
      const res = c.sync.onMessage(msg);
      if (c.sync.counters.malformed > before) mine.push(`${file}:${e.line}: ${c.sync.malformedWhy.at(-1) ?? "unusable message"}`);
      if (res === "stale" || res === "malformed" || res === "error") continue;
      const m = msg as Json;
      const seq = m.sequence_num as number;
      if (m.channel === "l2_data" && Array.isArray(m.events)) {
        for (const ev of m.events as Json[]) {
          const pid = ev?.product_id;
          if (typeof pid !== "string") continue;
          const p = c.sync.products.get(pid);
          if (!p || !p.book.synced) continue;
          let list = c.states.get(pid);
          if (!list) c.states.set(pid, (list = []));
          // one state per message and product (the last event of the product in the message wins)
          if (list.length >= 4 && list[list.length - 4] === seq) list.length -= 4;
          list.push(seq, p.book.bestBid, p.book.bestAsk, p.epoch);
        }
      } else if (m.channel === "ticker" && Array.isArray(m.events)) {
        for (const ev of m.events as Json[]) {
          const tickers = ev?.tickers;
          if (!Array.isArray(tickers)) continue;
          for (const t of tickers as Json[]) {
            const pid = t?.product_id, bid = Number(t?.best_bid), ask = Number(t?.best_ask);
            if (typeof pid !== "string" || !(bid > 0) || !(ask > 0)) continue;
            let list = c.samples.get(pid);
            if (!list) c.samples.set(pid, (list = []));
            list.push(seq, bid, ask);
          }
        }
      }
    }
    r.lines += reader.stats.lines;
    r.malformed += reader.stats.malformed;
    const lineOf = (m: string) => Number(m.slice(file.length + 1, m.indexOf(":", file.length + 1)));
    for (const m of [...reader.stats.malformedAt, ...mine].sort((x, y) => lineOf(x) - lineOf(y))) if (r.malformedAt.length < 10) r.malformedAt.push(m);
  }

  for (const c of conns) {
    const k = c.sync.counters;
    r.malformed += k.malformed;
    r.errors += k.errors;
    r.stale += k.stale;
    for (const m of c.sync.errorMessages) if (r.errorMessages.length < 20) r.errorMessages.push(`${c.label}: ${m}`);
    r.sequenceGaps += k.gaps;
    r.resyncs += k.resyncs;
    r.crossed += k.crossed;
    r.bookUpdates += k.applied;
    r.ignored += k.heartbeats + k.subscriptions + k.marketTrades + k.tickers + k.candles + k.otherChannels;
    const ch = r.channels;
    ch.l2 += k.l2Messages;
    ch.heartbeats += k.heartbeats;
    ch.subscriptions += k.subscriptions;
    ch.marketTrades += k.marketTrades;
    ch.tickers += k.tickers;
    ch.candles += k.candles;
    ch.other += k.otherChannels;
    for (const [pid, p] of c.sync.products) {
      const { checks, mismatches, firstMismatch, agreement } = bracketTickers(c.states.get(pid) ?? [], c.samples.get(pid) ?? []);
      r.instruments.push({
        venue: p.book.venue,
        symbol: pid,
        conn: c.label,
        diffs: p.diffs,
        applied: p.applied,
        stale: 0, // duplicates are caught on the connection's sequence_num, before any product: see the report's totals
        buffered: 0, // level2 sends its snapshot in band: nothing is buffered or rejected
        snapshots: p.snapshots,
        snapshotsRejected: 0,
        gaps: p.gaps,
        crossed: p.crossed,
        resyncs: p.resyncs,
        malformed: p.malformed,
        discarded: p.discarded,
        synced: p.book.synced,
        lastUpdateId: p.book.lastSeq,
        depth: { bids: p.book.depth(0), asks: p.book.depth(1) },
        top: p.book.top() as TopOfBook,
        topChecks: checks,
        topMismatches: mismatches,
        firstTopMismatch: firstMismatch,
        lastProblem: p.lastProblem || null,
        tickerAgreement: agreement,
      });
      r.topChecks += checks;
      r.topMismatches += mismatches;
      const t = r.tickerAgreement;
      t.tickers += agreement.tickers;
      t.pinned += agreement.pinned;
      t.pinnedAgree += agreement.pinnedAgree;
      t.moved += agreement.moved;
      t.movedAgreeEither += agreement.movedAgreeEither;
      t.outside += agreement.outside;
      t.firstPinnedDisagreement ??= agreement.firstPinnedDisagreement && `${c.label} ${pid}: ${agreement.firstPinnedDisagreement}`;
    }
  }
  return r;
}
