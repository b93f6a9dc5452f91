/**
 * Kraken spot order books kept by the venue's documented procedure, with its CRC32 checksum
 * checked on every message that carries one (docs.kraken.com, "Book checksum (WebSocket v1)" and
 * "(WebSocket v2)"):
 *
 *   - a snapshot replaces the book; updates change, add or (volume 0) remove price levels, in the
 *     order they appear in the message ("the last entries in the array are the most recent");
 *   - "after each update, truncate your book to the subscribed depth — you will not receive qty 0
 *     for levels that fall out of scope"; a level that comes back into scope is republished
 *     (v1 marks it with a fourth element "r") and is applied like any other;
 *   - all levels of a message are applied before the checksum is computed: the top 10 asks from
 *     low to high, then the top 10 bids from high to low, each price and volume with "." removed
 *     and leading zeros removed, concatenated; CRC32 of that text as an unsigned 32-bit integer.
 *
 * v1 (`KrakenBookSync`) sends prices and volumes as strings carrying the pair's precision
 * ("0.000022900"), and the checksum is over those strings exactly as received. The numeric book
 * (`L2Book`, shared with the rest of the engine) keeps doubles, so each side keeps beside it a map
 * price → received price and volume strings. Beside the L2Book rather than a book of our own,
 * because strategies, risk and the verifier read L2Book and should see one book type; a map rather
 * than strings for the top 10 only, because a deletion near the top promotes a deep level into the
 * top 10 and its string must still be at hand. The checksum copies the stored strings' digits
 * ("." and leading zeros skipped) into a preallocated buffer and hashes it in one native call: no
 * string is built, nothing is allocated (bench/checksum.bench.ts: faster than feeding the CRC table
 * a byte at a time, and than building the text).
 *
 * v2 (`KrakenV2BookSync`) sends JSON numbers; the docs say to format them with the pair's
 * price/qty precision (from the `instrument` channel) before removing "." and leading zeros. A
 * number formatted to p decimals with "." and leading zeros removed is the decimal digits of
 * round(x·10^p), so the v2 checksum writes those digits straight from the double (exact while
 * x·10^p < 2^53; beyond that it formats with toFixed).
 *
 * A checksum mismatch, a crossed book or a level that is not a number makes the book unusable
 * (`synced = false`, cleared), is counted, is described in `lastProblem`, and sets
 * `resyncRequested`: the caller resubscribes and the next snapshot recovers the book. Updates that
 * arrive meanwhile are counted as skipped and change nothing.
 */
import { ASK, BID, L2Book } from "../../book/l2book.ts";
import { CRC32_TABLE, Crc32Scratch } from "../../book/crc32.ts";

/** The checksum covers this many levels a side, whatever the subscribed depth. */
export const KRAKEN_CHECKSUM_LEVELS = 10;

export interface KrakenBookCounters {
  snapshots: number;
  /** update messages received (one message may carry asks and bids in two objects) */
  updates: number;
  applied: number;
  /** price-level entries applied (snapshot and update) */
  levels: number;
  /** v1 entries flagged "r" (republished after coming back into the subscribed depth) */
  republished: number;
  /** levels dropped by the truncation to the subscribed depth */
  truncated: number;
  checksumsChecked: number;
  checksumMismatches: number;
  /** updates that carried no checksum (v1 sends one on every update: a missing one is noted) */
  checksumMissing: number;
  /** updates that arrived while the book waited for a snapshot */
  skipped: number;
  crossed: number;
  /** levels or messages that could not be read (not numbers, wrong shape) */
  malformed: number;
  /** resubscriptions asked for (mismatch, crossed, malformed) */
  resyncs: number;
}

export type KrakenBookResult = "snapshot" | "applied" | "mismatch" | "crossed" | "skipped" | "malformed";

const newCounters = (): KrakenBookCounters => ({
  snapshots: 0, updates: 0, applied: 0, levels: 0, republished: 0, truncated: 0, checksumsChecked: 0,
  checksumMismatches: 0, checksumMissing: 0, skipped: 0, crossed: 0, malformed: 0, resyncs: 0,
});

/** Appends a decimal string with "." removed and leading zeros removed (Kraken's formatting). */
export function appendKrakenDigits(out: Crc32Scratch, s: string): void {
  const n = s.length;
  out.reserve(n);
  const b = out.buf;
  let len = out.len;
  let i = 0;
  for (; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c !== 46 && c !== 48) break; // leading "0"s (and a "." among them) go
  }
  for (; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c !== 46) b[len++] = c;
  }
  out.len = len;
}

/** Appends x formatted with `decimals` decimals, "." and leading zeros removed (Kraken v2 rule). */
export function appendKrakenFixed(out: Crc32Scratch, x: number, decimals: number): void {
  const scaled = Math.round(x * POW10[decimals]!);
  if (!(scaled <= Number.MAX_SAFE_INTEGER) || decimals >= POW10.length) return appendKrakenDigits(out, x.toFixed(decimals));
  let n = scaled, k = 0;
  while (n > 0) {
    const q = Math.floor(n / 10);
    digitBuf[k++] = 48 + (n - q * 10);
    n = q;
  }
  out.reserve(k);
  const b = out.buf;
  let len = out.len;
  while (k > 0) b[len++] = digitBuf[--k]!;
  out.len = len;
}

/** The same rule fed through the CRC table a byte at a time (reference for tests and the bench). */
export function crc32KrakenDigits(crc: number, s: string): number {
  const t = CRC32_TABLE;
  let lead = true;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 46) continue; // "."
    if (lead) {
      if (c === 48) continue; // leading "0"
      lead = false;
    }
    crc = t[(crc ^ c) & 0xff]! ^ (crc >>> 8);
  }
  return crc;
}

const POW10 = [1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18];
const digitBuf = new Uint8Array(24);

/** Feeds x formatted with `decimals` decimals, "." and leading zeros removed (Kraken v2 rule). */
export function crc32KrakenFixed(crc: number, x: number, decimals: number): number {
  const scaled = Math.round(x * POW10[decimals]!);
  if (!(scaled <= Number.MAX_SAFE_INTEGER) || decimals >= POW10.length) return crc32KrakenDigits(crc, x.toFixed(decimals));
  let n = scaled, k = 0;
  while (n > 0) {
    const q = Math.floor(n / 10);
    digitBuf[k++] = 48 + (n - q * 10);
    n = q;
  }
  const t = CRC32_TABLE;
  while (k > 0) crc = t[(crc ^ digitBuf[--k]!) & 0xff]! ^ (crc >>> 8);
  return crc;
}

/** What the v1 and v2 books share: counters, truncation, the problem path. */
abstract class KrakenBookBase {
  readonly counters: KrakenBookCounters = newCounters();
  /** true until a snapshot is loaded, and again after a problem */
  needSnapshot = true;
  /** set on a problem: the caller should resubscribe (unsubscribe + subscribe) to get a snapshot */
  resyncRequested = false;
  lastProblem = "";
  protected readonly scratch = new Crc32Scratch(512);

  constructor(
    readonly book: L2Book,
    /** the subscribed depth: the book is truncated to it after every message */
    readonly depth: number,
  ) {
    if (!(depth >= KRAKEN_CHECKSUM_LEVELS)) throw new RangeError(`Kraken book depth ${depth}: subscribe to at least ${KRAKEN_CHECKSUM_LEVELS} levels`);
  }

  /** The checksum of the book as it stands (unsigned). */
  abstract checksum(): number;
  protected abstract dropLevel(side: number, price: number): void;
  protected abstract clearStrings(): void;

  /** The caller resubscribed: the request is served (the book still waits for its snapshot). */
  resyncSent(): void {
    this.resyncRequested = false;
  }

  /** Drops the levels beyond the subscribed depth (worst first). */
  protected truncate(): void {
    const book = this.book;
    for (let side = 0; side < 2; side++) {
      let n = book.depth(side);
      while (n > this.depth) {
        const worst = book.price(side, n - 1);
        book.set(side, worst, 0);
        this.dropLevel(side, worst);
        this.counters.truncated++;
        n--;
      }
    }
  }

  /** After a message's levels are applied: truncate, then check crossing and the checksum. */
  protected finish(expected: number | null, what: string): KrakenBookResult {
    this.truncate();
    const book = this.book;
    const c = this.counters;
    if (book.crossed) {
      c.crossed++;
      this.problem(`crossed book after ${what}: bid ${book.bestBid} >= ask ${book.bestAsk}`);
      return "crossed";
    }
    if (expected === null) return "applied";
    c.checksumsChecked++;
    const got = this.checksum();
    if (got !== expected) {
      c.checksumMismatches++;
      this.problem(`checksum mismatch after ${what}: venue ${expected}, book ${got}`);
      return "mismatch";
    }
    return "applied";
  }

  protected problem(why: string): void {
    this.lastProblem = why;
    this.counters.resyncs++;
    this.book.clear();
    this.clearStrings();
    this.needSnapshot = true;
    this.resyncRequested = true;
  }

  protected beginSnapshot(): void {
    this.book.clear();
    this.clearStrings();
    this.counters.snapshots++;
  }

  protected endSnapshot(): void {
    this.book.synced = true;
    this.needSnapshot = false;
    this.resyncRequested = false;
  }
}

/** A v1 price level: [price, volume, timestamp] or [price, volume, timestamp, "r"]. */
export type KrakenV1Level = [string, string, string, string?];

/**
 * One pair's v1 book (`book-N` channel). Feed it whole channel messages (`onMessage`) or the
 * parts (`onSnapshot` / `onUpdate`).
 */
export class KrakenBookSync extends KrakenBookBase {
  /** per side: price → price string and volume string as received */
  private readonly priceStr: [Map<number, string>, Map<number, string>] = [new Map(), new Map()];
  private readonly volStr: [Map<number, string>, Map<number, string>] = [new Map(), new Map()];

  /**
   * A v1 channel message `[channelID, {as,bs} | {a?,b?,c?}, ({b,c},)? "book-N", pair]`.
   * Messages of other channels or shapes are counted malformed and change nothing.
   */
  onMessage(msg: unknown[]): KrakenBookResult {
    const n = msg.length;
    if (n < 4 || n > 5) return this.malformedMessage(`a book message has 4 or 5 elements, not ${n}`);
    const first = msg[1] as Record<string, unknown> | null;
    if (!first || typeof first !== "object") return this.malformedMessage("book message without a level object");
    if ("as" in first || "bs" in first) return this.onSnapshot((first.as ?? []) as KrakenV1Level[], (first.bs ?? []) as KrakenV1Level[]);
    // an update: asks and bids may come in one object or two; the checksum sits in the last one
    const second = n === 5 ? (msg[2] as Record<string, unknown> | null) : null;
    if (n === 5 && (!second || typeof second !== "object")) return this.malformedMessage("book update whose second element is not an object");
    const a = (first.a ?? second?.a ?? null) as KrakenV1Level[] | null;
    const b = (first.b ?? second?.b ?? null) as KrakenV1Level[] | null;
    const c = (second ?? first).c;
    return this.onUpdate(a, b, typeof c === "string" ? c : null);
  }

  onSnapshot(asks: KrakenV1Level[], bids: KrakenV1Level[]): KrakenBookResult {
    this.beginSnapshot();
    if (!Array.isArray(asks) || !Array.isArray(bids) || !this.load(ASK, asks) || !this.load(BID, bids)) {
      this.counters.malformed++;
      this.problem("snapshot with a level that is not [price, volume, time]");
      return "malformed";
    }
    this.endSnapshot();
    // a v1 snapshot carries no checksum; it is checked with the next update
    const r = this.finish(null, "snapshot");
    return r === "applied" ? "snapshot" : r;
  }

  /** @param checksum the update's `c` (unsigned decimal string), or null when absent */
  onUpdate(asks: KrakenV1Level[] | null, bids: KrakenV1Level[] | null, checksum: string | null): KrakenBookResult {
    const c = this.counters;
    c.updates++;
    if (this.needSnapshot) {
      c.skipped++;
      return "skipped";
    }
    if ((asks !== null && !Array.isArray(asks)) || (bids !== null && !Array.isArray(bids)) || (asks === null && bids === null)) {
      return this.malformedMessage("update without an a or b level array");
    }
    if ((asks && !this.load(ASK, asks)) || (bids && !this.load(BID, bids))) {
      c.malformed++;
      this.problem("update with a level that is not [price, volume, time]");
      return "malformed";
    }
    let expected: number | null = null;
    if (checksum === null) c.checksumMissing++;
    else {
      expected = Number(checksum);
      if (!Number.isInteger(expected) || expected < 0 || expected > 0xffffffff) {
        c.malformed++;
        this.problem(`update whose checksum ${JSON.stringify(checksum)} is not an unsigned 32-bit integer`);
        return "malformed";
      }
    }
    c.applied++;
    this.book.updates++;
    return this.finish(expected, `update ${c.updates}`);
  }

  checksum(): number {
    const book = this.book;
    const out = this.scratch;
    out.reset();
    for (let side = ASK; side >= BID; side--) {
      const ps = this.priceStr[side]!, vs = this.volStr[side]!;
      const n = Math.min(KRAKEN_CHECKSUM_LEVELS, book.depth(side));
      for (let i = 0; i < n; i++) {
        const p = book.price(side, i);
        appendKrakenDigits(out, ps.get(p)!);
        appendKrakenDigits(out, vs.get(p)!);
      }
    }
    return out.crc32();
  }

  /** The received strings of a level (tests, reports). */
  levelStrings(side: number, level: number): [string, string] | null {
    const p = this.book.price(side, level);
    const ps = this.priceStr[side]!.get(p), vs = this.volStr[side]!.get(p);
    return ps === undefined || vs === undefined ? null : [ps, vs];
  }

  /** Applies levels in order; false (after applying the readable ones) if one is unreadable. */
  private load(side: number, levels: KrakenV1Level[]): boolean {
    const book = this.book;
    const ps = this.priceStr[side]!, vs = this.volStr[side]!;
    const c = this.counters;
    let ok = true;
    for (let i = 0; i < levels.length; i++) {
      const lv = levels[i];
      if (!Array.isArray(lv) || typeof lv[0] !== "string" || typeof lv[1] !== "string") {
        ok = false;
        continue;
      }
      const p = +lv[0], v = +lv[1];
      if (!(p > 0) || !(v >= 0) || p === Infinity || v === Infinity) {
        ok = false;
        continue;
      }
      c.levels++;
      if (lv[3] === "r") c.republished++;
      book.set(side, p, v);
      if (v > 0) {
        ps.set(p, lv[0]);
        vs.set(p, lv[1]);
      } else {
        ps.delete(p);
        vs.delete(p);
      }
    }
    return ok;
  }

  protected dropLevel(side: number, price: number): void {
    this.priceStr[side]!.delete(price);
    this.volStr[side]!.delete(price);
  }

  protected clearStrings(): void {
    for (const m of this.priceStr) m.clear();
    for (const m of this.volStr) m.clear();
  }

  private malformedMessage(why: string): KrakenBookResult {
    this.counters.malformed++;
    this.lastProblem = why;
    return "malformed";
  }
}

/** A v2 price level. */
export interface KrakenV2Level {
  price: number;
  qty: number;
}

/** The per-symbol object inside a v2 book message's `data` array. */
export interface KrakenV2BookData {
  symbol: string;
  bids: KrakenV2Level[];
  asks: KrakenV2Level[];
  checksum?: number;
  timestamp?: string;
}

/**
 * One symbol's v2 book (`book` channel: `{channel:"book", type:"snapshot"|"update", data:[…]}`).
 * v2 puts a checksum on snapshots as well as updates.
 */
export class KrakenV2BookSync extends KrakenBookBase {
  constructor(
    book: L2Book,
    depth: number,
    /** `price_precision` and `qty_precision` of the pair, from the v2 `instrument` channel */
    readonly pricePrecision: number,
    readonly qtyPrecision: number,
  ) {
    super(book, depth);
    for (const p of [pricePrecision, qtyPrecision]) {
      if (!Number.isInteger(p) || p < 0 || p > 18) throw new RangeError(`Kraken v2 precision ${p}: an integer number of decimals 0..18`);
    }
  }

  /** One data element of a snapshot or update message. */
  onData(type: "snapshot" | "update", d: KrakenV2BookData): KrakenBookResult {
    const c = this.counters;
    if (!d || typeof d !== "object" || !Array.isArray(d.bids) || !Array.isArray(d.asks)) {
      c.malformed++;
      this.lastProblem = `v2 ${type} without bids/asks arrays`;
      return "malformed";
    }
    let expected: number | null = null;
    if (d.checksum === undefined) c.checksumMissing++;
    else if (typeof d.checksum === "number" && Number.isInteger(d.checksum) && d.checksum >= 0 && d.checksum <= 0xffffffff) expected = d.checksum;
    else {
      c.malformed++;
      if (type === "snapshot" || !this.needSnapshot) this.problem(`v2 ${type} whose checksum ${JSON.stringify(d.checksum)} is not an unsigned 32-bit integer`);
      return "malformed";
    }
    if (type === "snapshot") {
      this.beginSnapshot();
      if (!this.load(ASK, d.asks) || !this.load(BID, d.bids)) {
        c.malformed++;
        this.problem("v2 snapshot with a level whose price/qty are not numbers");
        return "malformed";
      }
      this.endSnapshot();
      const r = this.finish(expected, "snapshot");
      return r === "applied" ? "snapshot" : r;
    }
    c.updates++;
    if (this.needSnapshot) {
      c.skipped++;
      return "skipped";
    }
    if (!this.load(ASK, d.asks) || !this.load(BID, d.bids)) {
      c.malformed++;
      this.problem("v2 update with a level whose price/qty are not numbers");
      return "malformed";
    }
    c.applied++;
    this.book.updates++;
    return this.finish(expected, `update ${c.updates}`);
  }

  /** A whole v2 message; data elements for other symbols are left alone. Returns the last result. */
  onMessage(msg: { channel?: unknown; type?: unknown; data?: unknown }): KrakenBookResult {
    if (msg.channel !== "book" || (msg.type !== "snapshot" && msg.type !== "update") || !Array.isArray(msg.data)) {
      this.counters.malformed++;
      this.lastProblem = "not a v2 book snapshot/update message";
      return "malformed";
    }
    let r: KrakenBookResult = "skipped";
    for (const d of msg.data as KrakenV2BookData[]) {
      if (d && d.symbol === this.book.symbol) r = this.onData(msg.type, d);
    }
    return r;
  }

  checksum(): number {
    const book = this.book;
    const pp = this.pricePrecision, qp = this.qtyPrecision;
    const out = this.scratch;
    out.reset();
    for (let side = ASK; side >= BID; side--) {
      const n = Math.min(KRAKEN_CHECKSUM_LEVELS, book.depth(side));
      for (let i = 0; i < n; i++) {
        appendKrakenFixed(out, book.price(side, i), pp);
        appendKrakenFixed(out, book.size(side, i), qp);
      }
    }
    return out.crc32();
  }

  private load(side: number, levels: KrakenV2Level[]): boolean {
    const book = this.book;
    let ok = true;
    for (let i = 0; i < levels.length; i++) {
      const lv = levels[i];
      const p = lv?.price, q = lv?.qty;
      if (typeof p !== "number" || typeof q !== "number" || !(p > 0) || !(q >= 0) || p === Infinity || q === Infinity) {
        ok = false;
        continue;
      }
      this.counters.levels++;
      book.set(side, p, q);
    }
    return ok;
  }

  protected dropLevel(): void {}
  protected clearStrings(): void {}
}

/**
 * Every v1 book on one connection, by pair: a pair's sync is created at its first book message,
 * with the depth named by the channel (`book-1000` → 1000). The verifier and the live feed route
 * book frames through here.
 */
export class KrakenBooks {
  readonly byPair = new Map<string, KrakenBookSync>();

  constructor(readonly venue = "kraken") {}

  /** True if the frame is a v1 book channel message. */
  static isBookFrame(frame: unknown): frame is unknown[] {
    if (!Array.isArray(frame) || frame.length < 4) return false;
    const name = frame[frame.length - 2];
    return typeof name === "string" && name.startsWith("book-") && typeof frame[frame.length - 1] === "string";
  }

  /** Routes a v1 book frame to its pair's sync; null when the frame names no usable depth. */
  onFrame(frame: unknown[]): { pair: string; sync: KrakenBookSync; result: KrakenBookResult } | null {
    const pair = frame[frame.length - 1] as string;
    let sync = this.byPair.get(pair);
    if (!sync) {
      const depth = Number((frame[frame.length - 2] as string).slice(5));
      if (!Number.isInteger(depth) || depth < KRAKEN_CHECKSUM_LEVELS) return null;
      sync = new KrakenBookSync(new L2Book(this.venue, pair), depth);
      this.byPair.set(pair, sync);
    }
    return { pair, sync, result: sync.onMessage(frame) };
  }
}
