/**
 * Replays a Bybit v5 public-stream capture through the same book code a live feed uses
 * (BybitConnectionBooks / BybitBookSync) and says whether every book stayed correct: update-id
 * gaps, resyncs, crossed books, malformed input, error responses.
 *
 * Formats (told apart per file by its first readable line):
 *   - cryptofeed v3 recordings (`{"t":"recv","conn":...,"data":"<frame>"}` lines): each
 *     connection is replayed on its own; its category (linear/spot/...) comes from the `connect`
 *     entry's URL and names the venue (`bybit-linear`);
 *   - Bybit's official history dumps (one frame object per line, `{"topic":...,"type":...}`).
 *
 * Top of book against the `tickers` stream: linear tickers carry bid1Price/ask1Price and `cs`, the
 * matching engine's cross sequence, which is the same counter as an orderbook message's `seq`.
 * Only a ticker whose cs equals the seq of a book state describes the same moment; those are the
 * report's `topChecks` / `topMismatches`. Both streams are sampled (orderbook.200 every 100 ms,
 * tickers every 100 ms, per Bybit's docs), so exact matches are rare. The rest is reported in
 * `tickerAgreement`, honestly split: a ticker whose cs falls between two consecutive book states
 * with the same best bid and ask ("pinned": the net top did not move across the window) should
 * agree with that top — a disagreement there is strong evidence of a wrong book, though a top that
 * moved and came back inside one 100 ms push cannot be excluded; where the top moved across the
 * window the ticker may legitimately match either side, so it is only counted.
 * Spot tickers carry no bid1/ask1 and are not compared.
 */
import type { TopOfBook } from "./l2book.ts";
import { emptyVerifyReport, type InstrumentReport, type VerifyReport } from "./verify.ts";
import { BybitConnectionBooks, bybitCategoryFromUrl, type BybitBookSync } from "../feed/bybit/book.ts";
import { CryptofeedV3Reader } from "../feed/cryptofeed-v3.ts";
import { DataFileError, readCaptureText } from "../feed/recording.ts";

export interface TickerAgreement {
  /** ticker states with both bid1Price and ask1Price known */
  tickers: number;
  /** cs between two book states whose top did not move; and how many of those agreed */
  pinned: number;
  pinnedAgree: number;
  /** cs between two book states whose top moved; and how many matched the top before or after */
  moved: number;
  movedAgreeEither: number;
  /** cs before the first or after the last book state of a run (no bracket) */
  outside: number;
  firstPinnedDisagreement: string | null;
}

export interface BybitInstrumentReport extends InstrumentReport {
  conn: string;
  topic: string;
  discarded: number;
  restarts: number;
  unpromptedSnapshots: number;
  /** cross sequence of the last applied message */
  crossSeq: number;
  tickerAgreement: TickerAgreement;
}

export interface BybitVerifyReport extends VerifyReport {
  /** `{"success":false}` responses, and their messages (first few) */
  errors: number;
  errorMessages: string[];
  unknownTopics: number;
  tickerAgreement: TickerAgreement;
  instruments: BybitInstrumentReport[];
}

interface Conn {
  label: string;
  books: BybitConnectionBooks;
  /** per topic: book states after each applied message: seq, bid, ask, epoch */
  states: Map<string, number[]>;
  /** per symbol: merged ticker fields, and (cs, bid, ask) samples */
  ticker: Map<string, Record<string, unknown>>;
  tickerSamples: Map<string, number[]>;
}

type Json = Record<string, unknown>;

export const emptyAgreement = (): TickerAgreement => ({ tickers: 0, pinned: 0, pinnedAgree: 0, moved: 0, movedAgreeEither: 0, outside: 0, firstPinnedDisagreement: null });

/** Verifies Bybit captures; each file (and each connection in it) is replayed on its own. */
export function verifyBybitCapture(files: string[]): BybitVerifyReport {
  if (files.length === 0) throw new DataFileError("verify-book needs at least one capture file");
  const r: BybitVerifyReport = {
    ...emptyVerifyReport("", files),
    errors: 0,
    errorMessages: [],
    unknownTopics: 0,
    tickerAgreement: emptyAgreement(),
    instruments: [],
  };
  const formats = new Set<string>();
  const conns: Conn[] = [];
  const bad = (where: string, why: string) => {
    r.malformed++;
    if (r.malformedAt.length < 10) r.malformedAt.push(`${where}: ${why}`);
  };

  for (const file of files) {
    const text = readCaptureText(file);
    const firstLine = text.slice(0, Math.max(0, text.indexOf("\n")) || text.length).trim();
    let first: Json | null = null;
    try {
      first = JSON.parse(firstLine) as Json;
    } catch {
      /* decided below */
    }
    const perConn = new Map<string, Conn>();
    const conn = (id: string, venue: string): Conn => {
      let c = perConn.get(id);
      if (!c) {
        c = { label: files.length > 1 ? `${file}#${id}` : id, books: new BybitConnectionBooks(venue), states: new Map(), ticker: new Map(), tickerSamples: new Map() };
        perConn.set(id, c);
        conns.push(c);
      }
      return c;
    };
    if (first !== null && typeof first === "object" && "t" in first) {
      formats.add("cryptofeed v3 jsonl");
      const reader = CryptofeedV3Reader.fromText(file, text);
      const before = r.malformedAt.length;
      const venueOf = new Map<string, string>();
      for (const e of reader.entries()) {
        if (e.kind === "connect") {
          const cat = bybitCategoryFromUrl(e.target);
          venueOf.set(e.conn, cat ? `bybit-${cat}` : "bybit");
          r.ignored++;
          continue;
        }
        if (e.kind !== "recv") {
          r.ignored++;
          continue;
        }
        let frame: unknown;
        try {
          frame = JSON.parse(e.frame);
        } catch {
          bad(`${file}:${e.line}`, "recv frame is not valid JSON");
          continue;
        }
        r.messages++;
        route(conn(e.conn, venueOf.get(e.conn) ?? "bybit"), frame, `${file}:${e.line}`);
      }
      r.lines += reader.stats.lines;
      r.malformed += reader.stats.malformed;
      // the reader's unreadable lines and our undecodable frames, in line order
      const lineOf = (m: string) => Number(m.slice(file.length + 1, m.indexOf(":", file.length + 1)));
      const mine = r.malformedAt.splice(before);
      const merged = [...reader.stats.malformedAt, ...mine].sort((x, y) => lineOf(x) - lineOf(y));
      for (const m of merged) if (r.malformedAt.length < 10) r.malformedAt.push(m);
    } else {
      formats.add("bybit history jsonl");
      const c = conn("history", "bybit");
      let at = 0, lineNo = 0, readable = 0;
      while (at < text.length) {
        let nl = text.indexOf("\n", at);
        if (nl < 0) nl = text.length;
        const line = text.slice(at, nl).trim();
        at = nl + 1;
        lineNo++;
        if (line.length === 0) continue;
        r.lines++;
        let frame: unknown;
        try {
          frame = JSON.parse(line);
        } catch {
          bad(`${file}:${lineNo}`, "invalid JSON");
          continue;
        }
        r.messages++;
        readable++;
        route(c, frame, `${file}:${lineNo}`);
      }
      if (readable === 0) throw new DataFileError(`data file ${file} holds no readable line (neither a cryptofeed v3 recording nor a Bybit history dump)`);
    }
  }
  r.format = [...formats].join(" + ");

  function route(c: Conn, frame: unknown, where: string): void {
    const res = c.books.onFrame(frame);
    const f = frame as Json;
    if (res === "malformed") {
      bad(where, typeof f === "object" && f !== null && typeof f.topic === "string" ? `${f.topic}: unusable message (${syncProblem(c, f.topic) ?? "bad shape"})` : "frame is neither a topic message nor an op response");
      return;
    }
    if (res === "snapshot" || res === "applied") {
      const topic = f.topic as string;
      const s = c.books.syncs.get(topic)!;
      let list = c.states.get(topic);
      if (!list) c.states.set(topic, (list = []));
      list.push(s.crossSeq, s.book.bestBid, s.book.bestAsk, s.epoch);
      return;
    }
    if (res === "other" && typeof f.topic === "string" && f.topic.startsWith("tickers.")) {
      const d = f.data;
      if (d === null || typeof d !== "object" || Array.isArray(d)) return;
      const symbol = f.topic.slice("tickers.".length);
      // "if a response param is not found in the message, then its value has not changed": merge
      const merged = f.type === "snapshot" ? { ...(d as Json) } : { ...(c.ticker.get(symbol) ?? {}), ...(d as Json) };
      c.ticker.set(symbol, merged);
      const bid = Number(merged.bid1Price), ask = Number(merged.ask1Price), cs = f.cs;
      if (bid > 0 && ask > 0 && typeof cs === "number") {
        let list = c.tickerSamples.get(symbol);
        if (!list) c.tickerSamples.set(symbol, (list = []));
        list.push(cs, bid, ask);
      }
    }
  }

  for (const c of conns) {
    const fc = c.books.counters;
    r.ignored += fc.opOk + Object.values(fc.other).reduce((a, b) => a + b, 0) + fc.unknownTopics;
    r.errors += fc.errors;
    for (const m of c.books.errorMessages) if (r.errorMessages.length < 20) r.errorMessages.push(`${c.label}: ${m}`);
    r.unknownTopics += fc.unknownTopics;
    for (const [topic, s] of c.books.syncs) {
      const symbol = topic.slice(topic.lastIndexOf(".") + 1);
      const states = c.states.get(topic) ?? [];
      const samples = c.tickerSamples.get(symbol) ?? [];
      const { checks, mismatches, firstMismatch, agreement } = bracketTickers(states, samples);
      const k = s.counters;
      const inst: BybitInstrumentReport = {
        venue: s.book.venue,
        symbol,
        conn: c.label,
        topic,
        ...k,
        buffered: 0, // Bybit sends its snapshot in band: nothing is buffered, nothing to reject
        snapshotsRejected: 0,
        synced: s.book.synced,
        lastUpdateId: s.book.lastSeq,
        crossSeq: s.crossSeq,
        depth: { bids: s.book.depth(0), asks: s.book.depth(1) },
        top: s.book.top() as TopOfBook,
        topChecks: checks,
        topMismatches: mismatches,
        firstTopMismatch: firstMismatch,
        lastProblem: s.lastProblem || null,
        tickerAgreement: agreement,
      };
      r.instruments.push(inst);
      r.bookUpdates += k.applied;
      r.sequenceGaps += k.gaps;
      r.resyncs += k.resyncs;
      r.crossed += k.crossed;
      r.malformed += k.malformed;
      r.topChecks += checks;
      r.topMismatches += mismatches;
      const t = r.tickerAgreement;
      t.tickers += agreement.tickers;
      t.pinned += agreement.pinned;
      t.pinnedAgree += agreement.pinnedAgree;
      t.moved += agreement.moved;
      t.movedAgreeEither += agreement.movedAgreeEither;
      t.outside += agreement.outside;
      t.firstPinnedDisagreement ??= agreement.firstPinnedDisagreement && `${inst.conn} ${symbol}: ${agreement.firstPinnedDisagreement}`;
    }
  }
  return r;
}

function syncProblem(c: Conn, topic: string): string | null {
  const s: BybitBookSync | undefined = c.books.syncs.get(topic);
  return s?.lastProblem || null;
}

/**
 * Compares ticker tops with book tops by sequence. states: flat (seq, bid, ask, epoch) per
 * applied book message, in stream order (seq increasing); samples: flat (seq, bid, ask) per
 * ticker state. A sample whose seq equals a state's is an exact same-moment check; otherwise it
 * is bracketed by the states before and after it (same epoch) and counted as pinned or moved.
 * Shared with the Coinbase verifier, whose ticker and l2 messages are ordered by sequence_num.
 */
export function bracketTickers(states: number[], samples: number[]): { checks: number; mismatches: number; firstMismatch: string | null; agreement: TickerAgreement } {
  const a = emptyAgreement();
  let checks = 0, mismatches = 0;
  let firstMismatch: string | null = null;
  const n = states.length / 4;
  for (let t = 0; t < samples.length; t += 3) {
    const cs = samples[t]!, bid = samples[t + 1]!, ask = samples[t + 2]!;
    a.tickers++;
    // last book state with seq <= cs (states are in stream order, seq increasing within an epoch)
    let lo = 0, hi = n - 1, j = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (states[mid * 4]! <= cs) {
        j = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    if (j >= 0 && states[j * 4] === cs) {
      checks++;
      const bb = states[j * 4 + 1]!, ba = states[j * 4 + 2]!;
      if (bb !== bid || ba !== ask) {
        mismatches++;
        firstMismatch ??= `seq ${cs}: book ${bb} / ${ba}, ticker ${bid} / ${ask}`;
      }
      continue;
    }
    if (j < 0 || j + 1 >= n || states[j * 4 + 3] !== states[(j + 1) * 4 + 3]) {
      a.outside++;
      continue;
    }
    const b0 = states[j * 4 + 1]!, a0 = states[j * 4 + 2]!, b1 = states[(j + 1) * 4 + 1]!, a1 = states[(j + 1) * 4 + 2]!;
    if (b0 === b1 && a0 === a1) {
      a.pinned++;
      if (bid === b0 && ask === a0) a.pinnedAgree++;
      else a.firstPinnedDisagreement ??= `ticker seq ${cs} between book seq ${states[j * 4]} and ${states[(j + 1) * 4]} (top ${b0} / ${a0} at both): ticker ${bid} / ${ask}`;
    } else {
      a.moved++;
      if ((bid === b0 && ask === a0) || (bid === b1 && ask === a1)) a.movedAgreeEither++;
    }
  }
  return { checks, mismatches, firstMismatch, agreement: a };
}
