/**
 * Bars: time bars and volume bars per instrument from trade tick records, aggregated by the C
 * kernel (c/ind.c bot4_bars_*) reading the records in place — one FFI call per batch.
 *
 * Each closed bar carries open, high, low, close, volume (sum of sizes), notional (sum of
 * price*size), vwap (notional / volume), trade count, instrument, and its open/close times.
 *
 * Rules (tested in test/bars.test.ts):
 *  - Only TRADE records count; other kinds are skipped, trades with an id >= instruments, a
 *    non-positive or non-finite size or a non-finite price are rejected (counted, never applied).
 *  - Time bars: a trade at exchange time ts falls in bucket floor(ts / interval); a trade exactly
 *    on a boundary opens the new bucket. A bar closes on the instrument's first trade of a later
 *    bucket (or on flush(now) once its bucket ended), so a quiet instrument's bar closes by the
 *    clock only through flush. Empty intervals produce no bar: the next bar's tsOpen simply jumps.
 *    A late trade (earlier bucket than the open bar's) joins the open bar. tsOpen/tsClose are the
 *    bucket's start and end (end exclusive).
 *  - Volume bars: a bar closes on the trade that brings its volume to volumePerBar or more; that
 *    trade is not split (a bar can hold more than volumePerBar), and the next trade opens a new
 *    bar. tsOpen/tsClose are the first and last trades' exchange times. flush(END) closes every
 *    open volume bar (end of data); flush with any other time closes none.
 *  - Output: closed bars are appended to a caller-owned BarBuffer. When it is full, apply stops
 *    before the next record and returns the records consumed so far (nothing is lost or split):
 *    read the bars, clear() the buffer and call apply again from start + consumed.
 *  - Bars of different instruments interleave in the order they closed.
 */
import { alignedBuffer, type AlignedBuffer } from "../../ffi/buffers.ts";
import { NativeBarAggregator } from "../../ffi/ind.ts";
import { BarKind, BarLayout } from "../../ffi/sym/ind.ts";

export type BarSpec = { kind: "time"; intervalNs: bigint | number } | { kind: "volume"; volumePerBar: number };

/** flush(END): end of data; closes every open bar, time or volume. */
export const END = 0xffff_ffff_ffff_ffffn;

const F = BarLayout.bytes / 8; // f64 slots per bar record
const U = BarLayout.bytes / 4; // u32 slots per bar record
const TWO32 = 4294967296;

/** A caller-owned array of closed-bar records (bot4_bar_t, 128 bytes each), appended to by BarAggregator. */
export class BarBuffer {
  readonly capacity: number;
  readonly mem: AlignedBuffer;
  readonly f64: Float64Array;
  readonly u32: Uint32Array;
  readonly u64: BigUint64Array;
  /** bars held (0..capacity) */
  count = 0;
  private readonly view: BarView;

  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`bar buffer capacity must be a positive integer, got ${capacity}`);
    this.capacity = capacity;
    this.mem = alignedBuffer(capacity * BarLayout.bytes);
    this.f64 = new Float64Array(this.mem.buffer, this.mem.byteOffset, capacity * F);
    this.u32 = new Uint32Array(this.mem.buffer, this.mem.byteOffset, capacity * U);
    this.u64 = new BigUint64Array(this.mem.buffer, this.mem.byteOffset, capacity * F);
    this.view = new BarView(this);
  }
  get ptr(): number {
    return this.mem.ptr;
  }
  get full(): boolean {
    return this.count === this.capacity;
  }
  clear(): void {
    this.count = 0;
  }
  /** The one reused view, positioned at bar k (valid until the next at()). No allocation. */
  at(k: number): BarView {
    if (k < 0 || k >= this.count) throw new RangeError(`bar ${k} outside 0..${this.count - 1}`);
    this.view.k = k;
    return this.view;
  }
}

/** Reads one bar record in place; repositioned by BarBuffer.at (never kept). */
export class BarView {
  k = 0;
  constructor(private readonly b: BarBuffer) {}
  private f(o: number): number {
    return this.b.f64[this.k * F + o / 8]!;
  }
  private ns(o: number): number {
    const i = this.k * U + o / 4;
    return this.b.u32[i + 1]! * TWO32 + this.b.u32[i]!;
  }
  /** bucket start (time bars) or first trade's exchange time (volume bars), ns as a double (nearest; exact below 2^53) */
  get tsOpenNs(): number { return this.ns(BarLayout.tsOpen); }
  /** bucket end, exclusive (time bars) or last trade's exchange time (volume bars), ns as a double */
  get tsCloseNs(): number { return this.ns(BarLayout.tsClose); }
  /** exact times (allocate a BigInt: off the hot path) */
  tsOpenBig(): bigint { return this.b.u64[this.k * F + BarLayout.tsOpen / 8]!; }
  tsCloseBig(): bigint { return this.b.u64[this.k * F + BarLayout.tsClose / 8]!; }
  get open(): number { return this.f(BarLayout.open); }
  get high(): number { return this.f(BarLayout.high); }
  get low(): number { return this.f(BarLayout.low); }
  get close(): number { return this.f(BarLayout.close); }
  get volume(): number { return this.f(BarLayout.volume); }
  get notional(): number { return this.f(BarLayout.notional); }
  get vwap(): number { return this.f(BarLayout.vwap); }
  get trades(): number { return this.f(BarLayout.trades); }
  get instrument(): number { return this.b.u32[this.k * U + BarLayout.instrument / 4]!; }
  get kind(): "time" | "volume" { return this.b.u32[this.k * U + BarLayout.kind / 4] === BarKind.time ? "time" : "volume"; }
}

export class BarAggregator {
  readonly native: NativeBarAggregator;
  readonly spec: BarSpec;

  constructor(instruments: number, spec: BarSpec) {
    this.spec = spec;
    this.native = spec.kind === "time"
      ? new NativeBarAggregator(instruments, BarKind.time, BigInt(spec.intervalNs), 0)
      : new NativeBarAggregator(instruments, BarKind.volume, 0n, spec.volumePerBar);
  }

  /**
   * Aggregates tick records at slots start..start+n-1 (masked: a ring's record area with its mask,
   * or a flat array with 0xffffffff), appending closed bars to out. Returns the records consumed:
   * n, or fewer when out filled up (out.full): drain out, clear() it and continue from start + consumed.
   */
  apply(recordsPtr: number, mask: number, start: number, n: number, out: BarBuffer): number {
    const room = out.capacity - out.count;
    if (room === 0) return 0;
    const used = this.native.apply(recordsPtr, mask, start, n, out.ptr + out.count * BarLayout.bytes, room);
    out.count += this.native.lastCount();
    return used;
  }

  /**
   * Closes time bars whose bucket ended at or before nowNs (a quiet instrument's bar closes on the
   * clock); END closes every open bar (time or volume). Returns bars appended; when out filled up
   * some may still be due: drain and call again.
   */
  flush(nowNs: bigint, out: BarBuffer): number {
    const room = out.capacity - out.count;
    if (room === 0) return 0;
    const m = this.native.flush(nowNs, out.ptr + out.count * BarLayout.bytes, room);
    out.count += m;
    return m;
  }

  counters(): { applied: number; skipped: number; rejected: number; emitted: number } {
    return this.native.counters();
  }
}
