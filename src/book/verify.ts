/**
 * Replays a raw capture through the same parser, sync and book code a live feed uses, and says whether
 * the book stayed correct: sequence gaps, resyncs, crossed books, and — where the capture carries
 * an independent view of the top of book (Binance bookTicker, stamped with the book's update id)
 * — whether the book's best bid and ask equal the venue's at the same update id.
 *
 * Formats: `<recv_ns> <json>` lines (hftbacktest's Binance captures: combined-stream frames plus
 * the REST depth snapshot as a bare JSON line), gzip or plain; several files are one stream in the
 * order given (a capture that continues another).
 */
import type { TopOfBook } from "./l2book.ts";
import type { DepthCounters } from "../feed/binance/depth.ts";
import { DataFileError, readCaptureText } from "../feed/recording.ts";
import { readCryptofeedLog } from "../feed/cryptofeed-log.ts";
import { alignedBuffer } from "../../ffi/buffers.ts";
import { BookRule, BookSet } from "../../ffi/book.ts";
import { BinanceParser, ParseStatus, parseStatusName } from "../../ffi/parse.ts";
import { Venue } from "../domain/instruments.ts";
import { T, TICK_BYTES, TICK_F64, TickFlag, TickKind } from "../domain/tick.ts";

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

type Json = Record<string, unknown>;

/** A report with every count at zero: each venue's verifier starts from it. */
export function emptyVerifyReport(format: string, files: string[]): VerifyReport {
  return {
    format,
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
}

const MAX_INSTRUMENTS = 64;
const OUT_CAP = 16384;

/**
 * Verifies a Binance capture (one or more files forming one stream) through the native feed's
 * code: each frame's bytes go through the C parser into tick records, LEVEL records into the C
 * book with Binance's sequence procedure (c/book.c). bookTicker frames, which carry the update
 * id of the book they describe, are checked against the book's top at that id.
 */
export function verifyBinanceCapture(files: string[]): VerifyReport {
  if (files.length === 0) throw new DataFileError("verify-book needs at least one capture file");
  return verifyBinanceFrames("binance <recv_ns> <json>", files, recvNsLines(files));
}

/** One frame of a capture: its JSON text, where it came from, and for a REST snapshot the symbol its URL names. */
export interface CaptureFrame {
  file: string;
  line: number;
  /** null: the line has no receive time (malformed) */
  body: string | null;
  snapshotSymbol?: string;
}

function* recvNsLines(files: string[]): Generator<CaptureFrame> {
  for (const file of files) {
    const text = readCaptureText(file);
    let lineNo = 0, at = 0;
    while (at < text.length) {
      let nl = text.indexOf("\n", at);
      if (nl < 0) nl = text.length;
      const line = text.slice(at, nl);
      at = nl + 1;
      lineNo++;
      if (line.length === 0) continue;
      const sp = line.indexOf(" ");
      yield { file, line: lineNo, body: sp > 0 && Number(line.slice(0, sp)) > 0 ? line.slice(sp + 1) : null };
    }
  }
}

/**
 * cryptofeed's raw logs of Binance: the WebSocket log (`*.ws.*`) and the REST log (`*.http.*`)
 * holding the depth snapshots, merged in recorded time; each snapshot is attributed to the
 * symbol its URL names.
 */
export function verifyBinanceCryptofeedCapture(files: string[]): VerifyReport {
  if (files.length === 0) throw new DataFileError("verify-book needs at least one capture file");
  const all: Array<{ ts: bigint; f: CaptureFrame }> = [];
  for (const file of files) {
    const { entries } = readCryptofeedLog(file);
    for (const e of entries) {
      if (e.kind === "recv") all.push({ ts: e.recvNs, f: { file, line: e.line, body: e.text } });
      else if (e.kind === "http" && /\/depth\?/.test(e.url)) {
        const sym = /[?&]symbol=([A-Za-z0-9_]+)/.exec(e.url)?.[1];
        all.push({ ts: e.recvNs, f: { file, line: e.line, body: e.text, snapshotSymbol: sym } });
      }
    }
  }
  all.sort((a, b) => (a.ts < b.ts ? -1 : a.ts > b.ts ? 1 : 0));
  return verifyBinanceFrames("cryptofeed raw log (binance)", files, all.map((x) => x.f));
}

function verifyBinanceFrames(format: string, files: string[], frames: Iterable<CaptureFrame>): VerifyReport {
  const r = emptyVerifyReport(format, files);
  const parser = new BinanceParser(Venue.binanceusdm);
  const books = new BookSet(MAX_INSTRUMENTS);
  const symbols: string[] = [];
  const topAt: Array<Map<number, [number, number]>> = [];
  const tickers: Array<Array<[number, number, number]>> = [];
  const out = alignedBuffer(OUT_CAP * TICK_BYTES);
  const u8 = new Uint8Array(out.buffer, out.byteOffset, OUT_CAP * TICK_BYTES);
  const f64 = new Float64Array(out.buffer, out.byteOffset, OUT_CAP * TICK_F64);
  const u64 = new BigUint64Array(out.buffer, out.byteOffset, OUT_CAP * TICK_F64);
  let inBuf = alignedBuffer(1 << 20);
  let inBytes = new Uint8Array(inBuf.buffer, inBuf.byteOffset, 1 << 20);
  const enc = new TextEncoder();
  let lastDepth = -1;

  let file = "", lineNo = 0;
  const bad = (why: string) => {
    r.malformed++;
    if (r.malformedAt.length < 10) r.malformedAt.push(`${file}:${lineNo}: ${why}`);
  };
  const register = (sym: string): number => {
    const known = parser.instrumentOf(sym);
    if (known !== undefined) return known;
    if (symbols.length >= MAX_INSTRUMENTS) return -1;
    parser.addSymbol(sym, symbols.length);
    symbols.push(sym);
    topAt.push(new Map());
    tickers.push([]);
    return symbols.length - 1;
  };
  for (const fr of frames) {
    file = fr.file;
    lineNo = fr.line;
    r.lines++;
    if (fr.body === null) {
      bad("no receive time before the JSON");
      continue;
    }
    let target = lastDepth;
    if (fr.snapshotSymbol !== undefined) {
      target = register(fr.snapshotSymbol.toUpperCase());
      if (target < 0) {
        bad("snapshot for a symbol that cannot be registered");
        continue;
      }
    }
    const body = fr.body;
    if (body.length * 3 > inBytes.length) {
      inBuf = alignedBuffer(body.length * 3);
      inBytes = new Uint8Array(inBuf.buffer, inBuf.byteOffset, body.length * 3);
    }
    const len = enc.encodeInto(body, inBytes).written!;
    let n = parser.parse(inBuf.ptr, len, 0, out.ptr, OUT_CAP, target >= 0 ? target : 0xffffffff);
    if (n === ParseStatus.unknownSymbol) {
      // first frame of a symbol: register it (cold path), then parse again
      let sym: unknown;
      try {
        const m = JSON.parse(body) as Json;
        sym = ((m.data ?? m) as Json).s;
      } catch {
        sym = undefined;
      }
      if (typeof sym !== "string" || register(sym) < 0) {
        bad("frame names a symbol that cannot be registered");
        continue;
      }
      n = parser.parse(inBuf.ptr, len, 0, out.ptr, OUT_CAP, target >= 0 ? target : 0xffffffff);
    }
    if (n === ParseStatus.missing && target < 0 && body.startsWith('{"lastUpdateId"')) {
      bad("depth snapshot before any depth stream frame (no symbol to attribute it to)");
      continue;
    }
    if (n < 0) {
      if (n === ParseStatus.control || n === ParseStatus.unknownType) r.ignored++;
      else bad(`refused by the parser: ${parseStatusName(n)}`);
      if (n === ParseStatus.control || n === ParseStatus.unknownType) r.messages++;
      continue;
    }
    r.messages++;
    const kind = u8[T.KIND_U8]!, inst = new Uint32Array(out.buffer, out.byteOffset, 16)[T.INSTRUMENT_U32]!;
    if (kind === TickKind.quote) {
      tickers[inst]!.push([Number(u64[T.SEQ_U32 / 2]), f64[T.PRICE_F64]!, f64[T.PRICE2_F64]!]);
      continue;
    }
    if (kind !== TickKind.level) {
      r.ignored++;
      continue;
    }
    if (symbols.length > 1 && fr.snapshotSymbol === undefined && (u8[T.FLAGS_U8]! & TickFlag.snapshot) && body.startsWith('{"lastUpdateId"')) {
      throw new DataFileError(`${file}:${lineNo}: a depth snapshot in a capture of several symbols cannot be attributed`);
    }
    let book = books.get(inst);
    if (!book) {
      // futures diffs carry pu (size2 >= 0) and futures REST snapshots carry E/T; spot has neither
      const snap = (u8[T.FLAGS_U8]! & TickFlag.snapshot) !== 0;
      const futures = snap ? u64[0] !== 0n : f64[T.SIZE2_F64]! >= 0;
      book = books.add(inst, futures ? BookRule.binanceFutures : BookRule.binanceSpot);
    }
    lastDepth = inst;
    books.apply(out.ptr, 0xffffffff, 0, n);
    if (book.synced && !(u8[T.FLAGS_U8]! & TickFlag.snapshot)) topAt[inst]!.set(book.lastSeq, [book.bestBid, book.bestAsk]);
  }

  for (let inst = 0; inst < symbols.length; inst++) {
    const book = books.get(inst);
    if (!book) continue;
    let checks = 0, mismatches = 0;
    let first: string | null = null;
    for (const [u, b, a] of tickers[inst]!) {
      const t = topAt[inst]!.get(u);
      if (!t) continue;
      checks++;
      if (t[0] !== b || t[1] !== a) {
        mismatches++;
        first ??= `update ${u}: book ${t[0]} / ${t[1]}, bookTicker ${b} / ${a}`;
      }
    }
    const c = book.counters();
    const p = book.problem;
    r.instruments.push({
      venue: book.rule === BookRule.binanceSpot ? "binance-spot" : "binance-futures",
      symbol: symbols[inst]!,
      diffs: c.msgs - c.snapshots,
      applied: c.applied,
      stale: c.stale,
      buffered: c.buffered,
      snapshots: c.snapshots,
      snapshotsRejected: c.snapshotsRejected,
      gaps: c.gaps,
      crossed: c.crossed,
      resyncs: c.resyncRequests,
      malformed: c.badLevels,
      synced: book.synced,
      lastUpdateId: book.lastSeq,
      depth: { bids: book.depth(0), asks: book.depth(1) },
      top: book.top() satisfies TopOfBook,
      topChecks: checks,
      topMismatches: mismatches,
      firstTopMismatch: first,
      lastProblem: p ? `${p.what} at update ${p.at}` : null,
    });
    r.bookUpdates += c.applied;
    r.sequenceGaps += c.gaps;
    r.resyncs += c.resyncRequests;
    r.crossed += c.crossed;
    r.topChecks += checks;
    r.topMismatches += mismatches;
  }
  const pc = parser.counters();
  if (pc.malformed + pc.missing + pc.tooMany > 0 && r.malformedAt.length === 0) r.malformedAt.push(`parser: ${JSON.stringify(pc)}`);
  return r;
}
