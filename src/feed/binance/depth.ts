/**
 * Binance's documented procedure for a local order book from a REST snapshot and the `@depth`
 * diff stream, for spot and for futures (USD-M and COIN-M):
 *
 *   - diffs that arrive before the snapshot are buffered; when it comes, diffs it already covers
 *     are dropped (spot: u <= lastUpdateId; futures: u < lastUpdateId);
 *   - the first diff applied must straddle the snapshot (spot: U <= lastUpdateId + 1 <= u;
 *     futures: U <= lastUpdateId <= u, or pu == lastUpdateId), else the snapshot is older than the stream's start or
 *     newer than what we buffered, and another snapshot is needed;
 *   - then every diff must chain onto the previous one (spot: U == previous u + 1; futures:
 *     pu == previous u). A break is a gap: the book is cleared, marked unusable, and a new
 *     snapshot is requested (`needSnapshot`); diffs are buffered again meanwhile.
 *
 * A book that crosses (best bid >= best ask) after a diff is treated like a gap. Everything is
 * counted; the caller logs and fetches snapshots.
 */
import { ASK, BID, type L2Book } from "../../book/l2book.ts";

export type BinanceMarket = "spot" | "futures";

export interface DepthDiff {
  /** first and last update id in the event */
  U: number;
  u: number;
  /** futures: last update id of the previous event */
  pu?: number;
  /** [price, size] as the venue sends them (strings) */
  b: Array<[string, string]>;
  a: Array<[string, string]>;
}

export interface DepthSnapshot {
  lastUpdateId: number;
  bids: Array<[string, string]>;
  asks: Array<[string, string]>;
}

export interface DepthCounters {
  diffs: number;
  applied: number;
  /** diffs the snapshot already covered, or older than the book */
  stale: number;
  /** diffs held while waiting for a snapshot */
  buffered: number;
  snapshots: number;
  /** snapshots that did not meet the buffered stream (too old / too new) */
  snapshotsRejected: number;
  gaps: number;
  crossed: number;
  /** snapshot requests after the first (gap, crossed book, rejected snapshot) */
  resyncs: number;
  /** level values that are not numbers */
  malformed: number;
}

export type DiffResult = "applied" | "stale" | "buffered" | "gap" | "crossed";

const MAX_BUFFER = 100_000;

export class BinanceDepthSync {
  readonly counters: DepthCounters = { diffs: 0, applied: 0, stale: 0, buffered: 0, snapshots: 0, snapshotsRejected: 0, gaps: 0, crossed: 0, resyncs: 0, malformed: 0 };
  /** true while the book waits for a REST snapshot */
  needSnapshot = true;
  /** why the last resync was asked for */
  lastProblem = "";
  private buffer: DepthDiff[] = [];

  constructor(
    readonly book: L2Book,
    readonly market: BinanceMarket,
  ) {}

  onDiff(d: DepthDiff): DiffResult {
    this.counters.diffs++;
    if (this.needSnapshot) {
      if (this.buffer.length >= MAX_BUFFER) this.buffer.shift(); // a snapshot that never comes must not grow memory
      this.buffer.push(d);
      this.counters.buffered++;
      return "buffered";
    }
    return this.applyChained(d);
  }

  /** Loads a snapshot and replays the buffered diffs onto it. Returns false if it was rejected. */
  onSnapshot(s: DepthSnapshot): boolean {
    const c = this.counters;
    c.snapshots++;
    const last = s.lastUpdateId;
    const spot = this.market === "spot";
    // drop what the snapshot covers
    const pending = this.buffer.filter((d) => (spot ? d.u > last : d.u >= last));
    c.stale += this.buffer.length - pending.length;
    const first = pending[0];
    // futures: a diff whose pu is the snapshot's id starts exactly where the snapshot ends (c/book.c does the same)
    if (first && !(spot ? first.U <= last + 1 && first.u >= last + 1 : (first.U <= last && first.u >= last) || first.pu === last)) {
      // the stream has moved past the snapshot (or started after it): another snapshot is needed
      c.snapshotsRejected++;
      c.resyncs++;
      this.lastProblem = `snapshot lastUpdateId ${last} does not meet the first buffered diff [${first.U}, ${first.u}]`;
      this.buffer = pending;
      return false;
    }
    const book = this.book;
    book.clear();
    this.load(BID, s.bids);
    this.load(ASK, s.asks);
    book.lastSeq = last;
    book.synced = true;
    this.needSnapshot = false;
    this.buffer = [];
    for (let i = 0; i < pending.length; i++) {
      const r = i === 0 ? this.apply(pending[i]!) : this.applyChained(pending[i]!);
      if (r === "gap" || r === "crossed") {
        // keep what follows the break buffered for the next snapshot
        this.buffer = pending.slice(i + 1);
        break;
      }
    }
    return true;
  }

  private applyChained(d: DepthDiff): DiffResult {
    const book = this.book;
    const last = book.lastSeq;
    if (d.u <= last) {
      // already applied (a duplicate or a replayed older event): skip it
      this.counters.stale++;
      return "stale";
    }
    const chained = this.market === "spot" ? d.U === last + 1 : d.pu === last;
    if (!chained) {
      this.counters.gaps++;
      this.resync(`sequence gap: previous u ${last}, this diff ${this.market === "spot" ? `U ${d.U}` : `pu ${d.pu}`} (U ${d.U}, u ${d.u})`, d);
      return "gap";
    }
    return this.apply(d);
  }

  private apply(d: DepthDiff): DiffResult {
    const book = this.book;
    this.load(BID, d.b);
    this.load(ASK, d.a);
    book.lastSeq = d.u;
    book.updates++;
    this.counters.applied++;
    if (book.crossed) {
      this.counters.crossed++;
      this.resync(`crossed book after diff u ${d.u}: bid ${book.bestBid} >= ask ${book.bestAsk}`, null);
      return "crossed";
    }
    return "applied";
  }

  private load(side: number, levels: Array<[string, string]>): void {
    const book = this.book;
    for (let i = 0; i < levels.length; i++) {
      const lv = levels[i]!;
      const p = +lv[0], q = +lv[1];
      if (!(p > 0) || !(q >= 0)) {
        this.counters.malformed++;
        continue;
      }
      book.set(side, p, q);
    }
  }

  private resync(problem: string, first: DepthDiff | null): void {
    this.lastProblem = problem;
    this.counters.resyncs++;
    this.book.clear();
    this.needSnapshot = true;
    this.buffer = first ? [first] : [];
  }
}
