/**
 * Indicator kernels (c/ind.h) and bar aggregation: typed wrappers over caller-owned, 64-byte
 * aligned memory. Strategies read outputs in place through the Float64Array views (no FFI call
 * per read); feeding a ring batch is one FFI call.
 */
import { K } from "./lib.ts";
import { alignedBuffer, type AlignedBuffer } from "./buffers.ts";
import { dlopen, ptr } from "bun:ffi";
import { BarLayout, BarsLayout, IND_GROUP, IndConfigLayout, IndLayout, indSymbols } from "./sym/ind.ts";

export type Kernels = typeof K;

/**
 * c/ind.c's symbols from another build of the library at `path` (e.g. one built from an earlier
 * commit): a baseline that benches time beside the loaded kernels in the same run. Only its
 * indicator symbols are used, so pass it where a NativeIndicatorSet or batch() takes kernels.
 */
export function indKernelsAt(path: string): Kernels {
  return dlopen(path, indSymbols).symbols as unknown as Kernels;
}

export interface IndPeriods {
  sma: number;
  ema: number;
  bb: number;
  bbK: number;
  rsi: number;
  macdFast: number;
  macdSlow: number;
  macdSignal: number;
  atr: number;
  z: number;
  /** 0 = cumulative VWAP */
  vwap: number;
}

export type IndOutput = keyof typeof IndLayout.rows;

function configBytes(p: IndPeriods): Uint8Array {
  const buf = new ArrayBuffer(IndConfigLayout.bytes);
  const u32 = new Uint32Array(buf), f64 = new Float64Array(buf);
  const c = IndConfigLayout;
  u32[c.sma / 4] = p.sma;
  u32[c.ema / 4] = p.ema;
  u32[c.bb / 4] = p.bb;
  u32[c.rsi / 4] = p.rsi;
  u32[c.macdFast / 4] = p.macdFast;
  u32[c.macdSlow / 4] = p.macdSlow;
  u32[c.macdSignal / 4] = p.macdSignal;
  u32[c.atr / 4] = p.atr;
  u32[c.z / 4] = p.z;
  u32[c.vwap / 4] = p.vwap;
  f64[c.bbK / 8] = p.bbK;
  return new Uint8Array(buf);
}

/** The C indicator set: groups of 8 instruments, each group's rows followed by its ring. */
export class NativeIndicatorSet {
  readonly groups: number;
  readonly capacity: number;
  readonly groupBytes: number;
  readonly ptr: number;
  /** the whole set as doubles; output row r of instrument i is at rowIndex(i, r) */
  readonly f64: Float64Array;
  private readonly mem: AlignedBuffer;
  private readonly u64: BigUint64Array;
  private readonly k: Kernels;
  /** bot4_ind_update8 held directly: the hot call skips a property lookup */
  private readonly update8Fn: Kernels["bot4_ind_update8"];

  constructor(instruments: number, periods: IndPeriods, k: Kernels = K) {
    if (!Number.isInteger(instruments) || instruments < 1) throw new RangeError(`instrument count must be a positive integer, got ${instruments}`);
    this.k = k;
    this.update8Fn = k.bot4_ind_update8;
    const cfg = configBytes(periods);
    const bytes = Number(k.bot4_ind_bytes(cfg, instruments));
    if (bytes === 0) throw new RangeError(`invalid indicator periods ${JSON.stringify(periods)}: every period 1..4096 (BB and z-score >= 2), macdFast < macdSlow, bbK > 0`);
    this.mem = alignedBuffer(bytes);
    this.ptr = this.mem.ptr;
    const g = k.bot4_ind_init(this.ptr, cfg, instruments);
    if (g < 0) throw new Error(`bot4_ind_init refused (${g === -1 ? "buffer not 64-byte aligned" : "invalid config"})`);
    this.groups = g;
    this.capacity = instruments;
    this.f64 = new Float64Array(this.mem.buffer, this.mem.byteOffset, bytes / 8);
    this.u64 = new BigUint64Array(this.mem.buffer, this.mem.byteOffset, IndLayout.headerBytes / 8);
    this.groupBytes = Number(new Uint32Array(this.mem.buffer, this.mem.byteOffset, 4)[IndLayout.groupBytes / 4]);
  }

  /** Index into f64 of output `row` for instrument i. */
  rowIndex(i: number, row: IndOutput): number {
    return (IndLayout.headerBytes + (i >>> 3) * this.groupBytes + IndLayout.rows[row]) / 8 + (i & 7);
  }

  /** Group g's output rows as one view (8 lanes per row, rows in IndLayout.rows order). */
  groupView(g: number): Float64Array {
    return new Float64Array(this.mem.buffer, this.mem.byteOffset + IndLayout.headerBytes + g * this.groupBytes, IndLayout.groupStructBytes / 8);
  }

  /** Ticks in place: slots start..start+n-1 (masked) of a record array. Returns trades applied. */
  apply(recordsPtr: number, mask: number, start: number, n: number): number {
    return this.k.bot4_ind_apply(this.ptr, recordsPtr, mask, start, n);
  }

  /** Bars (bot4_bar_t records, e.g. from BarAggregator) as the indicators' input. */
  applyBars(barsPtr: number, n: number): number {
    return this.k.bot4_ind_apply_bars(this.ptr, barsPtr, n);
  }

  /** One step for group g: pointers to 8 closes, highs, lows, volumes; lanes with mask bit 0 unchanged. */
  update8(g: number, c: number, h: number, l: number, v: number, mask: number): number {
    return this.update8Fn(this.ptr, g, c, h, l, v, mask);
  }

  reset(instrument: number): void {
    if (this.k.bot4_ind_reset(this.ptr, instrument) !== 0) throw new RangeError(`instrument ${instrument} outside the set`);
  }

  counters(): { applied: number; skipped: number; rejected: number } {
    return {
      applied: Number(this.u64[IndLayout.applied / 8]),
      skipped: Number(this.u64[IndLayout.skipped / 8]),
      rejected: Number(this.u64[IndLayout.rejected / 8]),
    };
  }
}

function rc(r: number, what: string): void {
  if (r !== 0) throw new RangeError(`${what}: invalid arguments (width 1 or a multiple of 8 up to 64, period in range)`);
}

function need(a: Float64Array, n: number, w: number, name: string): void {
  if (a.length < n * w) throw new RangeError(`${name} holds ${a.length} values, needs ${n}*${w}`);
}

/**
 * Batch kernels over `width` series at once, layout [t][width] (width a multiple of 8, <= 64), or
 * one series (width 1). Outputs NaN during warm-up, as TA-Lib. Same arithmetic as the incremental
 * form: results agree bit for bit.
 */
export function batch(k: Kernels = K) {
  return {
    sma(x: Float64Array, n: number, width: number, p: number, out: Float64Array) {
      need(x, n, width, "x"); need(out, n, width, "out");
      rc(k.bot4_ind_batch_sma(ptr(x), n, width, p, ptr(out)), "sma");
    },
    ema(x: Float64Array, n: number, width: number, p: number, out: Float64Array) {
      need(x, n, width, "x"); need(out, n, width, "out");
      rc(k.bot4_ind_batch_ema(ptr(x), n, width, p, ptr(out)), "ema");
    },
    rsi(x: Float64Array, n: number, width: number, p: number, out: Float64Array) {
      need(x, n, width, "x"); need(out, n, width, "out");
      rc(k.bot4_ind_batch_rsi(ptr(x), n, width, p, ptr(out)), "rsi");
    },
    zscore(x: Float64Array, n: number, width: number, p: number, out: Float64Array) {
      need(x, n, width, "x"); need(out, n, width, "out");
      rc(k.bot4_ind_batch_zscore(ptr(x), n, width, p, ptr(out)), "zscore");
    },
    bbands(x: Float64Array, n: number, width: number, p: number, kDev: number, upper: Float64Array, middle: Float64Array, lower: Float64Array) {
      for (const [a, nm] of [[x, "x"], [upper, "upper"], [middle, "middle"], [lower, "lower"]] as const) need(a, n, width, nm);
      rc(k.bot4_ind_batch_bbands(ptr(x), n, width, p, kDev, ptr(upper), ptr(middle), ptr(lower)), "bbands");
    },
    macd(x: Float64Array, n: number, width: number, fast: number, slow: number, signal: number, line: Float64Array, sig: Float64Array, hist: Float64Array) {
      for (const [a, nm] of [[x, "x"], [line, "line"], [sig, "signal"], [hist, "hist"]] as const) need(a, n, width, nm);
      rc(k.bot4_ind_batch_macd(ptr(x), n, width, fast, slow, signal, ptr(line), ptr(sig), ptr(hist)), "macd");
    },
    atr(h: Float64Array, l: Float64Array, c: Float64Array, n: number, width: number, p: number, out: Float64Array) {
      for (const [a, nm] of [[h, "high"], [l, "low"], [c, "close"], [out, "out"]] as const) need(a, n, width, nm);
      rc(k.bot4_ind_batch_atr(ptr(h), ptr(l), ptr(c), n, width, p, ptr(out)), "atr");
    },
    vwap(h: Float64Array, l: Float64Array, c: Float64Array, v: Float64Array, n: number, width: number, p: number, out: Float64Array) {
      for (const [a, nm] of [[h, "high"], [l, "low"], [c, "close"], [v, "volume"], [out, "out"]] as const) need(a, n, width, nm);
      rc(k.bot4_ind_batch_vwap(ptr(h), ptr(l), ptr(c), ptr(v), n, width, p, ptr(out)), "vwap");
    },
  };
}

/**
 * Time or volume bars per instrument from trade ticks (c/ind.c bot4_bars_*). Closed bars are
 * written as 128-byte bot4_bar_t records to a caller-owned, 64-byte aligned buffer given per call.
 */
export class NativeBarAggregator {
  readonly ptr: number;
  readonly instruments: number;
  private readonly mem: AlignedBuffer;
  private readonly u64: BigUint64Array;
  private readonly nOut = new Int32Array(1);
  private readonly nOutPtr: number;
  private readonly k: Kernels;

  constructor(instruments: number, kind: 1 | 2, intervalNs: bigint, volumePerBar: number, k: Kernels = K) {
    if (!Number.isInteger(instruments) || instruments < 1) throw new RangeError(`instrument count must be a positive integer, got ${instruments}`);
    this.k = k;
    this.instruments = instruments;
    const bytes = Number(k.bot4_bars_bytes(instruments));
    this.mem = alignedBuffer(bytes);
    this.ptr = this.mem.ptr;
    const g = k.bot4_bars_init(this.ptr, instruments, kind, intervalNs, volumePerBar);
    if (g < 0) throw new RangeError(g === -1 ? "bar state not 64-byte aligned" : `invalid bar parameters: kind ${kind}, interval ${intervalNs} ns, volume per bar ${volumePerBar}`);
    this.u64 = new BigUint64Array(this.mem.buffer, this.mem.byteOffset, BarsLayout.bytes / 8);
    this.nOutPtr = ptr(this.nOut);
  }

  /** Feeds records start..start+n-1 (masked); closed bars go to outPtr[0..cap). Returns records
   * consumed (less than n when the output filled up: drain it and call again from there); bars written: lastCount(). */
  apply(recordsPtr: number, mask: number, start: number, n: number, outPtr: number, cap: number): number {
    return this.k.bot4_bars_apply(this.ptr, recordsPtr, mask, start, n, outPtr, cap, this.nOutPtr);
  }
  lastCount(): number {
    return this.nOut[0]!;
  }
  /** Closes time bars that ended at or before nowNs (volume bars: every open bar when nowNs is 2^64-1). Returns bars written (call again while it returns cap). */
  flush(nowNs: bigint, outPtr: number, cap: number): number {
    return this.k.bot4_bars_flush(this.ptr, nowNs, outPtr, cap);
  }
  counters(): { applied: number; skipped: number; rejected: number; emitted: number } {
    const u = this.u64;
    return {
      applied: Number(u[BarsLayout.applied / 8]), skipped: Number(u[BarsLayout.skipped / 8]),
      rejected: Number(u[BarsLayout.rejected / 8]), emitted: Number(u[BarsLayout.emitted / 8]),
    };
  }
}
