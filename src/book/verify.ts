/**
 * Replays a raw capture through the same sync and book code a live feed uses, and says whether
 * the book stayed correct: sequence gaps, resyncs, crossed books, and — where the capture carries
 * an independent view of the top of book (Binance bookTicker, stamped with the book's update id)
 * — whether the book's best bid and ask equal the venue's at the same update id.
 *
 * Formats: `<recv_ns> <json>` lines (hftbacktest's Binance captures: combined-stream frames plus
 * the REST depth snapshot as a bare JSON line), gzip or plain; several files are one stream in the
 * order given (a capture that continues another).
 */
import { L2Book, type TopOfBook } from "./l2book.ts";
import { BinanceDepthSync, type BinanceMarket, type DepthCounters } from "../feed/binance/depth.ts";
import { DataFileError, readCaptureText } from "../feed/recording.ts";

export interface InstrumentReport extends DepthCounters {
  venue: string;
  symbol: string;
  synced: boolean;
  lastUpdateId: number;
  depth: { bids: number; asks: number };
  top: TopOfBook;
  /** bookTicker frames whose update id matched a book state, and how many disagreed with it */
  topChecks: number;
  topMismatches: number;
  firstTopMismatch: string | null;
  lastProblem: string | null;
}

export interface VerifyReport {
  format: string;
  files: string[];
  lines: number;
  messages: number;
  malformed: number;
  malformedAt: string[];
  ignored: number;
  bookUpdates: number;
  checksumsChecked: number;
  checksumMismatches: number;
  sequenceGaps: number;
  resyncs: number;
  crossed: number;
  topChecks: number;
  topMismatches: number;
  instruments: InstrumentReport[];
}

interface Inst {
  book: L2Book;
  sync: BinanceDepthSync;
  /** top of book after each applied diff, by its final update id */
  topAt: Map<number, [number, number]>;
}

type Json = Record<string, unknown>;

/** Verifies a Binance capture (one or more files forming one stream). */
export function verifyBinanceCapture(files: string[]): VerifyReport {
  if (files.length === 0) throw new DataFileError("verify-book needs at least one capture file");
  const r: VerifyReport = {
    format: "binance <recv_ns> <json>",
    files,
    lines: 0,
    messages: 0,
    malformed: 0,
    malformedAt: [],
    ignored: 0,
    bookUpdates: 0,
    checksumsChecked: 0,
    checksumMismatches: 0,
    sequenceGaps: 0,
    resyncs: 0,
    crossed: 0,
    topChecks: 0,
    topMismatches: 0,
    instruments: [],
  };
  const insts = new Map<string, Inst>();
  const tickers = new Map<string, Array<[number, number, number]>>();
  let lastDepthSymbol: string | null = null;
  const inst = (symbol: string, market: BinanceMarket): Inst => {
    let i = insts.get(symbol);
    if (!i) {
      const book = new L2Book(`binance-${market}`, symbol);
      i = { book, sync: new BinanceDepthSync(book, market), topAt: new Map() };
      insts.set(symbol, i);
    }
    return i;
  };

  for (const file of files) {
    const text = readCaptureText(file);
    let lineNo = 0;
    const bad = (why: string) => {
      r.malformed++;
      if (r.malformedAt.length < 10) r.malformedAt.push(`${file}:${lineNo}: ${why}`);
    };
    let at = 0;
    while (at < text.length) {
      let nl = text.indexOf("\n", at);
      if (nl < 0) nl = text.length;
      const line = text.slice(at, nl);
      at = nl + 1;
      lineNo++;
      if (line.length === 0) continue;
      r.lines++;
      const sp = line.indexOf(" ");
      if (sp <= 0 || !(Number(line.slice(0, sp)) > 0)) {
        bad("no receive time before the JSON");
        continue;
      }
      let msg: Json;
      try {
        msg = JSON.parse(line.slice(sp + 1));
      } catch {
        bad("invalid JSON");
        continue;
      }
      r.messages++;
      if (typeof msg.lastUpdateId === "number" && Array.isArray(msg.bids) && Array.isArray(msg.asks)) {
        // a REST snapshot: it names no symbol; it belongs to the capture's (single) depth stream
        if (insts.size > 1) throw new DataFileError(`${file}:${lineNo}: a depth snapshot in a capture of several symbols cannot be attributed`);
        if (lastDepthSymbol === null) {
          bad("depth snapshot before any depth stream frame (no symbol to attribute it to)");
          continue;
        }
        insts.get(lastDepthSymbol)!.sync.onSnapshot(msg as never);
        continue;
      }
      const d = msg.data as Json | undefined;
      const stream = typeof msg.stream === "string" ? msg.stream : "";
      if (!d || typeof d !== "object") {
        r.ignored++;
        continue;
      }
      const symbol = typeof d.s === "string" ? d.s : stream.slice(0, stream.indexOf("@")).toUpperCase();
      if (d.e === "depthUpdate") {
        if (typeof d.U !== "number" || typeof d.u !== "number" || !Array.isArray(d.b) || !Array.isArray(d.a)) {
          bad("depthUpdate without numeric U/u or b/a arrays");
          continue;
        }
        const market: BinanceMarket = typeof d.pu === "number" ? "futures" : "spot";
        const i = inst(symbol, market);
        lastDepthSymbol = symbol;
        const res = i.sync.onDiff(d as never);
        if (res === "applied" && i.book.synced) i.topAt.set(d.u as number, [i.book.bestBid, i.book.bestAsk]);
        continue;
      }
      if (stream.endsWith("@bookTicker") || (d.e === undefined && "b" in d && "a" in d && "u" in d)) {
        let list = tickers.get(symbol);
        if (!list) tickers.set(symbol, (list = []));
        list.push([Number(d.u), Number(d.b), Number(d.a)]);
        continue;
      }
      r.ignored++;
    }
  }

  for (const [symbol, i] of insts) {
    let checks = 0, mismatches = 0;
    let first: string | null = null;
    for (const [u, b, a] of tickers.get(symbol) ?? []) {
      const t = i.topAt.get(u);
      if (!t) continue;
      checks++;
      if (t[0] !== b || t[1] !== a) {
        mismatches++;
        first ??= `update ${u}: book ${t[0]} / ${t[1]}, bookTicker ${b} / ${a}`;
      }
    }
    const c = i.sync.counters;
    r.instruments.push({
      venue: i.book.venue,
      symbol,
      ...c,
      synced: i.book.synced,
      lastUpdateId: i.book.lastSeq,
      depth: { bids: i.book.depth(0), asks: i.book.depth(1) },
      top: i.book.top(),
      topChecks: checks,
      topMismatches: mismatches,
      firstTopMismatch: first,
      lastProblem: i.sync.lastProblem || null,
    });
    r.bookUpdates += c.applied;
    r.sequenceGaps += c.gaps;
    r.resyncs += c.resyncs;
    r.crossed += c.crossed;
    r.topChecks += checks;
    r.topMismatches += mismatches;
  }
  return r;
}
