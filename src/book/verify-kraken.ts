/**
 * Replays Kraken captures (cryptofeed raw logs: `KRAKEN.ws.*`, `KRAKEN_FUTURES.ws.*`, gzip or
 * plain) through the same book-sync code a live Kraken feed uses, and says whether the books
 * stayed correct. The report has the top-level shape of `verifyBinanceCapture`'s (src/book/verify.ts)
 * so `bot4 verify-book` prints and judges every venue alike.
 *
 *   - spot v1: every `book-N` update carrying a checksum is checked against the book rebuilt from
 *     the snapshot and earlier updates (`checksumsChecked`, `checksumMismatches`); a mismatch
 *     makes that pair's book unusable until the capture holds another snapshot for it;
 *   - futures: every `book` delta must carry its product's previous `seq` + 1 (`sequenceGaps`).
 *
 * Frames of other channels (trades, tickers, heartbeats, subscription acks) are counted as
 * `ignored`; a received payload that is not JSON, a log line that fits no shape, and a book message
 * that cannot be read are counted as `malformed` with their place kept in `malformedAt`. Several
 * files are one stream in the order given.
 */
import type { TopOfBook } from "./l2book.ts";
import { emptyVerifyReport, type VerifyReport } from "./verify.ts";
import { CryptofeedLogReader } from "../feed/cryptofeed-log.ts";
import { KrakenBooks, type KrakenBookCounters } from "../feed/kraken/book.ts";
import { KrakenFuturesBooks, type FuturesBookCounters } from "../feed/kraken/futures-book.ts";
import { DataFileError } from "../feed/recording.ts";

export interface VenueInstrumentReport {
  venue: string;
  symbol: string;
  synced: boolean;
  /** venue sequence of the last applied update (-1 where the venue has none, e.g. Kraken spot v1) */
  lastUpdateId: number;
  depth: { bids: number; asks: number };
  top: TopOfBook;
  topChecks: number;
  topMismatches: number;
  firstTopMismatch: string | null;
  lastProblem: string | null;
  counters: KrakenBookCounters | FuturesBookCounters;
}

/** VerifyReport's top-level fields, with each instrument's venue-specific counters under `counters`. */
export type VenueVerifyReport = Omit<VerifyReport, "instruments"> & { instruments: VenueInstrumentReport[] };

const MAX_MALFORMED_KEPT = 10;

function emptyReport(format: string, files: string[]): VenueVerifyReport {
  return { ...emptyVerifyReport(format, files), instruments: [] };
}

/** Reads every file's received frames as JSON, counting what cannot be read; calls `onFrame` per frame. */
function replay(r: VenueVerifyReport, files: string[], onFrame: (frame: unknown, where: () => string) => string | null): void {
  if (files.length === 0) throw new DataFileError("verify-book needs at least one capture file");
  const bad = (where: string, why: string) => {
    r.malformed++;
    if (r.malformedAt.length < MAX_MALFORMED_KEPT) r.malformedAt.push(`${where}: ${why}`);
  };
  for (const file of files) {
    const reader = CryptofeedLogReader.open(file);
    for (const e of reader.entries()) {
      if (e.kind !== "recv") continue;
      let frame: unknown;
      try {
        frame = JSON.parse(e.text);
      } catch {
        bad(`${file}:${e.line}`, "received payload is not JSON");
        continue;
      }
      r.messages++;
      const why = onFrame(frame, () => `${file}:${e.line}`);
      if (why !== null) bad(`${file}:${e.line}`, why);
    }
    r.lines += reader.stats.lines;
    r.malformed += reader.stats.malformed;
    for (const m of reader.stats.malformedAt) if (r.malformedAt.length < MAX_MALFORMED_KEPT) r.malformedAt.push(m);
  }
}

/** Verifies a Kraken spot websocket v1 capture (`book-N` channels; other channels ignored). */
export function verifyKrakenCapture(files: string[]): VenueVerifyReport {
  const r = emptyReport("cryptofeed raw log, Kraken spot ws v1", files);
  const books = new KrakenBooks();
  replay(r, files, (frame) => {
    if (!KrakenBooks.isBookFrame(frame)) {
      r.ignored++;
      return null;
    }
    const routed = books.onFrame(frame);
    if (!routed) return `book frame whose channel ${JSON.stringify(frame[frame.length - 2])} names no depth >= 10`;
    if (routed.result === "malformed") return `book message for ${routed.pair} cannot be read: ${routed.sync.lastProblem}`;
    return null;
  });
  for (const [pair, sync] of books.byPair) {
    const c = sync.counters;
    const book = sync.book;
    r.instruments.push({
      venue: book.venue,
      symbol: pair,
      synced: book.synced,
      lastUpdateId: book.lastSeq,
      depth: { bids: book.depth(0), asks: book.depth(1) },
      top: book.top(),
      topChecks: 0,
      topMismatches: 0,
      firstTopMismatch: null,
      lastProblem: sync.lastProblem || null,
      counters: { ...c },
    });
    r.bookUpdates += c.applied;
    r.checksumsChecked += c.checksumsChecked;
    r.checksumMismatches += c.checksumMismatches;
    r.resyncs += c.resyncs;
    r.crossed += c.crossed;
  }
  return r;
}

/** Verifies a Kraken Futures websocket capture (`book_snapshot` + `book`; other feeds ignored). */
export function verifyKrakenFuturesCapture(files: string[]): VenueVerifyReport {
  const r = emptyReport("cryptofeed raw log, Kraken Futures ws v1", files);
  const books = new KrakenFuturesBooks();
  replay(r, files, (frame) => {
    if (!frame || typeof frame !== "object" || Array.isArray(frame)) {
      r.ignored++;
      return null;
    }
    const routed = books.onMessage(frame as Record<string, unknown>);
    if (!routed) {
      r.ignored++;
      return null;
    }
    if (routed.result === "malformed") return `book message for ${routed.product} cannot be read: ${routed.sync.lastProblem}`;
    return null;
  });
  for (const [product, sync] of books.byProduct) {
    const c = sync.counters;
    const book = sync.book;
    r.instruments.push({
      venue: book.venue,
      symbol: product,
      synced: book.synced,
      lastUpdateId: book.lastSeq,
      depth: { bids: book.depth(0), asks: book.depth(1) },
      top: book.top(),
      topChecks: 0,
      topMismatches: 0,
      firstTopMismatch: null,
      lastProblem: sync.lastProblem || null,
      counters: { ...c },
    });
    r.bookUpdates += c.applied;
    r.sequenceGaps += c.gaps;
    r.resyncs += c.resyncs;
    r.crossed += c.crossed;
  }
  return r;
}
