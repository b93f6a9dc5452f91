/**
 * Latency histogram costs (c/hist.c, ffi/hist.ts): one record through FFI and in TypeScript with
 * no FFI call, per value in a batch (doubles and u64), summary, percentile, merge. References in
 * the same run: a plain-TypeScript log-linear histogram (Math.log2), raw samples pushed into an
 * array, and percentiles by sorting the raw samples. Goal: record <= 5 ns.
 */
import { bucketIndex, LatencyHistogram } from "../ffi/hist.ts";
import { choice, K } from "../ffi/lib.ts";
import { do_not_optimize, done, figure, mitataSuite, section } from "./harness.ts";

// lognormal latencies around 2 µs with a 1 % tail up to 1 ms, whole ns
const N = 1 << 16;
const MASK = N - 1;
const vals = new Float64Array(N);
for (let i = 0; i < N; i++) {
  const g = Math.sqrt(-2 * Math.log(1 - Math.random())) * Math.cos(2 * Math.PI * Math.random());
  vals[i] = Math.round(2000 * Math.exp(0.6 * g) + (Math.random() < 0.01 ? 1e6 * Math.random() : 0));
}
const valsU64 = BigUint64Array.from(vals, (v) => BigInt(v));
const BATCH = 4096;

/** The plain-TypeScript reference: the usual log-linear histogram built on Math.log2. */
class JsLogLinearHistogram {
  counts = new Float64Array(64 * 128);
  count = 0;
  sum = 0;
  min = Infinity;
  max = -Infinity;
  record(v: number): void {
    const e = Math.floor(Math.log2(v));
    const p = 2 ** e;
    const i = (e - 3) * 128 + Math.floor(((v - p) / p) * 128);
    this.counts[i < 0 ? 0 : i] = this.counts[i < 0 ? 0 : i]! + 1;
    this.count++;
    this.sum += v;
    if (v < this.min) this.min = v;
    if (v > this.max) this.max = v;
  }
}

const h = LatencyHistogram.create();
const hFfi = LatencyHistogram.create();
const hBatch = LatencyHistogram.create();
const full = LatencyHistogram.create();
const mergeDst = LatencyHistogram.create();
for (let r = 0; r < 16; r++) for (let i = 0; i < N; i++) full.record(vals[i]!);
const js = new JsLogLinearHistogram();
const summary = new Float64Array(12);
const kRecord = K.bot4_hist_record; // hot paths copy the FFI function into a local
const hFfiPtr = hFfi.ptr;
const batches = Array.from({ length: N / BATCH }, (_, k) => vals.subarray(k * BATCH, (k + 1) * BATCH));
const batchesU64 = Array.from({ length: N / BATCH }, (_, k) => valsU64.subarray(k * BATCH, (k + 1) * BATCH));
let b = 0;
let raw: number[] = [];
const sortN = 100_000;
const sortSrc = Float64Array.from({ length: sortN }, (_, i) => vals[i & MASK]!);
const sortBuf = new Float64Array(sortN);
let i = 0;

section(`latency histogram (kernel variant ${choice.variant}; ${N} lognormal samples, median ~2 µs)`);
const m = await mitataSuite((bench) => {
  bench("loop_baseline", () => do_not_optimize(vals[i++ & MASK]));
  bench("record_ts", () => h.record(vals[i++ & MASK]!));
  bench("record_ffi", () => hFfi.recordFfi(vals[i++ & MASK]!));
  bench("record_ffi_direct", () => kRecord(hFfiPtr, vals[i++ & MASK]!));
  bench("bucket_index_ts", () => do_not_optimize(bucketIndex(vals[i++ & MASK]!)));
  bench("record_batch_4096", () => hBatch.recordBatch(batches[b++ & 15]!));
  bench("record_batch_u64_4096", () => hBatch.recordBatchU64(batchesU64[b++ & 15]!));
  bench("summary", () => full.summaryInto(summary));
  bench("percentile_p99", () => do_not_optimize(full.percentile(0.99)));
  bench("merge", () => mergeDst.merge(full));
  bench("ref_js_loglinear_record", () => js.record(vals[i++ & MASK]!));
  bench("ref_js_array_push", () => {
    raw.push(vals[i++ & MASK]!);
    if (raw.length === 1 << 20) raw = [];
  });
  bench("ref_js_sort_percentiles_100k", () => {
    sortBuf.set(sortSrc);
    sortBuf.sort();
    do_not_optimize(sortBuf[(sortN * 0.5) | 0]! + sortBuf[(sortN * 0.99) | 0]! + sortBuf[(sortN * 0.999) | 0]!);
  });
});

section("summary (medians; goal: record <= 5 ns)");
const base = m.loop_baseline!;
figure("record_ts_ns", m.record_ts!, "ns", "TypeScript computes the bucket and increments in place: no FFI call");
figure("record_ts_net_ns", m.record_ts! - base, "ns", "minus the loop baseline (sample load + bench closure)");
figure("record_ffi_ns", m.record_ffi!, "ns", "bot4_hist_record through the wrapper");
figure("record_ffi_net_ns", m.record_ffi! - base, "ns");
figure("record_ffi_direct_ns", m.record_ffi_direct!, "ns", "the FFI function called from a local, no wrapper");
figure("record_batch_per_value_ns", m.record_batch_4096! / BATCH, "ns", "C loop, 4096 doubles per call");
figure("record_batch_u64_per_value_ns", m.record_batch_u64_4096! / BATCH, "ns", "C loop, 4096 u64 per call");
figure("summary_ns", m.summary!, "ns", "count,min,max,mean,p50..p99.9 in one FFI call, 1M samples recorded");
figure("percentile_ns", m.percentile_p99!, "ns");
figure("merge_ns", m.merge!, "ns", "4192 buckets");
figure("ref_js_loglinear_record_ns", m.ref_js_loglinear_record!, "ns", "plain TS histogram with Math.log2");
figure("ref_js_array_push_ns", m.ref_js_array_push!, "ns", "raw samples into an array");
figure("ref_js_sort_percentiles_100k_ns", m.ref_js_sort_percentiles_100k!, "ns", "percentiles by sorting 100k raw samples");
figure("summary_vs_sort_100k", m.ref_js_sort_percentiles_100k! / m.summary!, "x", "sorting raw samples relative to one summary");
figure("record_ts_vs_js_loglinear", m.ref_js_loglinear_record! / m.record_ts!, "x");
figure("record_goal_met", m.record_ts! <= 5 || m.record_ts! - base <= 5 ? "yes" : "no", "", "record <= 5 ns");
h.destroy();
hFfi.destroy();
hBatch.destroy();
full.destroy();
mergeDst.destroy();
done();
