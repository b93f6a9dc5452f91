/**
 * Kraken Futures order books (`book` feed of the v1 futures websocket, docs.futures.kraken.com):
 * after subscribing, a `book_snapshot` per product (`seq`, `bids`/`asks` as {price, qty}), then one
 * `book` message per level change (`side` "buy"/"sell", `price`, `qty`, `seq`), where qty 0 removes
 * the level. `seq` is the product's subscription message sequence number: every message of the
 * product's book feed takes the next number, so a delta must carry the previous `seq` + 1.
 *
 * Guarantees: a delta whose seq is not the previous + 1 is a gap — the book is cleared, marked
 * unusable, counted, described in `lastProblem`, and `resyncRequested` asks the caller to
 * resubscribe; deltas until the next snapshot are counted as skipped. A delta at or below the
 * book's seq (a replay) is counted stale and ignored. A crossed book or an unreadable level is
 * handled like a gap. Nothing throws on bad input.
 */
import { ASK, BID, L2Book } from "../../book/l2book.ts";

export interface FuturesLevel {
  price: number;
  qty: number;
}

export interface FuturesBookSnapshot {
  product_id?: string;
  seq: number;
  bids: FuturesLevel[];
  asks: FuturesLevel[];
  timestamp?: number;
}

export interface FuturesBookDelta {
  product_id?: string;
  side: "buy" | "sell";
  seq: number;
  price: number;
  qty: number;
  timestamp?: number;
}

export interface FuturesBookCounters {
  snapshots: number;
  deltas: number;
  applied: number;
  stale: number;
  skipped: number;
  gaps: number;
  crossed: number;
  malformed: number;
  resyncs: number;
}

export type FuturesBookResult = "snapshot" | "applied" | "stale" | "skipped" | "gap" | "crossed" | "malformed";

export class KrakenFuturesBookSync {
  readonly counters: FuturesBookCounters = { snapshots: 0, deltas: 0, applied: 0, stale: 0, skipped: 0, gaps: 0, crossed: 0, malformed: 0, resyncs: 0 };
  needSnapshot = true;
  resyncRequested = false;
  lastProblem = "";

  constructor(readonly book: L2Book) {}

  onSnapshot(s: FuturesBookSnapshot): FuturesBookResult {
    const c = this.counters;
    c.snapshots++;
    const book = this.book;
    book.clear();
    if (!Number.isSafeInteger(s?.seq) || !Array.isArray(s.bids) || !Array.isArray(s.asks) || !this.load(BID, s.bids) || !this.load(ASK, s.asks)) {
      c.malformed++;
      this.problem("book_snapshot without an integer seq or with an unreadable level");
      return "malformed";
    }
    book.lastSeq = s.seq;
    if (book.crossed) {
      c.crossed++;
      this.problem(`crossed snapshot at seq ${s.seq}: bid ${book.bestBid} >= ask ${book.bestAsk}`);
      return "crossed";
    }
    book.synced = true;
    this.needSnapshot = false;
    this.resyncRequested = false;
    return "snapshot";
  }

  onDelta(d: FuturesBookDelta): FuturesBookResult {
    const c = this.counters;
    c.deltas++;
    if (this.needSnapshot) {
      c.skipped++;
      return "skipped";
    }
    const book = this.book;
    const seq = d?.seq;
    if (!Number.isSafeInteger(seq) || (d.side !== "buy" && d.side !== "sell") || typeof d.price !== "number" || typeof d.qty !== "number" || !(d.price > 0) || !(d.qty >= 0)) {
      c.malformed++;
      this.problem(`book delta that cannot be read (seq ${JSON.stringify(seq)}, side ${JSON.stringify(d?.side)})`);
      return "malformed";
    }
    if (seq <= book.lastSeq) {
      c.stale++;
      return "stale";
    }
    if (seq !== book.lastSeq + 1) {
      c.gaps++;
      this.problem(`sequence gap: previous seq ${book.lastSeq}, this delta ${seq} (${seq - book.lastSeq - 1} missing)`);
      return "gap";
    }
    book.set(d.side === "buy" ? BID : ASK, d.price, d.qty);
    book.lastSeq = seq;
    book.updates++;
    c.applied++;
    if (book.crossed) {
      c.crossed++;
      this.problem(`crossed book after seq ${seq}: bid ${book.bestBid} >= ask ${book.bestAsk}`);
      return "crossed";
    }
    return "applied";
  }

  /** The caller resubscribed. */
  resyncSent(): void {
    this.resyncRequested = false;
  }

  private load(side: number, levels: FuturesLevel[]): boolean {
    for (let i = 0; i < levels.length; i++) {
      const lv = levels[i];
      const p = lv?.price, q = lv?.qty;
      if (typeof p !== "number" || typeof q !== "number" || !(p > 0) || !(q >= 0)) return false;
      this.book.set(side, p, q);
    }
    return true;
  }

  private problem(why: string): void {
    this.lastProblem = why;
    this.counters.resyncs++;
    this.book.clear();
    this.needSnapshot = true;
    this.resyncRequested = true;
  }
}

/** Every product's book on one futures connection, created at the product's first book message. */
export class KrakenFuturesBooks {
  readonly byProduct = new Map<string, KrakenFuturesBookSync>();

  constructor(readonly venue = "krakenfutures") {}

  /** Routes a `book_snapshot` / `book` message; null for other feeds or a message with no product. */
  onMessage(m: Record<string, unknown>): { product: string; sync: KrakenFuturesBookSync; result: FuturesBookResult } | null {
    const feed = m.feed;
    if ((feed !== "book" && feed !== "book_snapshot") || m.event !== undefined) return null; // `{"event":"subscribed","feed":"book"}` is an ack
    if (typeof m.product_id !== "string" || m.product_id.length === 0) return null;
    const product = m.product_id;
    let sync = this.byProduct.get(product);
    if (!sync) {
      sync = new KrakenFuturesBookSync(new L2Book(this.venue, product));
      this.byProduct.set(product, sync);
    }
    const result = feed === "book_snapshot" ? sync.onSnapshot(m as unknown as FuturesBookSnapshot) : sync.onDelta(m as unknown as FuturesBookDelta);
    return { product, sync, result };
  }
}
