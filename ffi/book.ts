/**
 * L2 books in C (c/book.h) with typed views over their memory: the best bid is one Float64Array
 * load, no FFI call; a batch of LEVEL records is applied to all books with one call. Each book
 * follows its venue's documented sequence procedure (BookRule) and says when it needs a snapshot.
 */
import { K } from "./lib.ts";
import { alignedBuffer, type AlignedBuffer } from "./buffers.ts";
import { BookLayout as L, BookProblem, BookRule, BookState } from "./sym/feed.ts";

export { BookRule, BookState };

export interface CBookCounters {
  msgs: number;
  applied: number;
  stale: number;
  buffered: number;
  snapshots: number;
  snapshotsRejected: number;
  gaps: number;
  crossed: number;
  resyncRequests: number;
  truncated: number;
  pendDropped: number;
  badLevels: number;
  levelUpdates: number;
  recenters: number;
  interruptions: number;
  staleBooks: number;
}

export interface CBookOptions {
  /** levels kept per side (default 5000: Binance serves snapshots of up to 5000 per side) */
  levels?: number;
  /** records buffered while a snapshot is awaited (default 8192) */
  pending?: number;
}

export class CBook {
  readonly ptr: number;
  readonly cap: number;
  private readonly mem: AlignedBuffer;
  private readonly u32: Uint32Array;
  private readonly u64: BigUint64Array;
  private readonly f64: Float64Array;
  private scratch = new Float64Array(64);

  constructor(
    readonly instrument: number,
    readonly rule: number,
    opts: CBookOptions = {},
  ) {
    const cap = opts.levels ?? 5000, pend = opts.pending ?? 8192;
    if (!(Number.isInteger(cap) && cap >= 1 && cap <= 1 << 20)) throw new RangeError(`book levels per side must be 1..1048576, got ${cap}`);
    const bytes = Number(K.bot4_book_bytes(cap, pend));
    this.mem = alignedBuffer(bytes);
    this.ptr = this.mem.ptr;
    if (K.bot4_book_init(this.ptr, cap, pend, rule, instrument) !== 0) throw new RangeError(`bot4_book_init refused (levels ${cap}, rule ${rule})`);
    this.cap = cap;
    const { buffer, byteOffset } = this.mem;
    this.u32 = new Uint32Array(buffer, byteOffset, L.bytes / 4);
    this.u64 = new BigUint64Array(buffer, byteOffset, L.bytes / 8);
    this.f64 = new Float64Array(buffer, byteOffset, L.bytes / 8);
  }

  get state(): number {
    return this.u32[L.state / 4]!;
  }
  /** In sync with the venue: the only state in which anything may trade on this book. */
  get synced(): boolean {
    return this.u32[L.state / 4] === BookState.synced;
  }
  /** Levels held on side 0 bid / 1 ask. */
  depth(side: number): number {
    const at = L.side + (side ? L.ladderBytes : 0);
    return this.u32[(at + L.ladderN) / 4]! + this.u32[(at + L.ladderGcount) / 4]!;
  }
  /** Decimal digits of the price unit of the grid window (-1 before the first snapshot, -2 none). */
  get priceDigits(): number {
    return new Int32Array(this.u32.buffer, this.u32.byteOffset, L.bytes / 4)[L.digits / 4]!;
  }
  /** Best bid / ask as of the last applied message (NaN when the side is empty): one load. */
  get bestBid(): number {
    return this.f64[L.bestBid / 8]!;
  }
  get bestAsk(): number {
    return this.f64[L.bestAsk / 8]!;
  }
  get bestBidSize(): number {
    return this.f64[L.bestBidSize / 8]!;
  }
  get bestAskSize(): number {
    return this.f64[L.bestAskSize / 8]!;
  }
  /** The best n levels of a side as (price, size) pairs, best first: one FFI call (cold path). */
  levels(side: number, n = Infinity): Array<[number, number]> {
    const want = Math.min(n, this.depth(side));
    if (this.scratch.length < 2 * want) this.scratch = new Float64Array(2 * want);
    const got = K.bot4_book_levels(this.ptr, side, this.scratch, want);
    const out: Array<[number, number]> = [];
    for (let i = 0; i < got; i++) out.push([this.scratch[2 * i]!, this.scratch[2 * i + 1]!]);
    return out;
  }
  /** Price at `level` (0 = best); NaN past the end. Cold path: prefer levels() for many. */
  price(side: number, level: number): number {
    if (level === 0) return side ? this.bestAsk : this.bestBid;
    return this.levels(side, level + 1)[level]?.[0] ?? NaN;
  }
  size(side: number, level: number): number {
    if (level === 0) return side ? this.bestAskSize : this.bestBidSize;
    return this.levels(side, level + 1)[level]?.[1] ?? NaN;
  }
  /** Receive time (bot4 clock, ns) of the last message applied. */
  get lastRecvNs(): number {
    return Number(this.u64[L.lastRecvNs / 8]);
  }
  get lastSeq(): number {
    return Number(this.u64[L.lastSeq / 8]);
  }
  get resyncRequests(): number {
    return Number(this.u64[L.resyncRequests / 8]);
  }
  /** The last problem seen (gap, crossed, ...) and the update id where it happened. */
  get problem(): { what: string; at: number } | null {
    const p = this.u32[L.problem / 4]!;
    return p ? { what: BookProblem[p] ?? `problem ${p}`, at: Number(this.u64[L.problemSeq / 8]) } : null;
  }
  top(): { bid: number; bidSize: number; ask: number; askSize: number } {
    return { bid: this.bestBid, bidSize: this.bestBidSize, ask: this.bestAsk, askSize: this.bestAskSize };
  }
  /** Sets one level directly (tests, cold path); size 0 deletes. */
  set(side: number, price: number, size: number): void {
    K.bot4_book_set(this.ptr, side, price, size);
  }
  /** Empty, waiting for a snapshot (counters kept). */
  reset(): void {
    K.bot4_book_reset(this.ptr);
  }
  counters(): CBookCounters {
    const at = (off: number) => Number(this.u64[off / 8]);
    return {
      msgs: at(L.msgs),
      applied: at(L.applied),
      stale: at(L.stale),
      buffered: at(L.buffered),
      snapshots: at(L.snapshots),
      snapshotsRejected: at(L.snapshotsRejected),
      gaps: at(L.gaps),
      crossed: at(L.crossed),
      resyncRequests: at(L.resyncRequests),
      truncated: at(L.truncated),
      pendDropped: at(L.pendDropped),
      badLevels: at(L.badLevels),
      levelUpdates: at(L.levelUpdates),
      recenters: at(L.recenters),
      interruptions: at(L.interruptions),
      staleBooks: at(L.staleBooks),
    };
  }
}

/** The books of one engine, indexed by instrument id; one FFI call applies a batch to all of them. */
export class BookSet {
  private readonly table: AlignedBuffer;
  private readonly books: Array<CBook | undefined>;
  private readonly apply_ = K.bot4_books_apply;

  constructor(readonly instruments: number) {
    this.table = alignedBuffer(Math.max(1, instruments) * 8);
    this.books = new Array(instruments);
  }

  add(instrument: number, rule: number, opts?: CBookOptions): CBook {
    if (!(instrument >= 0 && instrument < this.instruments)) throw new RangeError(`instrument ${instrument} outside the book table (0..${this.instruments - 1})`);
    const b = new CBook(instrument, rule, opts);
    this.books[instrument] = b;
    new BigUint64Array(this.table.buffer, this.table.byteOffset, this.instruments)[instrument] = BigInt(b.ptr);
    return b;
  }

  /** Address of the table of book pointers (bot4_book_t *[instruments]) for C callers. */
  get tablePtr(): number {
    return this.table.ptr;
  }

  get(instrument: number): CBook | undefined {
    return this.books[instrument];
  }

  /**
   * Applies records at slots start..start+n-1 (masked) of the record array at `recordsPtr`
   * (a ring's records with its mask, or a flat array with 0xffffffff). Returns how many books
   * asked for a resync during the call.
   */
  apply(recordsPtr: number, mask: number, start: number, n: number): number {
    return this.apply_(this.table.ptr, this.instruments, recordsPtr, mask, start, n);
  }

  /**
   * Marks stale every synced book that applied nothing for `maxAgeNs` (bot4 clock): cleared,
   * unusable, resync requested. Cold path (a timer). Returns how many went stale.
   */
  checkStale(nowNs: number, maxAgeNs: number): number {
    return K.bot4_books_check_stale(this.table.ptr, this.instruments, nowNs, maxAgeNs);
  }

  all(): CBook[] {
    return this.books.filter((b): b is CBook => b !== undefined);
  }
}
