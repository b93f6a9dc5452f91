/**
 * LatencyHistogram: the C histogram of c/hist.h, seen from TypeScript. The struct lives in C
 * memory (64-byte aligned) and TypeScript holds one Float64Array view over all of it, so
 *  - `record(v)` runs entirely in TypeScript: it computes the bucket with the same bit formula as
 *    C (the double's exponent and top 7 mantissa bits) and increments the count in place — no
 *    FFI crossing; `recordFfi(v)` does the same through C;
 *  - count/min/max/mean are plain reads; percentiles and summaries are one FFI call each.
 * Error bound (proved in test/hist.test.ts): every percentile within 2^-8 = 0.39 % of the exact
 * nearest-rank value for values in [8 ns, 60 s]; count, min, max and mean exact.
 * One writer per histogram (TS or C, one thread); readers anywhere — `attach(ptr)` gives another
 * Worker a view of the same histogram.
 */
import { toArrayBuffer } from "bun:ffi";
import { K } from "./lib.ts";
import { HIST_BYTES, HistConst, HistOffset, SUMMARY_BYTES, SUMMARY_FIELDS } from "./sym/hist.ts";

export { HistConst, HIST_BYTES } from "./sym/hist.ts";

const F_COUNT = HistOffset.count / 8;
const F_SUM = HistOffset.sum / 8;
const F_MIN = HistOffset.min / 8;
const F_MAX = HistOffset.max / 8;
const F_UNDER = HistOffset.underflow / 8;
const F_OVER = HistOffset.overflow / 8;
const F_INVALID = HistOffset.invalid / 8;
const F_COUNTS = HistOffset.counts / 8;
const LOW = HistConst.LOW_NS;
const HIGH = HistConst.HIGH_NS;
const HI_SHIFT = HistConst.INDEX_SHIFT - 32; // the index bits sit in the double's high word
const BASE = HistConst.INDEX_BASE;
const BASE_IN_VIEW = BASE - F_COUNTS; // index into the whole-struct view

// little-endian: element 1 is the high word (sign, exponent, top 20 mantissa bits)
const SCRATCH = new Float64Array(1);
const SCRATCH_HI = new Uint32Array(SCRATCH.buffer);

/** The bucket v counts in, as C's bot4_hist_bucket: 0 below 8 ns, BUCKETS above 60 s, -1 for NaN. */
export function bucketIndex(v: number): number {
  if (v >= LOW && v <= HIGH) {
    SCRATCH[0] = v;
    return (SCRATCH_HI[1]! >>> HI_SHIFT) - BASE;
  }
  if (v !== v) return -1;
  return v > HIGH ? HistConst.BUCKETS : 0;
}

function fromHighWord(hi: number): number {
  SCRATCH_HI[0] = 0;
  SCRATCH_HI[1] = hi;
  return SCRATCH[0]!;
}
/** Inclusive lower bound of bucket i. */
export function bucketLow(i: number): number {
  return fromHighWord((i + BASE) << HI_SHIFT);
}
/** Exclusive upper bound of bucket i. */
export function bucketHigh(i: number): number {
  return bucketLow(i + 1);
}
/** The value a bucket reports (before clamping to [min, max]). */
export function bucketMid(i: number): number {
  return fromHighWord(((i + BASE) << HI_SHIFT) | (1 << (HI_SHIFT - 1)));
}

export type HistSummary = Record<(typeof SUMMARY_FIELDS)[number], number>;

export class HistogramError extends Error {
  override name = "HistogramError";
}

export class LatencyHistogram {
  /** address of the C struct: pass it to kernels or to another Worker's `attach` */
  readonly ptr: number;
  /** the whole struct as doubles: header fields, then counts from index 8 */
  readonly view: Float64Array;
  /** per-bucket counts (a view, not a copy) */
  readonly counts: Float64Array;
  private readonly owned: boolean;
  private destroyed = false;

  private constructor(ptr: number, owned: boolean) {
    this.ptr = ptr;
    this.owned = owned;
    this.view = new Float64Array(toArrayBuffer(ptr, 0, HIST_BYTES));
    this.counts = this.view.subarray(F_COUNTS);
    const u32 = new Uint32Array(this.view.buffer, 0, 16);
    if (u32[HistOffset.magic / 4] !== HistConst.MAGIC || u32[HistOffset.buckets / 4] !== HistConst.BUCKETS) {
      throw new HistogramError(`no histogram at address ${ptr} (bad magic or bucket count)`);
    }
  }

  /** Allocates one in C (aligned, 33.6 KB); free it with destroy(). */
  static create(): LatencyHistogram {
    const p = K.bot4_hist_create();
    if (!p) throw new HistogramError("out of memory allocating a latency histogram");
    return new LatencyHistogram(p as number, true);
  }

  /** A view of a histogram created elsewhere (e.g. by the main thread, address posted to a Worker). */
  static attach(ptr: number): LatencyHistogram {
    return new LatencyHistogram(ptr, false);
  }

  /** Records one value (ns) without crossing into C. Hot path: no allocation, no call. */
  record(v: number): void {
    const f = this.view;
    if (v >= LOW && v <= HIGH) {
      SCRATCH[0] = v;
      const i = (SCRATCH_HI[1]! >>> HI_SHIFT) - BASE_IN_VIEW;
      f[i] = f[i]! + 1;
    } else if (!this.edge(v)) {
      return;
    }
    f[F_COUNT] = f[F_COUNT]! + 1;
    f[F_SUM] = f[F_SUM]! + v;
    if (v < f[F_MIN]!) f[F_MIN] = v;
    if (v > f[F_MAX]!) f[F_MAX] = v;
  }

  /** Out-of-range values, exactly as C's hist_edge. false: NaN (counted in invalid only). */
  private edge(v: number): boolean {
    const f = this.view;
    if (v !== v) {
      f[F_INVALID] = f[F_INVALID]! + 1;
      return false;
    }
    if (v > HIGH) {
      f[F_OVER] = f[F_OVER]! + 1;
      return true;
    }
    f[F_COUNTS] = f[F_COUNTS]! + 1;
    f[F_UNDER] = f[F_UNDER]! + 1;
    return true;
  }

  /** Records one value through C (same result as record()). */
  recordFfi(v: number): void {
    K.bot4_hist_record(this.ptr, v);
  }
  /** Records `n` occurrences of v (n <= 0 records nothing). */
  recordN(v: number, n: number): void {
    K.bot4_hist_record_n(this.ptr, v, n);
  }
  /** Records the first n values of a batch (ns as doubles) in one call. */
  recordBatch(values: Float64Array, n = values.length): void {
    K.bot4_hist_record_batch(this.ptr, values, Math.min(n, values.length));
  }
  /** Records the first n values of a batch of u64 ns (e.g. differences of clock stamps). */
  recordBatchU64(values: BigUint64Array, n = values.length): void {
    K.bot4_hist_record_batch_u64(this.ptr, values, Math.min(n, values.length));
  }
  /** Adds every count of `other` into this one (this one's writer calls it). */
  merge(other: LatencyHistogram): void {
    K.bot4_hist_merge(this.ptr, other.ptr);
  }
  reset(): void {
    K.bot4_hist_reset(this.ptr);
  }

  get count(): number {
    return this.view[F_COUNT]!;
  }
  /** exact; 0 when empty */
  get min(): number {
    return this.view[F_COUNT]! > 0 ? this.view[F_MIN]! : 0;
  }
  /** exact; 0 when empty */
  get max(): number {
    return this.view[F_COUNT]! > 0 ? this.view[F_MAX]! : 0;
  }
  /** exact; 0 when empty */
  get mean(): number {
    const c = this.view[F_COUNT]!;
    return c > 0 ? this.view[F_SUM]! / c : 0;
  }
  get underflow(): number {
    return this.view[F_UNDER]!;
  }
  get overflow(): number {
    return this.view[F_OVER]!;
  }
  get invalid(): number {
    return this.view[F_INVALID]!;
  }

  /** Nearest-rank percentile, q in [0, 1] (0.999 for P99.9); 0 when empty. */
  percentile(q: number): number {
    return K.bot4_hist_percentile(this.ptr, q);
  }
  /** out[i] = percentile(qs[i]), one pass (ascending qs are cheapest). */
  percentiles(qs: Float64Array, out: Float64Array): void {
    if (out.length < qs.length) throw new HistogramError(`percentiles: out has ${out.length} slots for ${qs.length} quantiles`);
    K.bot4_hist_percentiles(this.ptr, qs, out, qs.length);
  }
  /** count, min, max, mean, p50, p90, p95, p99, p999, underflow, overflow, invalid into `out` (12 doubles), one call. */
  summaryInto(out: Float64Array): void {
    if (out.byteLength < SUMMARY_BYTES) throw new HistogramError(`summaryInto needs ${SUMMARY_BYTES / 8} doubles`);
    K.bot4_hist_summary(this.ptr, out);
  }
  /** The summary as an object (cold path: reports). */
  summary(): HistSummary {
    const out = new Float64Array(SUMMARY_FIELDS.length);
    this.summaryInto(out);
    return Object.fromEntries(SUMMARY_FIELDS.map((k, i) => [k, out[i]!])) as HistSummary;
  }

  /** Frees the C memory (only the creator may); every view of it is invalid afterwards. */
  destroy(): void {
    if (!this.owned) throw new HistogramError("destroy() on an attached histogram: only its creator frees it");
    if (this.destroyed) return;
    this.destroyed = true;
    K.bot4_hist_destroy(this.ptr);
  }
}
