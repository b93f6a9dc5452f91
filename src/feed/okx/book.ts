/**
 * OKX order books from the v5 public websocket `books` channel (400 levels), kept by OKX's
 * documented procedure (okx.com/docs-v5, "Order book channel" and "Checksum"):
 *
 *   - `action: "snapshot"` replaces the book (its `prevSeqId` is -1); `action: "update"` merges:
 *     "if there is the same price, compare the size: if the size is 0, delete this depth data; if
 *     the size changes, replace the original data; if there is no same price, sort by price (bid
 *     descending, ask ascending) and insert";
 *   - sequencing: "the prevSeqId in the new message matches with seqId of the previous message".
 *     Two documented exceptions: a message with no change (`asks: [], bids: []`, sent when the book
 *     is quiet) has `prevSeqId == seqId` == the previous seqId; and after maintenance the sequence
 *     may be reset — an update whose `seqId` is smaller than its `prevSeqId` (the prevSeqId still
 *     matching the previous seqId), after which the normal rule resumes. Anything else is a gap;
 *   - checksum: "use the first 25 bids and asks in the full load to form a string (where a colon
 *     connects the price and size in an ask or a bid), and then calculate the CRC32 value (32-bit
 *     signed integer)". The levels are interleaved bid, ask, bid, ask…; "when the bid or ask depth
 *     data is less than 25 levels, the missing depth data will be ignored" (e.g. bids [3366.1:7],
 *     asks [3366.8:9, 3368:8, 3372:8] → "3366.1:7:3366.8:9:3368:8:3372:8"). Prices and sizes are
 *     the strings as received, so each side keeps the received strings beside the numeric L2Book
 *     (a map price → strings: a deep level that moves into the top 25 still has its text).
 *
 * OKX has announced (May 2026) that the `checksum` field will be sent as 0 from 23 June 2026 and
 * must then not be used; a checksum of 0 is therefore not checked (counted in `checksumZero`):
 * sequence continuity still guards the book.
 *
 * A checksum mismatch, a gap, a crossed book or an unreadable level makes the book unusable
 * (`synced = false`, cleared), is counted, is described in `lastProblem`, and sets
 * `resyncRequested`: the caller resubscribes, and the new snapshot recovers the book. Updates that
 * arrive meanwhile are counted as skipped. Nothing throws on bad input.
 */
import { ASK, BID, L2Book } from "../../book/l2book.ts";
import { Crc32Scratch } from "../../book/crc32.ts";

/** The checksum covers this many levels a side. */
export const OKX_CHECKSUM_LEVELS = 25;

/** [price, size, deprecated liquidated-orders "0", number of orders], all strings. */
export type OkxLevel = [string, string, string?, string?];

export interface OkxBookData {
  asks: OkxLevel[];
  bids: OkxLevel[];
  ts?: string;
  checksum?: number;
  prevSeqId?: number;
  seqId?: number;
}

export interface OkxBookCounters {
  snapshots: number;
  updates: number;
  applied: number;
  levels: number;
  /** no-change messages (prevSeqId == seqId, no levels) */
  heartbeats: number;
  /** sequence resets after maintenance (seqId < prevSeqId) */
  resets: number;
  checksumsChecked: number;
  checksumMismatches: number;
  /** messages whose checksum was 0 (deprecated field) or absent: not checked */
  checksumZero: number;
  gaps: number;
  skipped: number;
  crossed: number;
  malformed: number;
  resyncs: number;
}

export type OkxBookResult = "snapshot" | "applied" | "heartbeat" | "mismatch" | "gap" | "crossed" | "skipped" | "malformed";

const COLON = 58;

export class OkxBookSync {
  readonly counters: OkxBookCounters = {
    snapshots: 0, updates: 0, applied: 0, levels: 0, heartbeats: 0, resets: 0, checksumsChecked: 0, checksumMismatches: 0,
    checksumZero: 0, gaps: 0, skipped: 0, crossed: 0, malformed: 0, resyncs: 0,
  };
  needSnapshot = true;
  resyncRequested = false;
  lastProblem = "";
  private readonly priceStr: [Map<number, string>, Map<number, string>] = [new Map(), new Map()];
  private readonly sizeStr: [Map<number, string>, Map<number, string>] = [new Map(), new Map()];
  /** the check text is assembled here and hashed in one native call: no string is built */
  private readonly scratch = new Crc32Scratch(2048);

  constructor(readonly book: L2Book) {}

  /**
   * A whole `books` push: `{arg:{channel, instId}, action, data:[…]}`. Data for another instId is
   * left alone. Returns the result of the (last) data element for this book.
   */
  onMessage(msg: { arg?: { channel?: unknown; instId?: unknown }; action?: unknown; data?: unknown }): OkxBookResult {
    if (!msg || typeof msg !== "object" || (msg.action !== "snapshot" && msg.action !== "update") || !Array.isArray(msg.data)) {
      this.counters.malformed++;
      this.lastProblem = "not a books snapshot/update push";
      return "malformed";
    }
    if (msg.arg?.instId !== undefined && msg.arg.instId !== this.book.symbol) return "skipped";
    let r: OkxBookResult = "skipped";
    for (const d of msg.data as OkxBookData[]) r = msg.action === "snapshot" ? this.onSnapshot(d) : this.onUpdate(d);
    return r;
  }

  onSnapshot(d: OkxBookData): OkxBookResult {
    const c = this.counters;
    c.snapshots++;
    this.book.clear();
    this.clearStrings();
    if (!d || !Array.isArray(d.asks) || !Array.isArray(d.bids) || !Number.isSafeInteger(d.seqId)) {
      c.malformed++;
      this.problem("snapshot without asks/bids arrays or an integer seqId");
      return "malformed";
    }
    if (!this.load(BID, d.bids) || !this.load(ASK, d.asks)) {
      c.malformed++;
      this.problem(`snapshot seqId ${d.seqId} with a level that is not [price, size, …] strings`);
      return "malformed";
    }
    this.book.lastSeq = d.seqId!;
    this.book.synced = true;
    this.needSnapshot = false;
    this.resyncRequested = false;
    const r = this.finish(d, `snapshot seqId ${d.seqId}`);
    return r === "applied" ? "snapshot" : r;
  }

  onUpdate(d: OkxBookData): OkxBookResult {
    const c = this.counters;
    c.updates++;
    if (this.needSnapshot) {
      c.skipped++;
      return "skipped";
    }
    if (!d || !Array.isArray(d.asks) || !Array.isArray(d.bids) || !Number.isSafeInteger(d.seqId) || !Number.isSafeInteger(d.prevSeqId)) {
      c.malformed++;
      this.problem("update without asks/bids arrays or integer seqId/prevSeqId");
      return "malformed";
    }
    const book = this.book;
    const seq = d.seqId!, prev = d.prevSeqId!;
    if (prev !== book.lastSeq) {
      c.gaps++;
      this.problem(`sequence gap: previous seqId ${book.lastSeq}, this update prevSeqId ${prev} (seqId ${seq})`);
      return "gap";
    }
    if (seq === prev && d.asks.length === 0 && d.bids.length === 0) {
      // documented no-change message: the book stands; its checksum must still agree
      c.heartbeats++;
      const r = this.finish(d, `no-change message seqId ${seq}`);
      return r === "applied" ? "heartbeat" : r;
    }
    if (seq < prev) c.resets++; // documented reset after maintenance: accepted, the chain restarts here
    if (!this.load(BID, d.bids) || !this.load(ASK, d.asks)) {
      c.malformed++;
      this.problem(`update seqId ${seq} with a level that is not [price, size, …] strings`);
      return "malformed";
    }
    book.lastSeq = seq;
    book.updates++;
    c.applied++;
    return this.finish(d, `update seqId ${seq}`);
  }

  /** The caller resubscribed. */
  resyncSent(): void {
    this.resyncRequested = false;
  }

  /** The checksum of the book as it stands, as OKX sends it (signed 32-bit). */
  checksum(): number {
    const book = this.book;
    const nb = Math.min(OKX_CHECKSUM_LEVELS, book.depth(BID)), na = Math.min(OKX_CHECKSUM_LEVELS, book.depth(ASK));
    const out = this.scratch;
    out.reset();
    const n = Math.max(nb, na);
    for (let i = 0; i < n; i++) {
      for (let side = BID; side <= ASK; side++) {
        if (i >= (side === BID ? nb : na)) continue; // the shorter side's missing levels are ignored
        const p = book.price(side, i);
        if (out.len > 0) out.byte(COLON);
        out.ascii(this.priceStr[side]!.get(p)!);
        out.byte(COLON);
        out.ascii(this.sizeStr[side]!.get(p)!);
      }
    }
    return out.crc32() | 0; // OKX sends the CRC as a signed 32-bit integer
  }

  /** The received strings of a level (tests, reports). */
  levelStrings(side: number, level: number): [string, string] | null {
    const p = this.book.price(side, level);
    const ps = this.priceStr[side]!.get(p), ss = this.sizeStr[side]!.get(p);
    return ps === undefined || ss === undefined ? null : [ps, ss];
  }

  private finish(d: OkxBookData, what: string): OkxBookResult {
    const c = this.counters;
    const book = this.book;
    if (book.crossed) {
      c.crossed++;
      this.problem(`crossed book after ${what}: bid ${book.bestBid} >= ask ${book.bestAsk}`);
      return "crossed";
    }
    const expected = d.checksum;
    if (expected === undefined || expected === 0) {
      c.checksumZero++;
      return "applied";
    }
    if (!Number.isInteger(expected) || expected < -0x80000000 || expected > 0x7fffffff) {
      c.malformed++;
      this.problem(`${what}: checksum ${JSON.stringify(expected)} is not a signed 32-bit integer`);
      return "malformed";
    }
    c.checksumsChecked++;
    const got = this.checksum();
    if (got !== expected) {
      c.checksumMismatches++;
      this.problem(`checksum mismatch after ${what}: venue ${expected}, book ${got}`);
      return "mismatch";
    }
    return "applied";
  }

  private load(side: number, levels: OkxLevel[]): boolean {
    const book = this.book;
    const ps = this.priceStr[side]!, ss = this.sizeStr[side]!;
    let ok = true;
    for (let i = 0; i < levels.length; i++) {
      const lv = levels[i];
      if (!Array.isArray(lv) || typeof lv[0] !== "string" || typeof lv[1] !== "string") {
        ok = false;
        continue;
      }
      const p = +lv[0], s = +lv[1];
      if (!(p > 0) || !(s >= 0) || p === Infinity || s === Infinity) {
        ok = false;
        continue;
      }
      this.counters.levels++;
      book.set(side, p, s);
      if (s > 0) {
        ps.set(p, lv[0]);
        ss.set(p, lv[1]);
      } else {
        ps.delete(p);
        ss.delete(p);
      }
    }
    return ok;
  }

  private clearStrings(): void {
    for (const m of this.priceStr) m.clear();
    for (const m of this.sizeStr) m.clear();
  }

  private problem(why: string): void {
    this.lastProblem = why;
    this.counters.resyncs++;
    this.book.clear();
    this.clearStrings();
    this.needSnapshot = true;
    this.resyncRequested = true;
  }
}

/** Every instrument's book on one connection, created at the instrument's first `books` push. */
export class OkxBooks {
  readonly byInst = new Map<string, OkxBookSync>();

  constructor(readonly venue = "okx") {}

  /** Routes a `books` push; null for other channels, event messages, or a push with no instId. */
  onMessage(m: Record<string, unknown>): { instId: string; sync: OkxBookSync; result: OkxBookResult } | null {
    const arg = m.arg as { channel?: unknown; instId?: unknown } | undefined;
    if (!arg || arg.channel !== "books" || m.event !== undefined || typeof arg.instId !== "string") return null;
    let sync = this.byInst.get(arg.instId);
    if (!sync) {
      sync = new OkxBookSync(new L2Book(this.venue, arg.instId));
      this.byInst.set(arg.instId, sync);
    }
    return { instId: arg.instId, sync, result: sync.onMessage(m) };
  }
}
