/**
 * IndicatorSet: SMA, EMA, Bollinger bands, RSI (Wilder), MACD, ATR, VWAP and z-score for a table
 * of instruments, kept by the C kernels (c/ind.h: TA-Lib's definitions, NaN during warm-up).
 * A strategy reads a value in place — `ema(i)` is one Float64Array load, no copy, no FFI call —
 * and the engine feeds a ring batch of tick records (or closed bars) with one FFI call.
 */
import { NativeIndicatorSet, type IndOutput, type IndPeriods } from "../../ffi/ind.ts";

export type { IndPeriods };

export const DEFAULT_PERIODS: IndPeriods = {
  sma: 20, ema: 20, bb: 20, bbK: 2, rsi: 14, macdFast: 12, macdSlow: 26, macdSignal: 9, atr: 14, z: 20, vwap: 0,
};

export class IndicatorSet {
  readonly native: NativeIndicatorSet;
  readonly instruments: number;
  private readonly f64: Float64Array;
  private readonly groupF64: number;
  private readonly base: number;
  private readonly off: Record<IndOutput, number>;

  constructor(instruments: number, periods: Partial<IndPeriods> = {}) {
    this.native = new NativeIndicatorSet(instruments, { ...DEFAULT_PERIODS, ...periods });
    this.instruments = instruments;
    this.f64 = this.native.f64;
    this.groupF64 = this.native.groupBytes / 8;
    this.base = this.native.rowIndex(0, "last");
    const off = {} as Record<IndOutput, number>;
    for (const r of ["last", "sma", "ema", "bbUpper", "bbMiddle", "bbLower", "rsi", "macd", "macdSignal", "macdHist", "atr", "vwap", "zscore", "count"] as const) {
      off[r] = this.native.rowIndex(0, r) - this.base;
    }
    this.off = off;
  }

  /** Tick records in place (a ring's record area with its mask, or a flat array with 0xffffffff): one FFI call. */
  apply(recordsPtr: number, mask: number, start: number, n: number): number {
    return this.native.apply(recordsPtr, mask, start, n);
  }
  /** Closed bars (from BarAggregator) drive the indicators instead of ticks. */
  applyBars(barsPtr: number, n: number): number {
    return this.native.applyBars(barsPtr, n);
  }
  reset(instrument: number): void {
    this.native.reset(instrument);
  }
  counters() {
    return this.native.counters();
  }

  private at(i: number, o: number): number {
    return this.f64[this.base + (i >>> 3) * this.groupF64 + o + (i & 7)]!;
  }
  last(i: number): number { return this.at(i, this.off.last); }
  sma(i: number): number { return this.at(i, this.off.sma); }
  ema(i: number): number { return this.at(i, this.off.ema); }
  bbUpper(i: number): number { return this.at(i, this.off.bbUpper); }
  bbMiddle(i: number): number { return this.at(i, this.off.bbMiddle); }
  bbLower(i: number): number { return this.at(i, this.off.bbLower); }
  rsi(i: number): number { return this.at(i, this.off.rsi); }
  macd(i: number): number { return this.at(i, this.off.macd); }
  macdSignal(i: number): number { return this.at(i, this.off.macdSignal); }
  macdHist(i: number): number { return this.at(i, this.off.macdHist); }
  atr(i: number): number { return this.at(i, this.off.atr); }
  vwap(i: number): number { return this.at(i, this.off.vwap); }
  zscore(i: number): number { return this.at(i, this.off.zscore); }
  /** updates seen by instrument i */
  count(i: number): number { return this.at(i, this.off.count); }

  /** Group g's rows as a view: row r of lane l at index rowOffset(r) + l (8 lanes per row). */
  groupView(g: number): Float64Array {
    return this.native.groupView(g);
  }
  rowOffset(r: IndOutput): number {
    return this.off[r];
  }
}
